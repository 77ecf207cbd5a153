"""Whole ledger files: headers, the entries region, and the hot-path edits on it.

A ledger file may hold ten thousand entries and agents write to it many times a day, so the
operations an agent waits for (insert, find, replace, header lines) locate their markers with
``str.find`` and never parse the file. ``parse_file`` is for ``lint``, ``stats`` and ``recall``;
it keeps every byte (header, text between entries, trailer), so ``render_file(parse_file(t))``
gives back ``t`` exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Final, NamedTuple

from agentops.errors import LedgerError
from agentops.ledger import markdown as md
from agentops.ledger.kinds import parse_entry, spec
from agentops.ledger.memory import INDEX_EMPTY, render_index
from agentops.ledger.model import ID_RES, Entry, MemoryEntry, id_sort_key
from agentops.vocabulary import Kind

STATS_BEGIN: Final = "<!-- agentops:stats:begin -->"
STATS_END: Final = "<!-- agentops:stats:end -->"
STATS_EMPTY: Final = "_No statistics yet: run `agentops stats --write`._"
INDEX_BEGIN: Final = "<!-- agentops:index:begin -->"
INDEX_END: Final = "<!-- agentops:index:end -->"
LAST_INCIDENT: Final = "**Last Incident:**"
MARKER_RE: Final = re.compile(
    r"^<!-- (/?)agentops:(incident|troubleshooting|memory) (\S+?)(?: uid=(\S+))? -->$",
    re.MULTILINE,
)
# The same line without the ``^``: a pattern that starts with a literal is searched for by
# that literal, three times faster over a 13 MB ledger; callers check the line start.
_MARKER_SEARCH_RE: Final = re.compile(MARKER_RE.pattern[1:], re.MULTILINE)

_REGION = f"{md.REGION_BEGIN}\n\n{md.REGION_END}\n"
_INCIDENTS_HEADER = f"""# Incidents

The incident log, kept by [agentops](docs/format.md). Each entry sits between
`agentops:incident` markers. The tool owns the markers, the heading, the summary line and the
YAML metadata block; people own the prose sections. Run `agentops lint` after editing by hand.

{LAST_INCIDENT} none

## Severity levels

| Severity | Alias | MTTR target | Meaning |
|---|---|---|---|
| CRITICAL | P0 | < 10 min | Production down, data or security at risk |
| HIGH | P1 | < 30 min | Major function degraded for users |
| MEDIUM | P2 | < 2 h | Partial degradation, a workaround exists |
| LOW | P3 | < 8 h | Minor issue, no user impact |

## Categories

| Category | Covers |
|---|---|
| CLUSTER_FAILURE | Nodes, control plane, cluster availability |
| DEPLOYMENT_FAILURE | A rollout or release that failed |
| SECURITY_INCIDENT | Policy violations, exposed secrets, unauthorised access |
| PERFORMANCE_DEGRADATION | Latency, saturation, error rates |
| DATA_LOSS | Deleted or corrupted data, integrity concerns |
| AUTOMATION_FAILURE | An agent or pipeline failing its task |
| CONFIGURATION_DRIFT | Live state differing from what git declares |

## Statistics

{STATS_BEGIN}
{STATS_EMPTY}
{STATS_END}

## Log

"""
_TROUBLESHOOTING_HEADER = """# Troubleshooting

Known problem types, kept by [agentops](docs/format.md): how to recognise each one (its
signature), how to diagnose it, the workaround and the fix. Entries are in id order. The tool
owns markers, heading, summary line and metadata; people own the prose sections.

"""
_MEMORY_HEADER = f"""# Memory

Lessons for agents, kept by [agentops](docs/format.md). Read the index before acting; each
lesson links to the incidents that taught it. Entries are in id order.

## Index

{INDEX_BEGIN}
{INDEX_EMPTY}
{INDEX_END}

## Lessons

