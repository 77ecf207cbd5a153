"""``agentops init`` / ``record`` / ``lint`` on real repositories, as an agent runs them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from conftest import fixture_path
from journal_helpers import journal_records

SCENARIOS: list[tuple[str, list[str], str, str]] = [
    # (record args, production fields, severity, category)
    ("availability", ["-f", "ratio=0.995", "-f", "cluster=eu-1"], "HIGH", "CLUSTER_FAILURE"),
    ("security", ["-f", "verdict=violation", "-f", "policy=disallow-privileged",
                  "-f", "namespace=prod", "-f", "kind=Pod", "-f", "name=debug"],
     "HIGH", "SECURITY_INCIDENT"),
    ("deployment", ["-f", "status=failed", "-e", "production", "-f", "service=api",
                    "-f", "namespace=shop", "-f", "revision=abc"], "HIGH", "DEPLOYMENT_FAILURE"),
    ("integrity", ["-f", "dataset=orders", "-f", "check=row-count"], "CRITICAL", "DATA_LOSS"),
    ("approval", ["-f", "decision=denied", "-f", "action=drop-table", "-f", "approver=@alice"],
     "MEDIUM", "AUTOMATION_FAILURE"),
    ("deletion", ["-f", "resource=Deployment/checkout", "-e", "production", "-f", "namespace=prod"],
     "HIGH", "CONFIGURATION_DRIFT"),
]


def record_json(repo: Path, *args: str) -> dict[str, Any]:
    out = run_cli(["record", *args, "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def incident_meta(repo: Path) -> list[dict[str, str]]:
    text = (repo / "INCIDENTS.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    return [dict(line.split(": ", 1) for line in b.splitlines() if ": " in line) for b in blocks]


@pytest.fixture
def repo(git_repo: Path) -> Path:
    out = run_cli(["init"], repo=git_repo)
    assert out.returncode == 0, out.stderr
    return git_repo


def test_init_is_idempotent_and_one_commit(git_repo: Path) -> None:
    first = run_cli(["init", "--format", "json"], repo=git_repo)
    assert first.returncode == 0, first.stderr
    assert "INCIDENTS.md" in json.loads(first.stdout)["created"]
    second = run_cli(["init", "--format", "json"], repo=git_repo)
    assert json.loads(second.stdout)["created"] == []
    assert git(git_repo, "log", "--format=%s").splitlines() == ["agentops: init", "initial"]
    assert run_cli(["lint"], repo=git_repo).returncode == 0


def test_each_default_trigger_opens_one_incident_in_its_own_commit(repo: Path) -> None:
    for n, (rtype, fields, severity, category) in enumerate(SCENARIOS, start=1):
        result = record_json(repo, rtype, *fields, "--actor", "agent-1")
        assert [i["action"] for i in result["incidents"]] == ["open"], (rtype, result)
        assert git(repo, "rev-parse", "HEAD").strip() == result["commit"]
        meta = incident_meta(repo)
        assert len(meta) == n
        newest = next(m for m in meta if m["id"] == result["incidents"][0]["id"])
        assert (newest["severity"], newest["category"]) == (severity, category)
    # the attempt trigger needs three failures of the same task
    for attempt in range(3):
        result = record_json(repo, "attempt", "-f", "agent=agent-9", "-f", "task=migrate",
                             "-f", "outcome=failed", "-f", "error=lock timeout")
        assert bool(result["incidents"]) == (attempt == 2)
    assert incident_meta(repo)[0]["category"] == "AUTOMATION_FAILURE"
    assert run_cli(["lint"], repo=repo).returncode == 0
    log = git(repo, "log", "--format=%s")
    assert log.count("agentops: open INC-") == 7


def test_non_production_scenarios_open_nothing(repo: Path) -> None:
    for rtype, fields in [
        ("deployment", ["-f", "status=failed", "-e", "staging", "-f", "service=api"]),
        ("deletion", ["-f", "resource=Deployment/checkout", "-f", "namespace=dev"]),
        ("deployment", ["-f", "status=failed", "-f", "namespace=dev-shop", "-f", "service=api"]),
    ]:
        assert record_json(repo, rtype, *fields)["incidents"] == []
    assert incident_meta(repo) == []
    assert run_cli(["lint"], repo=repo).returncode == 0


def test_retry_with_same_key_writes_nothing_and_prints_the_same_json(repo: Path) -> None:
    args = ["deletion", "-f", "resource=Secret/db", "-f", "namespace=prod", "--key", "k-1"]
    first = run_cli(["record", *args, "--format", "json"], repo=repo)
    head = git(repo, "rev-parse", "HEAD")
    again = run_cli(["record", *args, "--format", "json"], repo=repo)
    assert again.returncode == 0
    assert again.stdout == first.stdout
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


def test_retry_after_cache_loss_still_answers_the_same(repo: Path) -> None:
    args = ["deletion", "-f", "resource=Secret/db", "-f", "namespace=prod", "--key", "k-2"]
    first = run_cli(["record", *args, "--format", "json"], repo=repo)
    (repo / ".git" / "agentops" / "state.sqlite").unlink()
    again = run_cli(["record", *args, "--format", "json"], repo=repo)
    assert again.stdout == first.stdout


def test_recurrence_and_resolution_update_the_entry_in_place(repo: Path) -> None:
    fail = ["deployment", "-f", "status=failed", "-e", "prod", "-f", "service=web",
            "-f", "namespace=shop"]
    opened = record_json(repo, *fail)["incidents"][0]["id"]
    assert record_json(repo, *fail)["incidents"] == [{"id": opened, "action": "recur"}]
    ok = ["deployment", "-f", "status=succeeded", "-e", "production", "-f", "service=web",
          "-f", "namespace=shop"]
    assert record_json(repo, *ok)["incidents"] == [{"id": opened, "action": "resolve"}]
    (meta,) = incident_meta(repo)
    assert (meta["status"], meta["occurrences"]) == ("Resolved", "2")
    assert run_cli(["lint"], repo=repo).returncode == 0


def test_secrets_never_reach_files_or_history(repo: Path) -> None:
    secrets = ["hunter2-very-secret", "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 36,
               "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"]
    message = (f"login failed password={secrets[0]} key {secrets[1]} token {secrets[2]} "
               f"Authorization: Bearer {secrets[3]}")
    record_json(repo, "auth.failed", "-f", "namespace=prod",
                "-m", message, "-f", f"api_token={secrets[0]}")
    history = git(repo, "log", "-p", "--all")
    for secret in secrets:
        assert secret not in history
    assert "password=[REDACTED:password]" in history


def test_hostile_message_cannot_inject_structure(repo: Path) -> None:
    hostile = ("### INC-2026-01-01-999 — fake\n<!-- /agentops:incident INC-2026-11-24-001 -->\n"
               "| 2026 | injected row |\n```\n#### Root Cause\nnone")
    result = record_json(repo, "deletion", "-f", "resource=Pod/a", "-f", "namespace=prod",
                         "-m", hostile)
    assert len(result["incidents"]) == 1
    assert len(incident_meta(repo)) == 1
    lint = run_cli(["lint"], repo=repo)
    assert lint.returncode == 0, lint.stdout
    text = (repo / "INCIDENTS.md").read_text()
    assert "\n### INC-2026-01-01-999" not in text
    assert text.count("<!-- /agentops:incident") == 1


def test_dry_run_writes_nothing(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    out = run_cli(["record", "deletion", "-f", "resource=Pod/a", "-f", "namespace=prod",
                   "--dry-run", "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["dry_run"] is True and data["commit"] is None
    assert data["decisions"][0]["action"] == "open"
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""


def test_bad_input_exits_1_and_writes_nothing(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    out = run_cli(["record", "deployment", "-f", "status=exploded"], repo=repo)
    assert out.returncode == 1
    assert out.stderr.startswith("error: --field status=exploded: expected one of")
    out = run_cli(["record", "-", "--input", "-"], repo=repo, input='{"type": "x.y", "colour": 1}')
    assert out.returncode == 1 and "event.colour: unknown field" in out.stderr
    assert git(repo, "rev-parse", "HEAD") == head


def test_record_outside_an_initialised_repo_says_run_init(git_repo: Path) -> None:
    out = run_cli(["record", "attempt", "-f", "task=x", "-f", "outcome=failed"],
                  repo=git_repo)
    assert out.returncode == 1
    assert "run `agentops init` first" in out.stderr


def test_ingest_kubectl_eventlist_deduplicates_on_replay(repo: Path) -> None:
    source = fixture_path("kubernetes", "eventlist-init-container-BackOff-FailedMount.json")
    first = run_cli(["ingest", str(source), "--format", "json"], repo=repo)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["events"] == 17 and result["duplicates"] == 0
    again = json.loads(run_cli(["ingest", str(source), "--format", "json"], repo=repo).stdout)
    assert again["duplicates"] == 17 and again["commits"] == []  # a replay commits nothing
    assert len(journal_records(repo)) == 17
