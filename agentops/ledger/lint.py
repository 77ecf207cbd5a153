"""Integrity checks of a ledger file, reported as ``FILE:LINE: problem`` lines.

``lint`` never raises on a broken file: it scans markers leniently and reports torn entries,
duplicates, metadata that does not parse, and derived text (heading, summary line, Last
Incident, memory index) that no longer matches what would be rendered from the data.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from agentops.errors import LedgerError
from agentops.ledger import markdown as md
from agentops.ledger.files import (
    INDEX_BEGIN,
    INDEX_END,
    LAST_INCIDENT,
    MARKER_RE,
    STATS_BEGIN,
    STATS_END,
    find_line,
    last_incident_line,
    read_block,
)
from agentops.ledger.incidents import TIME_ORDER
from agentops.ledger.kinds import KindSpec, spec
from agentops.ledger.memory import render_index
from agentops.ledger.model import (
    ID_RES,
    TIMELINE_HEADER,
    Entry,
    Incident,
    MemoryEntry,
    id_sort_key,
    parse_timeline_row,
)
from agentops.vocabulary import Kind


class _Lines:
    """Line numbers for increasing offsets without recounting from the top each time."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


@dataclass(frozen=True, slots=True)
class _Span:
    id: str
    uid: str
    start: int
    end: int


def lint(kind: Kind, text: str) -> list[str]:
    """Every problem found in one ledger file; an empty list means it is sound."""
    s = spec(kind)
    lines = _Lines(text)
    problems: list[tuple[int, str]] = []
    problems += _check_frame(s, text)
    spans, frame_problems = _scan_markers(s, text)
    problems += frame_problems
    entries = _check_entries(s, text, spans, problems)
    problems += _check_order(s, spans)
    problems += _check_derived_header(s, text, entries)
    problems.sort(key=lambda p: p[0])
    return [f"{s.file_name}:{lines.at(pos)}: {msg}" for pos, msg in problems]


def _marker_lines(text: str, line: str) -> list[int]:
    return [m.start() for m in re.finditer(f"^{re.escape(line)}$", text, re.MULTILINE)]


def _check_frame(s: KindSpec, text: str) -> list[tuple[int, str]]:
    pairs = [(md.REGION_BEGIN, md.REGION_END)]
    if s.kind == "incident":
        pairs.append((STATS_BEGIN, STATS_END))
    if s.kind == "memory":
        pairs.append((INDEX_BEGIN, INDEX_END))
    out: list[tuple[int, str]] = []
    for begin, end in pairs:
        b, e = _marker_lines(text, begin), _marker_lines(text, end)
        if len(b) != 1 or len(e) != 1 or e[0] < b[0]:
            where = (b or e or [0])[0]
            out.append((where, (f"expected one {begin} followed by one {end}, found "
                               f"{len(b)} and {len(e)}")))
    if s.kind == "incident" and find_line(text, LAST_INCIDENT) < 0:
        out.append((0, f"the header has no {LAST_INCIDENT} line"))
    return out


def _scan_markers(s: KindSpec, text: str) -> tuple[list[_Span], list[tuple[int, str]]]:
    spans: list[_Span] = []
    out: list[tuple[int, str]] = []
    begin, stop = find_line(text, md.REGION_BEGIN), find_line(text, md.REGION_END)
    stop = len(text) if stop < 0 else stop
    open_m: re.Match[str] | None = None
    for m in MARKER_RE.finditer(text):
        if m.group(2) != s.kind:
            out.append((m.start(), f"a {m.group(2)} marker does not belong in {s.file_name}"))
            continue
        if begin >= 0 and not begin < m.start() < stop:
            out.append((m.start(), f"{m.group(3)}: marker outside the entries region"))
        if m.group(1) != "/":
            if open_m is not None:
                out.append((open_m.start(), (f"{open_m.group(3)}: begin marker without end "
                                            "marker (torn entry)")))
            open_m = m
            if not m.group(4):
                out.append((m.start(), f"{m.group(3)}: begin marker has no uid="))
        elif open_m is None or open_m.group(3) != m.group(3):
            out.append((m.start(), f"{m.group(3)}: end marker without its begin marker"))
        else:
            spans.append(_Span(m.group(3), open_m.group(4) or "", open_m.start(),
                               _line_end(text, m.start())))
            open_m = None
    if open_m is not None:
        out.append((open_m.start(), (f"{open_m.group(3)}: begin marker without end marker "
                                    "(torn entry)")))
    return spans, out


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _check_entries(
    s: KindSpec, text: str, spans: list[_Span], out: list[tuple[int, str]]
) -> list[Entry]:
    seen_ids: dict[str, int] = {}
    seen_uids: dict[str, int] = {}
    entries: list[Entry] = []
    for span in spans:
        for key, seen, label in ((span.id, seen_ids, "id"), (span.uid, seen_uids, "uid")):
            if key in seen:
                out.append((span.start, (f"{span.id}: duplicate {label} {key} "
                                        f"(first at offset {seen[key]})")))
            seen.setdefault(key, span.start)
        if not ID_RES[s.kind].match(span.id):
            out.append((span.start, f"{span.id}: not a valid {s.kind} id"))
        entry_text = text[span.start:span.end]
        try:
            entry = s.parse(entry_text)
        except LedgerError as exc:
            out.append((span.start, str(exc)))
            continue
        entries.append(entry)
        out += [(span.start, f"{span.id}: {msg}") for msg in _entry_problems(s, entry_text, entry)]
    return entries


