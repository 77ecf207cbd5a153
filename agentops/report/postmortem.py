"""Post-mortem documents (``postmortems/<ID>.md``): rendered from an incident, merged on re-run.

The seeds ask for a post-mortem within 48 hours of a HIGH or CRITICAL incident, with the
incident summary's structure and the runbook's review questions. Most of it is prose people
write in the review, so the document is split in two kinds of text:

- **derived regions**, between ``<!-- agentops:postmortem:begin NAME -->`` and its end marker:
  the metadata (status, reviewers), the facts table, the timeline, the action items (the
  incident's follow-ups) and the links to TROUBLESHOOTING and MEMORY. They are rendered from
  the incident every time and replaced on each run;
- **everything else**, which is a person's: pre-filled once from the incident (root cause,
  resolution, lessons, the review questions) and never touched again. A region a person
  deleted stays deleted.

Pure functions: an incident and the current text in, the new text out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from agentops.errors import AgentopsError
from agentops.events import format_time, parse_time
from agentops.ledger.incidents import format_duration, format_when
from agentops.ledger.markdown import load_meta, yaml_scalar
from agentops.ledger.model import PLACEHOLDER, FollowUp, Incident, parse_followups

DIRECTORY: Final = "postmortems"
TEMPLATES: Final = ("seeds", "google-sre")
STATUSES: Final = ("Draft", "In review", "Reviewed")
_REGION_RE: Final = re.compile(
    r"<!-- agentops:postmortem:begin (?P<name>[a-z-]+) -->\n(?P<body>.*?)"
    r"<!-- agentops:postmortem:end (?P=name) -->\n", re.S)
_META_RE: Final = re.compile(r"```yaml\n(.*?)```", re.S)


class PostmortemError(AgentopsError):
    """A post-mortem that cannot be written or read as asked (bad status, broken metadata)."""


def path_of(inc_id: str) -> str:
    """The repository-relative path of an incident's post-mortem."""
    return f"{DIRECTORY}/{inc_id}.md"


def normalize_status(value: str) -> str:
    """``in-review``, ``in review``, ``REVIEWED`` -> the canonical status."""
    wanted = value.strip().replace("-", " ").replace("_", " ").casefold()
    for status in STATUSES:
        if status.casefold() == wanted:
            return status
    raise PostmortemError(f"--status: {value!r} is not one of {', '.join(STATUSES)} "
                          "(draft, in-review, reviewed)")


@dataclass(frozen=True, slots=True)
class Meta:
    """What the metadata region of a post-mortem says."""

    incident: str
    template: str
    status: str = "Draft"
    reviewers: tuple[str, ...] = ()
    written: datetime | None = None
    in_review: datetime | None = None
    reviewed: datetime | None = None

    def lines(self) -> list[str]:
        values = {"incident": self.incident, "template": self.template, "status": self.status,
                  "reviewers": list(self.reviewers), "written": self.written,
                  "in_review": self.in_review, "reviewed": self.reviewed}
        return [f"{k}: {yaml_scalar(v)}" for k, v in values.items()]


@dataclass(frozen=True, slots=True)
class Postmortem:
    """A post-mortem as ``check`` and ``report`` read it."""

    meta: Meta
    text: str
    followups: tuple[FollowUp, ...] = field(default=())  # written by people, outside regions


# --- reading ---------------------------------------------------------------------------------


def regions(text: str) -> dict[str, str]:
    """The derived regions of a document, by name."""
    return {m.group("name"): m.group("body") for m in _REGION_RE.finditer(text)}


def human_text(text: str) -> str:
    """The document without its derived regions: what people wrote (and the pre-filled parts)."""
    return _REGION_RE.sub("", text)


def parse(text: str, *, where: str) -> Postmortem:
    """A post-mortem file; PostmortemError naming ``where`` when its metadata is broken."""
    body = regions(text).get("meta")
    block = _META_RE.search(body or "")
    if block is None:
        raise PostmortemError(f"{where}: no agentops metadata region (```yaml block)")
    try:
        data = load_meta(block.group(1), where)
        times = {k: parse_time(data[k], where=f"{where}: {k}") if data.get(k) else None
                 for k in ("written", "in_review", "reviewed")}
        meta = Meta(incident=str(data["incident"]), template=str(data.get("template", "seeds")),
                    status=normalize_status(str(data.get("status", "Draft"))),
                    reviewers=tuple(str(r) for r in data.get("reviewers") or ()), **times)
    except (KeyError, TypeError) as exc:
        raise PostmortemError(f"{where}: metadata.{exc}: missing or malformed") from None
    return Postmortem(meta, text, parse_followups(human_text(text)))


