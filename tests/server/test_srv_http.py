"""``POST /hooks/{source}`` over loopback HTTP: status codes, and nothing written on refusal."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from srv_helpers import (
    TOKEN,
    FakePipeline,
    fixture_bytes,
    running_receiver,
    signed_headers,
    wait_for,
)

from agentops.server.auth import AuthPolicy

FLUX_BODY = fixture_bytes("flux", "notification-generic-Kustomization-ValidationFailed.json")
AM_BODY = fixture_bytes("alertmanager", "kubesphere-KubePodNotReady-2alerts-firing.json")


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


def test_signed_flux_post_is_accepted_spooled_and_committed(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        response = srv.client.post("/hooks/flux", FLUX_BODY, signed_headers("flux", FLUX_BODY))
        assert response.status == 202
        body = response.json()
        assert body["accepted"] == 1 and body["spooled"]
        wait_for(lambda: len(pipeline.events) == 1, what="the commit")
        wait_for(lambda: srv.spool.depth() == 0, what="the spool to empty")
    assert pipeline.events[0].type == "deployment.failed"
    assert pipeline.events[0].source == "flux"


@pytest.mark.parametrize("headers", [
    {},
    {"X-Signature": "sha256=" + "0" * 64},
    {"X-Signature": "sha256=not-hex"},
    {"X-Signature": "md5=abc"},
    {"Authorization": f"Bearer {TOKEN}"},  # a token is no signature
])
def test_unsigned_or_wrongly_signed_flux_post_is_401_and_writes_nothing(
    tmp_path: Path, pipeline: FakePipeline, headers: dict[str, str]
) -> None:
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        response = srv.client.post("/hooks/flux", FLUX_BODY, headers)
        assert response.status == 401
        assert response.json() == {"error": "missing or invalid credentials"}
        assert srv.spool.depth() == 0
    assert pipeline.batches == []
    assert list((tmp_path / "spool").glob("*.json")) == []


def test_signature_over_another_body_is_401(tmp_path: Path, pipeline: FakePipeline) -> None:
    tampered = FLUX_BODY.replace(b"ValidationFailed", b"ValidationPassed")
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        response = srv.client.post("/hooks/flux", tampered, signed_headers("flux", FLUX_BODY))
        assert response.status == 401
        assert srv.spool.depth() == 0


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_bad_bearer_token_is_401(
    tmp_path: Path, pipeline: FakePipeline, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        response = srv.client.post("/hooks/alertmanager", AM_BODY, headers)
        assert response.status == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert srv.spool.depth() == 0
    assert pipeline.batches == []


def test_source_without_a_secret_is_refused(tmp_path: Path, pipeline: FakePipeline) -> None:
    with running_receiver(tmp_path / "spool", pipeline, auth=AuthPolicy({})) as srv:
        assert srv.client.post("/hooks/alertmanager", AM_BODY).status == 401


def test_insecure_no_auth_accepts_unauthenticated_posts(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    auth = AuthPolicy({}, insecure=True)
    with running_receiver(tmp_path / "spool", pipeline, auth=auth) as srv:
        response = srv.client.post("/hooks/alertmanager", AM_BODY)
        assert response.status == 202
        assert response.json()["accepted"] == 2


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"\xff\xfe{}", 400, "body: not UTF-8"),
    (b"{not json", 400, "body: not valid JSON"),
    (b"", 400, "body: empty"),
    (b"[" * 100 + b"]" * 100, 400, "nested deeper than 64 levels"),
    (b'{"alerts": NaN}', 400, "NaN is not valid JSON"),
    (b"[]", 422, "alertmanager: body: expected an object, got a list"),
    (b'{"alerts": [{"status": "burning"}]}', 422,
     "alertmanager: alerts[0].status: 'burning' is not one of firing, resolved"),
    (b'{"receiver": "x"}', 422, "alertmanager: alerts: required"),
])
def test_bad_payload_gets_the_reason_and_writes_nothing(
    tmp_path: Path, pipeline: FakePipeline, body: bytes, status: int, message: str
) -> None:
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        response = srv.client.post("/hooks/alertmanager", body, signed_headers("alertmanager", b""))
        assert response.status == status
        assert message in response.json()["error"]
        assert srv.spool.depth() == 0
    assert pipeline.batches == []


def test_oversized_body_is_413_by_content_length(tmp_path: Path, pipeline: FakePipeline) -> None:
    big = b'{"alerts": []}' + b" " * 2000
    with running_receiver(tmp_path / "spool", pipeline, max_body=1000) as srv:
        response = srv.client.post("/hooks/alertmanager", big, signed_headers("alertmanager", big))
        assert response.status == 413
        assert response.headers["connection"] == "close"
        assert srv.spool.depth() == 0
        # The server is still fine for the next sender.
        small = b'{"alerts": []}'
        ok = srv.client.post("/hooks/alertmanager", small, signed_headers("alertmanager", small))
        assert ok.status == 202


def test_oversized_chunked_body_is_413_while_streaming(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    # No Content-Length: the limit is enforced on the bytes read so far, and the answer comes
    # while the sender is still sending (it never finishes the body).
    head = (f"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
            "\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"64\r\n" + b" " * 100 + b"\r\n"
    with running_receiver(tmp_path / "spool", pipeline, max_body=1000) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(head + b'c\r\n{"alerts": [\r\n' + chunk * 11)
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413 "), answer
        assert srv.spool.depth() == 0


def test_unknown_source_is_404_and_wrong_method_405(tmp_path: Path, pipeline: FakePipeline) -> None:
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        response = srv.client.post("/hooks/nagios", b"{}")
        assert response.status == 404
        assert "unknown source 'nagios'" in response.json()["error"]
        assert srv.client.get("/hooks/flux").status == 405
        assert srv.client.get("/nowhere").status == 404


def test_payload_without_interesting_events_is_accepted_and_spools_nothing(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    ping = json.dumps({"zen": "Design for failure.", "hook_id": 1}).encode()
    headers = {**signed_headers("github", ping), "X-GitHub-Event": "ping"}
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        response = srv.client.post("/hooks/github", ping, headers)
        assert (response.status, response.json()) == (202, {"accepted": 0, "spooled": None})
        assert srv.spool.depth() == 0


def test_many_posts_become_few_group_commits(tmp_path: Path, pipeline: FakePipeline) -> None:
    with running_receiver(tmp_path / "spool", pipeline, window=0.3) as srv:
        for number in range(20):
            event = {"type": "attempt.failed", "source": "ci", "key": f"k{number}"}
            body = json.dumps(event).encode()
            assert srv.client.post("/hooks/generic", body, signed_headers("generic", body)
                                   ).status == 202
        wait_for(lambda: len(pipeline.events) == 20, what="20 events committed")
    assert len(pipeline.batches) < 20
    assert [e.key for e in pipeline.events] == [f"k{n}" for n in range(20)]


def test_redelivery_in_one_group_reaches_the_pipeline_once(
    tmp_path: Path, pipeline: FakePipeline
) -> None:
    body = json.dumps({"type": "attempt.failed", "source": "ci", "key": "same"}).encode()
    with running_receiver(tmp_path / "spool", pipeline, window=0.5) as srv:
        for _ in range(3):
            assert srv.client.post("/hooks/generic", body, signed_headers("generic", body)
                                   ).status == 202
        wait_for(lambda: srv.spool.depth() == 0, what="the spool to empty")
    assert [e.key for e in pipeline.events] == ["same"]


def test_health_readiness_and_metrics(tmp_path: Path, pipeline: FakePipeline) -> None:
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        srv.client.post("/hooks/flux", FLUX_BODY, signed_headers("flux", FLUX_BODY))
        srv.client.post("/hooks/flux", FLUX_BODY, {})
        srv.client.post("/hooks/alertmanager", b"nope", signed_headers("alertmanager", b""))
        wait_for(lambda: srv.spool.depth() == 0, what="the commit")
        assert srv.client.get("/healthz").status == 200
        wait_for(lambda: srv.client.get("/readyz").status == 200, what="ready")
        metrics = srv.client.get("/metrics")
    text = metrics.body.decode()
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    for line in (
        'agentops_hook_requests_received_total{source="flux"} 2',
        'agentops_hook_requests_accepted_total{source="flux"} 1',
        'agentops_hook_requests_rejected_total{source="flux",reason="unauthorized"} 1',
        'agentops_hook_requests_rejected_total{source="alertmanager",reason="malformed"} 1',
        "agentops_spool_depth 0",
        "agentops_commits_total 1",
        "agentops_events_committed_total 1",
        "# TYPE agentops_commit_latency_seconds histogram",
        'agentops_commit_latency_seconds_bucket{le="+Inf"} 1',
    ):
        assert line in text.splitlines(), line


def test_failing_pipeline_keeps_events_spooled_and_not_ready(tmp_path: Path) -> None:
    pipeline = FakePipeline(fail_with=OSError("disk on fire"))
    body = json.dumps({"type": "attempt.failed", "source": "ci", "key": "kept"}).encode()
    with running_receiver(tmp_path / "spool", pipeline) as srv:
        assert srv.client.post("/hooks/generic", body, signed_headers("generic", body)
                               ).status == 202
        wait_for(lambda: srv.client.get("/readyz").status == 503, what="not ready")
        assert "disk on fire" in srv.client.get("/readyz").body.decode()
        assert srv.spool.depth() == 1
        pipeline.fail_with = None
        wait_for(lambda: srv.spool.depth() == 0, what="the retry")
        wait_for(lambda: srv.client.get("/readyz").status == 200, what="ready again")
    assert [e.key for e in pipeline.events] == ["kept"]
