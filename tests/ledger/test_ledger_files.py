"""Whole files: headers, insert/find/replace at the right place, header lines, big files."""

from __future__ import annotations

import time

import pytest
import yaml
from ledger_helpers import T0, incident_monitoring, incident_open, memory_entries, read_golden

from agentops.errors import LedgerError
from agentops.ledger import files
from agentops.ledger import format as fmt
from agentops.ledger.memory import index_line
from agentops.ledger.model import Incident, MemoryEntry
from agentops.vocabulary import Kind


@pytest.mark.parametrize("kind", ["incident", "troubleshooting", "memory"])
def test_empty_files_parse_and_lint_clean(kind: Kind) -> None:
    text = fmt.render_empty_file(kind)
    doc = fmt.parse_file(kind, text)
    assert doc.entries == () and fmt.render_file(doc) == text
    assert fmt.lint(kind, text) == []


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(LedgerError, match="unknown ledger kind"):
        fmt.render_empty_file("journal")  # type: ignore[arg-type]


def test_incidents_are_inserted_newest_first_whatever_the_arrival_order() -> None:
    text = fmt.render_empty_file("incident")
    ids = ["INC-2026-11-24-002", "INC-2026-11-25-001", "INC-2026-11-24-010",
           "INC-2026-11-24-001", "INC-2026-11-26-1000"]
    for n, entry_id in enumerate(ids):
        inc = incident_open()._replace(id=entry_id, uid=f"UID{n}")
        text = fmt.insert_entry("incident", text, fmt.render_incident(inc))
    assert [e.id for e in fmt.parse_file("incident", text).entries] == [
        "INC-2026-11-26-1000", "INC-2026-11-25-001", "INC-2026-11-24-010",
        "INC-2026-11-24-002", "INC-2026-11-24-001"]


def test_inserting_many_entries_at_once_gives_the_text_of_inserting_them_one_by_one() -> None:
    existing = ["INC-2026-11-24-002", "INC-2026-11-25-003", "INC-2026-11-26-001"]
    new = ["INC-2026-11-24-001", "INC-2026-11-27-001", "INC-2026-11-25-001",
           "INC-2026-11-25-010", "INC-2026-11-24-003"]
    base = fmt.render_empty_file("incident")
    for n, entry_id in enumerate(existing):
        inc = incident_open()._replace(id=entry_id, uid=f"OLD{n}")
        base = fmt.insert_entry("incident", base, fmt.render_incident(inc))
    rendered = [fmt.render_incident(incident_open()._replace(id=i, uid=f"NEW{n}"))
                for n, i in enumerate(new)]
    one_by_one = base
    for entry in rendered:
        one_by_one = fmt.insert_entry("incident", one_by_one, entry)
    assert fmt.insert_entries("incident", base, rendered) == one_by_one
    mems = [fmt.render_memory(memory_entries()[0]._replace(id=i, uid=f"M{i}"))
            for i in ("MEM-0003", "MEM-0001", "MEM-0010")]
    one_by_one = fmt.render_empty_file("memory")
    for entry in mems:
        one_by_one = fmt.insert_entry("memory", one_by_one, entry)
    assert fmt.insert_entries("memory", fmt.render_empty_file("memory"), mems) == one_by_one
    with pytest.raises(LedgerError, match="already present"):
        fmt.insert_entries("incident", base, [rendered[0], rendered[0]])
    with pytest.raises(LedgerError, match="already present"):
        fmt.insert_entries("incident", base, [fmt.render_incident(
            incident_open()._replace(id=existing[0], uid="OTHER"))])


def test_memory_entries_are_kept_in_id_order() -> None:
    text = fmt.render_empty_file("memory")
    base = memory_entries()[0]
    for n, entry_id in enumerate(["MEM-0003", "MEM-0001", "MEM-0010", "MEM-0002"]):
        entry = base._replace(id=entry_id, uid=f"U{n}")
        text = fmt.insert_entry("memory", text, fmt.render_memory(entry))
    assert [e.id for e in fmt.parse_file("memory", text).entries] == [
        "MEM-0001", "MEM-0002", "MEM-0003", "MEM-0010"]


def test_insert_refuses_an_id_or_uid_already_present() -> None:
    text = read_golden("INCIDENTS.md")
    with pytest.raises(LedgerError, match="INC-2026-11-24-001 is already present"):
        fmt.insert_entry("incident", text, fmt.render_incident(incident_open()._replace(uid="N")))
    other = incident_open()._replace(id="INC-2026-11-24-003")
    with pytest.raises(LedgerError, match="uid 01JDQ6Z5R0000000000000000A is already present"):
        fmt.insert_entry("incident", text, fmt.render_incident(other))


