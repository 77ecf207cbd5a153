"""The Event record: validation errors name the field; keys are stable."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_cli

from agentops.errors import InvalidEventError
from agentops.events import EVENT_SCHEMA, event_from_dict, format_time, parse_time


def test_derived_key_is_stable_and_content_based() -> None:
    raw = {"type": "deployment.failed", "time": "2026-11-24T10:00:00Z", "message": "boom"}
    assert event_from_dict(raw).key == event_from_dict(dict(raw)).key
    assert event_from_dict(raw).key != event_from_dict({**raw, "message": "other"}).key


def test_given_key_wins_and_gives_the_event_id() -> None:
    a = event_from_dict({"type": "attempt.failed", "key": "run-42"})
    b = event_from_dict({"type": "attempt.failed", "key": "run-42", "message": "retry"})
    assert a.id == b.id and a.id.startswith("ev-")


@pytest.mark.parametrize(("raw", "message"), [
    ({"type": "Deployment"}, "event.type: 'Deployment' is not a dotted lower-case type"),
    ({"type": "a.b", "time": "yesterday"}, "event.time: 'yesterday' is not an ISO 8601 time"),
    ({"type": "a.b", "subject": {"pod": "x"}}, "event.subject.pod: unknown field"),
    ({"type": "a.b", "colour": "red"}, "event.colour: unknown field"),
    ({"type": "a.b", "attributes": []}, "event.attributes: expected an object"),
    ({"type": "a.b", "actor": 7}, "event.actor: expected a string, got int"),
])
def test_invalid_events_name_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        event_from_dict(raw)
    assert str(info.value).startswith(message)


def test_times_are_utc_with_nanoseconds_and_offsets_accepted_and_kept_to_milliseconds() -> None:
    when = parse_time("2026-11-24T18:30:00.123456789+08:00")
    assert format_time(when) == "2026-11-24T10:30:00.123Z"
    assert when.microsecond == 123000
    assert format_time(parse_time("2026-11-24T10:30:00Z")) == "2026-11-24T10:30:00Z"


def test_schema_command_prints_the_event_schema() -> None:
    out = run_cli(["schema", "event"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == EVENT_SCHEMA


@pytest.mark.parametrize("value", [253402300800.0, 1e300, float("nan"),
                                   "0001-01-01T00:00:00+01:00"])
def test_times_out_of_range_are_invalid_events_not_crashes(value: object) -> None:
    with pytest.raises(InvalidEventError, match="not a time in range"):
        parse_time(value)
