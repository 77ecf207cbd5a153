"""``agentops watch`` sends what it queues: the notification sender runs next to the watcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from k8s_apiserver import FakeApiServer, serve
from notify_receiver import Receiver
from watch_helpers import incidents, managed_repo, pod

from agentops import git
from agentops.cli import cli


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


def test_watch_announces_the_incident_it_opens_once(api: FakeApiServer, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    repo = managed_repo(tmp_path / "repo")
    (repo / "rules" / "notifications.yaml").write_text(
        "channels:\n  incidents: {kind: slack, url: {env: SLACK_URL}}\n"
        "routes:\n  - {name: all, to: [incidents], transitions: [opened]}\n")
    git.run(repo, "add", "rules")
    git.run(repo, "commit", "-q", "-m", "routes")
    receiver = Receiver()
    monkeypatch.setenv("SLACK_URL", f"{receiver.base}/slack/T0/B0/X")
    api.create(pod("web", "prod", waiting="CrashLoopBackOff", restarts=4))
    try:
        result = CliRunner().invoke(cli, [
            "watch", "--kubeconfig", str(api.kubeconfig(tmp_path / "kc")), "--namespace",
            "prod", "--for", "2", "--repo", str(repo), "--format", "json"])
    finally:
        receiver.down()
    assert result.exit_code == 0, result.output
    [inc] = incidents(repo)
    assert len(receiver.accepted) == 1
    assert receiver.accepted[0]["body"]["text"].startswith(f"[INCIDENT OPENED] {inc}")
