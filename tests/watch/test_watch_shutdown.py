"""``agentops watch`` stops cleanly in every state: never an abort (exit 134) on the way out.

Against an unreachable API server every run must end with exit 1 and a message that says so;
against a live one, stopping mid-stream (the deadline, SIGTERM) must exit 0 with the batch
committed. Bounded by generous timeouts, never by a timing assertion.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_apiserver import FakeApiServer, serve
from watch_helpers import incidents, managed_repo, pod, wait_until

RUNS = 20


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


def unreachable_kubeconfig(path: Path) -> Path:
    # a loopback port nobody listens on: bound, then closed, so connections are refused
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: down\n"
        f"clusters:\n- name: down\n  cluster: {{server: 'https://127.0.0.1:{port}', "
        "insecure-skip-tls-verify: true}\n"
        "contexts:\n- name: down\n  context: {cluster: down, user: u}\n"
        "users:\n- name: u\n  user: {token: not-a-secret}\n")
    return path


def test_watch_against_an_unreachable_server_exits_1_with_a_message_every_time(
        tmp_path: Path) -> None:
    repo = managed_repo(tmp_path / "repo")
    kubeconfig = unreachable_kubeconfig(tmp_path / "kubeconfig")
    codes = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-m", "agentops", "watch", "--kubeconfig", str(kubeconfig),
             "--for", "2s", "--repo", str(repo)],
            capture_output=True, text=True, timeout=60, check=False)
        codes.append(out.returncode)
        assert out.returncode == 1, out.stderr
        assert "error: cannot reach the Kubernetes API server https://127.0.0.1:" in out.stderr
        assert "Connection refused" in out.stderr
        assert "Fatal Python error" not in out.stderr and "Traceback" not in out.stderr
    assert codes == [1] * RUNS


def test_watch_stopped_by_its_deadline_mid_stream_exits_0(
        api: FakeApiServer, tmp_path: Path) -> None:
    repo = managed_repo(tmp_path / "repo")
    api.create(pod("a", "prod", waiting="CrashLoopBackOff", restarts=3))
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-m", "agentops", "watch", "--kubeconfig",
             str(api.kubeconfig(tmp_path / "kc")), "--for", "2s", "--repo", str(repo),
             "--format", "json"], capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        assert "Fatal Python error" not in out.stderr
        assert json.loads(out.stdout)["server"] == api.url


def test_sigterm_right_after_start_exits_cleanly(api: FakeApiServer, tmp_path: Path) -> None:
    repo = managed_repo(tmp_path / "repo")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentops", "watch", "--kubeconfig",
         str(api.kubeconfig(tmp_path / "kc")), "--repo", str(repo), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    api.wait_for_watch("pods", timeout=30)
    api.create(pod("b", "prod", waiting="CrashLoopBackOff", restarts=1))
    wait_until(lambda: len(incidents(repo)) == 1, timeout=30)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["incidents_opened"] == 1
    assert "Fatal Python error" not in err
