"""Replicas: two `agentops serve` and one `agentops watch`, each in its own clone with its own
spool, all pushing to one remote served by a real `git daemon` over git:// on loopback. Every
accepted event must be on the remote exactly once."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from journal_helpers import journal_records
from k8s_apiserver import FakeApiServer, serve

sys.path.insert(0, str(Path(__file__).resolve().parent / "server"))
from srv_helpers import Client, ServeProcess  # noqa: E402

AGENTOPS = [sys.executable, "-m", "agentops"]
TOKEN = "replica-token"
ENV = {"AGENTOPS_GENERIC_TOKEN": TOKEN}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          check=True).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def daemon(tmp_path: Path, git_repo: Path) -> Iterator[tuple[str, Path]]:
    """A bare remote, seeded with an initialised repository that pushes, behind git daemon."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert subprocess.run([*AGENTOPS, "init", "--repo", str(git_repo)]).returncode == 0
    config = git_repo / ".agentops" / "config.yaml"
    config.write_text(config.read_text().replace("enabled: false", "enabled: true"))
    git(git_repo, "commit", "-qam", "enable push")
    base = tmp_path / "served"
    base.mkdir()
    remote = base / "ops.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo), str(remote)], check=True)
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
         f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("git daemon did not start")
            time.sleep(0.05)
    try:
        yield f"git://127.0.0.1:{port}/ops.git", remote
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


def clone(url: str, path: Path) -> Path:
    subprocess.run(["git", "clone", "-q", url, str(path)], check=True)
    assert subprocess.run([*AGENTOPS, "init", "--repo", str(path)],
                          capture_output=True).returncode == 0
    return path


def event(key: str) -> bytes:
    """Half open an incident (a failed production deployment), half only count (an attempt)."""
    if int(key.rsplit("-", 1)[1]) % 2:
        doc = {"type": "deployment.failed", "environment": "production", "source": "ci",
               "key": key, "attributes": {"service": key}}
    else:
        doc = {"type": "attempt.failed", "source": "agent", "key": key,
               "attributes": {"agent": "a1", "task": key}}
    return json.dumps(doc).encode()


def pod(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "prod"},
            "spec": {"containers": [{"name": "app", "image": "app:1"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "image": "app:1", "ready": False, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                "lastState": {}}]}}


def remote_records(remote: Path) -> list[dict[str, object]]:
    return journal_records(remote)


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def test_two_serve_replicas_and_a_watcher_put_every_event_on_the_remote_once(
        tmp_path: Path, daemon: tuple[str, Path], api: FakeApiServer) -> None:
    url, remote = daemon
    s1, s2, w = (clone(url, tmp_path / name) for name in ("serve1", "serve2", "watch"))
    servers = [ServeProcess(s1, env=ENV), ServeProcess(s2, env=ENV)]
    watcher = subprocess.Popen(
        [*AGENTOPS, "watch", "--kubeconfig", str(api.kubeconfig(tmp_path / "kc")), "--repo",
         str(w), "--namespace", "prod", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    keys = [f"ev-{n}" for n in range(30)]
    try:
        api.wait_for_watch("pods", timeout=60)

        def post(args: tuple[int, str]) -> int:
            n, key = args
            client = Client(servers[n % 2].port)
            try:
                status = client.post("/hooks/generic", event(key),
                                     {"Authorization": f"Bearer {TOKEN}"}).status
                if n % 5 == 0:  # a sender retrying on the other replica: a duplicate
                    other = Client(servers[(n + 1) % 2].port)
                    status = max(status, other.post("/hooks/generic", event(key), {
                        "Authorization": f"Bearer {TOKEN}"}).status)
                    other.close()
                return status
            finally:
                client.close()

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(post, enumerate(keys)))
            for n in range(4):
                api.create(pod(f"crash-{n}"))
        assert statuses == [202] * len(keys)

        def all_there() -> bool:
            found = {str(r["key"]) for r in remote_records(remote)}
            subjects = git(remote, "show", "main:INCIDENTS.md").count("prod/Pod/crash-")
            return set(keys) <= found and subjects >= 4
        wait_for(all_there, 240, "every event on the remote")
    finally:
        codes = [s.stop(120) for s in servers]
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=120)
    assert codes == [0, 0], [s.stderr for s in servers]
    assert watcher.returncode == 0, err
    counts = Counter(str(r["key"]) for r in remote_records(remote))
    assert all(counts[k] == 1 for k in keys), {k: counts[k] for k in keys if counts[k] != 1}
    assert max(counts.values()) == 1  # the watcher's events too: nothing twice
    check = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", url, str(check)], check=True)
    text = (check / "INCIDENTS.md").read_text()
    # the failed production deployments (one problem: no subject) are one incident that counts
    # each of them once, wherever it was accepted
    opened = [k for k in keys if int(k.rsplit("-", 1)[1]) % 2]
    assert text.count("dedup_key: deploy/-/-\n") == 1
    assert f"dedup_key: deploy/-/-\noccurrences: {len(opened)}\n" in text
    assert sum(1 for n in range(4) if f"prod/Pod/crash-{n}" in text) == 4
    lint = subprocess.run([*AGENTOPS, "lint", "--repo", str(check)], capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
