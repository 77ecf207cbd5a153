"""``agentops incident ack|update|resolve|followup|review``: the writes of the lifecycle.

Every write is the same shape: take the repository lock (``pipeline.transaction``), find the
entry, check the move with :mod:`agentops.lifecycle`, edit only the tool's own metadata lines
plus one timeline row (``update_fields``, ``append_timeline``: human prose and comment lines
stay byte for byte), and make exactly one commit. A check that fails raises before anything is
written, so HEAD and the work tree stay as they were. The post-incident writes of ``resolve``
(lessons, troubleshooting) are in :mod:`agentops.commands.postincident`; the read-only views
(list, show, announce) in :mod:`agentops.commands.incident_view`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from agentops import git
from agentops import lifecycle as lc
from agentops.commands.incident_edit import Change, Edit
from agentops.events import format_time, parse_time, to_precision, utcnow
from agentops.ledger import format as fmt
from agentops.ledger.model import INCIDENT_ID_RE, Incident
from agentops.paths import find_repo
from agentops.pipeline import Context, commit_changes, journal_operation, publish, transaction
from agentops.policy.engine import OpenIncident

Step = Callable[[Edit], None]


class Op(NamedTuple):
    """A lifecycle write as an operation: its journal name, the arguments that redo it, and
    the replay's options (the original key; no push from inside a replay)."""

    name: str
    args: dict[str, Any]
    key: str | None = None
    push: bool = True


def write(repo: Path | None, inc_id: str, *, action: str, actor: str | None,
          now: datetime | None, step: Step, op: Op) -> Change:
    """Run one lifecycle step on one incident under the lock, journal it as an operation and
    commit both; then push when the repository pushes."""
    when = to_precision(now or utcnow())  # the precision of every recorded time
    root = find_repo(repo)
    with git.locked(root):
        with transaction(root, now=when) as ctx:
            edit = Edit(ctx, *_load(ctx, inc_id))
            step(edit)
            ctx.ledger.replace("incident", inc_id, edit.text)
            if ctx.policy.notifications is not None:
                _announce(ctx, edit, action)
            status = fmt.parse_incident(edit.text).status
            journal_operation(ctx, op.name, {"id": inc_id, "uid": edit.inc.uid, **op.args},
                              actor=actor, key=op.key,
                              outcome={"status": status, "fields": _plain(edit.fields)})
            sha = commit_changes(ctx, subject=f"agentops: {action} {inc_id}",
                                 body=_body(edit.fields),
                                 trailers=[("Agentops-Incident", inc_id)],
                                 actor=actor.lstrip("@") if actor else None)
            config = ctx.config
        if op.push and config.push:
            publish(root, config)
    return Change(inc_id, action, status, sha, edit.fields, edit.extra)


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: format_time(v) if isinstance(v, datetime) else v for k, v in fields.items()}


