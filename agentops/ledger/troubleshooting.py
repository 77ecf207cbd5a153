"""Troubleshooting entries of TROUBLESHOOTING.md: known problem types and what to do."""

from __future__ import annotations

from typing import Any, Final

from agentops.ledger import markdown as md
from agentops.ledger.incidents import SEP, format_when
from agentops.ledger.markdown import MetaField
from agentops.ledger.model import Signature, TroubleshootingEntry
from agentops.ledger.safety import escape_inline
from agentops.vocabulary import CATEGORIES

SUMMARY_PREFIX: Final = "**Category:**"

META: Final = (
    MetaField("id", "str", required=True),
    MetaField("uid", "str", required=True),
    MetaField("category", "str", CATEGORIES, required=True),
    MetaField("problem", "ostr"),
    MetaField("event_type", "str", required=True),
    MetaField("reason", "ostr"),
    MetaField("pattern", "ostr"),
    MetaField("occurrences", "int"),
    MetaField("first_seen", "otime"),
    MetaField("last_seen", "otime"),
    MetaField("incidents", "list"),
)
_SIGNATURE = ("event_type", "reason", "pattern")


def summary_line(entry: TroubleshootingEntry) -> str:
    sig = entry.signature
    reason = f" / {escape_inline(sig.reason)}" if sig.reason else ""
    match = escape_inline(sig.event_type) + reason
    return SEP.join((
        f"{SUMMARY_PREFIX} {escape_inline(entry.category)}", f"**Matches:** {match}",
        f"**Seen:** {entry.occurrences}×", f"**Last seen:** {format_when(entry.last_seen)}",
    ))


def meta_values(entry: TroubleshootingEntry) -> dict[str, Any]:
    values = {f.name: getattr(entry, f.name) for f in META if f.name not in _SIGNATURE}
    values.update(event_type=entry.signature.event_type, reason=entry.signature.reason,
                  pattern=entry.signature.pattern)
    return values


def render_troubleshooting(entry: TroubleshootingEntry) -> str:
    return md.render(md.EntryText(
        "troubleshooting", entry.id, entry.uid, entry.title, summary_line(entry),
        md.render_meta(META, meta_values(entry)), entry.sections,
    ))


def parse_troubleshooting(text: str) -> TroubleshootingEntry:
    layout = md.scan(text, SUMMARY_PREFIX)
    md.expect_kind(layout, "troubleshooting")
    meta = md.read_meta(text, layout, META)
    signature = Signature(*(meta.pop(name, None) for name in _SIGNATURE))
    return TroubleshootingEntry(title=md.read_title(text, layout), signature=signature,
                                sections=md.read_sections(text, layout), **meta)
