"""Memory entries of MEMORY.md: lessons for agents, and the index on top of the file."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from agentops.ledger import markdown as md
from agentops.ledger.incidents import SEP
from agentops.ledger.markdown import MetaField
from agentops.ledger.model import MemoryEntry
from agentops.ledger.safety import escape_inline
from agentops.vocabulary import MEMORY_STATUSES

SUMMARY_PREFIX: Final = "**Status:**"
INDEX_MAX_LINES: Final = 150
INDEX_EMPTY: Final = "_No lessons yet._"
GENERATED_TAG: Final = "generated"  # lessons the tool wrote from a rule's template

META: Final = (
    MetaField("id", "str", required=True),
    MetaField("uid", "str", required=True),
    MetaField("status", "str", MEMORY_STATUSES, required=True),
    MetaField("seen", "int"),
    MetaField("first_seen", "otime"),
    MetaField("last_validated", "otime"),
    MetaField("evidence", "list"),
    MetaField("tags", "list"),
    MetaField("superseded_by", "ostr"),
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _day(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d")


def summary_line(entry: MemoryEntry) -> str:
    parts = [f"{SUMMARY_PREFIX} {escape_inline(entry.status)}", f"**Seen:** {entry.seen}×",
             f"**Last validated:** {_day(entry.last_validated)}"]
    if entry.superseded_by:
        parts.append(f"**Superseded by:** {escape_inline(entry.superseded_by)}")
    return SEP.join(parts)


def meta_values(entry: MemoryEntry) -> dict[str, Any]:
    return {f.name: getattr(entry, f.name) for f in META}


def render_memory(entry: MemoryEntry) -> str:
    return md.render(md.EntryText(
        "memory", entry.id, entry.uid, entry.title, summary_line(entry),
        md.render_meta(META, meta_values(entry)), entry.sections, anchor=True,
    ))


def parse_memory(text: str) -> MemoryEntry:
    layout = md.scan(text, SUMMARY_PREFIX)
    md.expect_kind(layout, "memory")
    meta = md.read_meta(text, layout, META)
    return MemoryEntry(title=md.read_title(text, layout), sections=md.read_sections(text, layout),
                       **meta)


def generated(entry: MemoryEntry) -> bool:
    return GENERATED_TAG in entry.tags


def index_line(entry: MemoryEntry) -> str:
    mark = " _(generated)_" if generated(entry) else ""
    return (f"- [{entry.id}](#{entry.id.lower()}) (seen {entry.seen}×, validated "
            f"{_day(entry.last_validated)}) {entry.title}{mark}")


def render_index(entries: Iterable[MemoryEntry]) -> str:
    """Active lessons: people's before generated ones, then most seen first, then most recently
    validated; at most 150 lines."""
    active = sorted((e for e in entries if e.status == "active"),
                    key=lambda e: (generated(e), -e.seen,
                                   -(e.last_validated or _EPOCH).timestamp(), e.id))
    if not active:
        return INDEX_EMPTY
    if len(active) > INDEX_MAX_LINES:
        more = len(active) - INDEX_MAX_LINES + 1
        shown = [index_line(e) for e in active[: INDEX_MAX_LINES - 1]]
        return "\n".join([*shown, f"- … and {more} more lessons below"])
    return "\n".join(index_line(e) for e in active)
