"""Reminders that time alone makes due: the update cadence, overdue follow-ups, post-mortems.

No ledger change announces these, so they are derived by the sender from the committed
incidents and the clock, each with a key fixed by its slot: the n-th update of an incident
(``<uid>/update/slot-<n>``), its i-th follow-up (``<uid>/followup_overdue/<i>``), its review
(``<uid>/postmortem_due/1``). The delivery store remembers every key, so each is sent once;
only the current slot is ever made, and nothing older than ``give_up_after`` (a sender that
was down for a day does not post a day of missed updates).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

from agentops.ledger import format as fmt
from agentops.ledger.model import Incident
from agentops.notify.outbox import Message, message
from agentops.policy.model import Policy
from agentops.policy.notifications import Notifications

RESOLVED = "Resolved"


def parse_incidents(text: str) -> list[Incident]:
    return [i for i in fmt.parse_file("incident", text).parsed() if isinstance(i, Incident)]


def reminders(incidents: list[Incident], *, policy: Policy, notifications: Notifications,
              now: datetime) -> Iterator[Message]:
    horizon = notifications.settings.give_up_after
    wanted = {t for r in notifications.routes for t in r.transitions}
    for inc in incidents:
        if "update" in wanted and inc.status != RESOLVED:
            yield from _cadence(inc, notifications, now, horizon)
        if "followup_overdue" in wanted:
            yield from _followups(inc, notifications, now, horizon)
        if "postmortem_due" in wanted:
            yield from _review(inc, policy, notifications, now, horizon)


def _cadence(inc: Incident, notes: Notifications, now: datetime,
             horizon: timedelta) -> Iterator[Message]:
    every = notes.cadence(severity=inc.severity, category=inc.category,
                          environment=inc.environment)
    if every is None or inc.detected is None or now < inc.detected + every:
        return
    slot = int((now - inc.detected) / every)
    if now - (inc.detected + slot * every) > horizon:
        return
    msg = message(inc, transition="update", sequence=slot, notifications=notes, now=now)
    if msg is not None:
        yield msg._replace(key=f"{inc.uid}/update/slot-{slot}")


def _followups(inc: Incident, notes: Notifications, now: datetime,
               horizon: timedelta) -> Iterator[Message]:
    for number, item in enumerate(inc.followups, start=1):
        if item.done or item.due is None:
            continue
        overdue = datetime.combine(item.due + timedelta(days=1), time(), tzinfo=UTC)
        if not overdue <= now <= overdue + horizon:
            continue
        owner = f" (@{item.owner})" if item.owner else ""
        msg = message(inc, transition="followup_overdue", sequence=number, notifications=notes,
                      now=now, doing=f"Follow-up {number} is overdue since {item.due}: "
                      f"{item.text}{owner}")
        if msg is not None:
            yield msg


def _review(inc: Incident, policy: Policy, notes: Notifications, now: datetime,
            horizon: timedelta) -> Iterator[Message]:
    sla = policy.sla
    needs = inc.review_required or inc.severity in sla.review_severities
    base = inc.resolved or inc.detected
    if not needs or inc.review_done is not None or base is None:
        return
    due_at = inc.review_scheduled or base + sla.review_within
    if not due_at <= now <= due_at + horizon:
        return
    msg = message(inc, transition="postmortem_due", sequence=1, notifications=notes, now=now,
                  doing=f"The post-incident review is due ({due_at:%Y-%m-%d %H:%M} UTC).")
    if msg is not None:
        yield msg
