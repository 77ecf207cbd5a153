"""Generic bodies: agentops' own Event JSON, one, a list, or JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agentops.errors import InvalidEventError
from agentops.sources import parse_payload

EVENT = {"type": "attempt.failed", "time": "2026-11-24T08:30:00Z", "source": "agent-7",
         "attributes": {"task": "rotate-certs"}, "key": "run-42"}


def test_one_event_object_is_validated_and_kept() -> None:
    [event] = parse_payload("generic", json.dumps(EVENT))
    assert event.type == "attempt.failed"
    assert event.source == "agent-7"
    assert event.key == "run-42"
    assert event.attributes == {"task": "rotate-certs"}


def test_a_json_list_gives_one_event_each() -> None:
    second = {**EVENT, "key": "run-43"}
    events = parse_payload("generic", json.dumps([EVENT, second]).encode())
    assert [e.key for e in events] == ["run-42", "run-43"]


def test_json_lines_skip_blank_lines() -> None:
    text = json.dumps(EVENT) + "\n\n" + json.dumps({**EVENT, "key": "run-43"}) + "\n"
    assert [e.key for e in parse_payload("generic", text)] == ["run-42", "run-43"]


def test_mapping_body_passes_through() -> None:
    [event] = parse_payload("generic", EVENT)
    assert event.key == "run-42"


def test_event_without_key_gets_the_same_derived_key_twice() -> None:
    data = {k: v for k, v in EVENT.items() if k != "key"}
    [first] = parse_payload("generic", data)
    [again] = parse_payload("generic", json.dumps(data))
    assert first.key == again.key
    assert first.key.startswith("sha256:")


def test_event_without_time_uses_now() -> None:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    [event] = parse_payload("generic", {"type": "deployment.failed"}, now=now)
    assert event.time == now


def test_bad_line_is_reported_with_its_number() -> None:
    text = json.dumps(EVENT) + "\n{oops\n"
    with pytest.raises(InvalidEventError, match=r"^generic: line 2: not valid JSON"):
        parse_payload("generic", text)


def test_bad_list_item_is_reported_with_its_index() -> None:
    with pytest.raises(InvalidEventError, match=r"^generic: \[1\]: event.type: 'Bad'"):
        parse_payload("generic", [EVENT, {"type": "Bad"}])


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^generic: event.colour: unknown field"):
        parse_payload("generic", {**EVENT, "colour": "red"})


def test_empty_body_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^generic: body: empty"):
        parse_payload("generic", b"  \n")
