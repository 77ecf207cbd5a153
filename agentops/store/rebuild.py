"""Rebuild the derived state from what is committed: the ledger files and the journal.

Open incidents, id sequences, known problem types and lessons come from the ledger (people may
have resolved or renumbered entries by hand); seen idempotency keys and the counters behind
thresholds and aggregates come from replaying the journal. Only the events inside the longest
window of any trigger can still count, so older ones are skipped for the replay.

Both start from the committed snapshot when one fits (:mod:`agentops.store.snapshot`): the
journal is then replayed from where the snapshot ends, and only the incident files whose
content changed since are scanned.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agentops.errors import AgentopsError, LedgerError
from agentops.events import (
    Event,
    event_from_dict,
    event_from_journal,
    format_time,
    parse_time,
)
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
    observe,
    remember_resolution,
)
from agentops.policy.model import Policy
from agentops.store import journal, oplog, scan, snapshot
from agentops.store.entries import incident_files
from agentops.store.state import Store
from agentops.store.writer import FILES
from agentops.vocabulary import LEDGER_KINDS


def rebuild(repo: Path, store: Store, policy: Policy) -> None:
    """The ledger part always (people edit the files); the journal part from the committed
    snapshot and the lines written since, when one verifies, else from every line."""
    store.clear()
    tip = oplog.tip(repo)
    tail = snapshot.restore(repo, store, policy, tip) if tip else None
    _incidents(repo, store)
    _troubleshooting(repo, store)
    _memory(repo, store)
    if tail is not None:
        # the floors of the window are the whole journal's, as in a full replay: the
        # snapshot's latest acceptance and the newest time its counters hold
        ref_lines, ref_latest, _ = _journal_ref(store, policy, tail,
                                                store.meta(snapshot.LATEST_KEY) or "",
                                                counted=store.latest_counted())
        _subjects(repo, store, policy, ref_lines, ref_latest, tail=True)
        snapshot.note_latest(store, ref_latest)
        return
    _journal(repo, store, policy)
    parts = [(blob, data, 0) for _name, blob, data in oplog.parts(repo, tip)] if tip else []
    legacy = max((h.accepted for h in journal.heads(repo)), default="")
    ref_lines, ref_latest, count = _journal_ref(store, policy, parts, legacy)
    _subjects(repo, store, policy, ref_lines, ref_latest)
    snapshot.count_appended(store, count)
    snapshot.note_latest(store, ref_latest)


def _entries(repo: Path, kind: str) -> list[object]:
    text = (repo / FILES[kind]).read_text(encoding="utf-8")
    return list(fmt.parse_file(kind, text).parsed())  # type: ignore[arg-type]


def _incidents(repo: Path, store: Store) -> None:
    """Id sequences and open incidents from every incident file, by a compact scan: the marker
    lines give the ids, and only entries whose status is not Resolved have their few metadata
    lines read (a fresh clone of a repository with ten thousand incidents must not parse them
    all before its first ``record``). An entry the scan cannot read is parsed in full. A file
    whose content is what a snapshot saw (same sha1) is not scanned again: what it said is in
    the memo (``Store.file_memo``)."""
    highest: dict[str, int] = {}
    open_ids: dict[str, str] = {}  # dedup key -> the newest open incident holding it
    for found, top in incident_file_states(repo, store):
        for day, number in top.items():
            highest[day] = max(highest.get(day, 0), number)
        for inc_id, key in found:
            if key not in open_ids or _newer(inc_id, open_ids[key]):
                open_ids[key] = inc_id
    store.open_pointers(open_ids)
    for day, number in highest.items():
        store.bump(f"INC-{day}", number)
    if highest:
        day = max(highest)
        store.set_meta("last_incident", f"INC-{day}-{highest[day]:03d}")


def incident_file_states(repo: Path, store: Store
                         ) -> list[tuple[list[list[str]], dict[str, int]]]:
    """What each incident file says (its open incidents as [id, dedup key], its highest
    number per day), from the memo for a file whose content it saw (same sha1), else by a
    scan, which the memo then keeps. A snapshot refreshes the memo before it is written, so
    that a fresh clone scans only the files changed since."""
    memo = store.file_memo()
    present: set[str] = set()
    new: dict[str, tuple[str, list[list[str]], dict[str, int]]] = {}
    out = []
    for path in incident_files(repo):
        data = path.read_bytes()
        rel = path.relative_to(repo).as_posix()
        present.add(rel)
        sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        known = memo.get(rel)
        if known is not None and known[0] == sha:
            out.append((known[1], known[2]))
        else:
            found, top = _scan_file(path, data.decode("utf-8"))
            new[rel] = (sha, found, top)
            out.append((found, top))
    store.remember_files(new, keep=present)
    return out


def _scan_file(path: Path, text: str) -> tuple[list[list[str]], dict[str, int]]:
    """One incident file's open incidents ([id, dedup key]) and highest number per day."""
    top: dict[str, int] = {}
    # An archive file of the new layout holds one day, newest first: its first marker has
    # the day's highest number there. Other files (INCIDENTS.md, monthly archives) are read
    # marker by marker.
    archived = path.parent.name == ARCHIVE_DIR and len(name_order(path.name)) >= 3
    markers = _INC_MARKER_RE.finditer(text)
    for m in [next(markers, None)] if archived else markers:
        if m is not None and int(m.group(2)) > top.get(m.group(1), 0):
            top[m.group(1)] = int(m.group(2))
    return [[inc_id, key] for inc_id, key in _open_of(text)], top


