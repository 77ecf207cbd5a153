"""``agentops watch`` wiring: options, --for, the JSON summary, and SIGKILL + restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli, run_process, start_process
from k8s_apiserver import FakeApiServer, serve
from watch_helpers import incidents, managed_repo, pod, wait_until

from agentops.durations import parse_for
from agentops.errors import AgentopsError


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


def test_watch_for_a_duration_commits_and_prints_json(api: FakeApiServer, tmp_path: Path) -> None:
    repo = managed_repo(tmp_path / "repo")
    api.create(pod("web", "prod", waiting="CrashLoopBackOff", restarts=4))
    api.create(pod("web", "dev", waiting="CrashLoopBackOff", restarts=4))

    result = run_cli([
        "watch", "--kubeconfig", str(api.kubeconfig(tmp_path / "kc")), "--namespace", "prod",
        "--namespace", "dev", "--for", "1", "--format", "json"], repo=repo)

    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary == {"server": api.url, "events": 2, "duplicates": 0, "batches": 1,
                       "commits": 1, "incidents_opened": 1, "incidents_updated": 0}
    assert [i["subject"] for i in incidents(repo).values()] == ["fake/prod/Pod/web"]
    assert {r.path for r in api.requests if r.query.get("watch")} >= {
        "/api/v1/namespaces/prod/pods", "/api/v1/namespaces/dev/pods"}


def test_for_accepts_durations_and_seconds() -> None:
    assert (parse_for("90s"), parse_for("5m"), parse_for("1.5")) == (90.0, 300.0, 1.5)
    with pytest.raises(AgentopsError, match="--for"):
        parse_for("soon")


def test_sigkill_mid_stream_then_restart_has_no_duplicates_and_misses_nothing(
        api: FakeApiServer, tmp_path: Path) -> None:
    repo = managed_repo(tmp_path / "repo")
    kubeconfig = api.kubeconfig(tmp_path / "kc")
    command = ["watch", "--kubeconfig", str(kubeconfig), "--format", "json"]
    first = start_process(command, repo=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    api.wait_for_watch("pods", timeout=30)
    api.create(pod("a", "prod", waiting="CrashLoopBackOff", restarts=1))
    wait_until(lambda: len(incidents(repo)) == 1, timeout=30)
    api.create(pod("b", "prod", waiting="CrashLoopBackOff", restarts=1))
    os.kill(first.pid, signal.SIGKILL)  # maybe before, maybe after b's commit
    first.wait()
    api.create(pod("c", "prod", waiting="ImagePullBackOff"))  # while nobody watches

    second = run_process([*command, "--for", "3"], repo=repo, timeout=60)

    assert second.returncode == 0, second.stderr
    subjects = sorted(i["subject"] for i in incidents(repo).values())
    assert subjects == ["fake/prod/Pod/a", "fake/prod/Pod/b", "fake/prod/Pod/c"]
    assert all(i["occurrences"] == 1 for i in incidents(repo).values())


def test_sigterm_flushes_and_exits_zero(api: FakeApiServer, tmp_path: Path) -> None:
    repo = managed_repo(tmp_path / "repo")
    proc = start_process(
        ["watch", "--kubeconfig", str(api.kubeconfig(tmp_path / "kc")), "--format", "json"],
        repo=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    api.wait_for_watch("pods", timeout=30)
    api.create(pod("a", "prod", waiting="CrashLoopBackOff", restarts=1))
    wait_until(lambda: len(incidents(repo)) == 1, timeout=30)

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 0, err
    assert json.loads(out)["incidents_opened"] == 1
