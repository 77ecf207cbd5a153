"""parse(render(x)) == x for every entry kind, and render(parse(file)) == file."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import (
    ANY_TEXT,
    UTC_TIMES,
    incidents,
    memory_entries_st,
    troubleshooting_entries,
)

from agentops.ledger import format as fmt
from agentops.ledger.markdown import yaml_scalar
from agentops.ledger.model import Incident, MemoryEntry, TroubleshootingEntry

SLOW = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(incidents())
def test_incident_round_trips(inc: Incident) -> None:
    text = fmt.render_incident(inc)
    assert fmt.parse_incident(text) == inc
    assert fmt.render_incident(fmt.parse_incident(text)) == text


@SLOW
@given(troubleshooting_entries())
def test_troubleshooting_entry_round_trips(entry: TroubleshootingEntry) -> None:
    text = fmt.render_troubleshooting(entry)
    assert fmt.parse_troubleshooting(text) == entry


@SLOW
@given(memory_entries_st())
def test_memory_entry_round_trips(entry: MemoryEntry) -> None:
    text = fmt.render_memory(entry)
    assert fmt.parse_memory(text) == entry


@SLOW
@given(st.lists(incidents(), max_size=5, unique_by=(lambda i: i.id, lambda i: i.uid)),
       st.lists(st.text(max_size=40).map(lambda t: t.replace("<!--", "")), max_size=6))
def test_file_of_generated_entries_round_trips_byte_for_byte(
    entries: list[Incident], notes: list[str]
) -> None:
    text = fmt.render_empty_file("incident")
    for inc in entries:
        text = fmt.insert_entry("incident", text, fmt.render_incident(inc))
    for note in notes:  # human text between entries, where an entry ends
        pos = text.find(" -->\n\n<!-- agentops:incident")
        if pos >= 0 and note.strip() and "\n<" not in "\n" + note:
            text = text[: pos + 5] + note + "\n" + text[pos + 5:]
    doc = fmt.parse_file("incident", text)
    assert fmt.render_file(doc) == text
    assert sorted(doc.parsed(), key=lambda i: i.id) == sorted(entries, key=lambda i: i.id)


@given(ANY_TEXT | st.none() | st.booleans() | st.integers(0) | UTC_TIMES
       | st.lists(ANY_TEXT, max_size=3))
def test_yaml_scalars_load_back_to_the_same_value(value: object) -> None:
    line = "k: " + yaml_scalar(value)
    assert "\n" not in line
    loaded = yaml.load(line, Loader=yaml.CSafeLoader)["k"]
    if hasattr(value, "tzinfo"):
        assert loaded == yaml_scalar(value).strip('"')
    else:
        assert loaded == value


def test_entry_kinds_dispatch_by_marker() -> None:
    from ledger_helpers import incident_open, memory_entries, ts_entries

    for entry in (incident_open(), ts_entries()[0], memory_entries()[0]):
        assert fmt.parse_entry(fmt.render_entry(entry)) == entry


# --- the fast metadata reader agrees with YAML ------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from agentops.ledger.markdown import _fast_meta, _yaml_meta, meta_line  # noqa: E402

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=30),
    st.lists(st.text(max_size=12), max_size=4),
)


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True), _VALUES,
                       min_size=1, max_size=8))
def test_fast_metadata_reader_reads_what_yaml_reads(values: dict[str, object]) -> None:
    text = "\n".join(meta_line(k, v) for k, v in values.items())
    fast = _fast_meta(text)
    if fast is not None:
        assert fast == _yaml_meta(text, "test") == values


def test_fast_reader_defers_to_yaml_for_what_people_write() -> None:
    assert _fast_meta("status: Resolved  # done by hand") is None
    assert _fast_meta("when: 2026-11-24") is None
    assert _fast_meta("ratio: 0.5") is None
    assert _fast_meta("flag: yes") is None
    assert _fast_meta("# a comment\nstatus: Resolved") == {"status": "Resolved"}


# --- the fast paths read what the line-by-line reader reads -----------------------------------

from agentops.ledger import markdown as md  # noqa: E402
from agentops.ledger.incidents import META  # noqa: E402


@SLOW
@given(incidents())
def test_one_match_metadata_reader_agrees_with_the_line_reader(inc: Incident) -> None:
    text = fmt.render_incident(inc)
    layout = md.scan(text)
    block = text[layout.meta[0]:layout.meta[1]] if layout.meta else ""
    # a comment line is not what render_meta writes: it sends the block down the line path
    by_lines = md.parse_meta("# by hand\n" + block, META, "x")
    assert md._canonical_meta("# by hand\n" + block, META, "x") is None
    assert md._canonical_meta(block, META, "x") in (None, by_lines)  # None: unusual values
    assert md.parse_meta(block, META, "x") == by_lines


def test_the_one_match_reader_takes_the_blocks_the_tool_writes() -> None:
    from ledger_helpers import incident_monitoring, incident_open

    for inc in (incident_open(), incident_monitoring()):
        layout = md.scan(fmt.render_incident(inc))
        block = fmt.render_incident(inc)[layout.meta[0]:layout.meta[1]] if layout.meta else ""
        assert md._canonical_meta(block, META, "x") == md.parse_meta("#\n" + block, META, "x")


def test_headings_inside_code_fences_are_not_sections() -> None:
    from ledger_helpers import incident_open

    inc = incident_open()
    fenced = ("Seen in the logs:\n\n```text\n#### Not a section\n```\n\n"
              "~~~~\n#### Nor this\n~~~~\n\nAfter the fences.")
    sections = dict(inc.sections)
    sections["Description"] = fenced
    text = fmt.render_incident(inc._replace(sections=md.Sections(sections.items())))
    parsed = fmt.parse_incident(text)
    assert "Not a section" not in parsed.sections and "Nor this" not in parsed.sections
    assert parsed.sections["Description"] == fenced
    assert list(parsed.sections) == list(inc.sections)


def test_an_incident_as_the_tool_opened_it_and_once_somebody_wrote_in_it() -> None:
    from ledger_helpers import T0, incident_open, minutes, timeline

    from agentops.ledger.incidents import as_opened

    opened = incident_open()._replace(troubleshooting="TS-0001")
    assert as_opened(fmt.render_incident(opened))
    assert not as_opened(fmt.render_incident(opened._replace(troubleshooting=None)))

    def edited(**bodies: str) -> str:
        sections = dict(opened.sections) | bodies
        return fmt.render_incident(opened._replace(sections=md.Sections(sections.items())))

    assert not as_opened(edited(**{"Root Cause": "The CA bundle was stale."}))
    assert not as_opened(edited(Timeline=timeline((T0, "opened"),
                                                  (T0 + minutes(5), "Note: restarted"))))
    assert not as_opened(edited(**{"Lessons Learned": "Pin the CA bundle."}))
    assert not as_opened(edited(**{"Our notes": "a section of somebody's own"}))


@SLOW
@given(incidents())
def test_the_line_a_list_shows_is_the_entry_s_own(inc: Incident) -> None:
    from agentops.ledger.incidents import IncidentLine

    text = fmt.render_incident(inc)
    assert fmt.parse_incident_line(text) == IncidentLine.of(inc)
    edited = text.replace("\n```yaml\n", "\n```yaml\n# by hand\n", 1)  # the line-by-line path
    assert fmt.parse_incident_line(edited) == IncidentLine.of(inc)