def _open_of(text: str) -> list[tuple[str, str]]:
    """The open incidents of one file (id, dedup key). The metadata lines as the tool writes
    them are matched in one regex pass; a file where that finds fewer open entries than it
    has open status lines (a hand-edited block) is read entry by entry."""
    strict = []
    pos = text.find(_META_START)
    while pos >= 0:  # str.find skips ahead far faster than a multi-line regex scans
        m = _OPEN_META_RE.match(text, pos + len(_META_START) - 4)
        if m is not None and m.group(2) != "Resolved":
            strict.append((m.group(1), m.group(3)))
        pos = text.find(_META_START, pos + 1)
    found: list[tuple[str, str | None]] = [(i, scan.plain(key)) for i, key in strict
                                           if key != "null"]
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
    return [(inc_id, key) for inc_id, key in found if key is not None]


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


def _journal_ref(store: Store, policy: Policy, parts: list[snapshot.Part], latest: str = "",
                 *, counted: datetime | None = None
                 ) -> tuple[list[tuple[journal.Head, bytes]], str, int]:
    """The same for the journal on its ref (``refs/agentops/journal``, after the files above,
    which older versions wrote on the branch), from ``parts`` (blob, bytes, where the lines to
    read start), in the same way: seen keys as pointers to their line (``{"blob": id, "at":
    offset}``: a part's blob never changes), the counting records of the longest window,
    every resolution. ``latest``: the latest acceptance time of the journal read before
    these lines; ``counted``: the newest event time its counters hold. Returns the lines
    :func:`_subjects` needs (those accepted within the correlation window and a day that open
    or join an incident), the latest acceptance time and the number of lines. Ten thousand
    lines of an alert storm are read by regexes only.
    """
    longest = _longest_window(policy)
    window = policy.correlation.window
    seen: list[tuple[str, str]] = []
    lines: list[tuple[journal.Head, bytes, bool, bool, bool]] = []  # counts, resolves, links
    kinds: dict[str, tuple[bool, bool]] = {}
    for blob, data, start in parts:
        for head, line in journal.scan_heads(blob, data, start):
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
        return [], latest, len(seen)
    floor = format_time(parse_time(latest) - longest - timedelta(days=1)) if (
        latest and longest is not None) else ""
    link_floor = format_time(parse_time(latest) - window - timedelta(days=1)) if (
        latest and window) else ""
    linking = [(h, line) for h, line, _, _, k in lines if k and h.accepted >= link_floor]
    chosen = [(_decoded(h, line), c, r) for h, line, c, r, _ in lines
              if r or (c and h.accepted >= floor)]
    times = [parse_time(rec["event"]["time"]) for rec, c, _ in chosen
             if c and isinstance(rec.get("event"), dict) and "time" in rec["event"]]
    times += [counted] if counted is not None else []
    since = max(times) - longest if times and longest is not None else None
    for record, counts, resolving in chosen:
        try:
            event = event_from_dict(record["event"])
        except (AgentopsError, KeyError):
            continue
        if counts and since is not None and event.time > since:
            observe(policy, store.state, event, ())
        if resolving:
            remember_resolution(policy, store.state, event, _decisions(record))
    return linking, latest, len(seen)


