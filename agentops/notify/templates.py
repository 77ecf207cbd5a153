"""The seed's status communications: acknowledgment, update and resolution, as data and text.

One template set for everything that announces: ``incident announce`` prints it, and every
queued message carries it as a snapshot taken at the moment of the transition (a message
flushed an hour later still says what was true when it was written). The chat renderers in
:mod:`agentops.notify.render` lay the same fields out as Slack blocks or an Adaptive Card.

Fields: time, severity, status, impact, what we know, what we are doing, next update in N
minutes (none once resolved).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from agentops import lifecycle as lc
from agentops.events import format_time, parse_time
from agentops.ledger.incidents import format_when
from agentops.ledger.model import PLACEHOLDER, Incident

KINDS: Final = ("ack", "update", "resolved")
HEADLINES: Final = {
    "opened": "INCIDENT OPENED", "acknowledged": "INCIDENT ACKNOWLEDGED",
    "status_changed": "INCIDENT UPDATE", "update": "INCIDENT UPDATE",
    "resolved": "INCIDENT RESOLVED", "followup_overdue": "FOLLOW-UP OVERDUE",
    "postmortem_due": "POST-MORTEM DUE",
    "ack": "INCIDENT ACKNOWLEDGED",
}
# Which of the three templates a transition uses.
TEMPLATE_OF: Final = {
    "opened": "ack", "acknowledged": "ack", "status_changed": "update", "update": "update",
    "resolved": "resolved", "followup_overdue": "update", "postmortem_due": "update",
}


def section(inc: Incident, heading: str) -> str | None:
    body = inc.sections.get(heading, "").strip()
    return None if not body or body == PLACEHOLDER else body


def announcement(inc: Incident, *, kind: str, now: datetime, headline: str | None = None,
                 cadence: timedelta | None = None, doing: str | None = None) -> dict[str, Any]:
    """The communication ``kind`` (ack, update, resolved) as data; ``text`` is the message.

    ``cadence`` is the policy's update interval for this incident when a route sets one;
    otherwise the next update is due after the lifecycle's default for the severity.
    """
    when = {"ack": inc.acknowledged, "resolved": inc.resolved}.get(kind) or now
    known = section(inc, "Root Cause") or section(inc, "Description") or "Under investigation."
    if kind == "resolved" and section(inc, "Resolution"):
        known += "\n\nResolution: " + (section(inc, "Resolution") or "")
    nxt = None if kind == "resolved" else (when + cadence if cadence else lc.next_update(
        inc.severity, when))
    data: dict[str, Any] = {
        "id": inc.id, "kind": kind, "headline": headline or HEADLINES[kind],
        "title": inc.title, "time": format_time(when), "severity": inc.severity,
        "status": inc.status, "category": inc.category, "environment": inc.environment,
        "impact": section(inc, "Impact") or "Being assessed.", "what_we_know": known,
        "what_we_are_doing": doing or _doing(inc, kind),
        "next_update": format_time(nxt) if nxt else None,
        "next_update_minutes": int((nxt - when).total_seconds() // 60) if nxt else None,
    }
    data["text"] = announcement_text(data)
    return data


def _doing(inc: Incident, kind: str) -> str:
    if kind == "resolved":
        return "Closing the incident; the post-incident review follows."
    rows = inc.timeline
    latest = rows[-1].text if rows else ""
    if len(rows) > 1 and latest:
        return latest
    return "Investigating the cause and the impact."


def announcement_text(data: dict[str, Any]) -> str:
    nxt, minutes = data["next_update"], data.get("next_update_minutes")
    when = format_when(parse_time(nxt)) if nxt else ""
    return "\n".join([
        f"[{data['headline']}] {data['id']} — {data['title']}",
        f"Time: {format_when(parse_time(data['time']))}", f"Severity: {data['severity']}",
        f"Status: {data['status']}", f"Impact: {data['impact']}",
        f"What we know: {data['what_we_know']}",
        f"What we are doing: {data['what_we_are_doing']}",
        "Next update: " + (f"in {minutes} minutes ({when})" if nxt else
                           "none planned (resolved); the post-incident review follows"),
    ])