# --- rendering -------------------------------------------------------------------------------


def _section(inc: Incident, heading: str) -> str | None:
    body = inc.sections.get(heading, "").strip()
    return None if not body or body == PLACEHOLDER else body


_LEDGER_LINK_RE: Final = re.compile(r"\]\((INCIDENTS|TROUBLESHOOTING|MEMORY)\.md")


def _prefill(inc: Incident, heading: str, hint: str) -> str:
    """An incident section as it stands, its ledger links made relative to postmortems/."""
    body = _section(inc, heading) or (_impact_text(inc) if heading == "Impact" else None)
    return _LEDGER_LINK_RE.sub(r"](../\1.md", body) if body else f"_{hint}_"


def _impact_text(inc: Incident) -> str | None:
    """The impact fields in a sentence, for an Impact section nobody has written yet."""
    parts = []
    if inc.affected_users is not None:
        parts.append(f"{inc.affected_users} users affected")
    if inc.affected_services:
        parts.append(f"services: {', '.join(inc.affected_services)}")
    if inc.scope:
        parts.append(f"scope: {inc.scope}")
    text = "; ".join(parts)
    if inc.user_impact:
        text = f"{inc.user_impact} ({text})" if text else inc.user_impact
    return text + "." if text else None


def _region(name: str, body: str) -> str:
    return (f"<!-- agentops:postmortem:begin {name} -->\n{body.rstrip()}\n"
            f"<!-- agentops:postmortem:end {name} -->\n")


def _meta_region(meta: Meta) -> str:
    return _region("meta", "```yaml\n" + "\n".join(meta.lines()) + "\n```")


def _facts(inc: Incident, meta: Meta) -> str:
    duration = inc.time_to_resolve
    impact = inc.impact_duration
    rows = [
        ("Status", meta.status + (f" (reviewers: {', '.join('@' + r for r in meta.reviewers)})"
                                  if meta.reviewers else "")),
        ("Severity", inc.severity), ("Category", inc.category),
        ("Incident status", inc.status),
        ("Detected", format_when(inc.detected)), ("Resolved", format_when(inc.resolved)),
        ("Duration", format_duration(duration) if duration else "—"),
        ("Downtime", f"{inc.downtime_minutes} min (given)" if inc.downtime_minutes is not None
         else format_duration(impact) if impact else "—"),
        ("Affected services", ", ".join(inc.affected_services) or "—"),
        ("Affected users", str(inc.affected_users) if inc.affected_users is not None else "—"),
        ("User impact", inc.user_impact or "—"), ("Scope", inc.scope or "—"),
        ("Detection", inc.detection_method or "—"),
        ("Environment", inc.environment or "—"),
    ]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v.replace('|', '/')} |" for k, v in rows)


def _timeline(inc: Incident) -> str:
    rows = [f"| {format_time(r.time)} | {r.text} |" for r in inc.timeline]
    return "| Time (UTC) | Event |\n|---|---|\n" + ("\n".join(rows) or "| — | — |")


def _actions(inc: Incident, *, google: bool) -> str:
    if not inc.followups:
        return "_No follow-up actions on the incident yet (`agentops incident followup ID add`)._"
    head = ("| Action item | Type | Owner | Due | Status |" if google
            else "| # | Action | Owner | Due | Status |") + "\n|---|---|---|---|---|"
    rows = []
    for n, f in enumerate(inc.followups, start=1):
        text = f.text.replace("|", "/")
        first, second = (text, "—") if google else (str(n), text)
        rows.append(f"| {first} | {second} | {'@' + f.owner if f.owner else '—'} | "
                    f"{f.due or '—'} | {'done' if f.done else 'open'} |")
    return head + "\n" + "\n".join(rows)


def _links(inc: Incident) -> str:
    lines = [f"- Incident: [{inc.id}](../INCIDENTS.md#{inc.id.lower()})"]
    if inc.troubleshooting:
        lines.append(f"- Known problem: [{inc.troubleshooting}](../TROUBLESHOOTING.md#"
                     f"{inc.troubleshooting.lower()})")
    lines += [f"- Lesson: [{m}](../MEMORY.md#{m.lower()})" for m in inc.memory]
    return "\n".join(lines)


def derived(inc: Incident, meta: Meta) -> dict[str, str]:
    """The body of each derived region, freshly rendered."""
    google = meta.template == "google-sre"
    return {"meta": "```yaml\n" + "\n".join(meta.lines()) + "\n```",
            "facts": _facts(inc, meta), "timeline": _timeline(inc),
            "actions": _actions(inc, google=google), "links": _links(inc)}