def _subjects(repo: Path, store: Store, policy: Policy,
              ref_lines: list[tuple[journal.Head, bytes]], ref_latest: str, *,
              tail: bool = False) -> None:
    """Which incident heard of each subject last (for correlation across sources), left as
    the journal lines that linked each subject (accepted within the correlation window and a
    day of slack): the store replays a subject's lines with the engine's own step the first
    time an event asks for it (``Store.pending_links``). Whether that incident is still open
    is asked when an event uses the link, as for a link made live (so a link does not depend
    on when it was replayed, nor on which incidents were open then).
    After an alert storm ten thousand subjects were linked and a fresh clone's ``record``
    needs one; the lines are read by a regex (:func:`_link_of_line`), no ledger entry is.

    ``tail``: the lines come after a snapshot's, whose links (replayed or pending) are in the
    store already: they are added after them (``Store.pending_links(append=True)``)."""
    window = policy.correlation.window
    if not window:
        return
    # the journal files older versions kept on the branch (a snapshot's tail has none)
    heads = [] if tail else list(journal.heads(repo))
    latest = max([h.accepted for h in heads] + [ref_latest])
    if not latest:
        return
    floor = format_time(parse_time(latest) - window - timedelta(days=1))
    recent = [h for h in heads if h.accepted >= floor]
    items: list[tuple[journal.Head, dict[str, Any] | bytes]] = [
        *zip(recent, journal.read_many(repo, recent), strict=True), *ref_lines]
    by_subject = policy.correlation.by_subject
    pending: dict[str, list[list[Any]]] = {}
    for head, item in items:
        fast = _link_of_line(item) if by_subject and isinstance(item, bytes) else None
        if fast is not None:
            subject, keys = fast
            skey = policy.correlation.subject_key(subject)
        else:
            record = _decoded(head, item) if isinstance(item, bytes) else item
            found = _link_of_record(record) if isinstance(record, dict) else None
            if found is None:
                continue
            event, decisions = found
            keys = [str(d.dedup_key) for d in decisions]
            skey = policy.correlation.key(event)
        if skey is not None:
            pending.setdefault(skey, []).append([head.rel, head.offset, keys])
    store.pending_links(pending, append=tail)


def _decoded(head: journal.Head, line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise LedgerError(f"{oplog.REF} blob {head.rel}@{head.offset}: journal line is not "
                          "JSON (run `agentops lint`)") from None


def _link_of_record(record: dict[str, Any]) -> tuple[Event, list[Decision]] | None:
    """The event and its open/recur decisions of one decoded journal record."""
    decisions = [Decision(str(d["action"]), dedup_key=str(d["dedup_key"]))
                 for d in record.get("decisions") or ()
                 if isinstance(d, dict) and d.get("action") in (OPEN, RECUR)
                 and isinstance(d.get("dedup_key"), str)]
    if not decisions:
        return None
    try:
        return event_from_journal(record["event"], str(record.get("id", ""))), decisions
    except (AgentopsError, KeyError, TypeError, ValueError):
        return None


def _link_of_line(line: bytes) -> tuple[dict[str, Any], list[str]] | None:
    """The event's subject and the dedup keys its decisions opened or joined, read from an
    undecoded line written as the pipeline writes it by two regexes; None: decode the line."""
    m = _EVENT_HEAD_RE.search(line)
    at = line.find(b',"decisions":[')
    if m is None or at < 0 or line.startswith(b',"subject":', m.end()):
        return None  # (a subject the regex could not take whole: braces in a name)
    try:
        subject = json.loads(m.group(1).decode()) if m.group(1) else {}
    except ValueError:
        return None
    keys = [_json_string(key) for key in _LINKING_RE.findall(line, at)]
    return (subject, keys) if keys and isinstance(subject, dict) else None


def _json_string(literal: bytes) -> str:
    inner = literal[1:-1]
    return inner.decode() if b"\\" not in inner else str(json.loads(literal.decode()))


# An event as ``Event.to_dict`` writes it starts with its type, time, source and subject; a
# decision as ``Decision.to_dict`` writes it with its action, rule and dedup key. Inside a
# JSON string a quote is always escaped, so neither can match the text of a message.
_EVENT_HEAD_RE = re.compile(rb'"event":\{"type":"[^"\\]*","time":"[^"\\]*",'
                            rb'"source":"(?:[^"\\]|\\.)*"(?:,"subject":(\{[^{}]*\}))?')
_LINKING_RE = re.compile(rb'\{"action":"(?:open|recur)"(?:,"rule":"(?:[^"\\]|\\.)*")?,'
                         rb'"dedup_key":("(?:[^"\\]|\\.)*")')


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