def _args(impact: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Impact fields as the journal keeps them (JSON), for a replay to pass back."""
    return {k: format_time(v) if isinstance(v, datetime) else v
            for k, v in impact.items()} if impact else None


def load_entry(ctx: Context, inc_id: str) -> tuple[Incident, str]:
    """One incident of INCIDENTS.md and its entry text, inside a transaction."""
    return _load(ctx, inc_id)


def _announce(ctx: Context, edit: Edit, action: str) -> None:
    """Queue what the policy's routes say this write announces, in the same commit."""
    from agentops.notify.outbox import from_lifecycle

    assert ctx.policy.notifications is not None
    ctx.outbox_lines += from_lifecycle(edit.inc, fmt.parse_incident(edit.text), action=action,
                                       notifications=ctx.policy.notifications, now=ctx.now)


def load_in(ctx: Context, inc_id: str) -> Incident:
    """The incident as the locked context sees it; IncidentNotFoundError when absent."""
    return _load(ctx, inc_id)[0]


def _load(ctx: Context, inc_id: str) -> tuple[Incident, str]:
    if INCIDENT_ID_RE.match(inc_id) is None:
        raise lc.IncidentNotFoundError(f"{inc_id!r} is not an incident id "
                                       "(like INC-2026-11-24-001)")
    if ctx.ledger.locate("incident", inc_id) is None:  # INCIDENTS.md or its archive file
        raise lc.IncidentNotFoundError(f"{inc_id} not found in INCIDENTS.md or its archive")
    text = ctx.ledger.entry("incident", inc_id)
    return fmt.parse_incident(text), text


def _body(fields: dict[str, Any]) -> str:
    return "\n".join(f"- {k}: {format_time(v) if isinstance(v, datetime) else v}"
                     for k, v in fields.items())


def _by(actor: str | None, note: str | None) -> str:
    return (f" by {actor}" if actor else "") + (f": {note}" if note else "")


# --- ack and update --------------------------------------------------------------------------


def ack(repo: Path | None, inc_id: str, *, time: str | None, note: str | None,
        actor: str | None, now: datetime | None = None,
        impact: Mapping[str, Any] | None = None, key: str | None = None,
        push: bool = True) -> Change:
    def step(e: Edit) -> None:
        when = lc.parse_when(time, now=e.ctx.now)
        if e.inc.acknowledged is not None:
            raise lc.LifecycleError(
                f"{inc_id}: already acknowledged at {format_time(e.inc.acknowledged)}")
        lc.check_times(inc_id, lc.times_of(e.inc), {"acknowledged": when})
        e.set(acknowledged=when)
        e.row(when, "Acknowledged" + _by(actor, note))
        e.impact(impact, when)

    return write(repo, inc_id, action="ack", actor=actor, now=now, step=step,
                 op=Op("incident.ack", {"time": time, "note": note, "impact": _args(impact)},
                       key, push))


def update(repo: Path | None, inc_id: str, *, status: str, note: str | None, time: str | None,
           actor: str | None = None, now: datetime | None = None,
           impact: Mapping[str, Any] | None = None, key: str | None = None,
           push: bool = True) -> Change:
    new = lc.normalize_status(status)
    if new == lc.RESOLVED:
        return resolve(repo, inc_id, time=time, actor=actor, note=note, now=now, impact=impact,
                       key=key, push=push)

    def step(e: Edit) -> None:
        when = lc.parse_when(time, now=e.ctx.now)
        move = lc.transition(inc_id, e.inc.status, new)
        if move == "reopen":
            _reopen(e, when, note, actor)
        elif move == "same" and not note:
            if not e.impact(impact, when):
                raise lc.LifecycleError(f"{inc_id}: already {new}; give --note to post an "
                                        "update (or an impact field that changes)")
            return
        else:
            _advance(e, new, when, note, actor)
        e.impact(impact, when)

    return write(repo, inc_id, action="update", actor=actor, now=now, step=step,
                 op=Op("incident.update", {"status": status, "note": note, "time": time,
                                           "impact": _args(impact)}, key, push))


def _advance(e: Edit, new: str, when: datetime, note: str | None, actor: str | None) -> None:
    lc.check_not_before(e.inc.id, "update", when, "detected", e.inc.detected)
    if new == lc.MONITORING and e.inc.mitigated is None:
        lc.check_times(e.inc.id, lc.times_of(e.inc), {"mitigated": when})
        e.set(mitigated=when)
    if new != e.inc.status:
        e.set(status=new)
        e.row(when, f"Status {e.inc.status} -> {new}" + _by(actor, note))
    else:
        e.row(when, f"Update ({new})" + _by(actor, note))


def _reopen(e: Edit, when: datetime, note: str | None, actor: str | None) -> None:
    lc.check_not_before(e.inc.id, "reopen", when, "resolved", e.inc.resolved)
    e.set(status=lc.INVESTIGATING, resolved=None)
    e.row(when, "Reopened" + _by(actor, note))
    key = e.inc.dedup_key
    if key and e.inc.detected is not None:
        e.ctx.store.reopen(OpenIncident(
            id=e.inc.id, rule=e.inc.rule or "", dedup_key=key, opened=e.inc.detected,
            last_seen=when, severity=e.inc.severity, occurrences=e.inc.occurrences))


# --- resolve ---------------------------------------------------------------------------------


def resolve(repo: Path | None, inc_id: str, *, time: str | None, actor: str | None = None,
            note: str | None = None, root_cause: str | None = None,
            resolution: str | None = None, lessons: str | None = None,
            root_cause_category: str | None = None, now: datetime | None = None,
            impact: Mapping[str, Any] | None = None, key: str | None = None,
            push: bool = True) -> Change:
    from agentops.commands import postincident as post

    def step(e: Edit) -> None:
        when = lc.parse_when(time, now=e.ctx.now)
        if e.inc.status == lc.RESOLVED:
            resolved = format_time(e.inc.resolved) if e.inc.resolved else "an unknown time"
            raise lc.LifecycleError(f"{inc_id}: already resolved at {resolved} (reopen it "
                                    "with `incident update ID --status Investigating`)")
        lc.check_times(inc_id, lc.times_of(e.inc), {"resolved": when})
        e.set(status=lc.RESOLVED, resolved=when)
        e.impact(impact, when)
        if root_cause_category:
            e.set(root_cause_category=root_cause_category.strip())
        post.fill_prose(e, root_cause=root_cause, resolution=resolution)
        post.record_lessons(e, lessons or "", when)
        post.record_problem(e, when, root_cause=root_cause, resolution=resolution)
        e.row(when, "Resolved" + _by(actor, note))
        post.close_open(e)

    args = {"time": time, "note": note, "root_cause": root_cause, "resolution": resolution,
            "lessons": lessons, "root_cause_category": root_cause_category,
            "impact": _args(impact)}
    return write(repo, inc_id, action="resolve", actor=actor, now=now, step=step,
                 op=Op("incident.resolve", args, key, push))


# --- follow-ups and reviews ------------------------------------------------------------------


def parse_due(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise lc.LifecycleError(f"--due: {value!r} is not a date like 2026-12-01") from None


def followup_add(repo: Path | None, inc_id: str, text: str, *, owner: str, due: str,
                 actor: str | None = None, now: datetime | None = None, key: str | None = None,
                 push: bool = True) -> Change:
    day = parse_due(due)

    def step(e: Edit) -> None:
        if not text.strip():
            raise lc.LifecycleError(f"{inc_id}: a follow-up needs some text")
        e.text = fmt.add_followup(e.text, e.prose(text), owner, day)
        number = len(fmt.parse_incident(e.text).followups)
        e.extra["followup"] = number
        e.row(e.ctx.now, f"Follow-up {number} added: {text} (@{owner.lstrip('@')}, due {day})")

    return write(repo, inc_id, action="followup", actor=actor, now=now, step=step,
                 op=Op("incident.followup.add", {"text": text, "owner": owner, "due": due},
                       key, push))


def followup_done(repo: Path | None, inc_id: str, number: int, *, actor: str | None = None,
                  now: datetime | None = None, key: str | None = None,
                  push: bool = True) -> Change:
    def step(e: Edit) -> None:
        items = e.inc.followups
        if not 1 <= number <= len(items):
            raise lc.LifecycleError(f"{inc_id}: no follow-up number {number} "
                                    f"(it has {len(items)})")
        if items[number - 1].done:
            raise lc.LifecycleError(f"{inc_id}: follow-up {number} is already done")
        e.text = fmt.set_followup_done(e.text, number)
        e.extra["followup"] = number
        e.row(e.ctx.now, f"Follow-up {number} done: {items[number - 1].text}" + _by(actor, None))

    return write(repo, inc_id, action="followup", actor=actor, now=now, step=step,
                 op=Op("incident.followup.done", {"number": number}, key, push))


def review_schedule(repo: Path | None, inc_id: str, *, at: str | None,
                    actor: str | None = None, now: datetime | None = None,
                    key: str | None = None, push: bool = True) -> Change:
    def step(e: Edit) -> None:
        if e.inc.review_done is not None:
            raise lc.LifecycleError(
                f"{inc_id}: review already done at {format_time(e.inc.review_done)}")
        default = lc.review_default(e.inc, review_within=e.ctx.policy.sla.review_within,
                                    now=e.ctx.now)
        when = lc.parse_when(at, now=default, option="--at")
        lc.check_not_before(inc_id, "review", when, "detected", e.inc.detected)
        e.set(review_scheduled=when)
        e.row(e.ctx.now, f"Review scheduled for {format_time(when)}" + _by(actor, None))

    return write(repo, inc_id, action="review", actor=actor, now=now, step=step,
                 op=Op("incident.review.schedule", {"at": at}, key, push))


def review_done(repo: Path | None, inc_id: str, *, time: str | None, actor: str | None = None,
                now: datetime | None = None, key: str | None = None,
                push: bool = True) -> Change:
    def step(e: Edit) -> None:
        when = lc.parse_when(time, now=e.ctx.now)
        if e.inc.review_done is not None:
            raise lc.LifecycleError(
                f"{inc_id}: review already done at {format_time(e.inc.review_done)}")
        lc.check_not_before(inc_id, "review_done", when, "detected", e.inc.detected)
        lc.check_not_before(inc_id, "review_done", when, "resolved", e.inc.resolved)
        e.set(review_done=when)
        e.row(when, "Post-incident review done" + _by(actor, None))

    return write(repo, inc_id, action="review", actor=actor, now=now, step=step,
                 op=Op("incident.review.done", {"time": time}, key, push))


# --- replay ----------------------------------------------------------------------------------

REPLAY: dict[str, Callable[..., Change]] = {
    "incident.ack": ack, "incident.update": update, "incident.resolve": resolve,
    "incident.review.schedule": review_schedule, "incident.review.done": review_done,
}


def replay_operation(tree: Path, record: dict[str, Any]) -> None:
    """Redo a journaled lifecycle write on another tip (see :mod:`agentops.push`).

    The incident is found by its stable uid, since the replay of the event that opened it may
    have given it another number. A write the new tip no longer allows (the other writer
    acknowledged or resolved it first) is journaled as skipped, with the reason, and reported.
    """
    name, args = str(record["op"]), dict(record["args"])
    inc_id, uid = args.pop("id"), args.pop("uid", None)
    inc_id = _id_of_uid(tree, uid) or inc_id
    common = {"actor": record.get("actor"), "now": parse_time(record["accepted"]),
              "key": record["key"], "push": False}
    try:
        if name == "incident.followup.add":
            followup_add(tree, inc_id, args.pop("text"), **args, **common)
        elif name == "incident.followup.done":
            followup_done(tree, inc_id, int(args["number"]), **common)
        else:
            REPLAY[name](tree, inc_id, **args, **common)
    except lc.LifecycleError as exc:
        print(f"agentops: warning: {name} {inc_id} not redone on the new tip: {exc}",
              file=sys.stderr)
        _journal_skipped(tree, record, str(exc))


def _id_of_uid(tree: Path, uid: str | None) -> str | None:
    if not uid:
        return None
    needle = f" uid={uid} -->"
    for line in (tree / "INCIDENTS.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("<!-- agentops:incident ") and line.endswith(needle):
            return line.split()[2]
    return None


def _journal_skipped(tree: Path, record: dict[str, Any], reason: str) -> None:
    with transaction(tree, now=parse_time(record["accepted"])) as ctx:
        journal_operation(ctx, str(record["op"]), dict(record["args"]),
                          actor=record.get("actor"), key=record["key"],
                          outcome={"skipped": reason})
        commit_changes(ctx, subject=f"agentops: journal {record['op']} (not redone: "
                       f"{reason[:80]})".replace("\n", " "))


# --- output ----------------------------------------------------------------------------------


def change_text(change: Change) -> str:
    commit = f" in {change.commit[:12]}" if change.commit else ""
    lines = [f"{change.id}: {change.action} ({change.status}){commit}"]
    for key, value in change.to_dict()["fields"].items():
        lines.append(f"  {key}: {value}")
    for mem in change.extra.get("memory", []):
        lines.append(f"  memory {mem['id']} ({mem['action']})")
    ts = change.extra.get("troubleshooting")
    if ts:
        lines.append(f"  troubleshooting {ts['id']} ({ts['action']})")
    return "\n".join(lines)
