"""In-place edits of one entry that leave every character a person wrote where it was.

The tool never re-renders an entry that already exists. It replaces one metadata line, inserts
one timeline row or follow-up, ticks one checkbox, or fills a section still holding the
placeholder, and then re-renders only the derived summary line from the data. Text given to
these functions is escaped here (escaping is idempotent), so callers cannot forget it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

from agentops.errors import AgentopsError, LedgerError
from agentops.events import parse_time
from agentops.ledger import markdown as md
from agentops.ledger.kinds import spec
from agentops.ledger.model import (
    ID_RES,
    PLACEHOLDER,
    TIMELINE_HEADER,
    FollowUp,
    Signature,
    followup_line,
    normalize_severity,
    parse_followup,
    timeline_row,
)
from agentops.ledger.safety import escape_block, escape_inline

Edit = tuple[int, int, str]
_OWNER_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_AMBIGUOUS_END_RE: Final = re.compile(r" - (@\S+|\d{4}-\d{2}-\d{2})$")
TIMELINE: Final = "Timeline"
FOLLOWUPS: Final = "Follow-up Actions"


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Replace non-overlapping spans, given in any order."""
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _layout(entry_text: str) -> md.Layout:
    match = md.BEGIN_RE.match(entry_text)
    if match is None:
        raise LedgerError(f"entry does not start with a begin marker: {entry_text[:80]!r}")
    return md.scan(entry_text, spec(match.group(1)).summary_prefix)


def _normalise_fields(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in spec(kind).meta} | {"title", "signature"}
    for name in fields:
        if name in ("id", "uid"):
            raise LedgerError(f"{name}: cannot be updated in place; use renumber()")
        if name not in names:
            raise LedgerError(f"{name}: not a {kind} field (allowed: {', '.join(sorted(names))})")
    out = dict(fields)
    signature = out.pop("signature", None)
    if isinstance(signature, Signature):
        out.update(event_type=signature.event_type, reason=signature.reason,
                   pattern=signature.pattern)
    if isinstance(out.get("severity"), str):
        out["severity"] = normalize_severity(out["severity"])
    return out


def update_fields(entry_text: str, **fields: Any) -> str:
    """Rewrite only the given metadata lines (and the heading for ``title``), then the summary.

    A key missing from the block is added before its closing fence; comment lines and keys a
    person added stay as they are. The result is validated by parsing it.
    """
    layout = _layout(entry_text)
    values = _normalise_fields(layout.kind, fields)
    title = values.pop("title", None)
    if layout.meta is None:
        raise LedgerError(f"{layout.id}: entry has no ```yaml metadata block")
    edits = _meta_edits(entry_text, layout.meta, values)
    if title is not None:
        if layout.heading is None:
            raise LedgerError(f"{layout.id}: entry has no heading to retitle")
        edits.append((*layout.heading, md.heading_line(layout.id, escape_inline(title))))
    return refresh_summary(apply_edits(entry_text, edits))


def _meta_edits(text: str, span: tuple[int, int], values: dict[str, Any]) -> list[Edit]:
    """Replace every line of each key (a duplicated key must not keep a stale value)."""
    edits: list[Edit] = []
    seen: set[str] = set()
    for a, b in md.lines(text, *span):
        key = text[a:b].partition(":")[0]
        if key in values and text[a:b].startswith(key + ":"):
            edits.append((a, b, md.meta_line(key, values[key])))
            seen.add(key)
    extra = "".join(md.meta_line(k, v) + "\n" for k, v in values.items() if k not in seen)
    if extra:
        edits.append((span[1], span[1], extra))
    return edits


def refresh_summary(entry_text: str) -> str:
    """Re-render the summary line from the metadata (it is derived, never typed)."""
    layout = _layout(entry_text)
    entry = spec(layout.kind).parse(entry_text)
    line = spec(layout.kind).summary(entry)
    if layout.summary is None:
        return entry_text
    return apply_edits(entry_text, [(*layout.summary, line)])


