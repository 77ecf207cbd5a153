"""Keep INCIDENTS.md bounded: the oldest entries move to archive files named by their id.

Every ``record`` rewrites and git hashes INCIDENTS.md, so its cost must not grow with the
ledger; an alert storm can open ten thousand incidents in an hour, and GitHub stops rendering
markdown long before such a file's size. INCIDENTS.md therefore keeps the newest
``KEEP_ENTRIES`` entries in full, open or resolved; when a batch takes it past
``MAX_ENTRIES``, the oldest ones move to ``incidents/YYYY-MM-DD.md`` (ids 001-500 of that
day), ``incidents/YYYY-MM-DD-2.md`` (501-1000) and so on: a file name is a function of the id
alone, so any entry is found in O(1) and no archive ever exceeds 500 entries. Moving the
excess only when it exceeds the bound by ``MAX_ENTRIES - KEEP_ENTRIES`` amortises the moves to
O(1) per new incident.

INCIDENTS.md carries a generated index of the archives (between ``agentops:archive`` markers)
with each file's open and total counts, so every open incident is one click away. Archives use
the same entry format; the monthly archives (``incidents/YYYY-MM.md``) of earlier versions
are still read and still found by id (:func:`legacy_name`).

Text in, text out: the store (:mod:`agentops.store.writer`) reads and writes the files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Final, NamedTuple

from agentops.errors import LedgerError
from agentops.ledger import format as fmt
from agentops.ledger.files import RawEntry, find_line
from agentops.ledger.model import INCIDENT_ID_RE, id_sort_key

ARCHIVE_DIR: Final = "incidents"
PER_FILE: Final = 500  # entries per archive file: ids 001-500 of a day, then 501-1000, ...
MAX_ENTRIES: Final = 150  # INCIDENTS.md may hold this many entries before the oldest move...
KEEP_ENTRIES: Final = 100  # ...down to this many
RESOLVED_ROWS: Final = 30  # archives holding only resolved incidents listed in the index
INDEX_BEGIN: Final = "<!-- agentops:archive:begin -->"
INDEX_END: Final = "<!-- agentops:archive:end -->"
_INDEX_HEADING = "## Archive"
_STATUS_RE = re.compile(r"^status: (\S+)$", re.MULTILINE)
_ROW_RE = re.compile(r"^\| \[[^\]]*\]\((incidents/[^)]+\.md)\) \| (\d+) \| (\d+) \|$",
                     re.MULTILINE)
_TITLE = "# Incidents"


class ArchiveCount(NamedTuple):
    """One archive file as the index shows it."""

    name: str
    open: int
    total: int


def archive_name(entry_id: str) -> str:
    """``INC-2026-11-24-013`` -> ``incidents/2026-11-24.md``; ``...-24-613`` -> ``...-24-2.md``."""
    m = INCIDENT_ID_RE.match(entry_id)
    if m is None:
        raise ValueError(f"{entry_id!r} is not an incident id")
    part = (int(m.group(2)) - 1) // PER_FILE + 1
    return f"{ARCHIVE_DIR}/{m.group(1)}{'' if part == 1 else f'-{part}'}.md"


def legacy_name(entry_id: str) -> str:
    """The monthly archive earlier versions moved resolved incidents to."""
    return f"{ARCHIVE_DIR}/{entry_id[4:11]}.md"  # INC-2025-07-28-013 -> incidents/2025-07.md


def name_order(name: str) -> tuple[int, ...]:
    """Sort key of an archive file name: by day, then part (``-10`` after ``-9``)."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".md")
    parts = stem.split("-")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (0,)


def needs_rotation(text: str) -> bool:
    return fmt.count_entries("incident", text) > MAX_ENTRIES


def rotate(text: str, read: Callable[[str], str]) -> tuple[str, dict[str, str]]:
    """Move the oldest entries of INCIDENTS.md past ``KEEP_ENTRIES`` to their archive files.

    ``read(path)`` gives an archive's current text ('' if none). Returns the new INCIDENTS.md
    text and the new text of every archive that changed. Text a person wrote between entries
    travels with the entry after it.
    """
    doc = fmt.parse_file("incident", text)
    if len(doc.entries) <= MAX_ENTRIES:
        return text, {}
    keep = doc.entries[:KEEP_ENTRIES]
    move: dict[str, list[RawEntry]] = {}
    for entry in doc.entries[KEEP_ENTRIES:]:
        move.setdefault(archive_name(entry.id), []).append(entry)
    kept = fmt.render_file(doc._replace(entries=keep))
    return kept, {name: _merge(read(name), name, entries) for name, entries in move.items()}


