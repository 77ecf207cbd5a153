"""lint finds each kind of problem, with file and line, and never raises."""

from __future__ import annotations

import pytest
from ledger_helpers import incident_open, read_golden

from agentops.ledger import format as fmt
from agentops.vocabulary import Kind

INC1 = "INC-2026-11-24-001"
INC2 = "INC-2026-11-24-002"


def _lint(text: str) -> list[str]:
    return fmt.lint("incident", text)


def _one(text: str, fragment: str) -> str:
    problems = _lint(text)
    matching = [p for p in problems if fragment in p]
    assert matching, problems
    assert all(p.startswith("INCIDENTS.md:") for p in problems)
    return matching[0]


GOOD = read_golden("INCIDENTS.md")


def test_golden_is_clean() -> None:
    assert _lint(GOOD) == []


def test_torn_entry() -> None:
    text = GOOD.replace(f"<!-- /agentops:incident {INC2} -->\n", "")
    assert _one(text, "torn entry").startswith("INCIDENTS.md:40: INC-2026-11-24-002")


def test_end_marker_without_begin() -> None:
    text = GOOD.replace(f"<!-- agentops:incident {INC1} uid=01JDQ6Z5R0000000000000000A -->\n",
                        "")
    _one(text, "end marker without its begin marker")


def test_duplicate_ids_and_uids() -> None:
    span = fmt.find_entry("incident", GOOD, INC1)
    assert span is not None
    entry = GOOD[span[0]:span[1]]
    twice = GOOD.replace(entry, entry + "\n" + entry)
    _one(twice, f"duplicate id {INC1}")
    _one(twice, "duplicate uid 01JDQ6Z5R0000000000000000A")


def test_missing_or_duplicated_region_markers() -> None:
    _one(GOOD.replace(fmt.REGION_END + "\n", ""), "expected one <!-- agentops:entries:begin -->")
    _one(GOOD.replace(fmt.STATS_END, fmt.STATS_END + "\n" + fmt.STATS_END),
         "expected one <!-- agentops:stats:begin -->")


def test_metadata_that_does_not_parse_or_has_wrong_types() -> None:
    _one(GOOD.replace("occurrences: 3\n", "occurrences: [3\n"), "metadata is not valid YAML")
    _one(GOOD.replace("occurrences: 3\n", "occurrences: three\n"),
         "metadata.occurrences: expected a whole number")
    _one(GOOD.replace('detected: "2026-11-24T08:30:00Z"', 'detected: "yesterday"'),
         "metadata.detected")
    _one(GOOD.replace("status: Investigating", "status: Open"), "metadata.status: 'Open'")


def test_marker_and_metadata_ids_disagree() -> None:
    _one(GOOD.replace(f"id: {INC1}\n", "id: INC-2026-11-24-007\n"), "does not match the marker")
    _one(GOOD.replace('uid: "01JDQ6Z5R0000000000000000A"', "uid: other"),
         "metadata uid other does not match")


def test_derived_text_drift() -> None:
    _one(GOOD.replace("**Status:** Investigating", "**Status:** Resolved"),
         "summary line does not match the data")
    _one(GOOD.replace(f"### {INC1} — ", f"### {INC2} — "), "heading does not match")
    _one(GOOD.replace(f"**Last Incident:** {INC2}", f"**Last Incident:** {INC1}"),
         "**Last Incident:** line does not match")
    _one(GOOD.replace("**Last Incident:** ", "Last: "), "no **Last Incident:** line")


def test_memory_index_drift() -> None:
    text = read_golden("MEMORY.md").replace("(seen 4×", "(seen 5×")
    problems = fmt.lint("memory", text)
    assert problems and "memory index does not match" in problems[0]
    assert problems[0].startswith("MEMORY.md:8:")


def test_timeline_rows_out_of_order_or_not_understood() -> None:
    text = GOOD.replace("| 2026-11-24T09:13:00Z | Error rate rises |",
                        "| 2026-11-24T09:30:00Z | Error rate rises |")
    _one(text, "timeline rows out of time order")
    _one(GOOD.replace("| 2026-11-24T09:13:00Z |", "| 9:13 am |"), "timeline row not understood")


def test_times_out_of_order() -> None:
    text = GOOD.replace('mitigated: "2026-11-24T09:24:00Z"', 'mitigated: "2026-11-24T09:00:00Z"')
    problem = _one(text, "times out of order")
    assert "mitigated is before acknowledged" in problem


def test_entries_out_of_order() -> None:
    text = fmt.render_empty_file("incident")
    older, newer = incident_open(), incident_open()._replace(id=INC2, uid="U2")
    body = fmt.render_incident(older) + "\n" + fmt.render_incident(newer)
    text = text.replace(fmt.REGION_END, body + "\n" + fmt.REGION_END)
    _one(text, "entries are not newest first")


def test_foreign_and_outside_markers() -> None:
    _one(GOOD.replace("## Log", "<!-- agentops:memory MEM-0001 uid=X -->"),
         "a memory marker does not belong")
    moved = GOOD.replace(fmt.REGION_BEGIN + "\n", "").replace("## Log", fmt.REGION_BEGIN)
    assert _lint(moved) == []
    outside = GOOD + "<!-- agentops:incident INC-2026-01-01-001 uid=Z -->\n"
    _one(outside, "marker outside the entries region")


@pytest.mark.parametrize("kind", ["troubleshooting", "memory"])
def test_other_files_lint_clean_and_catch_drift(kind: Kind) -> None:
    name = {"troubleshooting": "TROUBLESHOOTING.md", "memory": "MEMORY.md"}[kind]
    text = read_golden(name)
    assert fmt.lint(kind, text) == []
    drifted = text.replace("**Seen:** 1×", "**Seen:** 9×")
    assert any("summary line does not match" in p for p in fmt.lint(kind, drifted))


def test_unclosed_code_fence_in_prose() -> None:
    text = GOOD.replace("API returned 503 for about 9 minutes.", "```sh\nkubectl get pods")
    _one(text, "code fence is opened and never closed")
