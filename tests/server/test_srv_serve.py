"""``agentops serve`` as a process, on a real managed repository: commits, crashes, shutdown."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_helpers import run_process
from srv_helpers import (
    Client,
    ServeProcess,
    commit_count,
    fixture_bytes,
    journal_records,
    make_managed_repo,
    wait_for,
)

from agentops import git as agit
from agentops.events import event_id
from agentops.server.spool import spool_dir

SECRET = "flux-secret"
TOKEN = "generic-token"
ENV = {"AGENTOPS_FLUX_HMAC_SECRET": SECRET, "AGENTOPS_GENERIC_TOKEN": TOKEN}


def flux_body() -> bytes:
    """The official Flux example, moved to a production namespace so that it opens an incident."""
    name = "notification-generic-Kustomization-ValidationFailed.json"
    doc = json.loads(fixture_bytes("flux", name))
    doc["involvedObject"]["namespace"] = "prod-apps"
    return json.dumps(doc).encode()


def flux_signature(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def generic(key: str) -> bytes:
    return json.dumps({"type": "attempt.failed", "source": "bench", "key": key,
                       "attributes": {"agent": "a1", "task": key}}).encode()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_managed_repo(tmp_path / "ops")


def spool_files(repo: Path) -> list[Path]:
    return sorted(spool_dir(repo).glob("*.json"))


def test_signed_flux_post_opens_an_incident_unsigned_writes_nothing(repo: Path) -> None:
    server = ServeProcess(repo, env=ENV)
    try:
        before = commit_count(repo)
        body = flux_body()
        assert server.client.post("/hooks/flux", body).status == 401
        assert server.client.post("/hooks/flux", body, flux_signature(body, "wrong")).status == 401
        assert spool_files(repo) == [] and commit_count(repo) == before
        response = server.client.post("/hooks/flux", body, flux_signature(body))
        assert response.status == 202, response.body
        wait_for(lambda: commit_count(repo) == before + 1, what="the commit")
    finally:
        assert server.stop() == 0, server.stderr
    incidents = (repo / "INCIDENTS.md").read_text()
    assert "Deployment of prod-apps/webapp to production failed" in incidents
    assert agit.run(repo, "status", "--porcelain").strip() == ""


def test_kill_9_with_events_spooled_then_restart_commits_each_exactly_once(repo: Path) -> None:
    keys = [f"burst-{n}" for n in range(40)]
    server = ServeProcess(repo, env=ENV)
    with agit.locked(repo):  # the committer waits for the lock, so everything stays spooled
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda k: _post_generic(server.port, k), keys))
        assert statuses == [202] * len(keys)
        server.kill()
    assert len(spool_files(repo)) == len(keys)
    restarted = ServeProcess(repo, env=ENV)
    try:
        wait_for(lambda: not spool_files(repo), what="the restart to drain the spool")
        wait_for(restarted.ready, what="ready")
        # A sender that never saw the 202 redelivers: harmless.
        assert restarted.client.post("/hooks/generic", generic(keys[0]),
                                     {"Authorization": f"Bearer {TOKEN}"}).status == 202
    finally:
        assert restarted.stop() == 0, restarted.stderr
    assert_committed_once(repo, keys)


def test_kill_9_right_after_a_burst_loses_nothing(repo: Path) -> None:
    keys = [f"race-{n}" for n in range(80)]
    server = ServeProcess(repo, env=ENV)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda k: _post_generic(server.port, k), keys))
    server.kill()  # wherever the committer is: waiting, mid-pipeline, mid-commit
    assert statuses == [202] * len(keys)
    restarted = ServeProcess(repo, env=ENV)
    try:
        wait_for(lambda: not spool_files(repo), what="the restart to drain the spool")
    finally:
        assert restarted.stop() == 0, restarted.stderr
    assert_committed_once(repo, keys)


def test_sigterm_drains_the_spool_and_exits_0(repo: Path) -> None:
    keys = [f"term-{n}" for n in range(30)]
    server = ServeProcess(repo, env=ENV)
    for key in keys:
        assert _post_generic(server.port, key) == 202
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(60) == 0, server.stderr
    assert "spool drained" in server.stderr
    assert spool_files(repo) == []
    assert_committed_once(repo, keys)


def test_for_duration_stops_cleanly(repo: Path) -> None:
    server = ServeProcess(repo, "--for", "1s", env=ENV)
    assert server.proc.wait(30) == 0, server.stderr


def test_a_second_server_on_the_same_repository_is_refused(repo: Path) -> None:
    first = ServeProcess(repo, env=ENV)
    try:
        second = _serve_once(repo, env=ENV)
        assert second.returncode == 1
        assert "another `agentops serve`" in second.stderr
    finally:
        assert first.stop() == 0


def test_secret_files_must_live_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    inside = repo / "token.txt"
    inside.write_text("t0ken\n")
    out = _serve_once(repo, env={"AGENTOPS_GENERIC_TOKEN_FILE": str(inside)})
    assert out.returncode == 1
    assert "secret files must live outside the managed repository" in out.stderr
    outside = tmp_path / "token.txt"
    outside.write_text("t0ken\n")  # the trailing newline of a mounted secret is not part of it
    server = ServeProcess(repo, env={"AGENTOPS_GENERIC_TOKEN_FILE": str(outside)})
    try:
        ok = server.client.post("/hooks/generic", generic("f"), {"Authorization": "Bearer t0ken"})
        assert ok.status == 202
    finally:
        assert server.stop() == 0


def test_serve_without_any_credentials_refuses_to_start(repo: Path) -> None:
    out = _serve_once(repo, env={})
    assert out.returncode == 1
    assert out.stderr.startswith("error: serve: no source has credentials, so every request "
                                 "would be refused with 401.")
    assert "AGENTOPS_GENERIC_TOKEN (bearer)" in out.stderr
    assert "--allow-unauthenticated" in out.stderr


def test_serve_prints_which_sources_accept_requests_and_how(repo: Path) -> None:
    server = ServeProcess(repo, "--for", "1s", env={"AGENTOPS_GENERIC_TOKEN": TOKEN})
    assert server.proc.wait(30) == 0, server.stderr
    server.stop()
    assert ("agentops serve: /hooks/generic: accepted, authenticated by bearer token "
            "(AGENTOPS_GENERIC_TOKEN)") in server.stderr
    assert ("agentops serve: /hooks/github: refused (401): set AGENTOPS_GITHUB_HMAC_SECRET"
            in server.stderr)


def test_allow_unauthenticated_accepts_on_loopback_with_a_warning(repo: Path) -> None:
    insecure = ServeProcess(repo, "--allow-unauthenticated", env={})
    try:
        assert insecure.client.post("/hooks/generic", generic("x")).status == 202
        assert "ANYONE who can reach this port" in insecure.stderr
        assert "/hooks/generic: accepted WITHOUT authentication" in insecure.stderr
    finally:
        insecure.stop()


def test_allow_unauthenticated_is_refused_off_loopback(repo: Path) -> None:
    out = run_process(["serve", "--host", "0.0.0.0", "--port", "0", "--for", "1s",
                       "--allow-unauthenticated"], repo=repo, env={}, timeout=60)
    assert out.returncode == 1
    assert "--allow-unauthenticated listens on loopback only" in out.stderr


def _post_generic(port: int, key: str) -> int:
    client = Client(port)
    try:
        return client.post("/hooks/generic", generic(key),
                           {"Authorization": f"Bearer {TOKEN}"}).status
    finally:
        client.close()


def _serve_once(repo: Path, *, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_process(["serve", "--port", "0", "--for", "1s"], repo=repo, env=env, timeout=60)


def assert_committed_once(repo: Path, keys: list[str]) -> None:
    ids = [record["id"] for record in journal_records(repo)]
    wanted = {event_id(key) for key in keys}
    assert len(ids) == len(set(ids)), "an event was committed twice"
    assert wanted <= set(ids), f"lost: {sorted(wanted - set(ids))}"
    assert agit.run(repo, "status", "--porcelain", "--untracked-files=no").strip() == ""


def test_metrics_count_duplicates_in_a_group_and_replays_and_commits_only_real_ones(
        repo: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # an event that opens an incident: one that opens nothing commits only to the journal ref
    event = {"type": "deployment.failed", "source": "ci", "key": "dup-1",
             "environment": "production", "subject": {"name": "api"}}
    server = ServeProcess(repo, env=ENV)

    def metrics() -> list[str]:
        return [line for line in server.client.get("/metrics").body.decode().splitlines()
                if line.startswith(("agentops_commits_total", "agentops_events_"))]

    try:
        # one request carrying the same event twice: one recorded, one duplicate, one commit
        assert server.client.post("/hooks/generic", json.dumps([event, event]).encode(),
                                  auth).status == 202
        wait_for(lambda: "agentops_events_committed_total 1" in metrics(), what="the commit")
        assert metrics() == ["agentops_commits_total 1", "agentops_events_committed_total 1",
                             "agentops_events_duplicate_total 1"]
        # a replay of it later: a duplicate, and no commit
        assert server.client.post("/hooks/generic", json.dumps(event).encode(),
                                  auth).status == 202
        wait_for(lambda: "agentops_events_duplicate_total 2" in metrics(), what="the replay")
        assert metrics() == ["agentops_commits_total 1", "agentops_events_committed_total 1",
                             "agentops_events_duplicate_total 2"]
    finally:
        assert server.stop() == 0, server.stderr
    assert commit_count(repo) == 2  # init and the one event
