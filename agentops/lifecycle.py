"""The rules of the incident lifecycle, as pure functions: which status moves are allowed and
which times may be written.

They live apart from ``commands/incident.py`` so that every write (ack, update, resolve,
reviews, a backdated ``--time``) is checked by the same few lines before anything is edited,
and so that the rules can be tested without a repository. Everything here raises
:class:`LifecycleError` (exit 1) with a message naming the incident, the field and the times.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final, Literal

from agentops.errors import AgentopsError, LedgerError
from agentops.events import format_time, parse_time
from agentops.ledger.incidents import TIME_ORDER
from agentops.ledger.model import Incident
from agentops.vocabulary import STATUSES

RESOLVED: Final = "Resolved"
INVESTIGATING: Final = "Investigating"
MONITORING: Final = "Monitoring"
ORDER_TEXT: Final = " <= ".join(TIME_ORDER)

# How soon the next status update is due in an announcement, by severity.
UPDATE_CADENCE: Final[Mapping[str, timedelta]] = {
    "CRITICAL": timedelta(minutes=15), "HIGH": timedelta(minutes=30),
    "MEDIUM": timedelta(hours=1), "LOW": timedelta(hours=4),
}

Move = Literal["forward", "same", "reopen"]


class LifecycleError(LedgerError):
    """A lifecycle write that is not allowed: a bad transition, a time out of order."""


class IncidentNotFoundError(LifecycleError):
    """No incident with that id in INCIDENTS.md."""


def normalize_status(value: str) -> str:
    """``monitoring`` -> ``Monitoring``; anything else is an error listing the statuses."""
    for status in STATUSES:
        if status.casefold() == value.strip().casefold():
            return status
    raise LifecycleError(f"--status: {value!r} is not one of {', '.join(STATUSES)}")


def transition(inc_id: str, current: str, new: str) -> Move:
    """Forward moves (skipping allowed), the same status (a progress note), or a reopen."""
    if current == new:
        return "same"
    if current == RESOLVED and new == INVESTIGATING:
        return "reopen"
    if current in STATUSES and STATUSES.index(new) > STATUSES.index(current):
        return "forward"
    hint = " (reopen with --status Investigating)" if current == RESOLVED else ""
    raise LifecycleError(f"{inc_id}: cannot go from {current} to {new}: statuses only move "
                         f"forward ({' -> '.join(STATUSES)}){hint}")


def parse_when(value: str | None, *, now: datetime, option: str = "--time") -> datetime:
    """A ``--time``-style option (ISO 8601), or ``now`` when not given."""
    if value is None:
        return now
    try:
        return parse_time(value, where=option)
    except AgentopsError as exc:
        raise LifecycleError(str(exc)) from None


def times_of(inc: Incident) -> dict[str, datetime | None]:
    return {name: getattr(inc, name) for name in TIME_ORDER}


def check_times(inc_id: str, current: Mapping[str, datetime | None],
                changes: Mapping[str, datetime | None]) -> None:
    """Refuse ``changes`` that would put the incident's times out of their order."""
    merged = {**current, **changes}
    prev_name, prev = "", None
    for name in TIME_ORDER:
        value = merged.get(name)
        if value is None:
            continue
        if prev is not None and value < prev:
            raise _order_error(inc_id, (prev_name, prev), (name, value), changed=changes)
        prev_name, prev = name, value


def _order_error(inc_id: str, early: tuple[str, datetime], late: tuple[str, datetime], *,
                 changed: Mapping[str, datetime | None]) -> LifecycleError:
    (a, ta), (b, tb) = early, late
    if a in changed and b not in changed:
        what = f"{a} {format_time(ta)} would be after {b} {format_time(tb)}"
    else:
        what = f"{b} {format_time(tb)} would be before {a} {format_time(ta)}"
    return LifecycleError(f"{inc_id}: {what} (times must be in order: {ORDER_TEXT})")


def check_not_before(inc_id: str, label: str, when: datetime, ref_name: str,
                     ref: datetime | None) -> None:
    """Refuse a time (a review, a status change, a reopen) earlier than a reference time."""
    if ref is not None and when < ref:
        raise LifecycleError(f"{inc_id}: {label} {format_time(when)} would be before "
                             f"{ref_name} {format_time(ref)}")


def review_default(inc: Incident, *, review_within: timedelta, now: datetime) -> datetime:
    """Where ``review schedule`` puts the review without ``--at``: the SLA deadline, or now
    when the deadline has already passed."""
    base = inc.resolved or inc.detected or now
    return max(base + review_within, now)


def next_update(severity: str, when: datetime) -> datetime:
    """When the next communication is due after one sent at ``when``."""
    return when + UPDATE_CADENCE.get(severity, timedelta(hours=1))
