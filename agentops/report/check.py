"""The post-incident requirements and SLAs that ``agentops check`` enforces in CI.

Pure logic: incidents, the policy's SLA and a time in; findings out. Each finding names the
incident, the requirement (the names below, stable for scripts), what is missing and the
deadline it missed. Each requirement can be switched off with its flag under
``requirements:`` in the policy (a flag that is absent counts as on); open incidents past
their MTTR target are always reported.

- ``documented`` (documented_within_24h): Description or Impact still a placeholder
  after ``sla.document_within`` from detection;
- ``root_cause`` (documented_within_24h): resolved, Root Cause or Resolution still a
  placeholder after ``sla.root_cause_within`` from resolution;
- ``troubleshooting`` (troubleshooting_for_new_problem): resolved without a TROUBLESHOOTING
  link after ``sla.document_within`` from resolution;
- ``memory`` (memory_lessons): resolved without a MEMORY lesson linked, same deadline;
- ``followup_owner``, ``followup_due``, ``followup_overdue`` (followups_have_owner_and_due):
  an open follow-up without an owner or a due date (at once), or past the end of its due day;
- ``review_scheduled``, ``review_done`` (review_for_high_critical): an incident of
  ``sla.review_severities`` (or with ``review_required``) with no review scheduled by
  detected + ``review_within`` or scheduled later than that, or not done by scheduled +
  ``review_within``;
- ``postmortem``, ``postmortem_review`` (postmortem_for_high_critical): a resolved incident
  of ``sla.review_severities`` (or with ``review_required``) without ``postmortems/<ID>.md``
  by resolved + ``sla.postmortem_within``, or whose post-mortem is not Reviewed by that
  deadline + ``review_within``; action items people wrote in the post-mortem are checked like
  follow-ups (``followup_*``). Once a post-mortem exists it stands for the review: the
  ``review_*`` requirements give way to ``postmortem_review``;
- ``mttr`` (always on): still open after detected + the severity's MTTR target.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from agentops.events import format_time
from agentops.ledger.incidents import format_duration
from agentops.ledger.model import PLACEHOLDER, FollowUp, Incident
from agentops.policy.model import Sla
from agentops.report.postmortem import Postmortem, path_of

FLAGS: Final = {
    "documented": "documented_within_24h", "root_cause": "documented_within_24h",
    "troubleshooting": "troubleshooting_for_new_problem", "memory": "memory_lessons",
    "followup_owner": "followups_have_owner_and_due",
    "followup_due": "followups_have_owner_and_due",
    "followup_overdue": "followups_have_owner_and_due",
    "review_scheduled": "review_for_high_critical", "review_done": "review_for_high_critical",
    "postmortem": "postmortem_for_high_critical",
    "postmortem_review": "postmortem_for_high_critical",
}


@dataclass(frozen=True, slots=True)
class Finding:
    incident: str
    requirement: str
    message: str
    deadline: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"incident": self.incident, "requirement": self.requirement,
                "message": self.message,
                "deadline": format_time(self.deadline) if self.deadline else None}


def check(incidents: Iterable[Incident], *, sla: Sla, now: datetime,
          postmortems: Mapping[str, Postmortem] | None = None) -> list[Finding]:
    """Every unmet requirement, incident by incident (in the order given), enabled flags only.
    ``postmortems`` are the documents found, by incident id."""
    found = postmortems or {}
    return [f for inc in incidents for f in _findings(inc, sla, now, found.get(inc.id))
            if sla.requirements.get(FLAGS.get(f.requirement, ""), True)]


def _findings(inc: Incident, sla: Sla, now: datetime,
              doc: Postmortem | None) -> Iterator[Finding]:
    detected = inc.detected or inc.impact_started
    if detected is not None:
        yield from _documentation(inc, sla, now, detected)
        if doc is None:  # a post-mortem under way is the review (checked as postmortem_review)
            yield from _review(inc, sla, now, detected)
        yield from _mttr(inc, sla, now, detected)
    if inc.resolved is not None:
        yield from _after_resolution(inc, sla, now, inc.resolved)
        yield from _postmortem(inc, sla, now, inc.resolved, doc)
    yield from _followups(inc, now)
    if doc is not None:
        yield from _items(inc.id, doc.followups, now, label="post-mortem action")


def _postmortem(inc: Incident, sla: Sla, now: datetime, resolved: datetime,
                doc: Postmortem | None) -> Iterator[Finding]:
    if not (inc.review_required or inc.severity in sla.review_severities):
        return
    deadline = resolved + sla.postmortem_within
    if doc is None:
        yield from _late(inc, "postmortem", f"{inc.severity} incident has no post-mortem "
                         f"({path_of(inc.id)}) within {_span(sla.postmortem_within)} of "
                         f"resolution (write it with `agentops postmortem {inc.id}`)",
                         deadline, now)
    elif doc.meta.status != "Reviewed":
        yield from _late(inc, "postmortem_review", f"post-mortem is {doc.meta.status}, not "
                         f"Reviewed within {_span(sla.review_within)} of its deadline "
                         f"(`agentops postmortem {inc.id} --status reviewed`)",
                         deadline + sla.review_within, now)


def _unwritten(inc: Incident, heading: str) -> bool:
    return inc.sections.get(heading, "").strip() in ("", PLACEHOLDER)


def _late(inc: Incident, requirement: str, message: str, deadline: datetime,
          now: datetime) -> Iterator[Finding]:
    if now > deadline:
        yield Finding(inc.id, requirement, message, deadline)


def _documentation(inc: Incident, sla: Sla, now: datetime,
                   detected: datetime) -> Iterator[Finding]:
    missing = [h for h in ("Description", "Impact") if _unwritten(inc, h)]
    if missing:
        yield from _late(inc, "documented", f"{' and '.join(missing)} not written within "
                         f"{_span(sla.document_within)} of detection",
                         detected + sla.document_within, now)


def _after_resolution(inc: Incident, sla: Sla, now: datetime,
                      resolved: datetime) -> Iterator[Finding]:
    missing = [h for h in ("Root Cause", "Resolution") if _unwritten(inc, h)]
    if missing:
        yield from _late(inc, "root_cause", f"resolved, but {' and '.join(missing)} not written "
                         f"within {_span(sla.root_cause_within)}",
                         resolved + sla.root_cause_within, now)
    deadline = resolved + sla.document_within
    if not inc.troubleshooting:
        yield from _late(inc, "troubleshooting", "resolved without a TROUBLESHOOTING entry "
                         "(link one with `troubleshooting: TS-NNNN`)", deadline, now)
    if not inc.memory:
        yield from _late(inc, "memory", "resolved without lessons in MEMORY "
                         "(link them with `memory: [MEM-NNNN]`)", deadline, now)


def _followups(inc: Incident, now: datetime) -> Iterator[Finding]:
    yield from _items(inc.id, inc.followups, now, label="follow-up")


def _items(inc_id: str, items: tuple[FollowUp, ...], now: datetime, *,
           label: str) -> Iterator[Finding]:
    for n, item in enumerate(items, start=1):
        if item.done:
            continue
        what = f"{label} {n} ({item.text[:60]})"
        if not item.owner:
            yield Finding(inc_id, "followup_owner", f"{what} has no owner (- @name)", None)
        if item.due is None:
            yield Finding(inc_id, "followup_due", f"{what} has no due date (- YYYY-MM-DD)", None)
        elif now >= (end := datetime.combine(item.due, time(), UTC) + timedelta(days=1)):
            yield Finding(inc_id, "followup_overdue", f"{what} was due {item.due}", end)


def _review(inc: Incident, sla: Sla, now: datetime, detected: datetime) -> Iterator[Finding]:
    needed = inc.review_required or inc.severity in sla.review_severities
    if not needed or inc.review_done is not None:
        return
    if inc.review_scheduled is None:
        yield from _late(inc, "review_scheduled", f"{inc.severity} incident has no review "
                         f"scheduled within {_span(sla.review_within)} of detection",
                         detected + sla.review_within, now)
        return
    deadline = detected + sla.review_within
    if inc.review_scheduled > deadline:
        yield Finding(inc.id, "review_scheduled", f"review scheduled for "
                      f"{format_time(inc.review_scheduled)}, later than "
                      f"{_span(sla.review_within)} after detection", deadline)
    yield from _late(inc, "review_done", f"review scheduled {format_time(inc.review_scheduled)} "
                     "is not marked done", inc.review_scheduled + sla.review_within, now)


def _mttr(inc: Incident, sla: Sla, now: datetime, detected: datetime) -> Iterator[Finding]:
    target = sla.mttr.get(inc.severity)
    if inc.resolved is None and target is not None:
        yield from _late(inc, "mttr", f"{inc.severity} incident still {inc.status} past its "
                         f"MTTR target of {_span(target)}", detected + target, now)


def _span(value: timedelta) -> str:
    """``24h`` rather than ``1d 0h``: SLA spans read as they are written in the policy."""
    hours, rest = divmod(int(value.total_seconds()), 3600)
    return f"{hours}h" if hours and not rest else format_duration(value)


def to_text(findings: list[Finding]) -> str:
    if not findings:
        return "ok: every incident meets the post-incident requirements"
    lines = [f"{f.incident}: {f.requirement}: {f.message}"
             + (f" (deadline {format_time(f.deadline)})" if f.deadline else "")
             for f in findings]
    incidents = len({f.incident for f in findings})
    return "\n".join(lines) + f"\n{len(findings)} finding(s) in {incidents} incident(s)"
