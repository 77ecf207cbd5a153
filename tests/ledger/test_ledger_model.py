"""Entry records: uids, severities, durations computed from times, the structured sections."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from ledger_helpers import T0, incident_monitoring, incident_open, memory_entries, ts_entries

from agentops.errors import LedgerError
from agentops.ledger.format import format_duration
from agentops.ledger.model import (
    FollowUp,
    Sections,
    TimelineRow,
    new_uid,
    normalize_severity,
    parse_followup,
    parse_timeline_row,
    template_sections,
)
from agentops.ledger.schemas import SCHEMAS, entry_to_dict


def test_new_uid_is_a_sortable_26_character_ulid() -> None:
    uids = [new_uid() for _ in range(200)]
    assert len(set(uids)) == 200
    assert all(len(u) == 26 and u.isalnum() and u.upper() == u for u in uids)
    assert uids[0][:8] <= uids[-1][:8]


@pytest.mark.parametrize(("raw", "canonical"), [
    ("P0", "CRITICAL"), ("p1", "HIGH"), ("P2", "MEDIUM"), ("P3", "LOW"), ("high", "HIGH"),
])
def test_severity_aliases(raw: str, canonical: str) -> None:
    assert normalize_severity(raw) == canonical


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(LedgerError, match="not one of LOW, MEDIUM, HIGH, CRITICAL"):
        normalize_severity("P9")


def test_durations_are_computed_from_times() -> None:
    inc = incident_monitoring()
    assert inc.time_to_acknowledge == timedelta(minutes=3)
    assert inc.time_to_mitigate == timedelta(minutes=9)
    assert inc.time_to_resolve is None
    assert inc.impact_duration == timedelta(minutes=11)
    assert incident_open().impact_duration is None
    with pytest.raises(AttributeError):
        inc.status = "Resolved"  # type: ignore[misc]


@pytest.mark.parametrize(("seconds", "text"), [
    (45, "45s"), (60, "1m"), (12 * 60 + 5, "12m"), (3900, "1h 05m"), (2 * 86400 + 3 * 3600,
                                                                     "2d 3h"), (-120, "-2m"),
])
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def test_timeline_and_followups_are_parsed_from_their_sections() -> None:
    inc = incident_monitoring()
    assert inc.timeline[0] == TimelineRow(T0 + timedelta(minutes=43), "Error rate rises")
    assert inc.followups == (
        FollowUp(False, "Verify tags exist before merge", "alice", date(2026, 12, 1)),
        FollowUp(True, "Roll back", "agent", None),
    )
    assert parse_followup("- [X] ship it - 2026-01-02") == FollowUp(True, "ship it", None,
                                                                     date(2026, 1, 2))
    assert parse_followup("- plain item") is None
    assert parse_timeline_row("| Time (UTC) | Event |") is None
    assert parse_timeline_row("|---|---|") is None
    assert parse_timeline_row("| 2026-11-24T08:30:00Z |  |") == TimelineRow(T0, "")


def test_sections_are_ordered_immutable_and_hashable() -> None:
    a = Sections({"A": "1", "B": "2"})
    assert a != Sections({"B": "2", "A": "1"})
    assert a.replace("B", "3") == Sections({"A": "1", "B": "3"})
    assert list(a.replace("C", "x")) == ["A", "B", "C"]
    assert hash(a) == hash(Sections([("A", "1"), ("B", "2")]))
    assert hash(incident_open()) == hash(incident_open())
    with pytest.raises(LedgerError, match="twice"):
        Sections([("A", "1"), ("A", "2")])
    with pytest.raises(LedgerError, match="unknown section"):
        template_sections("memory", Fix="x")


def test_json_form_validates_against_the_schemas() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for entry, kind in ((incident_monitoring(), "incident"), (incident_open(), "incident"),
                        (ts_entries()[0], "troubleshooting"), (memory_entries()[2], "memory")):
        data = entry_to_dict(entry)
        jsonschema.validate(data, SCHEMAS[kind])
    data = entry_to_dict(incident_monitoring())
    assert data["time_to_acknowledge"] == 180.0 and data["detected"] == "2026-11-24T09:15:00Z"
    assert data["followups"][0]["due"] == "2026-12-01"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(entry_to_dict(incident_open()._replace(severity="P1")),
                            SCHEMAS["incident"])
