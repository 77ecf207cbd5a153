"""Malformed and hostile bodies, correctly authenticated, on every source: no 5xx, no write."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from srv_helpers import (
    FakePipeline,
    Running,
    fixture_bytes,
    running_receiver,
    signed_headers,
    wait_for,
)

from agentops.events import Event
from agentops.server.spool import Spool
from agentops.sources import SOURCES

FIELDS = [
    "alerts", "status", "labels", "annotations", "startsAt", "endsAt", "fingerprint", "groupKey",
    "involvedObject", "kind", "name", "namespace", "uid", "severity", "reason", "message",
    "metadata", "timestamp", "revision", "workflow_run", "workflow_job", "action", "conclusion",
    "id", "run_attempt", "steps", "deployment", "deployment_status", "state", "environment",
    "reviewers", "reviewer", "approver", "login", "repository", "full_name", "type", "time",
    "source", "subject", "attributes", "key", "app", "phase", "health_status", "finished_at",
    "trigger", "sync_status", "alertname", "0001-01-01T00:00:00Z", "", "actor",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from(["firing", "resolved", "error", "info", "completed", "failure", "success",
                     "2026-11-24T08:30:00Z", "-1", "9999-99-99", "deployment.failed", "Failed",
                     "Degraded", "x.y", "\u2028", "<!-- agentops:end -->", "@", "a\x00b",
                     "\ud800", "\u202e", "```", "<img src=x onerror=alert(1)>", 1e308]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda doc: json.dumps(doc).encode()),
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8).map(
        lambda doc: json.dumps(doc).encode()),
)
GITHUB_EVENTS = ["workflow_run", "workflow_job", "deployment_status", "deployment_review", "ping"]


class CountingSpool(Spool):
    """Counts writes, so a test can assert that a refused request wrote nothing."""

    puts = 0

    def put(self, source: str, events: Sequence[Event], *, received: float) -> str:
        CountingSpool.puts += 1
        return super().put(source, events, received=received)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    path = tmp_path_factory.mktemp("hostile") / "spool"
    with running_receiver(path, FakePipeline()) as srv:
        srv.receiver.spool = CountingSpool(path)
        yield srv


def post(server: Running, source: str, body: bytes, event: str = "workflow_run") -> Any:
    headers = signed_headers(source, body)
    if source == "github":
        headers["X-GitHub-Event"] = event
    before = CountingSpool.puts
    response = server.client.post(f"/hooks/{source}", body, headers)
    assert response.status < 500, (response.status, response.body, body)
    assert response.status in (202, 400, 422), (response.status, response.body)
    if response.status != 202:
        assert CountingSpool.puts == before, "a refused request was spooled"
        assert "error" in response.json()
    return response


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, event=st.sampled_from(GITHUB_EVENTS))
def test_random_bodies_never_5xx_nor_write_when_refused(
    server: Running, source: str, body: bytes, event: str
) -> None:
    post(server, source, body, event)


REAL = {
    "alertmanager": ("alertmanager", "v4-KubePodCrashLooping-group-of-3-firing.json"),
    "flux": ("flux", "notification-generic-Kustomization-ValidationFailed.json"),
    "github": ("github", "workflow_run.completed.json"),
}


def _mutations(doc: Any, replacement: Any, path: list[int]) -> Any:
    """``doc`` with the subtree chosen by ``path`` (indexes into children) replaced."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return replacement
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[key] = _mutations(doc[key], replacement, path[1:])
    return copy


@pytest.mark.parametrize("source", sorted(REAL))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replacement=JSON, path=st.lists(st.integers(min_value=0, max_value=50), max_size=5))
def test_real_payloads_with_a_random_subtree_never_5xx(
    server: Running, source: str, replacement: Any, path: list[int]
) -> None:
    doc = json.loads(fixture_bytes(*REAL[source]))
    post(server, source, json.dumps(_mutations(doc, replacement, path)).encode())


def test_hostile_run_never_left_an_unreadable_spool_file(server: Running, tmp_path: Path) -> None:
    # The committer is still draining: a file listed now may be committed and removed before it
    # is read. So wait until it has taken everything, then look at what it could not read: it
    # moves every unreadable file to failed/ (never deletes one), so that must be empty. This
    # covers every file the run spooled, not only those still pending at the end.
    wait_for(lambda: not server.spool.pending(), what="the committer to drain the spool")
    assert server.spool.failed_count() == 0, sorted(p.name for p in server.spool.failed.iterdir())
    assert server.receiver.committer.last_error is None