def count(name: str, text: str) -> ArchiveCount:
    """Open and total incidents of one archive file, from its marker and status lines."""
    total = fmt.count_entries("incident", text)
    resolved = sum(1 for m in _STATUS_RE.finditer(text) if m.group(1) == "Resolved")
    return ArchiveCount(name, max(total - resolved, 0), total)


def parse_index(text: str) -> dict[str, ArchiveCount]:
    """The rows of the archive index of INCIDENTS.md (empty when there is none)."""
    block = fmt.read_block(text, INDEX_BEGIN, INDEX_END) or ""
    return {m.group(1): ArchiveCount(m.group(1), int(m.group(2)), int(m.group(3)))
            for m in _ROW_RE.finditer(block)}


def render_index(counts: Iterable[ArchiveCount], *, files: int) -> str:
    """The index: every archive with open incidents, the newest resolved-only ones, and how
    many older files are left out (``files`` is how many archive files there are)."""
    rows = sorted(counts, key=lambda c: name_order(c.name), reverse=True)
    shown = [c for c in rows if c.open] + [c for c in rows if not c.open][:RESOLVED_ROWS]
    shown.sort(key=lambda c: name_order(c.name), reverse=True)
    lines = ["Older incidents, open ones too, are in these files (newest first; `agentops "
             "incident show ID` finds any of them).", "",
             "| Archive | Open | Incidents |", "|---|---:|---:|"]
    lines += [f"| [{c.name.removeprefix(ARCHIVE_DIR + '/')}]({c.name}) | {c.open} | {c.total} |"
              for c in shown]
    if files > len(shown):
        lines += ["", f"_{files - len(shown)} older archive files hold only resolved "
                  f"incidents: see [{ARCHIVE_DIR}/]({ARCHIVE_DIR}/)._"]
    return "\n".join(lines)


def set_index(text: str, counts: Mapping[str, ArchiveCount], *, files: int) -> str:
    """INCIDENTS.md with its archive index rendered from ``counts`` (added when missing)."""
    body = render_index(counts.values(), files=files)
    if find_line(text, INDEX_BEGIN) < 0:
        at = find_line(text, "## Log")
        if at < 0:
            at = find_line(text, fmt.REGION_BEGIN)
        block = f"{_INDEX_HEADING}\n\n{INDEX_BEGIN}\n{body}\n{INDEX_END}\n\n"
        return text[:at] + block + text[at:]
    start = find_line(text, INDEX_BEGIN)
    stop = find_line(text, INDEX_END, start)
    return text[:text.index("\n", start) + 1] + body + "\n" + text[stop:]


def _merge(current: str, name: str, entries: list[RawEntry]) -> str:
    """An archive holding its old entries plus ``entries``, newest first, rendered once."""
    base = current or _empty_archive(name)
    doc = fmt.parse_file("incident", base)
    known = {e.id for e in doc.entries}
    twice = [e.id for e in entries if e.id in known]
    if twice:  # never drop an entry: the same id in both files needs a person (lint says so)
        raise LedgerError(f"{name}: {twice[0]} is both there and in INCIDENTS.md; "
                          "run `agentops lint`")
    moved = [e._replace(before=e.before if e.before.strip() else "\n") for e in entries]
    merged = [*doc.entries, *moved]
    merged.sort(key=lambda e: id_sort_key("incident", e.id), reverse=True)
    out = fmt.render_file(doc._replace(entries=tuple(merged)))
    newest = merged[0].id
    return fmt.set_last_incident(out, newest, date.fromisoformat(newest[4:14]))


def _empty_archive(name: str) -> str:
    stem = name.removeprefix(f"{ARCHIVE_DIR}/").removesuffix(".md")
    text = fmt.render_empty_file("incident")
    return text.replace(_TITLE, f"{_TITLE} — archive {stem}", 1)
