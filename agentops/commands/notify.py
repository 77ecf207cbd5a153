"""``agentops notify flush|status|retry`` and ``incident announce --send``.

``flush`` is the sender for setups without ``serve`` or ``watch`` (a cron job, a CI step after
the agents pushed): one pass over the committed outbox, optionally waiting for retries.
``status`` shows this clone's delivery store; ``retry`` puts parked messages back. ``announce
--send`` queues one of the seed's communications for the incident's routes, committed like
every other outbox line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentops import durations, git
from agentops.errors import AgentopsError
from agentops.paths import find_repo
from agentops.report.check import Finding


class NothingToSend(AgentopsError):
    """``announce --send`` for an incident no route wants that message for."""


def flush(*, repo: Path | None, wait: str | None) -> dict[str, Any]:
    from agentops.notify.sender import Sender

    root = git.find_root(find_repo(repo))
    seconds = durations.parse_for(wait) if wait else 0.0
    return Sender(root).flush(wait=seconds).to_dict()


def flush_text(result: dict[str, Any]) -> str:
    lines = [f"queued {result['queued']}, sent {result['sent']}, retried {result['retried']}, "
             f"parked {result['parked']}; {result['pending']} pending"]
    lines += [f"  {e}" for e in result["errors"]]
    return "\n".join(lines)


def status(*, repo: Path | None) -> dict[str, Any]:
    from agentops.notify.store import EXPIRED, PARKED, PENDING, Deliveries, store_path

    path = store_path(git.common_dir(find_repo(repo)))
    if not path.exists():
        return {"counts": {}, "messages": []}
    store = Deliveries(path)
    try:
        return {"counts": store.counts(),
                "messages": [d.to_dict() for d in store.listing((PENDING, PARKED, EXPIRED))]}
    finally:
        store.close()


def status_text(result: dict[str, Any]) -> str:
    if not result["counts"]:
        return "no deliveries yet in this clone (run `agentops notify flush`)"
    counts = ", ".join(f"{n} {state}" for state, n in result["counts"].items())
    lines = [counts]
    for m in result["messages"]:
        error = f": {m['last_error']}" if m["last_error"] else ""
        lines.append(f"  {m['state']:<8} {m['key']} -> {m['channel']} "
                     f"({m['attempts']} attempts){error}")
    return "\n".join(lines)


def retry(*, repo: Path | None, key: str | None) -> dict[str, Any]:
    from agentops.notify.store import Deliveries, store_path

    store = Deliveries(store_path(git.common_dir(find_repo(repo))))
    try:
        return {"requeued": store.retry_parked(key)}
    finally:
        store.close()


def parked_findings(root: Path) -> list[Finding]:
    """Parked deliveries as ``check`` findings (requirement ``notification``)."""
    from agentops.notify.store import PARKED, Deliveries, store_path

    path = store_path(git.common_dir(root))
    if not path.exists():
        return []
    store = Deliveries(path)
    try:
        parked = store.listing((PARKED,))
    finally:
        store.close()
    return [Finding(d.incident, "notification",
                    f"{d.transition} message to channel {d.channel} parked after "
                    f"{d.attempts} attempts: {d.last_error} (`agentops notify retry`)", None)
            for d in parked]


def announce_send(repo: Path | None, inc_id: str, *, kind: str,
                  now: datetime | None = None) -> dict[str, Any]:
    """Queue the ``kind`` communication for the incident's routes, in one commit."""
    from agentops.commands.incident import load_in
    from agentops.notify.outbox import keys_in, message
    from agentops.pipeline import commit_changes, transaction

    transition = {"ack": "acknowledged", "update": "update", "resolved": "resolved"}[kind]
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    with transaction(find_repo(repo), now=when) as ctx:
        inc = load_in(ctx, inc_id)
        notes = ctx.policy.notifications
        msg = message(inc, transition=transition, sequence=len(inc.timeline), kind=kind,
                      notifications=notes, now=when) if notes else None
        if msg is None:
            raise NothingToSend(f"{inc_id}: no route sends {transition} messages for a "
                                f"{inc.severity} {inc.category} incident"
                                f"{' in ' + inc.environment if inc.environment else ''}")
        if msg.key in keys_in(ctx.repo):
            return {**msg.body, "queued": False, "key": msg.key, "commit": None,
                    "channels": [t.channel for t in msg.targets]}
        ctx.outbox_lines.append(msg.encode())
        sha = commit_changes(ctx, subject=f"agentops: announce {kind} {inc_id}",
                             trailers=[("Agentops-Incident", inc_id)])
    return {**msg.body, "queued": True, "key": msg.key, "commit": sha,
            "channels": [t.channel for t in msg.targets]}
