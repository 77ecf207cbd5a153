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
from typing import Any

from agentops.errors import AgentopsError
from agentops.events import event_from_dict, event_from_journal, format_time, parse_time
from agentops.ledger import format as fmt
from agentops.ledger.archive import ARCHIVE_DIR, name_order
from agentops.ledger.model import (
    INCIDENT_ID_RE,
    MEM_ID_RE,
    TS_ID_RE,
    MemoryEntry,
    TroubleshootingEntry,
)
from agentops.policy.engine import (
    OPEN,
    RECUR,
    RESOLVE,
    Decision,
    State,
    link_subject,
    observe,
    remember_resolution,
)
from agentops.policy.model import Policy
from agentops.store import journal, oplog, scan
from agentops.store.entries import incident_files
from agentops.store.state import Store
from agentops.store.writer import FILES
from agentops.vocabulary import LEDGER_KINDS


def rebuild(repo: Path, store: Store, policy: Policy) -> None:
    store.clear()
    open_ids = _incidents(repo, store)
    _troubleshooting(repo, store)
    _memory(repo, store)
    _journal(repo, store, policy)
    ref_records = _journal_ref(repo, store, policy)
    _subjects(repo, store, policy, open_ids, ref_records)


def _entries(repo: Path, kind: str) -> list[object]:
    text = (repo / FILES[kind]).read_text(encoding="utf-8")
    return list(fmt.parse_file(kind, text).parsed())  # type: ignore[arg-type]


def _incidents(repo: Path, store: Store) -> dict[str, str]:
    """Id sequences and open incidents from every incident file, by a compact scan: the marker
    lines give the ids, and only entries whose status is not Resolved have their few metadata
    lines read (a fresh clone of a repository with ten thousand incidents must not parse them
    all before its first ``record``). An entry the scan cannot read is parsed in full."""
    highest: dict[str, int] = {}
    open_ids: dict[str, str] = {}  # dedup key -> the newest open incident holding it
    for path in incident_files(repo):
        text = path.read_text(encoding="utf-8")
        # An archive file of the new layout holds one day, newest first: its first marker has
        # the day's highest number there. Other files (INCIDENTS.md, monthly archives) are
        # read marker by marker.
        archived = path.parent.name == ARCHIVE_DIR and len(name_order(path.name)) >= 3
        markers = _INC_MARKER_RE.finditer(text)
        for m in [next(markers, None)] if archived else markers:
            if m is not None and int(m.group(2)) > highest.get(m.group(1), 0):
                highest[m.group(1)] = int(m.group(2))
        _open_of(text, open_ids)
    store.open_pointers(open_ids)
    for day, number in highest.items():
        store.bump(f"INC-{day}", number)
    if highest:
        day = max(highest)
        store.set_meta("last_incident", f"INC-{day}-{highest[day]:03d}")
    return open_ids


def _open_of(text: str, open_ids: dict[str, str]) -> None:
    """Add the open incidents of one file to ``open_ids`` (dedup key -> newest id). The
    metadata lines as the tool writes them are matched in one regex pass; a file where that
    finds fewer open entries than it has open status lines (a hand-edited block) is read
    entry by entry."""
    strict = []
    pos = text.find(_META_START)
    while pos >= 0:  # str.find skips ahead far faster than a multi-line regex scans
        m = _OPEN_META_RE.match(text, pos + len(_META_START) - 4)
        if m is not None and m.group(2) != "Resolved":
            strict.append((m.group(1), m.group(3)))
        pos = text.find(_META_START, pos + 1)
    found = [(i, scan.plain(key)) for i, key in strict if key != "null"]
    statuses = text.count("\nstatus: ") - text.count("\nstatus: Resolved\n")
    if len(strict) < statuses:
        found = []
        for m in _OPEN_STATUS_RE.finditer(text):
            begin = text.rfind("\n" + _INC_BEGIN, 0, m.start()) + 1
            end = text.find("\n" + _INC_END, m.end())
            if begin <= 0 or end < 0:
                continue  # a status line outside an entry: lint reports it
            inc_id = text[begin:text.index(" ", begin + len(_INC_BEGIN))].split(" ")[-1]
            found.append((inc_id, scan.dedup_key(text, m.end(), end)))
    for inc_id, key in found:
        if key is not None and (key not in open_ids or _newer(inc_id, open_ids[key])):
            open_ids[key] = inc_id


