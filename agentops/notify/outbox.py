"""The outbox: every announcement a transition calls for, committed with the transition itself.

A message is a JSON line in ``.agentops/outbox/YYYY-MM.jsonl``, appended by the same batch
(the same pending note, the same fsync, the same commit) as the ledger edit it announces. So
a crash leaves both or neither: a transition is never announced without having happened, and
never happens without its announcement queued. Being committed, the outbox also travels with
a push: an agent in a short-lived container records, pushes and exits, and the sender running
next to the central clone sends.

Each message has an idempotency key, ``<incident uid>/<transition>/<sequence>`` (the sequence
is the incident's timeline length after the change, or a time slot for derived reminders), so
a retried ``record`` (answered from the journal, never re-applied) and a replayed push write
the same key, and the sender delivers each key once per channel.

Message bodies are snapshots rendered by :mod:`agentops.notify.templates` from the entry as
written (already escaped and redacted); rendering for Slack or Teams happens when sending.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from agentops.events import format_time
from agentops.ledger import format as fmt
from agentops.ledger.model import Incident
from agentops.notify.templates import HEADLINES, TEMPLATE_OF, announcement
from agentops.policy.notifications import Notifications, Target

OUTBOX_DIR = ".agentops/outbox"


class Message(NamedTuple):
    key: str  # <uid>/<transition>/<sequence>: one transition, announced once
    incident: str
    transition: str
    targets: tuple[Target, ...]
    created: str
    body: dict[str, Any]

    def encode(self) -> bytes:
        record = {"key": self.key, "incident": self.incident, "transition": self.transition,
                  "targets": [list(t) for t in self.targets], "created": self.created,
                  "body": self.body}
        return (json.dumps(record, separators=(",", ":"), ensure_ascii=False)
                + "\n").encode("utf-8")


def decode(record: dict[str, Any]) -> Message:
    return Message(
        key=str(record["key"]), incident=str(record["incident"]),
        transition=str(record["transition"]),
        targets=tuple(Target(str(c), m) for c, m in record["targets"]),
        created=str(record["created"]), body=dict(record["body"]))


def outbox_path(when: datetime) -> str:
    """The repository-relative outbox file for messages created at ``when``."""
    return f"{OUTBOX_DIR}/{when:%Y-%m}.jsonl"


def message(inc: Incident, *, transition: str, sequence: int, notifications: Notifications,
            now: datetime, kind: str | None = None, doing: str | None = None,
            name: str | None = None) -> Message | None:
    """The message ``transition`` calls for, or None when no route wants it."""
    targets = notifications.targets(transition=transition, severity=inc.severity,
                                    category=inc.category, environment=inc.environment)
    if not targets:
        return None
    cadence = notifications.cadence(severity=inc.severity, category=inc.category,
                                    environment=inc.environment)
    at = inc.detected if transition == "opened" and inc.detected else now
    body = announcement(inc, kind=kind or TEMPLATE_OF[transition], now=at, cadence=cadence,
                        headline=HEADLINES[transition], doing=doing)
    name = name or (transition if kind is None else f"announce-{kind}")
    return Message(key=f"{inc.uid}/{name}/{sequence}", incident=inc.id, transition=transition,
                   targets=targets, created=format_time(now), body=body)


# --- what the writers call ---------------------------------------------------------------------

_PIPELINE_TRANSITIONS = {"open": "opened", "resolve": "resolved"}


def from_pipeline(incidents_text: str, touched: Iterable[tuple[str, str]], *,
                  notifications: Notifications, now: datetime) -> list[bytes]:
    """Lines for the incidents one event opened or resolved (``touched`` from the writer)."""
    lines = []
    for inc_id, action in touched:
        transition = _PIPELINE_TRANSITIONS.get(action)
        if transition is None:
            continue  # a recurrence is not news
        inc = _parse(incidents_text, inc_id)
        if inc is None:
            continue
        sequence = 1 if transition == "opened" else len(inc.timeline)
        msg = message(inc, transition=transition, sequence=sequence,
                      notifications=notifications, now=now)
        if msg is not None:
            lines.append(msg.encode())
    return lines


def from_lifecycle(before: Incident, after: Incident, *, action: str,
                   notifications: Notifications, now: datetime) -> list[bytes]:
    """Lines for one lifecycle write (``incident ack|update|resolve``)."""
    transitions = []
    if before.acknowledged is None and after.acknowledged is not None:
        transitions.append("acknowledged")
    if after.status != before.status:
        transitions.append("resolved" if after.status == "Resolved" else "status_changed")
    elif action == "update":
        transitions.append("update")  # a progress note on the same status
    sequence = len(after.timeline)
    found = (message(after, transition=t, sequence=sequence, notifications=notifications,
                     now=now) for t in transitions)
    return [m.encode() for m in found if m is not None]


def _parse(text: str, inc_id: str) -> Incident | None:
    span = fmt.find_entry("incident", text, inc_id)
    return fmt.parse_incident(text[span[0]:span[1]]) if span else None


# --- what the sender reads -------------------------------------------------------------------


def read_lines(data: bytes, *, where: str) -> Iterator[Message]:
    """Messages in one outbox file's committed bytes; a line that is not a message is skipped
    (and reported by ``agentops lint``), so one bad line cannot stop the rest."""
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            yield decode(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue


def keys_in(repo: Path) -> set[str]:
    """Every key already in the work tree's outbox files (to refuse queuing one twice)."""
    folder = repo / OUTBOX_DIR
    out: set[str] = set()
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        out.update(m.key for m in read_lines(path.read_bytes(), where=str(path)))
    return out