"""
_HEADERS: Final = {"incident": _INCIDENTS_HEADER, "troubleshooting": _TROUBLESHOOTING_HEADER,
                   "memory": _MEMORY_HEADER}


def render_empty_file(kind: Kind) -> str:
    """A new ledger file for ``agentops init``: the header and an empty entries region."""
    spec(kind)
    return _HEADERS[kind] + _REGION


class RawEntry(NamedTuple):
    """One entry as it stands in the file, with the text that precedes it."""

    id: str
    uid: str
    before: str
    text: str

    def parse(self) -> Entry:
        return parse_entry(self.text)


class LedgerDoc(NamedTuple):
    """A ledger file cut into header, entries (with the text between them) and trailer."""

    kind: Kind
    header: str
    entries: tuple[RawEntry, ...]
    trailing: str

    def get(self, entry_id: str) -> RawEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def parsed(self) -> list[Entry]:
        return [spec(self.kind).parse(e.text) for e in self.entries]


def find_line(text: str, line: str, start: int = 0, stop: int | None = None) -> int:
    """Offset of the first line equal to or starting with ``line``, or -1."""
    stop = len(text) if stop is None else stop
    if start == 0 and text.startswith(line):
        return 0
    pos = text.find("\n" + line, max(start - 1, 0), stop)
    return -1 if pos < 0 else pos + 1


def rfind_line(text: str, line: str, start: int = 0, stop: int | None = None) -> int:
    pos = text.rfind("\n" + line, max(start - 1, 0), len(text) if stop is None else stop)
    if pos >= 0:
        return pos + 1
    return 0 if start == 0 and text.startswith(line) else -1


def _line_end(text: str, pos: int) -> int:
    """Offset just after the line starting at ``pos`` (after its newline)."""
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def region(kind: Kind, text: str) -> tuple[int, int]:
    """(start of the entries, start of the end marker line) of the entries region."""
    name = spec(kind).file_name
    begin = find_line(text, md.REGION_BEGIN)
    end = rfind_line(text, md.REGION_END)
    if begin < 0 or end < 0 or end < begin:
        raise LedgerError(f"{name}: the entries region markers {md.REGION_BEGIN} ... "
                          f"{md.REGION_END} are missing; run `agentops lint`")
    return _line_end(text, begin), end


def parse_file(kind: Kind, text: str) -> LedgerDoc:
    """Cut a file into its parts without losing a byte; raises LedgerError on broken frames."""
    start, stop = region(kind, text)
    fast = _split_plain(kind, text, start, stop)
    if fast is not None:
        return LedgerDoc(kind, text[:start], tuple(fast[0]), text[fast[1]:])
    name = spec(kind).file_name
    entries: list[RawEntry] = []
    cursor, open_at, open_id, open_uid = start, -1, "", ""
    for m in _MARKER_SEARCH_RE.finditer(text, start, stop):
        if m.start() and text[m.start() - 1] != "\n":
            continue  # not at the start of a line
        closing, mkind, mid = m.group(1) == "/", m.group(2), m.group(3)
        if mkind != kind:
            raise LedgerError(f"{_where(name, text, m.start())}: a {mkind} marker does not "
                              "belong in this file")
        if not closing and open_at < 0 and m.group(4):
            open_at, open_id, open_uid = m.start(), mid, m.group(4)
        elif closing and open_at >= 0 and mid == open_id:
            end = _line_end(text, m.start())
            entries.append(RawEntry(mid, open_uid, text[cursor:open_at], text[open_at:end]))
            cursor, open_at = end, -1
        else:
            what = f"{open_id} is not closed" if open_at >= 0 else "marker without its entry"
            raise LedgerError(f"{_where(name, text, m.start())}: {m.group(0)}: {what}")
    if open_at >= 0:
        raise LedgerError(f"{name}: {open_id} has a begin marker but no end marker (torn entry)")
    return LedgerDoc(kind, text[:start], tuple(entries), text[cursor:])


def _split_plain(kind: Kind, text: str, start: int, stop: int
                 ) -> tuple[list[RawEntry], int] | None:
    """The entries of a region whose every marker is a well-formed marker of ``kind`` at a
    line start, paired begin then end, found with ``str.find`` (a 13 MB ledger in a third of
    the regex scan's time); None for anything else, which :func:`parse_file` reads marker by
    marker (and reports)."""
    begin_tag, end_tag = f"<!-- agentops:{kind} ", f"<!-- /agentops:{kind} "
    expected = text.count(begin_tag, start, stop)
    if (text.count("<!-- agentops:", start, stop) != expected
            or text.count("<!-- /agentops:", start, stop) != expected):
        return None  # another kind, a stray or inline marker: the careful path says which
    entries: list[RawEntry] = []
    cursor = start
    while True:
        at = text.find("\n" + begin_tag, cursor - 1, stop)
        if at < 0:
            break
        at += 1
        line_end = text.find("\n", at, stop)
        m = _BEGIN_LINE_RE.fullmatch(text, at, line_end) if line_end >= 0 else None
        if m is None:
            return None
        closing = f"\n{end_tag}{m.group(1)} -->\n"
        close = text.find(closing, line_end, stop + 1)
        if close < 0:
            return None
        end = close + len(closing)
        entries.append(RawEntry(m.group(1), m.group(2), text[cursor:at], text[at:end]))
        cursor = end
    return (entries, cursor) if len(entries) == expected else None


_BEGIN_LINE_RE: Final = re.compile(r"<!-- agentops:\w+ (\S+?) uid=(\S+) -->")


def _where(name: str, text: str, pos: int) -> str:
    return f"{name}:{text.count(chr(10), 0, pos) + 1}"


def render_file(doc: LedgerDoc) -> str:
    return doc.header + "".join(e.before + e.text for e in doc.entries) + doc.trailing


def find_entry(kind: Kind, text: str, entry_id: str) -> tuple[int, int] | None:
    """The span of one entry, begin marker line to end marker line with its newline."""
    start = find_line(text, md.begin_prefix(kind, entry_id))
    if start < 0:
        return None
    name = spec(kind).file_name
    close = find_line(text, md.end_marker(kind, entry_id), start)
    after = find_line(text, md.begin_prefix(kind), start + 1)
    if close < 0 or 0 <= after < close:
        raise LedgerError(f"{name}: {entry_id} has a begin marker but no end marker (torn entry)")
    end = _line_end(text, close)
    if find_line(text, md.begin_prefix(kind, entry_id), end) >= 0:
        raise LedgerError(f"{name}: {entry_id} appears twice; run `agentops lint`")
    return start, end


def _entry_head(kind: Kind, entry_text: str) -> tuple[str, str]:
    match = md.BEGIN_RE.match(entry_text)
    if match is None or match.group(1) != kind:
        raise LedgerError(f"not a {kind} entry: {entry_text[:80]!r}")
    entry_id, uid = match.group(2), match.group(3)
    if not ID_RES[kind].match(entry_id):
        raise LedgerError(f"{entry_id!r} is not a valid {kind} id")
    if not entry_text.endswith(md.end_marker(kind, entry_id) + "\n"):
        raise LedgerError(f"{entry_id}: entry text must end with its end marker and a newline")
    return entry_id, uid


def insert_entry(kind: Kind, text: str, entry_text: str) -> str:
    """Insert a rendered entry at its place; refuse an id or uid already in the file."""
    entry_id, uid = _entry_head(kind, entry_text)
    name = spec(kind).file_name
    if find_line(text, md.begin_prefix(kind, entry_id)) >= 0:
        raise LedgerError(f"{name}: {entry_id} is already present")
    if f" uid={uid} -->\n" in text:
        raise LedgerError(f"{name}: an entry with uid {uid} is already present")
    pos = _insert_position(kind, text, id_sort_key(kind, entry_id))
    return text[:pos] + entry_text + "\n" + text[pos:]


def insert_entries(kind: Kind, text: str, entry_texts: Iterable[str]) -> str:
    """Insert many rendered entries in one pass: the same text as ``insert_entry`` applied to
    each in turn, at the cost of one scan of the file instead of one per entry (an alert storm
    opens thousands in one batch). Refuses an id or uid already in the file or given twice."""
    name = spec(kind).file_name
    new: list[tuple[tuple[str, int], str]] = []
    ids: set[str] = set()
    uids: set[str] = set()
    start, stop = region(kind, text)
    for m in MARKER_RE.finditer(text, start, stop):
        if m.group(1) != "/" and m.group(2) == kind:
            ids.add(m.group(3))
            uids.add(m.group(4) or "")
    for entry_text in entry_texts:
        entry_id, uid = _entry_head(kind, entry_text)
        if entry_id in ids:
            raise LedgerError(f"{name}: {entry_id} is already present")
        if uid in uids:
            raise LedgerError(f"{name}: an entry with uid {uid} is already present")
        ids.add(entry_id)
        uids.add(uid)
        new.append((id_sort_key(kind, entry_id), entry_text + "\n"))
    if not new:
        return text
    newest_first = spec(kind).newest_first
    new.sort(key=lambda item: item[0], reverse=newest_first)
    pieces: list[str] = []
    cursor, j = 0, 0
    prefix = md.begin_prefix(kind)
    pos = find_line(text, prefix, start, stop)
    while pos >= 0 and j < len(new):
        other = _key_at(kind, text, pos)
        first = j
        while j < len(new) and ((other < new[j][0]) if newest_first else (other > new[j][0])):
            j += 1
        if j > first:
            pieces += [text[cursor:pos], *(t for _, t in new[first:j])]
            cursor = pos
        pos = find_line(text, prefix, pos + 1, stop)
    pieces += [text[cursor:stop], *(t for _, t in new[j:]), text[stop:]]
    return "".join(pieces)


def count_entries(kind: Kind, text: str) -> int:
    """How many entries a file holds, by their begin markers (no parsing)."""
    prefix = md.begin_prefix(kind)
    return text.count("\n" + prefix) + text.startswith(prefix)


def _insert_position(kind: Kind, text: str, key: tuple[str, int]) -> int:
    """Before the first entry that sorts after the new one, else before the end marker."""
    start, stop = region(kind, text)
    prefix = md.begin_prefix(kind)
    newest_first = spec(kind).newest_first
    if not newest_first:
        last = rfind_line(text, prefix, start, stop)
        if last < 0 or _key_at(kind, text, last) < key:
            return stop
    pos = find_line(text, prefix, start, stop)
    while pos >= 0:
        other = _key_at(kind, text, pos)
        if (other < key) if newest_first else (other > key):
            return pos
        pos = find_line(text, prefix, pos + 1, stop)
    return stop


def _key_at(kind: Kind, text: str, pos: int) -> tuple[str, int]:
    line = text[pos:text.find("\n", pos)]
    match = md.BEGIN_RE.match(line)
    if match is None:
        raise LedgerError(f"{spec(kind).file_name}: malformed marker line {line!r}")
    return id_sort_key(kind, match.group(2))


def replace_entry(kind: Kind, text: str, entry_id: str, new_entry_text: str) -> str:
    """Swap one entry for new text (same id, or a renumbered id not yet in the file)."""
    span = find_entry(kind, text, entry_id)
    if span is None:
        raise LedgerError(f"{spec(kind).file_name}: {entry_id} not found")
    new_id, _ = _entry_head(kind, new_entry_text)
    if new_id != entry_id and find_line(text, md.begin_prefix(kind, new_id)) >= 0:
        raise LedgerError(f"{spec(kind).file_name}: {new_id} is already present")
    return text[:span[0]] + new_entry_text + text[span[1]:]


def _replace_line(text: str, prefix: str, new_line: str, stop: int, where: str) -> str:
    pos = find_line(text, prefix, 0, stop)
    if pos < 0:
        raise LedgerError(f"{where}: no line starting with {prefix!r} in the header")
    end = text.find("\n", pos)
    return text[:pos] + new_line + text[end:]


def last_incident_line(entry_id: str | None, when: date | datetime | None) -> str:
    if entry_id is None:
        return f"{LAST_INCIDENT} none"
    day = when.date() if isinstance(when, datetime) else when
    return f"{LAST_INCIDENT} {entry_id}" + (f" ({day.isoformat()})" if day else "")


def set_last_incident(text: str, entry_id: str, when: date | datetime | None) -> str:
    """Rewrite the ``**Last Incident:**`` line of INCIDENTS.md (the caller passes the newest)."""
    stop = find_line(text, md.REGION_BEGIN)
    line = last_incident_line(entry_id, when)
    return _replace_line(text, LAST_INCIDENT, line, len(text) if stop < 0 else stop,
                         "INCIDENTS.md")


def _replace_block(text: str, begin: str, end: str, body: str, where: str) -> str:
    start = find_line(text, begin)
    stop = find_line(text, end, max(start, 0))
    if start < 0 or stop < 0:
        raise LedgerError(f"{where}: markers {begin} ... {end} are missing")
    body = body.strip("\n")
    return text[:_line_end(text, start)] + (body + "\n" if body else "") + text[stop:]


def set_stats_block(text: str, block: str) -> str:
    """Replace what is between the stats markers of INCIDENTS.md."""
    return _replace_block(text, STATS_BEGIN, STATS_END, block, "INCIDENTS.md")


def set_memory_index(text: str, entries: Iterable[MemoryEntry]) -> str:
    """Re-render the index of MEMORY.md from the entries."""
    return _replace_block(text, INDEX_BEGIN, INDEX_END, render_index(entries), "MEMORY.md")


def read_block(text: str, begin: str, end: str) -> str | None:
    """The text between two marker lines, or None when they are missing."""
    start = find_line(text, begin)
    stop = find_line(text, end, max(start, 0))
    if start < 0 or stop < 0:
        return None
    return text[_line_end(text, start):stop]