_QUESTIONS: Final = (
    ("What happened?", "Description"), ("What was the impact?", "Impact"),
    ("What was the root cause?", "Root Cause"), ("What went well?", None),
    ("What went wrong, or could be improved?", None), ("Where did we get lucky?", None),
    ("Action items", None),
)


def _seeds(inc: Incident, parts: dict[str, str]) -> Iterator[str]:
    yield "## Summary\n\n"
    yield _region("facts", parts["facts"])
    yield "\n" + _prefill(inc, "Description", "One paragraph: what happened, to whom, for how "
                          "long.") + "\n\n"
    yield "## Impact\n\n" + _prefill(inc, "Impact", "Who was affected and how.") + "\n\n"
    yield "## Timeline\n\n" + _region("timeline", parts["timeline"])
    yield "\n## Details and Root Cause\n\n" + _prefill(inc, "Root Cause",
                                                      "The root cause, and why.") + "\n\n"
    yield "## Resolution and Recovery\n\n" + _prefill(inc, "Resolution",
                                                      "What fixed it, how service came back.")
    yield "\n\n## Lessons Learned\n\n" + _prefill(inc, "Lessons Learned", "What we learned.")
    yield "\n\n## Preventative Measures\n\n_What will stop it happening again._\n\n"
    yield "## Action Items and Owners\n\n" + _region("actions", parts["actions"])
    yield ("\nMore action items written here (`- [ ] action - @owner - YYYY-MM-DD`) are "
           "checked by `agentops check` like the incident's follow-ups.\n\n")
    yield "## Related Entries\n\n" + _region("links", parts["links"])
    yield "\n## Post-mortem Review\n\n"
    for question, heading in _QUESTIONS:
        answer = (_prefill(inc, heading, "To be answered in the review.") if heading
                  else "_To be answered in the review._")
        yield f"### {question}\n\n{answer}\n\n"


def _google(inc: Incident, parts: dict[str, str]) -> Iterator[str]:
    yield "## Summary\n\n" + _region("facts", parts["facts"])
    yield "\n" + _prefill(inc, "Description", "Summary of the incident.") + "\n\n"
    yield "## Impact\n\n" + _prefill(inc, "Impact", "Impact on users and revenue.") + "\n\n"
    yield "## Root Causes\n\n" + _prefill(inc, "Root Cause", "Root causes.") + "\n\n"
    yield "## Trigger\n\n_What set it off._\n\n"
    yield "## Resolution\n\n" + _prefill(inc, "Resolution", "What mitigated and fixed it.")
    yield "\n\n## Detection\n\n" + (inc.detection_method or "_How we found out._") + "\n\n"
    yield "## Action Items\n\n" + _region("actions", parts["actions"])
    yield ("\nMore action items written here (`- [ ] action - @owner - YYYY-MM-DD`) are "
           "checked by `agentops check` like the incident's follow-ups.\n\n")
    yield "## Lessons Learned\n\n"
    yield "### What went well\n\n_To be answered in the review._\n\n"
    yield "### What went wrong\n\n_To be answered in the review._\n\n"
    yield "### Where we got lucky\n\n_To be answered in the review._\n\n"
    yield "## Timeline\n\n" + _region("timeline", parts["timeline"])
    yield "\n## Supporting Information\n\n" + _region("links", parts["links"]) + "\n"


def render(inc: Incident, meta: Meta) -> str:
    """A new post-mortem document for ``inc`` from ``meta.template``."""
    if meta.template not in TEMPLATES:
        raise PostmortemError(f"template {meta.template!r} is not one of {', '.join(TEMPLATES)}")
    parts = derived(inc, meta)
    body = _google(inc, parts) if meta.template == "google-sre" else _seeds(inc, parts)
    head = (f"# Post-mortem: {inc.id} — {inc.title}\n\n"
            "<!-- Written by `agentops postmortem`. Text between agentops:postmortem markers is "
            "regenerated from the incident; everything else is yours and is never rewritten. "
            "-->\n" + _meta_region(meta) + "\n")
    return (head + "".join(body)).rstrip("\n") + "\n"


def refresh(text: str, inc: Incident, meta: Meta) -> str:
    """``text`` with every derived region it still has re-rendered; the rest byte for byte."""
    parts = derived(inc, meta)

    def swap(match: re.Match[str]) -> str:
        name = match.group("name")
        return _region(name, parts[name]) if name in parts else match.group(0)

    return _REGION_RE.sub(swap, text)
