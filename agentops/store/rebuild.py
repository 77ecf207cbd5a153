"""Rebuild the derived state from what is committed: the ledger files and the journal.

Open incidents, id sequences, known problem types and lessons come from the ledger (people may
have resolved or renumbered entries by hand); seen idempotency keys and the counters behind
thresholds and aggregates come from replaying the journal. Only the events inside the longest
window of any trigger can still count, so older ones are skipped for the replay.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import yaml

from agentops.errors import AgentopsError
from agentops.events import event_from_dict, format_time, parse_time
from agentops.ledger import format as fmt
from agentops.ledger.model import (
    INCIDENT_ID_RE,
    MEM_ID_RE,
    TS_ID_RE,
    MemoryEntry,
    TroubleshootingEntry,
)
from agentops.policy.engine import OpenIncident, observe
from agentops.policy.model import Policy
from agentops.store import journal
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
    """Id sequences and open incidents from every incident file, by a compact scan: the marker
    lines give the ids, and only entries whose status is not Resolved have their few metadata
    lines read (a fresh clone of a repository with ten thousand incidents must not parse them
    all before its first ``record``). An entry the scan cannot read is parsed in full."""
    highest: dict[str, int] = {}
    for path in incident_files(repo):
        text = path.read_text(encoding="utf-8")
        for m in _INC_MARKER_RE.finditer(text):
            day, number = m.group(1), int(m.group(2))
            if number > highest.get(day, 0):
                highest[day] = number
        for m in _OPEN_STATUS_RE.finditer(text):
            begin = text.rfind("\n" + _INC_BEGIN, 0, m.start()) + 1
            end = text.find("\n" + _INC_END, m.end())
            if begin <= 0 or end < 0:
                continue  # a status line outside an entry: lint reports it
            inc = _open_incident(text[begin:end])
            if inc is not None:
                current = store.open.get(inc.dedup_key)
                if current is None or _newer(inc.id, current.id):
                    store.open[inc.dedup_key] = inc
    for day, number in highest.items():
        store.bump(f"INC-{day}", number)
    if highest:
        day = max(highest)
        store.set_meta("last_incident", f"INC-{day}-{highest[day]:03d}")


_INC_BEGIN = "<!-- agentops:incident "
_INC_END = "<!-- /agentops:incident "
_INC_MARKER_RE = re.compile(r"^<!-- agentops:incident INC-(\d{4}-\d{2}-\d{2})-(\d{3,}) uid=",
                            re.MULTILINE)
_OPEN_STATUS_RE = re.compile(r"^status: (?!Resolved$)\S+$", re.MULTILINE)
_META_RE = re.compile(r"^(id|rule|dedup_key|detected|severity|occurrences): (.*)$",
                      re.MULTILINE)
_ROW_TIME_RE = re.compile(r"^\| (\d{4}-\d{2}-\d{2}T[^ |]+) \|", re.MULTILINE)


def _newer(a: str, b: str) -> bool:
    ma, mb = INCIDENT_ID_RE.match(a), INCIDENT_ID_RE.match(b)
    if ma is None or mb is None:
        return False
    return (ma.group(1), int(ma.group(2))) > (mb.group(1), int(mb.group(2)))


def _open_incident(entry: str) -> OpenIncident | None:
    """The engine's view of one open incident, from its metadata lines and timeline times."""
    meta_start = entry.find("\n```yaml\n")
    meta_end = entry.find("\n```\n", meta_start + 1)
    fields: dict[str, object] = {}
    try:
        for m in _META_RE.finditer(entry, meta_start, meta_end):
            fields[m.group(1)] = _scalar(m.group(2))
        detected = parse_time(str(fields["detected"]))
        times = [detected, *(parse_time(t) for t in _ROW_TIME_RE.findall(entry, meta_end))]
        key, occurrences = fields.get("dedup_key"), fields.get("occurrences") or 1
        if key is None:
            return None
        if not isinstance(key, str) or not isinstance(occurrences, int):
            raise ValueError(key)
        return OpenIncident(id=str(fields["id"]), rule=str(fields.get("rule") or ""),
                            dedup_key=key, opened=detected, last_seen=max(times),
                            severity=str(fields.get("severity")), occurrences=occurrences)
    except (KeyError, ValueError, AgentopsError):
        inc = fmt.parse_incident(_whole(entry))
        if inc.status == "Resolved" or not inc.dedup_key or not inc.detected:
            return None
        return OpenIncident(
            id=inc.id, rule=inc.rule or "", dedup_key=inc.dedup_key, opened=inc.detected,
            last_seen=max([inc.detected, *(r.time for r in inc.timeline)]),
            severity=inc.severity, occurrences=inc.occurrences)


def _whole(entry: str) -> str:
    """The entry text with its end marker (the scan cut just before it)."""
    entry_id = entry.split(" ", 3)[2]
    return f"{entry}\n{_INC_END}{entry_id} -->\n"


def _scalar(raw: str) -> object:
    """A metadata value as the tool writes it; anything else goes to YAML."""
    if raw == "null":
        return None
    if raw.startswith('"') and "\\" not in raw:
        return json.loads(raw)
    if _INT_RE.fullmatch(raw):
        return int(raw)
    if raw[:1] in "'[{&*!|>%@`" or ": " in raw or " #" in raw:
        value = yaml.safe_load(raw)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError(raw)
        return value
    return raw


_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")


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
    """Seen keys from every journal line, read by a regex and stored as a pointer to the line
    (decoded only if that key comes back); the counters from replaying, in full, only the
    records accepted within the longest trigger window (plus a day of slack for clocks)."""
    longest = _longest_window(policy)
    seen: list[tuple[str, str]] = []
    lines: list[tuple[str, bytes]] = []  # (accepted, line), for the replay
    for rel, offset, line in journal.scan(repo):
        m = _HEAD_RE.match(line)
        if m is not None and b"\\" not in m.group(1):
            key, accepted = m.group(1).decode(), m.group(2).decode()
        else:
            record = json.loads(line)
            key, accepted = record["key"], str(record.get("accepted", ""))
        seen.append((key, json.dumps({"at": [rel, offset]})))
        lines.append((accepted, line))
    store.seen_pointers(seen)
    if not lines or longest is None:
        return
    floor = max(a for a, _ in lines)
    if floor:
        floor = format_time(parse_time(floor) - longest - timedelta(days=1))
    records = [json.loads(line) for accepted, line in lines if not floor or accepted >= floor]
    times = [parse_time(r["event"]["time"]) for r in records if "time" in r.get("event", {})]
    if not times:
        return
    since = max(times) - longest
    for record in records:
        try:
            event = event_from_dict(record["event"])
        except AgentopsError:
            continue
        if event.time > since:
            observe(policy, store.state, event, ())


_HEAD_RE = re.compile(rb'\{"id":(?:"[^"\\]*"|null),"key":"([^"]*)","accepted":"([^"\\]*)"')


def _longest_window(policy: Policy) -> timedelta | None:
    windows = [t.threshold.within for t in policy.triggers if t.threshold]
    windows += [t.aggregate.within for t in policy.triggers if t.aggregate]
    return max(windows) if windows else None
