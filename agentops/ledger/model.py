"""The three kinds of ledger entry as frozen records.

These are what the policy engine, ``stats``, ``check`` and ``recall`` reason about. Text fields
hold markdown that is already safe (see :mod:`agentops.ledger.safety`); the renderers write
them as they are. Durations are computed from the stored times and never stored themselves,
so they cannot drift.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Final, NamedTuple, TypeAlias

from agentops.errors import AgentopsError, LedgerError
from agentops.events import format_time, parse_time
from agentops.vocabulary import (
    KINDS,
    LEDGER_KINDS,
    Kind,
    canonical_severity,
    severity_help,
)

ID_RES: Final[Mapping[str, re.Pattern[str]]] = {
    name: k.id_pattern for name, k in LEDGER_KINDS.items()
}
INCIDENT_ID_RE: Final = ID_RES["incident"]
TS_ID_RE: Final = ID_RES["troubleshooting"]
MEM_ID_RE: Final = ID_RES["memory"]

PLACEHOLDER: Final = "_To be filled in._"
TIMELINE_HEADER: Final = "| Time (UTC) | Event |\n|---|---|"
INCIDENT_SECTIONS: Final = (
    "Description", "Impact", "Root Cause", "Resolution", "Timeline", "Follow-up Actions",
    "Lessons Learned", "Related Logs",
)
TROUBLESHOOTING_SECTIONS: Final = ("Symptoms", "Diagnosis", "Workaround", "Fix")
MEMORY_SECTIONS: Final = ("Lesson", "Context")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_uid() -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits, Crockford base32."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def normalize_severity(value: str) -> str:
    """``P1`` -> ``HIGH``; canonical names pass through; anything else is an error."""
    canonical = canonical_severity(value)
    if canonical is None:
        raise LedgerError(f"severity: {value!r} is not one of {severity_help()}")
    return canonical


def id_sort_key(kind: Kind, entry_id: str) -> tuple[str, int]:
    """Order ids numerically (``TS-10000`` after ``TS-9999``), by day first for incidents."""
    match = ID_RES[kind].match(entry_id)
    if match is None:
        raise LedgerError(f"{entry_id!r} is not a valid {kind} id")
    if kind == "incident":
        return match.group(1), int(match.group(2))
    return "", int(match.group(1))


class Sections(Mapping[str, str]):
    """An immutable, ordered mapping of section heading to body (order matters for equality)."""

    __slots__ = ("_index", "_items")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs: tuple[tuple[str, str], ...] = tuple(
            items.items() if isinstance(items, Mapping) else items
        )
        self._items = pairs
        self._index: dict[str, str] = dict(pairs)
        if len(self._index) != len(pairs):
            raise LedgerError("sections: a heading appears twice")

    def __getitem__(self, key: str) -> str:
        return self._index[key]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sections):
            return self._items == other._items
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Sections({dict(self._items)!r})"

    def replace(self, heading: str, body: str) -> Sections:
        """A copy with ``heading`` set to ``body`` (appended when new)."""
        if heading not in self._index:
            return Sections((*self._items, (heading, body)))
        return Sections((k, body if k == heading else v) for k, v in self._items)


def template_sections(kind: Kind, **bodies: str) -> Sections:
    """The default sections of a new entry; keyword names use underscores (``Root_Cause``)."""
    headings = {"incident": INCIDENT_SECTIONS, "troubleshooting": TROUBLESHOOTING_SECTIONS,
                "memory": MEMORY_SECTIONS}[kind]
    given = {k.replace("_", " ").replace("Follow up", "Follow-up"): v for k, v in bodies.items()}
    unknown = set(given) - set(headings)
    if unknown:
        raise LedgerError(f"{kind}: unknown section {min(unknown)!r}")
    return Sections((h, given.get(h, _default_body(h))) for h in headings)


def _default_body(heading: str) -> str:
    return TIMELINE_HEADER if heading == "Timeline" else PLACEHOLDER


# Sections are immutable, so one default instance per kind can be shared by every entry.
_DEFAULT_SECTIONS: Final = {
    kind: template_sections(kind)
    for kind in KINDS
}


class TimelineRow(NamedTuple):
    """One row of an incident timeline; ``text`` is inline-safe markdown."""

    time: datetime
    text: str


class FollowUp(NamedTuple):
    """``- [ ] text - @owner - YYYY-MM-DD``; owner and due are optional."""

    done: bool
    text: str
    owner: str | None = None
    due: date | None = None


class Signature(NamedTuple):
    """What identifies a known problem type: an event type, a reason, a message regex."""

    event_type: str
    reason: str | None = None
    pattern: str | None = None


def span(start: datetime | None, end: datetime | None) -> timedelta | None:
    """From ``start`` to ``end``, when both are known (time to acknowledge, to resolve...)."""
    return None if start is None or end is None else end - start


class Incident(NamedTuple):
    """One incident. ``sections`` holds all prose, including unknown human sections."""

    id: str
    uid: str
    title: str
    status: str = "Investigating"
    severity: str = "MEDIUM"
    category: str = "AUTOMATION_FAILURE"
    rule: str | None = None
    dedup_key: str | None = None
    occurrences: int = 1
    events: tuple[str, ...] = ()
    environment: str | None = None
    subject: str | None = None
    impact_started: datetime | None = None
    detected: datetime | None = None
    acknowledged: datetime | None = None
    mitigated: datetime | None = None
    resolved: datetime | None = None
    review_required: bool = False
    review_scheduled: datetime | None = None
    review_done: datetime | None = None
    troubleshooting: str | None = None
    memory: tuple[str, ...] = ()
    root_cause_category: str | None = None
    # Impact, as the seeds' incident summary asks for it. ``downtime_minutes`` given by a
    # person overrides the interval computed from the times (and makes the incident count as
    # an outage, see ``agentops.report.stats.is_outage``).
    affected_services: tuple[str, ...] = ()
    user_impact: str | None = None
    scope: str | None = None
    affected_users: int | None = None
    downtime_minutes: int | None = None
    detection_method: str | None = None
    sections: Sections = _DEFAULT_SECTIONS["incident"]

    @property
    def timeline(self) -> tuple[TimelineRow, ...]:
        return parse_timeline(self.sections.get("Timeline", ""))

    @property
    def followups(self) -> tuple[FollowUp, ...]:
        return parse_followups(self.sections.get("Follow-up Actions", ""))

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return span(self.detected, self.acknowledged)

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return span(self.detected, self.mitigated)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return span(self.detected, self.resolved)

    @property
    def impact_duration(self) -> timedelta | None:
        """Downtime: from impact start (or detection) to mitigation (or resolution)."""
        return span(self.impact_started or self.detected, self.mitigated or self.resolved)


class TroubleshootingEntry(NamedTuple):
    """A known problem type: how to recognise it and what to do about it.

    ``problem`` is the policy's key for the problem type (what a rule's ``problem`` template
    renders), so that state rebuilt from the ledger knows which types are documented.
    """

    id: str
    uid: str
    title: str
    category: str
    signature: Signature
    problem: str | None = None
    occurrences: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    incidents: tuple[str, ...] = ()
    sections: Sections = _DEFAULT_SECTIONS["troubleshooting"]


class MemoryEntry(NamedTuple):
    """A lesson for agents, with the incidents that taught it."""

    id: str
    uid: str
    title: str
    status: str = "active"
    seen: int = 1
    first_seen: datetime | None = None
    last_validated: datetime | None = None
    evidence: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    superseded_by: str | None = None
    sections: Sections = _DEFAULT_SECTIONS["memory"]


Entry: TypeAlias = Incident | TroubleshootingEntry | MemoryEntry

# --- the two structured sections ------------------------------------------------------------

_FOLLOWUP_RE = re.compile(r"^- \[([ xX])\] (.*)$")
_DUE_RE = re.compile(r" - (\d{4}-\d{2}-\d{2})$")
_OWNER_RE = re.compile(r" - @(\S+)$")


def timeline_row(when: datetime, text: str) -> str:
    """The markdown line of a timeline row."""
    return f"| {format_time(when)} | {text} |"


def parse_timeline_row(line: str) -> TimelineRow | None:
    """A row written by :func:`timeline_row`; None for header, separator or foreign rows."""
    if not (line.startswith("| ") and line.endswith(" |")):
        return None
    time_text, sep, rest = line[2:].partition(" | ")
    if not sep or " " in time_text or not rest.endswith("|"):
        return None
    try:
        when = parse_time(time_text)
    except AgentopsError:
        return None
    return TimelineRow(when, rest[:-2] if rest.endswith(" |") else "")


def parse_timeline(body: str) -> tuple[TimelineRow, ...]:
    rows = (parse_timeline_row(line) for line in body.split("\n"))
    return tuple(row for row in rows if row is not None)


def followup_line(item: FollowUp) -> str:
    line = f"- [{'x' if item.done else ' '}] {item.text}"
    if item.owner:
        line += f" - @{item.owner}"
    if item.due:
        line += f" - {item.due.isoformat()}"
    return line


def parse_followup(line: str) -> FollowUp | None:
    match = _FOLLOWUP_RE.match(line)
    if match is None:
        return None
    text, due, owner = match.group(2), None, None
    if (m := _DUE_RE.search(text)) is not None:
        try:
            due = date.fromisoformat(m.group(1))
            text = text[: m.start()]
        except ValueError:
            pass
    if (m := _OWNER_RE.search(text)) is not None:
        owner, text = m.group(1), text[: m.start()]
    return FollowUp(match.group(1) != " ", text, owner, due)


def parse_followups(body: str) -> tuple[FollowUp, ...]:
    items = (parse_followup(line) for line in body.split("\n"))
    return tuple(item for item in items if item is not None)
