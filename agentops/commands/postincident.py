"""What ``incident resolve`` writes besides the incident itself: the post-incident record.

The requirements `agentops check` enforces (MEMORY updated with the lessons, a TROUBLESHOOTING
entry for a new problem type) are easiest to meet at the moment of resolution, when the
resolver still has the root cause in mind. Lessons go through ``LedgerWriter.add_lesson`` so a
lesson already known is counted again rather than copied; a problem type already documented
gets its occurrence counted and the incident linked. Human prose is only ever added to
(``fill_section_if_empty``), never replaced.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentops.errors import AgentopsError
from agentops.events import Event, event_from_dict
from agentops.ledger import format as fmt
from agentops.ledger.model import PLACEHOLDER, Incident, Signature
from agentops.ledger.safety import escape_block, escape_inline
from agentops.store import oplog

if TYPE_CHECKING:
    from agentops.commands.incident_edit import Edit
    from agentops.pipeline import Context


def fill_prose(e: Edit, *, root_cause: str | None, resolution: str | None) -> None:
    for heading, body in (("Root Cause", root_cause), ("Resolution", resolution)):
        if body and body.strip():
            e.text = fmt.fill_section_if_empty(e.text, heading, e.prose(body))


# --- lessons ---------------------------------------------------------------------------------


def lesson_lines(text: str) -> list[str]:
    """One lesson per line; list bullets a person typed are not part of the lesson."""
    lines = (line.strip().removeprefix("- ").removeprefix("* ").strip()
             for line in text.splitlines())
    return [line for line in lines if line]


def record_lessons(e: Edit, text: str, when: datetime) -> None:
    lines = lesson_lines(text)
    if not lines:
        return
    memory, done, bullets = list(e.inc.memory), [], []
    for line in lines:
        mem_id, action = _lesson(e, e.prose(line), when, memory)
        done.append({"id": mem_id, "action": action})
        memory += [] if mem_id in memory else [mem_id]
        bullets.append(f"- {e.prose(line)} ([{mem_id}](MEMORY.md#{mem_id.lower()}))")
    e.set(memory=memory)
    e.text = fmt.fill_section_if_empty(e.text, "Lessons Learned", "\n".join(bullets))
    e.extra["memory"] = done


def _lesson(e: Edit, line: str, when: datetime, memory: list[str]) -> tuple[str, str]:
    known = e.ctx.store.lessons.get(escape_inline(line).casefold())
    if known and known in memory:  # this incident already counted it (resolved twice)
        return known, "linked"
    inc = fmt.parse_incident(e.text)
    why = [f"{h}: {b}" for h in ("Root Cause", "Resolution") if (b := _own(inc, h))]
    return e.ctx.ledger.add_lesson(
        title=line, incident=e.inc.id, when=when, tags=[e.inc.rule] if e.inc.rule else [],
        body=f"Learned resolving {e.inc.id}." + ("\n\n" + "\n\n".join(why) if why else ""),
        context=f"Learned from {e.inc.id}: {e.inc.title}")


# --- troubleshooting -------------------------------------------------------------------------


def record_problem(e: Edit, when: datetime, *, root_cause: str | None,
                   resolution: str | None) -> None:
    """Link the incident to its problem type's TROUBLESHOOTING entry, creating it when new, and
    let the entry learn from it: root cause -> Diagnosis, resolution -> Fix, mitigation notes
    -> Workaround, each attributed to the incident, only where nobody wrote by hand.

    An incident that already names its entry was linked, and counted, when it opened (or by a
    person, or by an earlier resolve): it is never counted twice. The entry's ``incidents``
    list cannot tell, as it keeps only the latest incidents.
    """
    if e.inc.troubleshooting:
        e.extra["troubleshooting"] = {"id": e.inc.troubleshooting, "action": "known"}
    else:
        seen = e.inc.detected or when
        problem, title, signature = problem_of(e.ctx, e.inc)
        ts_id = e.ctx.store.problems.get(problem) or None
        if ts_id:
            e.ctx.ledger.link_problem(ts_id, e.inc.id, seen)
            e.set(troubleshooting=ts_id)
            e.extra["troubleshooting"] = {"id": ts_id, "action": "linked"}
        elif e.ctx.policy.sla.requirements.get("troubleshooting_for_new_problem", True):
            _new(e, problem, title, signature, seen,
                 sections={"Symptoms": escape_block(f"Seen in {e.inc.id}: {e.inc.title}")})
        else:
            return
    _learn(e)


def _learn(e: Edit) -> None:
    ts_id = e.extra["troubleshooting"]["id"]
    inc = fmt.parse_incident(e.text)
    taught = {heading: body for heading, body in (
        ("Diagnosis", _own(inc, "Root Cause")), ("Workaround", mitigation_notes(inc)),
        ("Fix", _own(inc, "Resolution"))) if body}
    try:
        filled = e.ctx.ledger.fill_problem(ts_id, e.inc.id, taught) if taught else []
    except AgentopsError:
        return  # the entry was removed by hand: the link stays, nothing to fill
    if filled:
        e.extra["troubleshooting"]["filled"] = filled


def _own(inc: Incident, heading: str) -> str:
    body = inc.sections.get(heading, "").strip()
    return "" if body == PLACEHOLDER else body


_MITIGATED_RE = re.compile(r"(?:-> Monitoring|^Update \(Monitoring\))(?: by [^:]+)?: (.+)$")


def mitigation_notes(inc: Incident) -> str:
    """The notes people gave when they moved the incident to Monitoring (what stopped the
    bleeding), one per line."""
    notes = [m.group(1).strip() for row in inc.timeline
             if (m := _MITIGATED_RE.search(row.text)) is not None]
    return "\n".join(dict.fromkeys(n for n in notes if n))


def _new(e: Edit, problem: str, title: str, signature: Signature, when: datetime, *,
         sections: dict[str, str]) -> None:
    ts_id = e.ctx.ledger.new_troubleshooting(
        problem=problem, title=title, category=e.inc.category, signature=signature,
        when=when, incident=e.inc.id, sections=sections)
    e.set(troubleshooting=ts_id)
    e.extra["troubleshooting"] = {"id": ts_id, "action": "new"}


def problem_of(ctx: Context, inc: Incident) -> tuple[str, str, Signature]:
    """The policy's problem key for the incident (its rule's problem signature of the first
    event), a readable title, and the signature a TROUBLESHOOTING entry should carry."""
    from agentops.policy.engine import problem_signature

    trigger = next((t for t in ctx.policy.triggers if t.name == inc.rule), None)
    event = first_event(ctx, inc.events[0]) if inc.events else None
    if trigger is not None and event is not None:
        sig = problem_signature(trigger, event, title=inc.title)
        return sig.key, sig.title, Signature(event.type, sig.reason, sig.pattern)
    problem = f"{inc.category}/{inc.rule or 'manual'}"
    if event is not None:
        reason = event.attributes.get("reason")
        return problem, inc.title, Signature(event.type, str(reason) if reason else None)
    types = trigger.types if trigger is not None else ()
    return problem, inc.title, Signature(types[0] if types else inc.rule or "manual")


def first_event(ctx: Context, event_id: str) -> Event | None:
    record: dict[str, Any]
    for record in oplog.read(ctx.repo):
        if record.get("id") == event_id:
            try:
                return event_from_dict(record["event"])
            except (AgentopsError, KeyError, TypeError):
                return None
    return None


def close_open(e: Edit) -> None:
    """Forget the incident as open for its dedup key, so the next event opens a new one."""
    if e.inc.dedup_key:
        e.ctx.store.forget_open(e.inc.dedup_key, e.inc.id)
