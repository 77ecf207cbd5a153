"""Incident entries of INCIDENTS.md: metadata keys, summary line, render and parse."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from agentops.errors import LedgerError
from agentops.ledger import markdown as md
from agentops.ledger.markdown import MetaField
from agentops.ledger.model import (
    INCIDENT_SECTIONS,
    PLACEHOLDER,
    TIMELINE_HEADER,
    Incident,
    Sections,
    span,
)
from agentops.ledger.safety import escape_inline
from agentops.vocabulary import CATEGORIES, IMPACT_FIELDS, SEVERITIES, STATUSES

SUMMARY_PREFIX: Final = "**Severity:**"
SEP: Final = " · "

META: Final = (
    MetaField("id", "str", required=True),
    MetaField("uid", "str", required=True),
    MetaField("status", "str", STATUSES, required=True),
    MetaField("severity", "str", SEVERITIES, required=True),
    MetaField("category", "str", CATEGORIES, required=True),
    MetaField("rule", "ostr"),
    MetaField("dedup_key", "ostr"),
    MetaField("occurrences", "int"),
    MetaField("events", "list"),
    MetaField("environment", "ostr"),
    MetaField("subject", "ostr"),
    MetaField("impact_started", "otime"),
    MetaField("detected", "otime"),
    MetaField("acknowledged", "otime"),
    MetaField("mitigated", "otime"),
    MetaField("resolved", "otime"),
    MetaField("review_required", "bool"),
    MetaField("review_scheduled", "otime"),
    MetaField("review_done", "otime"),
    MetaField("troubleshooting", "ostr"),
    MetaField("memory", "list"),
    MetaField("root_cause_category", "ostr"),
    MetaField("affected_services", "list", optional=True),
    MetaField("affected_users", "oint", optional=True),
    MetaField("downtime_minutes", "oint", optional=True),
    MetaField("user_impact", "ostr", optional=True),
    MetaField("scope", "ostr", optional=True),
    MetaField("detection_method", "ostr", optional=True),
)
TIME_ORDER: Final = ("impact_started", "detected", "acknowledged", "mitigated", "resolved")


def format_when(value: datetime | None) -> str:
    """A time for people: ``2026-11-24 08:30 UTC``."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def format_duration(value: timedelta) -> str:
    """``45s``, ``12m``, ``1h 05m``, ``2d 3h``; negative spans are shown as such."""
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{sign}{minutes}m"
    if days == 0:
        return f"{sign}{hours}h {minutes % 60:02d}m"
    return f"{sign}{days}d {hours % 24}h"


def summary_line(inc: Incident) -> str:
    """The one human-readable line rendered from the data; ``lint`` checks it did not drift."""
    parts = [f"{SUMMARY_PREFIX} {escape_inline(inc.severity)}",
             f"**Status:** {escape_inline(inc.status)}",
             f"**Category:** {escape_inline(inc.category)}",
             f"**Detected:** {format_when(inc.detected)}"]
    spans = (("Time to acknowledge", inc.time_to_acknowledge),
             ("Time to mitigate", inc.time_to_mitigate),
             ("Time to resolve", inc.time_to_resolve),
             ("Impact", inc.impact_duration))
    parts += [f"**{label}:** {format_duration(span)}" for label, span in spans if span is not None]
    return SEP.join(parts)


def meta_values(inc: Incident) -> dict[str, Any]:
    return {f.name: getattr(inc, f.name) for f in META}


def render_incident(inc: Incident) -> str:
    """The full entry text, begin marker to end marker, ending with a newline."""
    return md.render(md.EntryText(
        "incident", inc.id, inc.uid, inc.title, summary_line(inc),
        md.render_meta(META, meta_values(inc)), inc.sections,
    ))


def parse_incident(text: str) -> Incident:
    layout = md.scan(text, SUMMARY_PREFIX)
    md.expect_kind(layout, "incident")
    meta = md.read_meta(text, layout, META)
    return Incident(title=md.read_title(text, layout), sections=md.read_sections(text, layout),
                    **meta)


