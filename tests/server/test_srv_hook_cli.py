"""``agentops hook SOURCE [FILE|-]`` as a pipeline step runs it: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from srv_helpers import FIXTURES, commit_count, fixture_bytes, make_managed_repo


def agentops(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "agentops", *args], input=stdin,
                         capture_output=True, check=False)
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(),
                                       out.stderr.decode())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_managed_repo(tmp_path / "ops")


def test_alertmanager_group_becomes_incidents_in_one_commit(repo: Path) -> None:
    before = commit_count(repo)
    payload = FIXTURES / "alertmanager" / "v4-KubePodCrashLooping-group-of-3-firing.json"
    out = agentops("hook", "alertmanager", str(payload), "--repo", str(repo), "--format", "json")
    assert out.returncode == 0, out.stderr
    outcomes = json.loads(out.stdout)
    assert isinstance(outcomes, list) and len(outcomes) == 3
    assert all(o["incidents"] and o["incidents"][0]["action"] == "open" for o in outcomes)
    assert len({o["commit"] for o in outcomes}) == 1
    assert commit_count(repo) == before + 1


def test_one_event_prints_one_dict_and_redelivery_is_a_duplicate(repo: Path) -> None:
    body = fixture_bytes("flux", "notification-generic-Kustomization-ValidationFailed.json")
    first = agentops("hook", "flux", "-", "--repo", str(repo), "--format", "json", stdin=body)
    assert first.returncode == 0, first.stderr
    outcome = json.loads(first.stdout)
    assert sorted(outcome) == ["commit", "event_id", "incidents", "matched", "memory",
                               "troubleshooting"]
    again = agentops("hook", "flux", "-", "--repo", str(repo), stdin=body)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{outcome['event_id']}: already recorded")


def test_github_run_from_actions_event_file(repo: Path) -> None:
    payload = FIXTURES / "github" / "workflow_run.completed.json"
    out = agentops("hook", "github", str(payload), "--event", "workflow_run", "--repo", str(repo))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ev-")


def test_github_without_event_name_is_a_user_error(repo: Path) -> None:
    payload = FIXTURES / "github" / "workflow_run.completed.json"
    out = agentops("hook", "github", str(payload), "--repo", str(repo))
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
    out = agentops("hook", "alertmanager", "--repo", str(repo), stdin=body)
    assert out.returncode == 1
    assert out.stderr.startswith(message), out.stderr
    assert commit_count(repo) == before


def test_payload_without_events_records_nothing(repo: Path) -> None:
    out = agentops("hook", "github", "--event", "ping", "--repo", str(repo), "--format", "json",
                   stdin=b'{"zen": "Keep it logically awesome."}')
    assert (out.returncode, json.loads(out.stdout)) == (0, [])