_META_START = "\n```yaml\nid: "
_OPEN_META_RE = re.compile(r"id: (\S+)\nuid: \S+\nstatus: (\S+)\nseverity: .*\n"
                           r"category: .*\nrule: .*\ndedup_key: (.*)$", re.MULTILINE)
_INC_BEGIN = "<!-- agentops:incident "
_INC_END = "<!-- /agentops:incident "
_INC_MARKER_RE = re.compile(r"^<!-- agentops:incident INC-(\d{4}-\d{2}-\d{2})-(\d{3,}) uid=",
                            re.MULTILINE)
_OPEN_STATUS_RE = re.compile(r"^status: (?!Resolved$)\S+$", re.MULTILINE)


def _newer(a: str, b: str) -> bool:
    ma, mb = INCIDENT_ID_RE.match(a), INCIDENT_ID_RE.match(b)
    if ma is None or mb is None:
        return False
    return (ma.group(1), int(ma.group(2))) > (mb.group(1), int(mb.group(2)))


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
    (decoded only if that key comes back). Only the records the state needs are decoded: those
    that feed a threshold or aggregate (or reset one), accepted within the longest trigger
    window plus a day of slack for clocks, and every resolution, however old (a late firing
    must find it)."""
    longest = _longest_window(policy)
    seen: list[tuple[str, str]] = []
    wanted: list[tuple[journal.Head, bool, bool]] = []  # (line, counts, resolves)
    latest = ""
    kinds: dict[str, tuple[bool, bool]] = {}
    for head in journal.heads(repo):
        seen.append((head.key, f'{{"at":[{json.dumps(head.rel)},{head.offset}]}}'))
        latest = max(latest, head.accepted)
        if head.type not in kinds:
            index = policy.index_for(head.type)
            kinds[head.type] = (longest is not None and bool(index.counted or index.resetters),
                                bool(index.resolving))
        counts, resolving = kinds[head.type]
        if counts or resolving:
            wanted.append((head, counts, resolving))
    store.seen_pointers(seen)
    if not wanted:
        return
    floor = ""
    if latest and longest is not None:
        floor = format_time(parse_time(latest) - longest - timedelta(days=1))
    chosen = [(h, c, r) for h, c, r in wanted if r or h.accepted >= floor]
    records = journal.read_many(repo, [h for h, _, _ in chosen])
    times = [parse_time(rec["event"]["time"])
             for rec, (_, c, _) in zip(records, chosen, strict=True)
             if c and "time" in rec.get("event", {})]
    since = max(times) - longest if times and longest is not None else None
    for record, (_, counts, resolving) in zip(records, chosen, strict=True):
        try:
            event = event_from_dict(record["event"])
        except AgentopsError:
            continue
        if counts and since is not None and event.time > since:
            observe(policy, store.state, event, ())
        if resolving:
            remember_resolution(policy, store.state, event, _decisions(record))


def _journal_ref(repo: Path, store: Store, policy: Policy) -> list[dict[str, Any]]:
    """The same for the journal on its ref (``refs/agentops/journal``, after the files above,
    which older versions wrote on the branch), in the same way: seen keys as pointers to their
    line (``{"blob": id, "at": offset}``: a part's blob never changes), the counting records
    of the longest window, every resolution. Returns the other records :func:`_subjects`
    needs, decoded: those accepted within the correlation window (and a day) that open or
    join an incident. Ten thousand lines from an alert storm are read by a regex, not decoded.
    """
    commit = oplog.tip(repo)
    if not commit:
        return []
    longest = _longest_window(policy)
    window = policy.correlation.window
    seen: list[tuple[str, str]] = []
    lines: list[tuple[journal.Head, bytes, bool, bool, bool]] = []  # counts, resolves, links
    latest = max((h.accepted for h in journal.heads(repo)), default="")
    kinds: dict[str, tuple[bool, bool]] = {}
    for _name, blob, data in oplog.parts(repo, commit):
        for head, line in journal.scan_heads(blob, data):
            seen.append((head.key, f'{{"blob":"{blob}","at":{head.offset}}}'))
            latest = max(latest, head.accepted)
            if head.type not in kinds:
                index = policy.index_for(head.type) if head.type else None
                kinds[head.type] = (
                    index is not None and longest is not None
                    and bool(index.counted or index.resetters),
                    index is not None and bool(index.resolving))
            counts, resolving = kinds[head.type]
            links = bool(window) and bool(head.type) and (
                b'"action":"open"' in line or b'"action":"recur"' in line)
            if counts or resolving or links:
                lines.append((head, line, counts, resolving, links))
    store.seen_pointers(seen)
    if not lines:
        return []
    floor = format_time(parse_time(latest) - longest - timedelta(days=1)) if (
        latest and longest is not None) else ""
    link_floor = format_time(parse_time(latest) - window - timedelta(days=1)) if (
        latest and window) else ""
    chosen = [(json.loads(line), c, r, k and h.accepted >= link_floor)
              for h, line, c, r, k in lines
              if r or (c and h.accepted >= floor) or (k and h.accepted >= link_floor)]
    times = [parse_time(rec["event"]["time"]) for rec, c, _, _ in chosen
             if c and isinstance(rec.get("event"), dict) and "time" in rec["event"]]
    since = max(times) - longest if times and longest is not None else None
    for record, counts, resolving, _ in chosen:
        if not (counts or resolving):
            continue
        try:
            event = event_from_dict(record["event"])
        except (AgentopsError, KeyError):
            continue
        if counts and since is not None and event.time > since:
            observe(policy, store.state, event, ())
        if resolving:
            remember_resolution(policy, store.state, event, _decisions(record))
    return [record for record, _, _, links in chosen if links]


def _subjects(repo: Path, store: Store, policy: Policy, open_ids: dict[str, str],
              ref_records: list[dict[str, Any]]) -> None:
    """Which open incident heard of each subject last (for correlation across sources): the
    engine's own linking replayed over the journal records accepted within the correlation
    window (and a day of slack), for the dedup keys still open. No ledger entry is read:
    after an alert storm ten thousand incidents are open, and a fresh clone's first
    ``record`` must not read them all."""
    window = policy.correlation.window
    if not window or not open_ids:
        return
    heads = list(journal.heads(repo))  # the journal files older versions kept on the branch
    accepted = [h.accepted for h in heads] + [str(r.get("accepted", "")) for r in ref_records]
    if not any(accepted):
        return
    floor = format_time(parse_time(max(accepted)) - window - timedelta(days=1))
    recent = [*journal.read_many(repo, [h for h in heads if h.accepted >= floor]),
              *(r for r in ref_records if str(r.get("accepted", "")) >= floor)]
    links = State(subjects={})  # in memory, then written at once: the table starts empty
    for record in recent:
        linking = [Decision(str(d["action"]), dedup_key=str(d["dedup_key"]))
                   for d in record.get("decisions") or ()
                   if isinstance(d, dict) and d.get("action") in (OPEN, RECUR)
                   and d.get("dedup_key") in open_ids]
        if not linking:
            continue
        try:
            event = event_from_journal(record["event"], str(record.get("id", "")))
        except (AgentopsError, KeyError, TypeError, ValueError):
            continue
        link_subject(policy, links, event, linking)
    store.add_subjects(links.subjects)


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
