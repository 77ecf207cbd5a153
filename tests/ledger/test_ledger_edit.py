"""In-place edits: one metadata line, one row, one checkbox; human text is never rewritten."""

from __future__ import annotations

from datetime import date

import pytest
from ledger_helpers import (
    HUMAN_COMMENT,
    T0,
    incident_monitoring,
    incident_open,
    memory_entries,
    minutes,
    ts_entries,
)

from agentops.errors import LedgerError
from agentops.ledger import format as fmt
from agentops.ledger.model import PLACEHOLDER, FollowUp, Signature


def _entry() -> str:
    return fmt.render_incident(incident_monitoring())


def test_update_fields_replaces_only_those_lines_and_the_summary() -> None:
    entry = _entry().replace("severity: CRITICAL\n", f"severity: CRITICAL\n{HUMAN_COMMENT}\n")
    out = fmt.update_fields(entry, severity="P1", acknowledged=None)
    assert HUMAN_COMMENT + "\n" in out
    inc = fmt.parse_incident(out)
    assert inc == incident_monitoring()._replace(severity="HIGH", acknowledged=None)
    assert "**Severity:** HIGH" in out and "Time to acknowledge" not in out
    changed = [(a, b) for a, b in zip(entry.split("\n"), out.split("\n")) if a != b]
    assert [b for _, b in changed] == [fmt.incident_summary(inc), "severity: HIGH",
                                       "acknowledged: null"]


def test_update_fields_adds_a_missing_key_before_the_closing_fence() -> None:
    entry = _entry().replace("root_cause_category: bad-config\n", "")
    out = fmt.update_fields(entry, root_cause_category="image-tag")
    assert "memory: [MEM-0002]\nroot_cause_category: image-tag\n```\n" in out


def test_update_fields_refuses_unknown_fields_ids_and_bad_values() -> None:
    with pytest.raises(LedgerError, match="not a incident field"):
        fmt.update_fields(_entry(), colour="red")
    with pytest.raises(LedgerError, match="renumber"):
        fmt.update_fields(_entry(), id="INC-2026-11-24-009")
    with pytest.raises(LedgerError, match="metadata.status: 'Done' is not one of"):
        fmt.update_fields(_entry(), status="Done")
    with pytest.raises(LedgerError, match="severity"):
        fmt.update_fields(_entry(), severity="P7")


def test_update_title_rewrites_the_heading_escaped() -> None:
    out = fmt.update_fields(_entry(), title="api | down\n### INC-x")
    assert "\n### INC-2026-11-24-002 — api \\| down ### INC-x\n" in out
    assert fmt.parse_incident(out).title == "api \\| down ### INC-x"
    assert fmt.lint("incident", _file(out)) == []


def test_update_troubleshooting_signature_and_memory_fields() -> None:
    ts = fmt.render_troubleshooting(ts_entries()[0])
    out = fmt.update_fields(ts, signature=Signature("k8s.warning", "Failed", None),
                            occurrences=4)
    parsed = fmt.parse_troubleshooting(out)
    assert parsed.signature == Signature("k8s.warning", "Failed", None)
    assert "**Matches:** k8s.warning / Failed · **Seen:** 4×" in out


def test_append_timeline_keeps_time_order() -> None:
    entry = _entry()
    out = fmt.append_timeline(entry, T0 + minutes(60), "late event")
    out = fmt.append_timeline(out, T0 + minutes(46), "out-of-order event | piped")
    rows = fmt.parse_incident(out).timeline
    assert [r.text for r in rows] == ["Error rate rises", "Deployment failed; incident opened",
                                      "out-of-order event \\| piped", "Acknowledged by @alice",
                                      "Rolled back to revision 41", "late event"]
    assert fmt.lint("incident", _file(out)) == []


def test_append_timeline_recreates_a_deleted_table_or_section() -> None:
    entry = fmt.render_incident(incident_open())
    no_table = entry.replace("| Time (UTC) | Event |\n|---|---|\n| 2026-11-24T08:30:00Z | "
                             "Third failed attempt; incident opened |", "Humans wrote here.")
    out = fmt.append_timeline(no_table, T0, "again")
    assert "Humans wrote here.\n\n| Time (UTC) | Event |\n|---|---|\n" in out
    no_section = entry.replace(entry[entry.index("#### Timeline"):
                                     entry.index("#### Follow-up Actions")], "")
    out = fmt.append_timeline(no_section, T0, "again")
    assert fmt.parse_incident(out).timeline[0].text == "again"


def test_followups_are_added_after_the_last_one_and_ticked_by_number() -> None:
    out = fmt.add_followup(_entry(), "Document the tag policy - @nobody", "@bob",
                           date(2026, 12, 3))
    items = fmt.parse_incident(out).followups
    assert items[-1] == FollowUp(False, "Document the tag policy \\- @nobody", "bob",
                                 date(2026, 12, 3))
    out = fmt.set_followup_done(out, 3)
    assert fmt.parse_incident(out).followups[-1].done
    with pytest.raises(LedgerError, match="no follow-up number 4"):
        fmt.set_followup_done(out, 4)
    with pytest.raises(LedgerError, match="owner"):
        fmt.add_followup(out, "x", "bad owner")


def test_first_followup_replaces_the_placeholder() -> None:
    out = fmt.add_followup(fmt.render_incident(incident_open()), "Rotate the CA", None, None)
    assert "#### Follow-up Actions\n\n- [ ] Rotate the CA\n\n#### Lessons" in out


def test_fill_section_never_rewrites_human_text() -> None:
    entry = _entry()
    assert PLACEHOLDER in fmt.parse_incident(entry).sections["Resolution"]
    out = fmt.fill_section_if_empty(entry, "Resolution", "Rolled back.")
    assert fmt.parse_incident(out).sections["Resolution"] == "Rolled back."
    out2 = fmt.fill_section_if_empty(out, "Resolution", "Pinned the digest.")
    assert fmt.parse_incident(out2).sections["Resolution"] == "Rolled back.\n\nPinned the digest."
    assert fmt.fill_section_if_empty(out2, "Resolution", "Pinned the digest.") == out2
    assert fmt.fill_section_if_empty(out2, "Resolution", "  \n") == out2
    added = fmt.fill_section_if_empty(out2, "Customer Comms", "# Emailed")
    assert fmt.parse_incident(added).sections["Customer Comms"] == "\\# Emailed"


def test_renumber_changes_markers_heading_anchor_and_id_only() -> None:
    entry = _entry().replace("Rolled back to revision 41", "see INC-2026-11-24-002")
    out = fmt.renumber(entry, "INC-2026-11-24-002", "INC-2026-11-24-005")
    assert out.count("INC-2026-11-24-005") == 4
    assert "see INC-2026-11-24-002" in out
    assert fmt.parse_incident(out).id == "INC-2026-11-24-005"
    mem = fmt.render_memory(memory_entries()[0])
    moved = fmt.renumber(mem, "MEM-0001", "MEM-0042")
    assert '<a id="mem-0042"></a>' in moved and "MEM-0001" not in moved
    with pytest.raises(LedgerError, match="not a valid"):
        fmt.renumber(entry, "INC-2026-11-24-002", "TS-0001")
    with pytest.raises(LedgerError, match="not INC-2026-11-24-009"):
        fmt.renumber(entry, "INC-2026-11-24-009", "INC-2026-11-24-010")


def _file(entry: str) -> str:
    text = fmt.insert_entry("incident", fmt.render_empty_file("incident"), entry)
    inc = fmt.parse_incident(entry)
    return fmt.set_last_incident(text, inc.id, inc.detected)
