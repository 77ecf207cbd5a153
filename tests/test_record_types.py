"""Typed records: the typos a new user makes are errors that name the fix, and write nothing."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import CliResult, run_cli

from agentops.mcp_server import schemas
from agentops.records import fields_schema
from agentops.vocabulary import RECORD_TYPES


def agentops(repo: Path, *args: str, stdin: str | None = None) -> CliResult:
    return run_cli(args, repo=repo, input=stdin)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def repo(git_repo: Path) -> Path:
    assert agentops(git_repo, "init").returncode == 0
    return git_repo


def refused(repo: Path, *args: str, stdin: str | None = None) -> str:
    """Run a command that must fail with exit 1 and leave the repository as it was."""
    head = git(repo, "rev-parse", "HEAD")
    out = agentops(repo, *args, stdin=stdin)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    assert out.stdout == ""
    return out.stderr


def test_misspelt_field_is_an_error_with_did_you_mean(repo: Path) -> None:
    err = refused(repo, "record", "deployment", "-f", "stauts=succeeded", "-e", "production",
                  "-f", "service=api")
    assert err.startswith("error: --field stauts: record deployment has no field 'stauts' "
                          "(did you mean 'status'?); its fields: status, service, revision")


def test_missing_deployment_status_is_an_error_not_a_failure(repo: Path) -> None:
    err = refused(repo, "record", "deployment", "-e", "production", "-f", "service=api")
    assert err == ("error: record deployment: --field status is required (one of failed, "
                   "succeeded), e.g. --field status=failed\n")


def test_unknown_value_lists_the_allowed_ones(repo: Path) -> None:
    err = refused(repo, "record", "deployment", "-f", "status=faild", "-e", "production")
    assert err == ("error: --field status=faild: expected one of failed, succeeded (or "
                   "failure, error, fail, success, ok) (did you mean 'failed'?)\n")


def test_number_field_refuses_text(repo: Path) -> None:
    err = refused(repo, "record", "availability", "-f", "ratio=high", "-f", "cluster=eu-1")
    assert err == "error: --field ratio=high: expected a number\n"


def test_availability_needs_ratio_or_up(repo: Path) -> None:
    err = refused(repo, "record", "availability", "-f", "window=1h")
    assert err == "error: record availability: give --field ratio=... or --field up=...\n"


def test_unknown_environment_is_an_error_listing_the_known_ones(repo: Path) -> None:
    err = refused(repo, "record", "deployment", "-f", "status=failed", "-e", "prodution",
                  "-f", "service=api")
    assert err.startswith("error: environment 'prodution' is not known to the policy: "
                          "did you mean 'production'? known: production (live, prd, prod); "
                          "staging (stage, stg); development (dev, sandbox, test)")
    assert "--allow-unknown-environment" in err


def test_allow_unknown_environment_records_with_a_warning(repo: Path) -> None:
    out = agentops(repo, "record", "deployment", "-f", "status=failed", "-e", "prodution",
                   "-f", "service=api", "--allow-unknown-environment", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith("warning: environment 'prodution' is not known")
    assert json.loads(out.stdout)["warnings"][0].endswith("recorded as given")
    assert json.loads(out.stdout)["incidents"] == []


def test_alias_environment_is_known(repo: Path) -> None:
    out = agentops(repo, "record", "deployment", "-f", "status=failed", "-e", "prod",
                   "-f", "service=api", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["incidents"][0]["action"] == "open"


def test_future_time_is_refused(repo: Path) -> None:
    err = refused(repo, "record", "deployment", "-f", "status=failed", "-e", "production",
                  "-f", "service=api", "--time", "2099-01-01T00:00:00Z")
    assert err.startswith("error: time: 2099-01-01T00:00:00Z is in the future (now ")


def test_time_a_minute_ahead_is_clock_skew_and_accepted(repo: Path) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = agentops(repo, "record", "deployment", "-f", "status=succeeded", "-e", "production",
                   "-f", "service=api", "--time", soon)
    assert out.returncode == 0, out.stderr


def test_time_without_zone_is_refused_unless_assume_utc(repo: Path) -> None:
    err = refused(repo, "record", "deployment", "-f", "status=failed", "-e", "production",
                  "--time", "2026-11-24T08:30:00")
    assert err == ("error: --time: '2026-11-24T08:30:00' has no time zone; add Z for UTC "
                   "(e.g. 2026-11-24T08:30:00Z) or an offset like +02:00, or pass "
                   "--assume-utc\n")
    out = agentops(repo, "record", "deployment", "-f", "status=failed", "-e", "production",
                   "-f", "service=api", "--time", "2026-11-24T08:30:00", "--assume-utc",
                   "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["incidents"][0]["id"] == "INC-2026-11-24-001"


def test_input_event_gets_the_same_checks(repo: Path) -> None:
    event = {"type": "deployment.failed", "time": "2026-11-24T08:30:00",
             "environment": "production"}
    err = refused(repo, "record", "--input", "-", stdin=json.dumps(event))
    assert err.startswith("error: event.time: '2026-11-24T08:30:00' has no time zone")
    event |= {"time": "2026-11-24T08:30:00Z", "environment": "prodution"}
    err = refused(repo, "record", "--input", "-", stdin=json.dumps(event))
    assert err.startswith("error: environment 'prodution' is not known to the policy")


def test_record_input_needs_no_type(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"type": "deployment.failed", "environment": "production",
                                "subject": {"name": "api"}, "key": "in-1"}))
    out = agentops(repo, "record", "--input", str(path), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["incidents"][0]["action"] == "open"


def schema_cli(*args: str) -> CliResult:
    return run_cli(["schema", *args])


def test_schema_record_prints_the_fields_of_a_type() -> None:
    out = schema_cli("record", "deployment")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["required"] == ["status"]
    assert doc["additionalProperties"] is False
    assert doc["properties"]["status"]["enum"][:2] == ["failed", "failure"]
    assert {"service", "revision", "environment", "namespace"} <= set(doc["properties"])


def test_every_record_type_has_a_schema_with_its_required_fields() -> None:
    for name, spec in RECORD_TYPES.items():
        schema = fields_schema(name)
        assert schema["required"] == [f.name for f in spec.fields if f.required]
        assert set(schema["properties"]) >= {f.name for f in spec.fields}


def test_mcp_record_event_schema_embeds_the_same_field_schemas() -> None:
    tool = schemas.record_event()
    by_type: dict[str, Any] = {
        rule["if"]["properties"]["type"]["const"]: rule["then"]["properties"]["fields"]
        for rule in tool["allOf"]}
    assert set(by_type) == set(RECORD_TYPES)
    for name in RECORD_TYPES:
        assert by_type[name] == fields_schema(name)


def test_schema_record_of_unknown_type_suggests_one() -> None:
    out = schema_cli("record", "deploymnt")
    assert out.returncode == 1
    assert "(did you mean 'deployment'?)" in out.stderr