def _insert_section(text: str, layout: md.Layout, heading: str, body: str) -> str:
    block = f"{md.SECTION_PREFIX}{heading}\n\n" + (f"{body}\n\n" if body else "")
    return text[:layout.end] + block + text[layout.end:]


def _section_lines(text: str, span: md.SectionSpan) -> list[tuple[int, int]]:
    return list(md.lines(text, span.body, span.end))


def append_timeline(entry_text: str, when: datetime, text: str) -> str:
    """Add a row to the Timeline table, in time order (after rows at the same time)."""
    row = timeline_row(when, escape_inline(text))
    layout = _layout(entry_text)
    span = layout.section(TIMELINE)
    if span is None:
        return _insert_section(entry_text, layout, TIMELINE, f"{TIMELINE_HEADER}\n{row}")
    rows = _table_rows(entry_text, span)
    if rows is None:
        return _append_paragraph(entry_text, span, f"{TIMELINE_HEADER}\n{row}")
    pos = rows[-1][1] + 1
    for a, b in rows[2:]:
        if (t := _row_time(entry_text[a:b])) is not None and t > when:
            pos = a
            break
    return entry_text[:pos] + row + "\n" + entry_text[pos:]


def _table_rows(text: str, span: md.SectionSpan) -> list[tuple[int, int]] | None:
    """Header, separator and data rows of the timeline table, or None without a table."""
    header = TIMELINE_HEADER.split("\n")[0]
    found: list[tuple[int, int]] = []
    for a, b in _section_lines(text, span):
        line = text[a:b]
        if found and not line.startswith("|"):
            break
        if found or line == header:
            found.append((a, b))
    return found if len(found) >= 2 else None


def _row_time(line: str) -> datetime | None:
    cell = line[2:].partition(" | ")[0]
    try:
        return parse_time(cell)
    except AgentopsError:
        return None


def _append_paragraph(text: str, span: md.SectionSpan, body: str) -> str:
    content = text[span.body:span.end]
    if content.strip() == PLACEHOLDER:
        return text[:span.body] + f"\n{body}\n\n" + text[span.end:]
    pos = span.body + len(content.rstrip("\n"))
    return text[:pos] + f"\n\n{body}" + text[pos:]


def _followup_text(text: str) -> str:
    """Escape the text so that a trailing `` - @x`` or date cannot be read as owner or due."""
    text = escape_inline(text)
    match = _AMBIGUOUS_END_RE.search(text)
    if match is not None:
        text = text[:match.start()] + " \\- " + match.group(1)
    return text


def add_followup(
    entry_text: str, text: str, owner: str | None = None, due: date | None = None
) -> str:
    """Add ``- [ ] text - @owner - YYYY-MM-DD`` after the last follow-up."""
    if owner is not None:
        owner = owner.removeprefix("@")
        if not _OWNER_RE.match(owner):
            raise LedgerError(f"follow-up owner: {owner!r} is not a user or team name")
    line = followup_line(FollowUp(False, _followup_text(text), owner, due))
    layout = _layout(entry_text)
    span = layout.section(FOLLOWUPS)
    if span is None:
        return _insert_section(entry_text, layout, FOLLOWUPS, line)
    items = [(a, b) for a, b in _section_lines(entry_text, span)
             if parse_followup(entry_text[a:b]) is not None]
    if not items:
        return _append_paragraph(entry_text, span, line)
    pos = items[-1][1]
    return entry_text[:pos] + "\n" + line + entry_text[pos:]


def set_followup_done(entry_text: str, n: int) -> str:
    """Tick the n-th follow-up (1-based, in the order they appear)."""
    layout = _layout(entry_text)
    span = layout.section(FOLLOWUPS)
    items = [] if span is None else [
        a for a, b in _section_lines(entry_text, span)
        if parse_followup(entry_text[a:b]) is not None
    ]
    if not 1 <= n <= len(items):
        raise LedgerError(f"{layout.id}: no follow-up number {n} (it has {len(items)})")
    pos = items[n - 1] + 2
    return entry_text[:pos] + "[x]" + entry_text[pos + 3:]


