"""Intake: what the pipeline would refuse is refused with a 4xx before anything is spooled, and a
spooled request the pipeline still refuses is dead-lettered instead of wedging the committer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from srv_helpers import (
    FakePipeline,
    ServeProcess,
    journal_records,
    make_managed_repo,
    running_receiver,
    signed_headers,
    wait_for,
)

from agentops.events import Event
from agentops.server.committer import MAX_TRIES
from agentops.server.spool import spool_dir

TOKEN = "generic-token"
ENV = {"AGENTOPS_GENERIC_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def body(key: str, **extra: Any) -> bytes:
    doc = {"type": "attempt.failed", "source": "bench", "key": key,
           "attributes": {"agent": "a1", "task": key}, **extra}
    return json.dumps(doc).encode()


HOSTILE = {
    "actor_at": body("bad", actor="@"),
    "actor_nul": body("bad", actor="deploy\u0000bot"),
    "actor_newline": body("bad", actor="a\nb"),
    "lone_surrogate": b'{"type": "attempt.failed", "message": "\\ud800", "key": "bad"}',
    "surrogate_in_attribute": b'{"type": "x.y", "attributes": {"a": ["\\udfff"]}, "key": "bad"}',
    "infinite_number": b'{"type": "x.y", "attributes": {"ratio": 1e999}, "key": "bad"}',
    "nul_in_key": b'{"type": "x.y", "key": "k\\u0000"}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_body_is_refused_with_422_and_later_posts_are_committed(
        tmp_path: Path, name: str) -> None:
    repo = make_managed_repo(tmp_path / "ops")
    serve = ServeProcess(repo, env=ENV)
    try:
        wait_for(serve.ready, what="ready")
        bad = serve.client.post("/hooks/generic", HOSTILE[name], AUTH)
        assert bad.status == 422, (bad.status, bad.body)
        assert "error" in bad.json()
        for i in range(3):
            assert serve.client.post("/hooks/generic", body(f"good-{i}"), AUTH).status == 202
        wait_for(lambda: not list(spool_dir(repo).glob("*.json")), what="spool drained")
        ready = serve.client.get("/readyz")
        assert ready.status == 200, ready.body
        assert b"Traceback" not in ready.body
    finally:
        assert serve.stop() == 0, serve.stderr
    keys = [r["key"] for r in journal_records(repo)]
    assert [k for k in keys if k.startswith("good-")] == ["good-0", "good-1", "good-2"]
    assert "bad" not in keys
    assert "Traceback" not in serve.stderr


class PoisonPipeline(FakePipeline):
    """Refuses (with an error that is not "invalid event") any batch holding a poisoned key."""

    def __call__(self, events: Sequence[Event]) -> list[Any]:
        if any(e.key == "poison" for e in events):
            raise ValueError("author must look like 'Name <email>':\n  traceback line")
        return super().__call__(events)


def test_a_request_the_pipeline_keeps_refusing_is_dead_lettered_and_never_blocks_the_rest(
        tmp_path: Path) -> None:
    pipeline = PoisonPipeline()
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        headers = signed_headers("generic", b"")
        assert srv.client.post("/hooks/generic", body("poison"), headers).status == 202
        for i in range(3):
            assert srv.client.post("/hooks/generic", body(f"good-{i}"), headers).status == 202
        wait_for(lambda: srv.spool.depth() == 0, what="spool drained")
        assert sorted(e.key for e in pipeline.events) == ["good-0", "good-1", "good-2"]
        failed = sorted(p.name for p in srv.spool.failed.iterdir())
        assert len(failed) == 2 and failed[0].endswith(".error")
        reason = (srv.spool.failed / failed[0]).read_text()
        assert f"after {MAX_TRIES} tries" in reason and "author must look like" in reason
        wait_for(lambda: srv.client.get("/readyz").status == 200, what="ready again")
        metrics = srv.client.get("/metrics").body.decode()
        assert "agentops_dead_letters_total 1" in metrics
        assert "agentops_spool_failed 1" in metrics


def test_a_lock_held_elsewhere_is_retried_without_dead_lettering(tmp_path: Path) -> None:
    from agentops.errors import LockTimeout

    pipeline = FakePipeline(fail_with=LockTimeout("timed out waiting for the agentops lock"))
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        headers = signed_headers("generic", b"")
        assert srv.client.post("/hooks/generic", body("one"), headers).status == 202
        wait_for(lambda: srv.receiver.committer.tries.get(srv.spool.pending()[0], 0)
                 > MAX_TRIES, what="retries past the dead-letter bound")
        ready = srv.client.get("/readyz")
        assert ready.status == 503
        assert ready.body.decode().count("\n") == 1  # one line, no traceback
        assert "LockTimeout" in ready.body.decode()
        assert srv.spool.failed_count() == 0
        pipeline.fail_with = None
        wait_for(lambda: srv.spool.depth() == 0, what="committed once the lock is free")
        assert [e.key for e in pipeline.events] == ["one"]


def test_check_lists_dead_letters(tmp_path: Path) -> None:
    repo = make_managed_repo(tmp_path / "ops")
    failed = spool_dir(repo) / "failed"
    failed.mkdir(parents=True)
    (failed / "00000000000000000001-000000000.json").write_text("{}")
    (failed / "00000000000000000001-000000000.error").write_text("ValueError: bad author\n")
    out = subprocess.run([sys.executable, "-m", "agentops", "check", "--repo", str(repo)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 1, out
    assert "dead_letter" in out.stdout and "ValueError: bad author" in out.stdout