def test_insert_refuses_a_wrong_kind_or_a_file_without_region() -> None:
    with pytest.raises(LedgerError, match="not a memory entry"):
        fmt.insert_entry("memory", fmt.render_empty_file("memory"),
                         fmt.render_incident(incident_open()))
    with pytest.raises(LedgerError, match="entries region markers"):
        fmt.insert_entry("incident", "# Incidents\n", fmt.render_incident(incident_open()))


def test_find_and_replace_touch_only_that_entry() -> None:
    text = read_golden("INCIDENTS.edited.md")
    span = fmt.find_entry("incident", text, "INC-2026-11-24-001")
    assert span is not None
    entry = text[span[0]:span[1]]
    assert entry == fmt.render_incident(incident_open())
    new = fmt.update_fields(entry, status="Identified")
    out = fmt.replace_entry("incident", text, "INC-2026-11-24-001", new)
    assert out == text[:span[0]] + new + text[span[1]:]
    assert fmt.find_entry("incident", text, "INC-2099-01-01-001") is None
    with pytest.raises(LedgerError, match="not found"):
        fmt.replace_entry("incident", text, "INC-2099-01-01-001", new)


def test_find_reports_a_torn_entry() -> None:
    text = read_golden("INCIDENTS.md").replace(
        "<!-- /agentops:incident INC-2026-11-24-002 -->\n", "")
    with pytest.raises(LedgerError, match="torn entry"):
        fmt.find_entry("incident", text, "INC-2026-11-24-002")
    with pytest.raises(LedgerError, match="is not closed|torn"):
        fmt.parse_file("incident", text)


def test_renumbered_entry_replaces_the_loser_of_a_race() -> None:
    text = read_golden("INCIDENTS.md")
    span = fmt.find_entry("incident", text, "INC-2026-11-24-002")
    assert span is not None
    moved = fmt.renumber(text[span[0]:span[1]], "INC-2026-11-24-002", "INC-2026-11-24-003")
    out = fmt.replace_entry("incident", text, "INC-2026-11-24-002", moved)
    out = fmt.set_last_incident(out, "INC-2026-11-24-003", T0)
    assert [e.id for e in fmt.parse_file("incident", out).entries] == [
        "INC-2026-11-24-003", "INC-2026-11-24-001"]
    with pytest.raises(LedgerError, match="already present"):
        fmt.replace_entry("incident", out, "INC-2026-11-24-003",
                          fmt.renumber(moved, "INC-2026-11-24-003", "INC-2026-11-24-001"))


def test_last_incident_stats_and_index_blocks() -> None:
    text = fmt.render_empty_file("incident")
    text = fmt.set_last_incident(text, "INC-2026-11-24-002", T0)
    assert "\n**Last Incident:** INC-2026-11-24-002 (2026-11-24)\n" in text
    text = fmt.set_stats_block(text, "| MTTR | 12m |\n")
    assert f"{files.STATS_BEGIN}\n| MTTR | 12m |\n{files.STATS_END}\n" in text
    assert fmt.set_stats_block(fmt.set_stats_block(text, "x"), "| MTTR | 12m |") == text
    mem = fmt.set_memory_index(fmt.render_empty_file("memory"), [])
    assert f"{files.INDEX_BEGIN}\n_No lessons yet._\n{files.INDEX_END}" in mem
    with pytest.raises(LedgerError, match="Last Incident"):
        fmt.set_last_incident("# x\n", "INC-2026-11-24-001", T0)


def test_memory_index_is_sorted_and_capped_at_150_lines() -> None:
    base = memory_entries()[0]
    entries = [base._replace(id=f"MEM-{n:04d}", seen=n % 7,
                       last_validated=T0.replace(day=1 + n % 28)) for n in range(1, 301)]
    index = fmt.render_memory_index(entries)
    lines = index.split("\n")
    assert len(lines) == 150 and lines[-1] == "- … and 151 more lessons below"
    ranked = sorted(entries, key=lambda e: (-e.seen, -e.last_validated.timestamp(), e.id))
    assert lines[:-1] == [index_line(e) for e in ranked[:149]]
    assert lines[0] == ("- [MEM-0027](#mem-0027) (seen 6×, validated 2026-11-28) "
                        "Retry cert rotation only after refreshing the CA bundle")
    retired = [e._replace(status="retired") for e in entries]
    assert fmt.render_memory_index(retired) == "_No lessons yet._"


