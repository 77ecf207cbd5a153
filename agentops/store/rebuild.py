"""Rebuild the derived state from what is committed: the ledger files and the journal.

Open incidents, id sequences, known problem types and lessons come from the ledger (people may
have resolved or renumbered entries by hand); seen idempotency keys and the counters behind
thresholds and aggregates come from replaying the journal. Only the events inside the longest
window of any trigger can still count, so older ones are skipped for the replay.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from agentops.errors import AgentopsError
from agentops.events import event_from_dict, parse_time
from agentops.ledger import format as fmt
from agentops.ledger.model import (
    INCIDENT_ID_RE,
    MEM_ID_RE,
    TS_ID_RE,
    Incident,
    MemoryEntry,
    TroubleshootingEntry,
)
from agentops.policy.engine import RESOLVE, Decision, OpenIncident, observe, remember_resolution
from agentops.policy.model import Policy
from agentops.store import oplog
from agentops.store.entries import incident_files
from agentops.store.state import Store
from agentops.store.writer import FILES
from agentops.vocabulary import LEDGER_KINDS


def rebuild(repo: Path, store: Store, policy: Policy) -> None:
    store.clear()
    _incidents(repo, store)
    _troubleshooting(repo, store)
    _memory(repo, store)
    _journal(repo, store, policy)


def _entries(repo: Path, kind: str) -> list[object]:
    text = (repo / FILES[kind]).read_text(encoding="utf-8")
    return list(fmt.parse_file(kind, text).parsed())  # type: ignore[arg-type]


def _incidents(repo: Path, store: Store) -> None:
    newest: tuple[str, int] | None = None
    entries = _entries(repo, "incident")
    for path in incident_files(repo)[1:]:  # archives: resolved, but their ids are taken
        entries += fmt.parse_file("incident", path.read_text(encoding="utf-8")).parsed()
    for inc in entries:
        assert isinstance(inc, Incident)
        m = INCIDENT_ID_RE.match(inc.id)
        if m:
            store.bump(f"INC-{m.group(1)}", int(m.group(2)))
            if newest is None or (m.group(1), int(m.group(2))) > newest:
                newest = (m.group(1), int(m.group(2)))
                store.set_meta("last_incident", inc.id)
        if inc.status != "Resolved" and inc.dedup_key and inc.detected:
            store.open[inc.dedup_key] = OpenIncident(
                id=inc.id, rule=inc.rule or "", dedup_key=inc.dedup_key, opened=inc.detected,
                last_seen=max([inc.detected, *(r.time for r in inc.timeline)]),
                severity=inc.severity, occurrences=inc.occurrences,
            )


def _troubleshooting(repo: Path, store: Store) -> None:
    for ts in _entries(repo, "troubleshooting"):
        assert isinstance(ts, TroubleshootingEntry)
        m = TS_ID_RE.match(ts.id)
        if m:
            store.bump(LEDGER_KINDS["troubleshooting"].id_prefix, int(m.group(1)))
        store.problems[ts.problem or ts.title] = ts.id


def _memory(repo: Path, store: Store) -> None:
    for mem in _entries(repo, "memory"):
        assert isinstance(mem, MemoryEntry)
        m = MEM_ID_RE.match(mem.id)
        if m:
            store.bump(LEDGER_KINDS["memory"].id_prefix, int(m.group(1)))
        if mem.status == "active":
            store.lessons[mem.title.casefold()] = mem.id


def _journal(repo: Path, store: Store, policy: Policy) -> None:
    records = list(oplog.read(repo))
    for record in records:
        store.seen[record["key"]] = {"event_id": record.get("id"),
                                     "outcome": record.get("outcome", _empty(record))}
    if not records:
        return
    records = [r for r in records if isinstance(r.get("event"), dict)]  # not operations
    longest = _longest_window(policy)
    since = None
    if longest is not None:
        times = [parse_time(r["event"]["time"]) for r in records if "time" in r.get("event", {})]
        since = max(times) - longest if times else None
    for record in records:
        etype = record.get("event", {}).get("type")
        resolving = isinstance(etype, str) and bool(policy.index_for(etype).resolving)
        if since is None and not resolving:
            continue
        try:
            event = event_from_dict(record["event"])
        except AgentopsError:
            continue
        if since is not None and event.time > since:
            observe(policy, store.state, event, ())
        if resolving:
            # Every resolution counts, however old: a late firing must find it.
            remember_resolution(policy, store.state, event, _decisions(record))


def _decisions(record: dict[str, Any]) -> list[Decision]:
    out = []
    for d in record.get("decisions") or ():
        if isinstance(d, dict) and d.get("action") == RESOLVE:
            out.append(Decision(RESOLVE, dedup_key=d.get("dedup_key"), incident=d.get("incident")))
    return out


def _longest_window(policy: Policy) -> timedelta | None:
    windows = [t.threshold.within for t in policy.triggers if t.threshold]
    windows += [t.aggregate.within for t in policy.triggers if t.aggregate]
    return max(windows) if windows else None


def _empty(record: dict[str, object]) -> dict[str, object]:
    return {"event_id": record.get("id"), "matched": [], "incidents": [],
            "troubleshooting": [], "memory": []}
