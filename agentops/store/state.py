"""The derived-state cache: everything the pipeline needs, rebuilt from what is committed.

The truth is the journal and the three ledger files. This cache (SQLite under the git
directory, never committed) only makes the hot path cheap: an agent's ``record`` reads the few
rows it needs (is this key known? is an incident open for this dedup key? what is the next
id?) instead of parsing ten thousand entries. It remembers the commit it describes; when HEAD
is anything else (a person committed, a pull, a crash between commit and cache write) it is
rebuilt from scratch. Deleting it is always safe.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from agentops.events import format_time, parse_time
from agentops.policy.engine import OpenIncident, Resolution, State, SubjectLink

SCHEMA_VERSION = "4"  # 2: resolutions per dedup key; 3: threshold event ids, subject links;
# 4: journal lines since the last snapshot (a cache of before counts none, so it rebuilds)
V = TypeVar("V")
_TABLES = (
    "seen", "open", "hits", "samples", "problems", "lessons", "counters", "meta", "resolved",
    "hit_events", "subjects", "subject_lines", "ledger_files",
)
# What a committed snapshot holds (see agentops.store.snapshot): the tables a journal replay
# fills, and what each incident file's content said (``ledger_files``: a pure function of the
# content, keyed by its hash); the other tables are read from the ledger files every time.
SNAPSHOT_TABLES = ("seen", "hits", "samples", "hit_events", "resolved", "subjects",
                   "subject_lines", "ledger_files")


class LazyTable(MutableMapping[Any, V], Generic[V]):
    """A SQLite table seen as a mapping: rows load on first access, changes flush at the end."""

    def __init__(self, db: sqlite3.Connection, table: str, *, encode_key: Callable[[Any], str],
                 dump: Callable[[V], str], load: Callable[[str], V | None],
                 missing: Callable[[str], V | None] | None = None) -> None:
        self._db, self._table = db, table
        self._key, self._dump, self._load = encode_key, dump, load
        self._missing = missing  # a row not written yet: derive it (then it is written)
        self._cache: dict[str, V | None] = {}
        self._dirty: set[str] = set()

    def _fetch(self, k: str) -> V | None:
        if k not in self._cache:
            row = self._db.execute(f"SELECT v FROM {self._table} WHERE k = ?", (k,)).fetchone()
            self._cache[k] = self._load(row[0]) if row else None
            if row is None and self._missing is not None:
                self._cache[k] = self._missing(k)
                if self._cache[k] is not None:
                    self._dirty.add(k)
        return self._cache[k]

    def __getitem__(self, key: Any) -> V:
        value = self._fetch(self._key(key))
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: V) -> None:
        k = self._key(key)
        self._cache[k] = value
        self._dirty.add(k)

    def __delitem__(self, key: Any) -> None:
        k = self._key(key)
        if self._fetch(k) is None:
            raise KeyError(key)
        self._cache[k] = None
        self._dirty.add(k)

    def forget(self) -> None:
        """Drop what was loaded and changed (after a rollback or a clear)."""
        self._cache.clear()
        self._dirty.clear()

    def touch(self, key: Any) -> None:
        """Mark a value changed in place (a deque appended to) for the next flush."""
        self._dirty.add(self._key(key))

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"{self._table} is not iterable: it is read row by row")

    def __len__(self) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0])

    def flush(self) -> None:
        for k in self._dirty:
            value = self._cache.get(k)
            if value is None:
                self._db.execute(f"DELETE FROM {self._table} WHERE k = ?", (k,))
            else:
                self._db.execute(f"INSERT OR REPLACE INTO {self._table} (k, v) VALUES (?, ?)",
                                 (k, self._dump(value)))
        self._dirty.clear()


class TouchingTable(LazyTable[V]):
    """For values the engine mutates in place (deques): every read counts as a change."""

    def __getitem__(self, key: Any) -> V:
        value = super().__getitem__(key)
        self.touch(key)
        return value


def _open_dump(inc: OpenIncident) -> str:
    return json.dumps([inc.id, inc.rule, inc.dedup_key, format_time(inc.opened),
                       format_time(inc.last_seen), inc.severity, inc.occurrences])


def _open_load(text: str) -> OpenIncident:
    i, rule, key, opened, last, severity, occurrences = json.loads(text)
    return OpenIncident(id=i, rule=rule, dedup_key=key, opened=parse_time(opened),
                        last_seen=parse_time(last), severity=severity, occurrences=occurrences)


def _resolution_dump(done: Resolution) -> str:
    return json.dumps([format_time(done.time), done.incident])


def _resolution_load(text: str) -> Resolution:
    when, incident = json.loads(text)
    return Resolution(parse_time(when), incident)


def _group_key(key: Any) -> str:
    rule, group = key
    return json.dumps([rule, list(group)], default=str)


def _times_dump(times: deque[datetime]) -> str:
    return json.dumps([format_time(t) for t in times])


def _times_load(text: str) -> deque[datetime]:
    return deque(parse_time(t) for t in json.loads(text))


def _samples_dump(samples: deque[tuple[datetime, float]]) -> str:
    return json.dumps([[format_time(t), v] for t, v in samples])


def _samples_load(text: str) -> deque[tuple[datetime, float]]:
    return deque((parse_time(t), float(v)) for t, v in json.loads(text))


def _ids_dump(ids: deque[str]) -> str:
    return json.dumps(list(ids))


def _ids_load(text: str) -> deque[str]:
    return deque(json.loads(text))


def _link_dump(link: SubjectLink) -> str:
    return json.dumps([link.dedup_key, link.source, format_time(link.last_seen)])


def _link_load(text: str) -> SubjectLink:
    key, source, last = json.loads(text)
    return SubjectLink(key, source, parse_time(last))


def _empty_outcome(record: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": record.get("id"), "matched": [], "incidents": [],
            "troubleshooting": [], "memory": []}


def _ident(value: str) -> str:
    return value


class Store:
    """One open cache database plus the engine state and counters built on it."""

    def __init__(self, path: Path, *, root: Path | None = None) -> None:
        self.root = root  # the work tree, for seen keys that point into the journal
        self._blobs: dict[str, bytes] = {}  # journal parts read for pointers, by blob id
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA journal_mode=MEMORY")
        for table in _TABLES:
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (k TEXT PRIMARY KEY, v TEXT)")
        self.db.execute("BEGIN")
        dedup_key = _ident
        self.open: LazyTable[OpenIncident] = LazyTable(
            self.db, "open", encode_key=dedup_key, dump=_open_dump, load=self._load_open)
        self.hits: TouchingTable[deque[datetime]] = TouchingTable(
            self.db, "hits", encode_key=_group_key, dump=_times_dump, load=_times_load)
        self.samples: TouchingTable[deque[tuple[datetime, float]]] = TouchingTable(
            self.db, "samples", encode_key=_group_key, dump=_samples_dump, load=_samples_load)
        self.hit_events: TouchingTable[deque[str]] = TouchingTable(
            self.db, "hit_events", encode_key=_group_key, dump=_ids_dump, load=_ids_load)
        self.subjects: LazyTable[SubjectLink] = LazyTable(
            self.db, "subjects", encode_key=_ident, dump=_link_dump, load=_link_load,
            missing=self._pending_link)
        self.problems: LazyTable[str] = LazyTable(
            self.db, "problems", encode_key=_ident, dump=_ident, load=_ident)
        self.lessons: LazyTable[str] = LazyTable(
            self.db, "lessons", encode_key=_ident, dump=_ident, load=_ident)
        self.seen: LazyTable[dict[str, Any]] = LazyTable(
            self.db, "seen", encode_key=_ident, dump=json.dumps, load=self._load_seen)
        self.resolved: LazyTable[Resolution] = LazyTable(
            self.db, "resolved", encode_key=dedup_key, dump=_resolution_dump,
            load=_resolution_load)
        self.state = State(open=self.open, hits=self.hits, samples=self.samples,
                           known_problems=self.problems, resolved=self.resolved,
                           hit_events=self.hit_events, subjects=self.subjects)

    # -- rows a rebuild leaves as pointers ---------------------------------------------

    def open_pointers(self, rows: dict[str, str]) -> None:
        """Open incidents from a rebuild as dedup key -> incident id (``{"id": ...}``); the
        entry is read when an event asks for its key (see :mod:`agentops.store.scan`)."""
        self.db.executemany("INSERT OR REPLACE INTO open (k, v) VALUES (?, ?)",
                            [(k, f'{{"id":"{v}"}}' if v.isprintable() and '"' not in v
                              and "\\" not in v else json.dumps({"id": v}))
                             for k, v in rows.items()])

    def _load_open(self, text: str) -> OpenIncident | None:
        if not text.startswith("{"):
            return _open_load(text)
        inc_id = json.loads(text)["id"]
        if self.root is None:
            raise RuntimeError("an open incident points into the ledger: open the Store with root")
        from agentops import fsutil
        from agentops.ledger import format as fmt
        from agentops.store.entries import locate_incident
        from agentops.store.scan import open_incident

        rel = locate_incident(self.root, inc_id)
        text = fsutil.read_text(self.root / rel) if rel else ""
        span = fmt.find_entry("incident", text, inc_id)
        return open_incident(text[span[0]:span[1]]) if span else None

    # -- subject links a rebuild leaves as journal lines ----------------------------------

    def pending_links(self, rows: Mapping[str, list[list[Any]]], *, append: bool = False
                      ) -> None:
        """Subject key -> the journal lines that linked it (``[where, offset, dedup keys]``,
        oldest first; ``where`` a part's blob id or a branch journal file): after an alert
        storm ten thousand subjects were linked, and a fresh clone's ``record`` needs one.

        ``append``: the lines come after those already here (a snapshot's tail): they go after
        a subject's pending lines, or are replayed at once onto a link already replayed."""
        encode = json.JSONEncoder(separators=(",", ":")).encode  # twice as fast as dumps
        if not append:
            self.db.executemany("INSERT OR REPLACE INTO subject_lines (k, v) VALUES (?, ?)",
                                [(k, encode(v)) for k, v in rows.items()])
            return
        linked, pending = self._present("subjects", rows), self._present("subject_lines", rows)
        for skey in linked:
            replayed = self._replay(self.subjects.get(skey), rows[skey])
            if replayed is not None:
                self.subjects[skey] = replayed
        self.db.executemany("INSERT OR REPLACE INTO subject_lines (k, v) VALUES (?, ?)", [
            (skey, encode([*pending[skey], *lines]) if skey in pending else encode(lines))
            for skey, lines in rows.items() if skey not in linked])

    def _present(self, table: str, keys: Iterable[str]) -> dict[str, Any]:
        """The rows of ``table`` among ``keys``, decoded, in a few queries (a tail of ten
        thousand subjects after a storm has hardly any)."""
        wanted, out = list(keys), {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for k, v in self.db.execute(f"SELECT k, v FROM {table} WHERE k IN ({marks})",
                                        chunk):
                out[k] = json.loads(v) if table == "subject_lines" else v
        return out

    def _pending_link(self, skey: str) -> SubjectLink | None:
        """Replay the lines a rebuild left for ``skey`` with the engine's own step, once."""
        row = self.db.execute("SELECT v FROM subject_lines WHERE k = ?", (skey,)).fetchone()
        if row is None or self.root is None:
            return None
        link = self._replay(None, json.loads(row[0]))
        self.db.execute("DELETE FROM subject_lines WHERE k = ?", (skey,))
        return link

    def _replay(self, link: SubjectLink | None, lines: list[list[Any]]) -> SubjectLink | None:
        if self.root is None:
            raise RuntimeError("subject links point into the journal: open the Store with root")
        from agentops.errors import AgentopsError
        from agentops.events import event_from_journal
        from agentops.policy.engine import OPEN, RECUR, next_link
        from agentops.store.journal import read_at
        from agentops.store.oplog import record_at

        for where, offset, keys in lines:
            try:
                record = (read_at(self.root, where, offset) if where.endswith(".jsonl")
                          else record_at(self.root, where, offset, blobs=self._blobs))
                event = event_from_journal(record["event"], str(record.get("id", "")))
            except (AgentopsError, KeyError, TypeError, ValueError):
                continue  # a line that cannot be read links nothing (lint reports it)
            for d in record.get("decisions") or ():
                if (isinstance(d, dict) and d.get("action") in (OPEN, RECUR)
                        and d.get("dedup_key") in keys):
                    link = next_link(link, event, str(d["action"]), str(d["dedup_key"]))
        return link

    # -- seen keys ------------------------------------------------------------------------

    def seen_pointers(self, rows: Sequence[tuple[str, str]]) -> None:
        """Seen keys from a rebuild, each pointing at its journal line (``{"at": [path,
        offset]}``): writing ten thousand decoded outcomes would cost more than the rest of
        the rebuild, and only a key that comes back is ever read."""
        self.db.executemany("INSERT OR REPLACE INTO seen (k, v) VALUES (?, ?)", rows)

    def _load_seen(self, text: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(text)
        at = value.get("at")
        if at is None:
            return value
        if self.root is None:
            raise RuntimeError("a seen key points into the journal: open the Store with root")
        if "blob" in value:  # a line of the journal on its ref
            from agentops.store.oplog import record_at

            record = record_at(self.root, value["blob"], at)
            return {"event_id": record.get("id"),
                    "outcome": record.get("outcome", _empty_outcome(record))}
        from agentops.store.journal import read_at

        record = read_at(self.root, at[0], at[1])
        outcome = record.get("outcome") or {
            "event_id": record.get("id"), "matched": [], "incidents": [],
            "troubleshooting": [], "memory": []}
        return {"event_id": record.get("id"), "outcome": outcome}

    # -- snapshots of the journal tables -------------------------------------------------

    def export_snapshot(self, path: Path, meta: Mapping[str, str]) -> None:
        """Write the snapshot's tables and ``meta`` into a new SQLite file at ``path`` (in C:
        ten thousand rows in milliseconds). Call after :meth:`save`."""
        path.unlink(missing_ok=True)
        self.db.execute("COMMIT")  # ATTACH is refused inside a transaction
        try:
            self.db.execute("ATTACH DATABASE ? AS snap", (str(path),))
            try:
                for table in (*SNAPSHOT_TABLES, "meta"):
                    self.db.execute(f"CREATE TABLE snap.{table} (k TEXT PRIMARY KEY, v TEXT)")
                for table in SNAPSHOT_TABLES:
                    # which branch commit carried a seen event is this clone's history (a
                    # rewritten branch, another worktree's): a clone looks it up itself
                    value = "json_remove(v, '$.commit')" if table == "seen" else "v"
                    self.db.execute(f"INSERT INTO snap.{table} SELECT k, {value} "
                                    f"FROM main.{table}")
                self.db.executemany("INSERT INTO snap.meta (k, v) VALUES (?, ?)",
                                    sorted(meta.items()))
            finally:
                self.db.execute("DETACH DATABASE snap")
        finally:
            self.db.execute("BEGIN")

    def import_snapshot(self, path: Path, rename: Mapping[str, str]) -> None:
        """Replace the snapshot's tables by those of a snapshot file, pointing the rows that
        name a journal part's old blob at its new one (``rename``: the part grew since). All
        or nothing: a copy that fails (a table missing, a full disk) leaves the tables empty
        and raises, and the caller reads the journal instead."""
        for lazy in self._tables():  # what the rebuild read so far
            lazy.flush()
        self.db.execute("COMMIT")  # ATTACH is refused inside a transaction (meta names no tip
        try:  # yet: a crash from here on leaves nothing current)
            self.db.execute("ATTACH DATABASE ? AS snap", (str(path),))
        except sqlite3.Error:
            self.db.execute("BEGIN")
            raise
        try:
            self.db.execute("BEGIN")
            try:
                for table in SNAPSHOT_TABLES:
                    self.db.execute(f"DELETE FROM main.{table}")
                    self.db.execute(f"INSERT INTO main.{table} SELECT k, v FROM snap.{table}")
                for old, new in rename.items():
                    for table in ("seen", "subject_lines"):
                        self.db.execute(
                            f"UPDATE {table} SET v = replace(v, ?, ?) WHERE instr(v, ?) > 0",
                            (f'"{old}"', f'"{new}"', f'"{old}"'))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        finally:
            self.db.execute("DETACH DATABASE snap")
            self.db.execute("BEGIN")
            self._forget()

    def latest_counted(self) -> datetime | None:
        """The newest event time the threshold and aggregate counters hold."""
        newest: datetime | None = None
        for table in ("hits", "samples"):
            for (text,) in self.db.execute(f"SELECT v FROM {table}"):
                for item in json.loads(text):
                    when = parse_time(item if isinstance(item, str) else item[0])
                    newest = when if newest is None or when > newest else newest
        return newest

    # -- what each incident file said ----------------------------------------------------

    def file_memo(self) -> dict[str, tuple[str, list[list[str]], dict[str, int]]]:
        """Per incident file: (sha1 of its content, its open incidents as [id, dedup key],
        its highest incident number per day), as the last rebuild read them."""
        out = {}
        for path, text in self.db.execute("SELECT k, v FROM ledger_files"):
            value = json.loads(text)
            out[path] = (value["sha"], value["open"], value["top"])
        return out

    def remember_files(self, rows: Mapping[str, tuple[str, list[list[str]], dict[str, int]]],
                       *, keep: set[str]) -> None:
        """Record what these files said; forget files that are no longer there."""
        self.db.executemany("INSERT OR REPLACE INTO ledger_files (k, v) VALUES (?, ?)",
                            [(path, json.dumps({"sha": sha, "open": found, "top": top},
                                               separators=(",", ":")))
                             for path, (sha, found, top) in rows.items()])
        gone = [(path,) for (path,) in self.db.execute("SELECT k FROM ledger_files")
                if path not in keep]
        self.db.executemany("DELETE FROM ledger_files WHERE k = ?", gone)

    # -- meta and counters ----------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))

    def next_number(self, counter: str) -> int:
        """Allocate the next number of a sequence (``INC-2026-11-24``, ``TS``, ``MEM``)."""
        row = self.db.execute("SELECT v FROM counters WHERE k = ?", (counter,)).fetchone()
        n = int(row[0]) + 1 if row else 1
        self.bump(counter, n)
        return n

    def bump(self, counter: str, n: int) -> None:
        """Make sure the sequence is at least ``n``."""
        row = self.db.execute("SELECT v FROM counters WHERE k = ?", (counter,)).fetchone()
        if row is None or int(row[0]) < n:
            self.db.execute("INSERT OR REPLACE INTO counters (k, v) VALUES (?, ?)", (counter, n))

    # -- lifecycle ------------------------------------------------------------------------

    def is_current(self, head: str | None) -> bool:
        return self.meta("version") == SCHEMA_VERSION and self.meta("head") == (head or "")

    def clear(self) -> None:
        for table in _TABLES:
            self.db.execute(f"DELETE FROM {table}")
        self._forget()

    def _tables(self) -> tuple[LazyTable[Any], ...]:
        return (self.open, self.hits, self.samples, self.problems, self.lessons, self.seen,
                self.resolved, self.hit_events, self.subjects)

    def _forget(self) -> None:
        for lazy in self._tables():
            lazy.forget()

    def reopen(self, incident: OpenIncident) -> None:
        """A resolved incident reopened by a person is open again for its dedup key (unless a
        newer incident already took the key)."""
        if self.open.get(incident.dedup_key) is None:
            self.open[incident.dedup_key] = incident

    def forget_open(self, dedup_key: str, incident_id: str) -> None:
        """The incident is resolved: the next event for its dedup key opens a new one (a newer
        incident holding the key is left alone)."""
        current = self.open.get(dedup_key)
        if current is not None and current.id == incident_id:
            del self.open[dedup_key]

    def save(self, head: str | None) -> None:
        """Flush every change and record the commit the cache now describes."""
        for lazy in self._tables():
            lazy.flush()
        self.set_meta("version", SCHEMA_VERSION)
        self.set_meta("head", head or "")
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")

    def discard(self) -> None:
        self.db.execute("ROLLBACK")
        self.db.execute("BEGIN")
        self._forget()

    def close(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass
        self.db.close()
