"""``agentops incident list|show|announce``: read-only views of INCIDENTS.md.

These read the committed file as it stands, without the repository lock (a reader never waits
for a writer and never writes), and print what an agent or an incident commander needs: a
filtered list, one entry as data plus its markdown, or the text of a status communication.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from agentops import fsutil, git
from agentops import lifecycle as lc
from agentops.errors import RepoError
from agentops.events import format_time
from agentops.ledger import format as fmt
from agentops.ledger.incidents import IncidentLine, format_when
from agentops.ledger.model import INCIDENT_ID_RE, Incident, normalize_severity
from agentops.ledger.schemas import entry_to_dict
from agentops.paths import find_repo
from agentops.store import entries
from agentops.vocabulary import IMPACT_FIELDS


def _incidents_text(repo: Path | None) -> str:
    path = find_repo(repo) / "INCIDENTS.md"
    if not path.exists():
        raise RepoError(f"{path.parent} has no INCIDENTS.md; run `agentops init` first")
    return fsutil.read_text(path)


def load(repo: Path | None, inc_id: str) -> tuple[Incident, str]:
    """One incident and its entry text; IncidentNotFoundError when there is none."""
    _incidents_text(repo)  # a clear error outside an agentops repository
    root = find_repo(repo)
    rel = entries.locate_incident(root, inc_id) if INCIDENT_ID_RE.match(inc_id) else None
    span = fmt.find_entry("incident", fsutil.read_text(root / rel), inc_id) if rel else None
    if rel is None or span is None:
        raise lc.IncidentNotFoundError(f"{inc_id} not found in INCIDENTS.md or its archive")
    entry = fsutil.read_text(root / rel)[span[0]:span[1]]
    return fmt.parse_incident(entry), entry


# --- list ------------------------------------------------------------------------------------


def list_incidents(repo: Path | None, *, status: str | None = None,
                   severity: str | None = None,
                   since: str | None = None) -> list[IncidentLine]:
    """Incidents newest first, filtered; ``--status open`` means anything not Resolved."""
    wanted = None if status is None or status.casefold() == "open" else lc.normalize_status(status)
    sev = normalize_severity(severity) if severity else None
    start = parse_since(since) if since else None
    out = []
    _incidents_text(repo)
    root = find_repo(repo)
    def keep(text: str) -> bool:  # a cheap first cut by the status line; parsed below
        found = entries.status_line(text)
        if not status or found is None or not found.isalpha():
            return True  # quoted or missing: the parsed entry decides
        return found == wanted if wanted else found != lc.RESOLVED

    for inc in entries.incident_lines(root, keep, gitdir=git.common_dir(root)):
        if status and (inc.status != wanted if wanted else inc.status == lc.RESOLVED):
            continue
        if (sev and inc.severity != sev) or (start and (not inc.detected or inc.detected < start)):
            continue
        out.append(inc)
    return out


def parse_since(value: str) -> datetime:
    """``--since``: a day (``2026-11-01``, midnight UTC) or a full ISO 8601 time."""
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        return lc.parse_when(value, now=datetime.now(UTC), option="--since")


def brief(inc: IncidentLine) -> dict[str, Any]:
    """One incident's line as data: its metadata and spans, no prose, no timeline (built
    field by field: ten thousand of them in an alert storm)."""
    return {"id": inc.id, "title": inc.title, "status": inc.status, "severity": inc.severity,
            "category": inc.category, "detected": _time(inc.detected),
            "acknowledged": _time(inc.acknowledged), "mitigated": _time(inc.mitigated),
            "resolved": _time(inc.resolved), "time_to_acknowledge": _span(inc.time_to_acknowledge),
            "time_to_resolve": _span(inc.time_to_resolve), "troubleshooting": inc.troubleshooting,
            "memory": list(inc.memory)}


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _span(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def list_text(incidents: list[IncidentLine]) -> str:
    if not incidents:
        return "no incidents"
    return "\n".join(f"{i.id}  {i.severity:<8}  {i.status:<13}  {format_when(i.detected)}  "
                     f"{i.title}" for i in incidents)


# --- show ------------------------------------------------------------------------------------


def show_data(inc: Incident, entry: str) -> dict[str, Any]:
    return {**entry_to_dict(inc), "markdown": entry}


def show_text(inc: Incident) -> str:
    lines = [f"{inc.id} — {inc.title}", fmt.incident_summary(inc), ""]
    for name, value in lc.times_of(inc).items():
        lines.append(f"{name + ':':<16} {format_time(value) if value else '-'}")
    for name in IMPACT_FIELDS:
        value = getattr(inc, name)
        if value not in (None, ()):
            shown = ", ".join(value) if isinstance(value, tuple) else value
            lines.append(f"{name + ':':<16} {shown}")
    lines += [f"{'troubleshooting:':<16} {inc.troubleshooting or '-'}",
              f"{'memory:':<16} {', '.join(inc.memory) or '-'}", "", "Timeline:"]
    lines += [f"  {format_time(r.time)}  {r.text}" for r in inc.timeline]
    if inc.followups:
        lines.append("Follow-ups:")
        lines += [f"  {n}. [{'x' if f.done else ' '}] {f.text}"
                  + (f" - @{f.owner}" if f.owner else "") + (f" - {f.due}" if f.due else "")
                  for n, f in enumerate(inc.followups, start=1)]
    return "\n".join(lines)


# --- announce --------------------------------------------------------------------------------


def announce(inc: Incident, *, kind: str, now: datetime) -> dict[str, Any]:
    """The communication for ``kind`` (ack, update, resolved) as data; ``text`` is the message.

    The templates live in :mod:`agentops.notify.templates`, shared with the messages queued
    for Slack, Teams and webhooks.
    """
    from agentops.notify.templates import announcement

    return announcement(inc, kind=kind, now=now)
