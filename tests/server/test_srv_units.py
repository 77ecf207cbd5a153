"""The serve parts without HTTP: secrets, the spool, the committer, payload limits."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from srv_helpers import FakePipeline, wait_for

from agentops.errors import AgentopsError, InvalidEventError
from agentops.events import make_event
from agentops.server.auth import load_auth
from agentops.server.committer import Committer
from agentops.server.metrics import Metrics
from agentops.server.payload import MalformedBody, decode
from agentops.server.run import parse_for
from agentops.server.spool import Spool


def event(key: str) -> object:
    return make_event("attempt.failed", source="t", key=key, attributes={"n": 1.5},
                      time="2026-11-24T08:30:00.123456Z")


# --- auth --------------------------------------------------------------------------------------


def test_secrets_come_from_variables_and_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    auth = load_auth({"AGENTOPS_ALERTMANAGER_TOKEN": "t1",
                      "AGENTOPS_FLUX_HMAC_SECRET_FILE": str(secret)}, repo=tmp_path / "repo")
    assert auth.credentials["alertmanager"][0].secret == b"t1"
    assert auth.credentials["flux"][0].secret == b"from-file"
    assert auth.check_headers("alertmanager", {"authorization": "Bearer t1"})
    assert auth.check_headers("alertmanager", {"Authorization": "bearer  t1"})
    assert not auth.check_headers("alertmanager", {"authorization": "Bearer t2"})
    assert not auth.check_headers("argocd", {"authorization": "Bearer t1"})  # not configured
    assert "from-file" not in repr(auth)


@pytest.mark.parametrize(("env", "message"), [
    ({"AGENTOPS_GITHUB_TOKEN": "x"},
     ("AGENTOPS_GITHUB_TOKEN: github cannot authenticate with bearer; "
      "use AGENTOPS_GITHUB_HMAC_SECRET")),
    ({"AGENTOPS_ARGOCD_HMAC_SECRET": "x"}, "argocd cannot authenticate with hmac"),
    ({"AGENTOPS_FLUX_TOKEN": "a", "AGENTOPS_FLUX_TOKEN_FILE": "/x"}, "both set"),
    ({"AGENTOPS_FLUX_TOKEN": "  "}, "AGENTOPS_FLUX_TOKEN: empty secret"),
    ({"AGENTOPS_FLUX_TOKEN_FILE": "/nonexistent/x"}, "cannot read the secret"),
])
def test_bad_secret_configuration_is_a_clear_error(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(AgentopsError, match=message.replace("(", r"\(")):
        load_auth(env, repo=tmp_path)


def test_a_secret_file_inside_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "token").write_text("x")
    with pytest.raises(AgentopsError, match="outside the managed repository"):
        load_auth({"AGENTOPS_GENERIC_TOKEN_FILE": str(tmp_path / "rules" / "token")},
                  repo=tmp_path)


# --- spool -------------------------------------------------------------------------------------


def test_spool_keeps_arrival_order_and_round_trips_events(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    names = [spool.put("generic", [event(f"k{n}")], received=float(n)) for n in range(30)]
    assert spool.pending() == names
    loaded = spool.load(names[3])
    assert loaded.events == (event("k3"),) and loaded.source == "generic"
    spool.remove(names[:10])
    assert spool.pending() == names[10:]
    assert not list((tmp_path / "spool").glob(".*.tmp"))


def test_unreadable_spool_file_is_quarantined_not_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (tmp_path / "spool" / "00000000000000000001-000000000.json").write_text("{torn")
    good = spool.put("generic", [event("good")], received=0.0)
    pipeline = FakePipeline()
    Committer(spool, pipeline, metrics=Metrics()).drain()
    assert [e.key for e in pipeline.events] == ["good"]
    assert spool.pending() == [] and spool.failed_count() == 1
    assert "JSONDecodeError" in (spool.failed / "00000000000000000001-000000000.error").read_text()
    assert good not in spool.failed.iterdir()


def test_only_one_process_may_claim_a_spool(tmp_path: Path) -> None:
    first, second = Spool(tmp_path / "s"), Spool(tmp_path / "s")
    first.lock()
    with pytest.raises(AgentopsError, match="another `agentops serve`"):
        second.lock()
    first.close()
    second.lock()
    second.close()


# --- committer ---------------------------------------------------------------------------------


def test_committer_drains_what_a_previous_run_left_before_anything_else(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for n in range(5):
        spool.put("generic", [event(f"old{n}")], received=0.0)
    pipeline = FakePipeline()
    committer = Committer(spool, pipeline, metrics=Metrics(), window=0.01)
    committer.start()
    wait_for(lambda: committer.recovered, what="recovery")
    committer.stop()
    assert len(pipeline.batches) == 1
    assert [e.key for e in pipeline.events] == [f"old{n}" for n in range(5)]


def test_a_poisoned_request_is_set_aside_and_the_rest_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for key in ("a", "poison", "b"):
        spool.put("generic", [event(key)], received=0.0)

    def picky(events: object) -> list[object]:
        if any(e.key == "poison" for e in events):  # type: ignore[attr-defined]
            raise InvalidEventError("the pipeline will never take this")
        return pipeline(events)  # type: ignore[arg-type]

    pipeline = FakePipeline()
    Committer(spool, picky, metrics=Metrics()).drain()
    assert [e.key for e in pipeline.events] == ["a", "b"]
    assert spool.pending() == [] and spool.failed_count() == 1


def test_a_transient_failure_keeps_the_order_and_the_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    names = [spool.put("generic", [event(k)], received=0.0) for k in ("a", "b")]
    pipeline = FakePipeline(fail_with=TimeoutError("lock"))
    committer = Committer(spool, pipeline, metrics=Metrics())
    assert committer.drain() == 0
    assert spool.pending() == names and committer.last_error == "TimeoutError: lock"


def test_stop_commits_what_arrives_while_stopping(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    pipeline = FakePipeline()
    committer = Committer(spool, pipeline, metrics=Metrics(), window=5.0)
    committer.start()
    wait_for(lambda: committer.recovered, what="recovery")
    spool.put("generic", [event("late")], received=0.0)
    committer.notify()
    stopper = threading.Thread(target=committer.stop)
    stopper.start()
    stopper.join(10)
    assert [e.key for e in pipeline.events] == ["late"]


# --- payload limits and options ----------------------------------------------------------------


@pytest.mark.parametrize(("body", "message"), [
    (b'{"a": Infinity}', "Infinity is not valid JSON"),
    (b"1" * 5000, "Exceeds the limit"),
    (b'{"a":' * 70 + b"1" + b"}" * 70, "nested deeper than 64 levels"),
    (b"[" * 100000 + b"]" * 100000, "nested deeper than 64 levels"),
])
def test_hostile_json_is_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedBody, match=message):
        decode("alertmanager", body)


def test_generic_accepts_json_lines_but_names_a_bad_line() -> None:
    lines = b'{"type": "a.b"}\n{"type": "c.d"}\n'
    assert decode("generic", lines) == lines.decode()
    with pytest.raises(MalformedBody, match="line 2: not valid JSON"):
        decode("generic", b'{"type": "a.b"}\n{oops\n')
    assert json.dumps(decode("generic", b"[1, 2]")) == "[1, 2]"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0),
                                                ("500ms", 0.5), ("2.5", 2.5)])
def test_for_durations(text: str, seconds: float) -> None:
    assert parse_for(text) == seconds


def test_bad_for_duration() -> None:
    with pytest.raises(AgentopsError, match="--for: 'soon' is not a duration"):
        parse_for("soon")
