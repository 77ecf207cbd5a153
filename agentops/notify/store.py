"""What this clone's sender has done with each message: pending, sent, parked or expired.

One row per (message key, channel) in ``.git/agentops/notify/deliveries.sqlite``. This is not
a cache like ``state.sqlite``: it is the memory that makes delivery exactly-once per clone, so
it is written with ``synchronous=FULL`` and each state change is its own transaction. Deleting
it makes the sender offer every message younger than ``give_up_after`` again.

The delivery itself is at-least-once at the HTTP level: a row is marked sent only after the
receiver answered 2xx, so a sender killed between the receiver's answer and that mark sends
the message once more on restart, with the same ``Idempotency-Key`` header.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from agentops.notify.outbox import Message

PENDING, SENT, PARKED, EXPIRED = "pending", "sent", "parked", "expired"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, channel TEXT NOT NULL, mention TEXT,
    incident TEXT NOT NULL, transition TEXT NOT NULL, created TEXT NOT NULL,
    body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0, last_error TEXT, done_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


class Delivery(NamedTuple):
    id: str
    key: str
    channel: str
    mention: str | None
    incident: str
    transition: str
    created: str
    body: dict[str, Any]
    state: str
    attempts: int
    next_attempt: float
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "channel": self.channel, "incident": self.incident,
                "transition": self.transition, "created": self.created, "state": self.state,
                "attempts": self.attempts, "last_error": self.last_error}


_COLUMNS = ("id, key, channel, mention, incident, transition, created, body, state, attempts, "
            "next_attempt, last_error")


def store_path(gitdir: Path) -> Path:
    return gitdir / "agentops" / "notify" / "deliveries.sqlite"


class Deliveries:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))

    def add(self, messages: Iterable[Message], *, state_of: Any) -> int:
        """Insert each (message, channel) not seen before; returns how many were new.

        ``state_of(message)`` gives the initial state (pending, or expired when it is older
        than ``give_up_after``); a key already present is left exactly as it is.
        """
        added = 0
        with self._transaction():
            for msg in messages:
                state = state_of(msg)
                body = json.dumps(msg.body, ensure_ascii=False)
                for target in msg.targets:
                    cur = self.db.execute(
                        "INSERT OR IGNORE INTO deliveries (id, key, channel, mention, incident, "
                        "transition, created, body, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (f"{msg.key}@{target.channel}", msg.key, target.channel, target.mention,
                         msg.incident, msg.transition, msg.created, body, state))
                    added += cur.rowcount
        return added

    def due(self, now: float, limit: int = 100) -> list[Delivery]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM deliveries WHERE state = ? AND next_attempt <= ? "
            "ORDER BY created, id LIMIT ?", (PENDING, now, limit)).fetchall()
        return [_delivery(r) for r in rows]

    def next_due(self) -> float | None:
        row = self.db.execute("SELECT MIN(next_attempt) FROM deliveries WHERE state = ?",
                              (PENDING,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def attempting(self, delivery: Delivery, *, retry_at: float) -> None:
        """Count the attempt before the request: a sender killed now retries at ``retry_at``."""
        self.db.execute("UPDATE deliveries SET attempts = attempts + 1, next_attempt = ? "
                        "WHERE id = ?", (retry_at, delivery.id))

    def sent(self, delivery: Delivery, now: float) -> None:
        self.db.execute("UPDATE deliveries SET state = ?, done_at = ?, last_error = NULL "
                        "WHERE id = ?", (SENT, now, delivery.id))

    def failed(self, delivery: Delivery, *, error: str, retry_at: float) -> None:
        self.db.execute("UPDATE deliveries SET last_error = ?, next_attempt = ? WHERE id = ?",
                        (error, retry_at, delivery.id))

    def park(self, delivery: Delivery, *, error: str, now: float) -> None:
        self.db.execute("UPDATE deliveries SET state = ?, last_error = ?, done_at = ? "
                        "WHERE id = ?", (PARKED, error, now, delivery.id))

    def retry_parked(self, key: str | None = None) -> int:
        """Put parked messages (one key, or all) back in the queue, due now."""
        where, args = ("AND key = ?", (key,)) if key else ("", ())
        cur = self.db.execute(f"UPDATE deliveries SET state = ?, next_attempt = 0, "
                              f"last_error = NULL WHERE state IN (?, ?) {where}",
                              (PENDING, PARKED, EXPIRED, *args))
        return cur.rowcount

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        out = {s: 0 for s in (PENDING, SENT, PARKED, EXPIRED)}
        out.update({str(s): int(n) for s, n in rows})
        return out

    def listing(self, states: Iterable[str]) -> list[Delivery]:
        wanted = tuple(states)
        marks = ", ".join("?" for _ in wanted)
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM deliveries WHERE state IN ({marks}) "
                               "ORDER BY created, id", wanted).fetchall()
        return [_delivery(r) for r in rows]

    def _transaction(self) -> Any:
        return _Txn(self.db)


class _Txn:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _delivery(row: tuple[Any, ...]) -> Delivery:
    return Delivery(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]),
                    row[8], int(row[9]), float(row[10]), row[11])


def read_counts(gitdir: Path) -> dict[str, int] | None:
    """The counts by state without creating anything (None when this clone never sent)."""
    path = store_path(gitdir)
    if not path.exists():
        return None
    store = Deliveries(path)
    try:
        return store.counts()
    finally:
        store.close()
