"""``agentops hook SOURCE [FILE|-]`` as a pipeline step runs it: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli
from srv_helpers import FIXTURES, commit_count, fixture_bytes, make_managed_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_managed_repo(tmp_path / "ops")


def test_alertmanager_group_becomes_incidents_in_one_commit(repo: Path) -> None:
    before = commit_count(repo)
    payload = FIXTURES / "alertmanager" / "v4-KubePodCrashLooping-group-of-3-firing.json"
    out = run_cli(["hook", "alertmanager", str(payload), "--repo", str(repo), "--format", "json"])
    assert out.returncode == 0, out.stderr
    outcomes = json.loads(out.stdout)
    assert isinstance(outcomes, list) and len(outcomes) == 3
    assert all(o["incidents"] and o["incidents"][0]["action"] == "open" for o in outcomes)
    assert len({o["commit"] for o in outcomes}) == 1
    assert commit_count(repo) == before + 1


def test_one_event_prints_one_dict_and_redelivery_is_a_duplicate(repo: Path) -> None:
    body = fixture_bytes("flux", "notification-generic-Kustomization-ValidationFailed.json")
    first = run_cli(["hook", "flux", "-", "--repo", str(repo), "--format", "json"], input=body)
    assert first.returncode == 0, first.stderr
    outcome = json.loads(first.stdout)
    assert sorted(outcome) == ["commit", "event_id", "incidents", "matched", "memory",
                               "troubleshooting", "why_not"]
    assert outcome["incidents"] == [] and outcome["why_not"]  # it opened nothing, and says why
    again = run_cli(["hook", "flux", "-", "--repo", str(repo)], input=body)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{outcome['event_id']}: already recorded")


def test_github_run_from_actions_event_file(repo: Path) -> None:
    payload = FIXTURES / "github" / "workflow_run.completed.json"
    out = run_cli(["hook", "github", str(payload), "--event", "workflow_run", "--repo", str(repo)])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ev-")


def test_github_without_event_name_is_a_user_error(repo: Path) -> None:
    payload = FIXTURES / "github" / "workflow_run.completed.json"
    out = run_cli(["hook", "github", str(payload), "--repo", str(repo)])
    assert out.returncode == 1
    assert "github: --event is required" in out.stderr


@pytest.mark.parametrize(("body", "message"), [
    (b"{oops", "error: alertmanager: body: not valid JSON"),
    (b'{"alerts": [{"status": "maybe"}]}',
     "error: alertmanager: alerts[0].status: 'maybe' is not one of firing, resolved"),
])
def test_bad_payload_exits_1_with_the_reason_and_writes_nothing(
    repo: Path, body: bytes, message: str
) -> None:
    before = commit_count(repo)
    out = run_cli(["hook", "alertmanager", "--repo", str(repo)], input=body)
    assert out.returncode == 1
    assert out.stderr.startswith(message), out.stderr
    assert commit_count(repo) == before


def test_payload_without_events_records_nothing(repo: Path) -> None:
    out = run_cli(["hook", "github", "--event", "ping", "--repo", str(repo), "--format", "json"],
                   input=b'{"zen": "Keep it logically awesome."}')
    assert (out.returncode, json.loads(out.stdout)) == (0, [])
