"""Golden files: what the tool writes is frozen, and human edits survive every operation."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from ledger_helpers import (
    HUMAN_BETWEEN,
    HUMAN_COMMENT,
    HUMAN_PARAGRAPH,
    HUMAN_SECTION,
    golden_texts,
    incident_monitoring,
    incident_open,
    memory_entries,
    read_golden,
    ts_entries,
    update_edited,
)

from agentops.ledger import format as fmt

KINDS = {"INCIDENTS.md": "incident", "TROUBLESHOOTING.md": "troubleshooting",
         "MEMORY.md": "memory", "INCIDENTS.edited.md": "incident",
         "INCIDENTS.edited.updated.md": "incident"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_rendering_matches_the_frozen_golden_file(name: str) -> None:
    assert golden_texts()[name] == read_golden(name)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_render_of_parse_gives_back_the_golden_file_byte_for_byte(name: str) -> None:
    text = read_golden(name)
    assert fmt.render_file(fmt.parse_file(KINDS[name], text)) == text  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_golden_files_are_lint_clean(name: str) -> None:
    assert fmt.lint(KINDS[name], read_golden(name)) == []  # type: ignore[arg-type]


def test_golden_entries_parse_back_to_the_data() -> None:
    doc = fmt.parse_file("incident", read_golden("INCIDENTS.md"))
    assert doc.parsed() == [incident_monitoring(), incident_open()]
    assert fmt.parse_file("troubleshooting", read_golden("TROUBLESHOOTING.md")).parsed() == \
        ts_entries()
    assert fmt.parse_file("memory", read_golden("MEMORY.md")).parsed() == memory_entries()


def test_human_edits_are_kept_in_the_parsed_document() -> None:
    doc = fmt.parse_file("incident", read_golden("INCIDENTS.edited.md"))
    assert [e.id for e in doc.entries] == ["INC-2026-11-24-002", "INC-2026-11-24-001"]
    assert doc.entries[1].before.endswith(HUMAN_BETWEEN)
    inc = doc.entries[0].parse()
    assert HUMAN_PARAGRAPH in inc.sections["Root Cause"]
    assert list(inc.sections).index("Customer Comms") == 4
    assert HUMAN_COMMENT in doc.entries[0].text


def test_updates_after_human_edits_keep_every_human_line() -> None:
    edited = read_golden("INCIDENTS.edited.md")
    updated = read_golden("INCIDENTS.edited.updated.md")
    for piece in (HUMAN_COMMENT, HUMAN_PARAGRAPH, HUMAN_SECTION, HUMAN_BETWEEN):
        assert piece in updated
    removed = [line[2:] for line in difflib.ndiff(edited.split("\n"), updated.split("\n"))
               if line.startswith("- ")]
    assert sorted(removed) == sorted([
        edited.split("\n")[42],  # the summary line, re-rendered from the data
        "status: Monitoring", "resolved: null",
        "- [ ] Verify tags exist before merge - @alice - 2026-12-01",
        "_To be filled in._",  # Lessons Learned placeholder, filled
    ])
    assert edited.split("\n")[42].startswith("**Severity:** CRITICAL")


def test_updated_entry_parses_with_the_new_data() -> None:
    doc = fmt.parse_file("incident", read_golden("INCIDENTS.edited.updated.md"))
    inc = doc.entries[0].parse()
    assert inc.status == "Resolved"
    assert inc.time_to_resolve is not None and inc.time_to_resolve.total_seconds() == 50 * 60
    assert [f.done for f in inc.followups] == [True, True, False]
    assert inc.timeline[-1].text == "Resolved: error rate back to normal"
    assert inc.sections["Root Cause"].endswith("Image tag never pushed.")


def test_repeating_the_updates_changes_nothing_more_than_the_new_rows() -> None:
    updated = read_golden("INCIDENTS.edited.updated.md")
    span = fmt.find_entry("incident", updated, "INC-2026-11-24-002")
    assert span is not None
    entry = updated[span[0]:span[1]]
    again = fmt.fill_section_if_empty(entry, "Root Cause", "Image tag never pushed.")
    assert again == entry
    assert fmt.update_fields(entry, status="Resolved") == entry
    assert update_edited(entry).count("Resolved: error rate back to normal") == 2


def test_examples_in_the_format_documentation_are_what_the_tool_writes() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "format.md").read_text()
    examples = doc.split("````markdown\n")[1:]
    assert len(examples) == 3
    goldens = "".join(read_golden(n) for n in ("INCIDENTS.md", "TROUBLESHOOTING.md", "MEMORY.md"))
    for example in examples:
        assert example.split("````\n")[0] in goldens