def _entry_problems(s: KindSpec, text: str, entry: Entry) -> Iterator[str]:
    layout = md.scan(text, s.summary_prefix)
    if entry.id != layout.id:
        yield f"metadata id {entry.id} does not match the marker"
    if entry.uid != layout.uid:
        yield f"metadata uid {entry.uid} does not match the marker uid {layout.uid}"
    expected = md.heading_line(layout.id, entry.title)
    if layout.heading is None or text[layout.heading[0]:layout.heading[1]] != expected:
        yield f"heading does not match the data (expected {expected!r})"
    summary = s.summary(entry)
    if layout.summary is None or text[layout.summary[0]:layout.summary[1]] != summary:
        yield f"summary line does not match the data (expected {summary!r})"
    if layout.open_fence:
        yield "a code fence is opened and never closed (it hides the sections after it)"
    if isinstance(entry, MemoryEntry) and md.anchor_line(layout.id) not in text[:200]:
        yield f"anchor line {md.anchor_line(layout.id)} is missing"
    if isinstance(entry, Incident):
        yield from _incident_problems(text, layout, entry)


def _incident_problems(text: str, layout: md.Layout, inc: Incident) -> Iterator[str]:
    times = [(name, getattr(inc, name)) for name in TIME_ORDER if getattr(inc, name)]
    for (a, ta), (b, tb) in itertools.pairwise(times):
        if tb < ta:
            yield f"times out of order: {b} is before {a}"
    span = layout.section("Timeline")
    if span is None:
        return
    previous = None
    for line in md.section_body(text, span).split("\n"):
        if not line.startswith("|") or line in TIMELINE_HEADER.split("\n"):
            continue
        row = parse_timeline_row(line)
        if row is None:
            yield f"timeline row not understood: {line!r}"
        elif previous is not None and row.time < previous:
            yield f"timeline rows out of time order at {line!r}"
        previous = row.time if row is not None else previous


def _check_order(s: KindSpec, spans: list[_Span]) -> list[tuple[int, str]]:
    valid = [sp for sp in spans if ID_RES[s.kind].match(sp.id)]
    out: list[tuple[int, str]] = []
    for a, b in itertools.pairwise(valid):
        ka, kb = id_sort_key(s.kind, a.id), id_sort_key(s.kind, b.id)
        if (kb > ka) if s.newest_first else (kb < ka):
            order = "newest first" if s.newest_first else "in id order"
            out.append((b.start, f"{b.id}: entries are not {order} ({b.id} after {a.id})"))
    return out


def _check_derived_header(
    s: KindSpec, text: str, entries: list[Entry]
) -> list[tuple[int, str]]:
    if s.kind == "incident":
        return _check_last_incident(text, [e for e in entries if isinstance(e, Incident)])
    if s.kind == "memory":
        block = read_block(text, INDEX_BEGIN, INDEX_END)
        expected = render_index([e for e in entries if isinstance(e, MemoryEntry)]) + "\n"
        if block is not None and block != expected:
            return [(find_line(text, INDEX_BEGIN), ("the memory index does not match the "
                                                   "entries (run the index update)"))]
    return []


def _check_last_incident(text: str, incidents: list[Incident]) -> list[tuple[int, str]]:
    region = find_line(text, md.REGION_BEGIN)
    pos = find_line(text, LAST_INCIDENT, 0, None if region < 0 else region)
    if pos < 0:
        return []
    valid = [i for i in incidents if ID_RES["incident"].match(i.id)]
    newest = max(valid, key=lambda i: id_sort_key("incident", i.id), default=None)
    expected = last_incident_line(newest.id if newest else None,
                                  newest.detected if newest else None)
    actual = text[pos:_line_end(text, pos)].rstrip("\n")
    if actual != expected:
        return [(pos, (f"{LAST_INCIDENT} line does not match the newest entry "
                      f"(expected {expected!r})"))]
    return []

