"""An event that opens nothing says why: per trigger that listened, in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from mcp import Client
from mcp_client import call, drive
from report_helpers import agentops_json, git, init


def agentops(repo: Path, *args: str) -> Any:
    return run_cli(list(args), repo=repo)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return init(git_repo)


def test_one_failed_attempt_prints_why_no_incident_opened(repo: Path) -> None:
    out = agentops(repo, "record", "attempt", "-f", "outcome=failed", "-f", "agent=agent-7",
                   "-f", "task=migrate-db", "-f", "error=lock timeout")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == [
        "  no incident", "  why no incident opened:",
        "    agent-repeated-failure: threshold: 1 of 3 within 1h"]
    second = agentops_json(repo, "record", "attempt", "-f", "outcome=failed", "-f",
                           "agent=agent-7", "-f", "task=migrate-db")
    assert second["why_not"] == [{"trigger": "agent-repeated-failure", "result": "held",
                                  "reason": "threshold: 2 of 3 within 1h"}]


def test_a_staging_failure_is_not_production_and_an_unknown_type_has_no_trigger(
        repo: Path) -> None:
    staging = agentops_json(repo, "record", "deployment", "-f", "status=failed", "-e",
                            "staging", "-f", "service=api", "-f", "namespace=shop")
    assert staging["why_not"] == [{"trigger": "production-deployment-failed",
                                   "result": "not matched",
                                   "reason": "environment staging is not production"}]
    custom = agentops_json(repo, "record", "event", "-f", "type=custom.signal")
    assert custom["why_not"] == [{"result": "no trigger",
                                  "reason": "no trigger listens to custom.signal events"}]


def test_a_silenced_trigger_names_the_silence_and_its_end(repo: Path) -> None:
    (repo / "rules" / "silences.yaml").write_text(
        "silences:\n  - name: shop-migration\n    match: {subject.namespace: shop}\n"
        "    expires: 2099-01-01T00:00:00Z\n    comment: planned\nmaintenance_windows: []\n")
    git(repo, "commit", "-qam", "silence the shop namespace")
    out = agentops(repo, "record", "deployment", "-f", "status=failed", "-e", "production",
                   "-f", "service=api", "-f", "namespace=shop")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == (
        "    production-deployment-failed: silenced by shop-migration until 2099-01-01T00:00:00Z")


def test_ingest_explains_each_event_that_was_deduplicated(repo: Path) -> None:
    lines = [json.dumps({"type": "deployment.failed", "environment": "production",
                         "subject": {"namespace": "shop", "name": "api"}, "message": m})
             for m in ("first", "again")]
    result = ingest(repo, "\n".join(lines))
    opened = result["outcomes"][0]["incidents"][0]["id"]
    assert "why_not" not in result["outcomes"][0]
    assert result["outcomes"][1]["why_not"] == [{
        "trigger": "production-deployment-failed", "result": "deduplicated",
        "reason": f"deduplicated into {opened} (same dedup key, still open)",
        "incident": opened}]


def ingest(repo: Path, text: str) -> Any:
    out = run_cli(["ingest", "-", "--format", "json"], repo=repo, input=text)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_mcp_record_event_tool_says_why(repo: Path) -> None:
    async def scenario(client: Client) -> Any:
        return await call(client, "record_event", type="attempt",
                          fields={"agent": "agent-9", "task": "migrate", "outcome": "failed"})

    outcome = drive(repo, scenario)
    assert outcome["why_not"] == [{"trigger": "agent-repeated-failure", "result": "held",
                                   "reason": "threshold: 1 of 3 within 1h"}]


def test_a_recovery_with_nothing_open_says_so(repo: Path) -> None:
    resolved = Path(__file__).resolve().parent / "fixtures" / "alertmanager" / \
        "v4-TargetDown-kube-system-resolved.json"
    out = agentops_json(repo, "hook", "alertmanager", str(resolved))
    outcome = out if isinstance(out, dict) else out[0]
    [why] = outcome["why_not"]
    assert (why["trigger"], why["result"]) == ("alert-firing", "nothing to resolve")
    assert why["reason"].startswith("a recovery event for it, but no incident is open with "
                                    "dedup key alert/")