def _big_incident_file(n: int) -> tuple[str, Incident]:
    """n entries, built by string joins (inserting one by one would be quadratic)."""
    proto = incident_open()
    parts = []
    for k in range(n, 0, -1):
        day = f"2026-{1 + k // 2800:02d}-{1 + (k // 100) % 28:02d}"
        inc = proto._replace(id=f"INC-{day}-{k % 100 + 1:03d}", uid=f"U{k:06d}")
        parts.append(fmt.render_incident(inc))
    header = fmt.render_empty_file("incident").split(fmt.REGION_BEGIN)[0]
    body = "\n".join(parts)
    return f"{header}{fmt.REGION_BEGIN}\n\n{body}\n{fmt.REGION_END}\n", proto


def test_hot_path_on_a_10000_entry_file_does_not_parse_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text, proto = _big_incident_file(10_000)
    ids = [e.id for e in fmt.parse_file("incident", text).entries]
    assert len(ids) == 10_000 and len(set(ids)) == 10_000

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the hot path parsed the file")

    monkeypatch.setattr(yaml, "load", refuse)
    monkeypatch.setattr(files, "parse_file", refuse)
    newest = fmt.render_incident(proto._replace(id="INC-2026-12-31-001", uid="NEW1"))
    middle_id = ids[5000]
    older = fmt.render_incident(proto._replace(id=ids[5000][:-3] + "999", uid="NEW2"))
    started = time.perf_counter()
    out = fmt.insert_entry("incident", text, newest)
    out = fmt.insert_entry("incident", out, older)
    span = fmt.find_entry("incident", out, middle_id)
    assert span is not None
    new_entry = out[span[0]:span[1]].replace("status: Investigating", "status: Identified")
    out = fmt.replace_entry("incident", out, middle_id, new_entry)
    print(f"insert x2 + find + replace on 10,000 entries: {time.perf_counter() - started:.4f}s")
    monkeypatch.undo()
    doc = fmt.parse_file("incident", out)
    got = [e.id for e in doc.entries]
    assert got[0] == "INC-2026-12-31-001" and len(got) == 10_002
    assert got.index(ids[5000][:-3] + "999") < got.index(middle_id)
    assert got == sorted(got, key=lambda i: (i[4:14], int(i[15:])), reverse=True)
    assert "status: Identified" in doc.get(middle_id).text  # type: ignore[union-attr]
    assert fmt.render_file(doc) == out


def test_entries_in_the_wrong_file_are_refused() -> None:
    text = read_golden("INCIDENTS.md").replace(fmt.REGION_END, fmt.render_memory(
        memory_entries()[0]) + fmt.REGION_END)
    with pytest.raises(LedgerError, match="memory marker does not belong"):
        fmt.parse_file("incident", text)


def test_raw_entry_parses_by_its_marker() -> None:
    doc = fmt.parse_file("incident", read_golden("INCIDENTS.md"))
    assert doc.entries[0].parse() == incident_monitoring()
    assert isinstance(fmt.parse_file("memory", read_golden("MEMORY.md")).parsed()[0], MemoryEntry)


def _careful(kind: Kind, text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(files, "_split_plain", lambda *args: None)
        try:
            return fmt.parse_file(kind, text)
        except LedgerError as exc:
            return str(exc)


@pytest.mark.parametrize("edit", [
    lambda t: t,  # as the tool writes it
    lambda t: t.replace("#### Description\n\n", "#### Description\n\nSee <!-- agentops:incident"
                        " INC-2026-11-24-001 uid=X --> inline.\n", 1),
    lambda t: t.replace("<!-- /agentops:incident INC-2026-11-24-002 -->\n", "", 1),  # torn
    lambda t: t.replace("<!-- /agentops:incident INC-2026-11-24-001 -->",
                        "<!-- /agentops:incident INC-2026-11-24-001 uid=Y -->", 1),
    lambda t: t.replace("<!-- agentops:incident INC-2026-11-24-002 uid=UID1 -->",
                        "<!-- agentops:incident INC-2026-11-24-002 -->", 1),
    lambda t: t.replace("<!-- agentops:incident INC-2026-11-24-001 ",
                        "<!-- agentops:memory INC-2026-11-24-001 ", 1),
])
def test_the_quick_split_reads_a_file_as_the_marker_by_marker_parse_does(
        edit: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """``parse_file`` cuts files the tool wrote with ``str.find``; whatever a person did to
    the markers, the result (entries, or the error) is the careful parse's."""
    text = fmt.render_empty_file("incident")
    for n in range(3):
        inc = incident_open()._replace(id=f"INC-2026-11-24-{n + 1:03d}", uid=f"UID{n}")
        text = fmt.insert_entry("incident", text, fmt.render_incident(inc))
    assert callable(edit)
    text = edit(text)
    try:
        quick: object = fmt.parse_file("incident", text)
    except LedgerError as exc:
        quick = str(exc)
    assert quick == _careful("incident", text, monkeypatch)