def parse_incident_head(text: str) -> Incident:
    """The incident's title and metadata only, its ``sections`` empty (so no timeline and no
    follow-ups): for views that show a line per incident, at half the cost of a full parse."""
    head = md.read_head(text, "incident", META)
    if head is not None:
        return Incident(title=head[0], sections=Sections(), **head[1])
    layout = md.scan_head(text, SUMMARY_PREFIX)
    md.expect_kind(layout, "incident")
    meta = md.read_meta(text, layout, META)
    return Incident(title=md.read_title(text, layout), sections=Sections(), **meta)


def as_opened(text: str) -> bool:
    """Whether an incident entry is still just what the tool opened it as: linked to a
    TROUBLESHOOTING entry, the sections a person fills still placeholders (in the template's
    order), one timeline row, no section of anyone's own. Such an entry adds nothing to
    ``recall`` that its problem's entry does not hold (which lists it as evidence). Read from
    the text with a few string searches, without parsing it; anything unusual counts as
    written in."""
    if "\ntroubleshooting: TS-" not in text or text.count("\n" + md.SECTION_PREFIX) != len(
            INCIDENT_SECTIONS):
        return False
    at = text.find(_OPENED_UNTIL_ROW)
    if at < 0:
        return False
    row_end = text.find("\n", at + len(_OPENED_UNTIL_ROW))
    return row_end >= 0 and text.startswith(_OPENED_AFTER_ROW, row_end)


def _placeholders(*headings: str) -> str:
    return "".join(f"\n{md.SECTION_PREFIX}{h}\n\n{PLACEHOLDER}\n" for h in headings)


# An entry as the tool opens it, from Impact to the first timeline row, and after that row:
# the sections people fill still placeholders, and no second row.
_OPENED_UNTIL_ROW: Final = (_placeholders("Impact", "Root Cause", "Resolution")
                            + f"\n{md.SECTION_PREFIX}Timeline\n\n{TIMELINE_HEADER}\n| ")
_OPENED_AFTER_ROW: Final = ("\n" + _placeholders("Follow-up Actions", "Lessons Learned")
                            + f"\n{md.SECTION_PREFIX}Related Logs\n")


class IncidentLine(NamedTuple):
    """What a list shows of an incident: its title, state and times (no prose, no timeline).
    Ten thousand of them in an alert storm are read in a fraction of what full entries cost."""

    id: str
    title: str
    status: str
    severity: str
    category: str
    detected: datetime | None
    acknowledged: datetime | None
    mitigated: datetime | None
    resolved: datetime | None
    troubleshooting: str | None
    memory: tuple[str, ...]

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return span(self.detected, self.acknowledged)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return span(self.detected, self.resolved)

    @classmethod
    def of(cls, inc: Incident) -> IncidentLine:
        return cls(*(getattr(inc, name) for name in cls._fields))


_LINE_FIELDS: Final = frozenset(IncidentLine._fields) - {"title"}


def parse_incident_line(text: str) -> IncidentLine:
    """One incident's :class:`IncidentLine`, decoding only its fields when the entry's head is
    as the tool writes it (else from :func:`parse_incident_head`)."""
    head = md.read_head(text, "incident", META, only=_LINE_FIELDS)
    if head is not None and len(head[1]) == len(_LINE_FIELDS):
        return IncidentLine(title=head[0], **head[1])
    return IncidentLine.of(parse_incident_head(text))


def impact_values(raw: Mapping[str, Any], *, where: str,
                  clean: Callable[[str], str] = escape_inline) -> dict[str, Any]:
    """The impact fields present in ``raw`` (event attributes, options, tool arguments), typed.

    ``affected_services`` is a list or a comma-separated string; ``affected_users`` and
    ``downtime_minutes`` whole numbers >= 0; the rest one line of text. ``clean`` redacts and
    escapes text (event text is never written as it came). Other keys are ignored; a bad
    value is a LedgerError naming ``where`` and the field.
    """
    out: dict[str, Any] = {}
    for name in IMPACT_FIELDS:
        value = raw.get(name)
        if value is None or value == "":
            continue
        if name == "affected_services":
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            services = [clean(str(s).strip()) for s in items if str(s).strip()]
            if services:
                out[name] = tuple(dict.fromkeys(services))
        elif name in ("affected_users", "downtime_minutes"):
            out[name] = _whole(value, f"{where}.{name}")
        else:
            out[name] = clean(" ".join(str(value).split()))
    return out


def _whole(value: Any, where: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise LedgerError(f"{where}: expected a whole number >= 0, got {value!r}")
    return int(text)
