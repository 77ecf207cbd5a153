"""Keep INCIDENTS.md small: resolved incidents move to monthly archive files.

Git hashes every byte of a file it commits, and the SHA-1 of an 11 MB INCIDENTS.md costs
~60 ms on every ``record``; GitHub stops rendering markdown files long before that size, so
a reviewer could no longer read the log either. Past ``MAX_BYTES``, the batch that crosses
the line moves resolved incidents, oldest first, until the file is under a quarter of the
limit, into ``incidents/YYYY-MM.md`` (by detection month). Open incidents always stay.
Archives use the same entry format, so ``lint``, ``stats``, ``check`` and ``recall`` read them
like INCIDENTS.md (see :func:`agentops.store.entries.incident_files`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from agentops.ledger import format as fmt
from agentops.ledger.files import RawEntry
from agentops.ledger.model import id_sort_key

ARCHIVE_DIR = "incidents"
MAX_BYTES = 512 * 1024  # GitHub renders markdown files up to about this size
KEEP_BYTES = MAX_BYTES // 4
_STATUS_RE = re.compile(r"^status: (\S+)$", re.MULTILINE)
_TITLE = "# Incidents"


def archive_name(entry_id: str) -> str:
    return f"{ARCHIVE_DIR}/{entry_id[4:11]}.md"  # INC-2025-07-28-013 -> incidents/2025-07.md


def needs_rotation(text: str) -> bool:
    return len(text) > MAX_BYTES


def rotate(text: str, read: Callable[[str], str]) -> tuple[str, dict[str, str]]:
    """Split INCIDENTS.md text; ``read(path)`` gives an archive's current text ('' if none).

    Returns the new INCIDENTS.md text and the new text of every archive that changed.
    """
    doc = fmt.parse_file("incident", text)
    keep: list[RawEntry] = []
    move: dict[str, list[RawEntry]] = {}
    budget = KEEP_BYTES - len(doc.header) - len(doc.trailing)
    for entry in doc.entries:  # newest first
        resolved = _status(entry) == "Resolved"
        if not resolved or budget - len(entry.before) - len(entry.text) > 0 and not move:
            keep.append(entry)
            budget -= len(entry.before) + len(entry.text)
        else:
            move.setdefault(archive_name(entry.id), []).append(entry)
    if not move:
        return text, {}
    kept = fmt.render_file(doc._replace(entries=tuple(keep)))
    return kept, {name: _merge(read(name), name, entries) for name, entries in move.items()}


def _status(entry: RawEntry) -> str | None:
    m = _STATUS_RE.search(entry.text)
    return m.group(1) if m else None


def _merge(current: str, name: str, entries: list[RawEntry]) -> str:
    """An archive holding its old entries plus ``entries``, newest first, rendered once."""
    base = current or _empty_archive(name)
    doc = fmt.parse_file("incident", base)
    known = {e.id for e in doc.entries}
    merged = [*doc.entries, *(e._replace(before="\n") for e in entries if e.id not in known)]
    merged.sort(key=lambda e: id_sort_key("incident", e.id), reverse=True)
    out = fmt.render_file(doc._replace(entries=tuple(merged)))
    newest = merged[0].id
    return fmt.set_last_incident(out, newest, date.fromisoformat(newest[4:14]))


def _empty_archive(name: str) -> str:
    month = name.removeprefix(f"{ARCHIVE_DIR}/").removesuffix(".md")
    text = fmt.render_empty_file("incident")
    return text.replace(_TITLE, f"{_TITLE} — archive {month}", 1)