def fill_section_if_empty(entry_text: str, heading: str, body: str) -> str:
    """Fill a placeholder section; else add ``body`` as a new paragraph unless already there."""
    body = escape_block(body)
    if not body.strip():
        return entry_text
    layout = _layout(entry_text)
    span = layout.section(heading)
    if span is None:
        return _insert_section(entry_text, layout, escape_inline(heading), body)
    if body in md.section_body(entry_text, span):
        return entry_text
    return _append_paragraph(entry_text, span, body)


ATTRIBUTION_RE: Final = re.compile(r"^From (INC-\d{4}-\d{2}-\d{2}-\d{3,}): ", re.M)


def attributed(source: str, body: str) -> str:
    """A paragraph the tool wrote from an incident: ``From INC-...: body``."""
    return f"From {source}: {body.strip()}"


def tool_owned(body: str) -> bool:
    """True when nobody wrote the section by hand: the placeholder, or only paragraphs the tool
    attributed to incidents."""
    body = body.strip()
    if not body or body == PLACEHOLDER:
        return True
    return all(ATTRIBUTION_RE.match(p.strip()) for p in body.split("\n\n") if p.strip())


def fill_attributed(entry_text: str, heading: str, source: str, body: str) -> tuple[str, bool]:
    """Add ``From <source>: body`` to a section nobody wrote by hand; a section with human text
    is left exactly as it is. Returns the text and whether the section was written."""
    body = escape_block(body).strip()
    if not body:
        return entry_text, False
    layout = _layout(entry_text)
    span = layout.section(heading)
    paragraph = attributed(source, body)
    if span is None:
        return _insert_section(entry_text, layout, escape_inline(heading), paragraph), True
    current = md.section_body(entry_text, span)
    if not tool_owned(current) or f"From {source}: " in current:
        return entry_text, False
    return _append_paragraph(entry_text, span, paragraph), True


def add_evidence_line(entry_text: str, line: str, *, heading: str = "Evidence",
                      keep: int = 20) -> str:
    """Append ``line`` to a list the tool keeps (the latest ``keep`` of its lines), once."""
    layout = _layout(entry_text)
    span = layout.section(heading)
    if span is None:
        return _insert_section(entry_text, layout, heading, line)
    current = md.section_body(entry_text, span)
    if line in current.split("\n"):
        return entry_text
    ours = [x for x in current.split("\n") if x.startswith("- Seen in ")]
    others = [x for x in current.split("\n") if x and not x.startswith("- Seen in ")]
    kept = [*others, *([*ours, line][-keep:])] if not others else [*current.split("\n"), line]
    return entry_text[:span.body] + "\n" + "\n".join(kept) + "\n\n" + entry_text[span.end:]


def renumber(entry_text: str, old_id: str, new_id: str) -> str:
    """Give an entry a new id (markers, heading, anchor, metadata); prose is left alone."""
    layout = _layout(entry_text)
    if layout.id != old_id:
        raise LedgerError(f"renumber: entry is {layout.id}, not {old_id}")
    if not ID_RES[layout.kind].match(new_id):
        raise LedgerError(f"renumber: {new_id!r} is not a valid {layout.kind} id")
    first = entry_text.find("\n")
    edits: list[Edit] = [
        (0, first, md.begin_marker(layout.kind, new_id, layout.uid)),
        (layout.end, layout.end + len(md.end_marker(layout.kind, old_id)),
         md.end_marker(layout.kind, new_id)),
    ]
    if layout.heading is not None:
        a, _b = layout.heading
        old_head = f"{md.HEADING_PREFIX}{old_id}"
        if entry_text.startswith(old_head, a):
            edits.append((a, a + len(old_head), f"{md.HEADING_PREFIX}{new_id}"))
    anchor = md.anchor_line(old_id)
    if entry_text.startswith(anchor + "\n", first + 1):
        edits.append((first + 1, first + 1 + len(anchor), md.anchor_line(new_id)))
    if layout.meta is not None:
        edits += [(a, b, md.meta_line("id", new_id)) for a, b in md.lines(entry_text, *layout.meta)
                  if entry_text.startswith("id:", a)]
    return apply_edits(entry_text, edits)
