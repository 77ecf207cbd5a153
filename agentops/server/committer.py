"""The single committer: drains the spool into the pipeline, one git commit per group.

Requests arrive far faster than git can commit, so the committer waits a short window after
the first new file (~200 ms), then hands everything pending to the pipeline as one batch: one
lock, one commit. Files are deleted only after the pipeline returned, so a crash at any point
means a replay on restart, and a replay is harmless (idempotency keys). Being the only writer
of the spool's deletions, it needs no coordination beyond a wake-up event.

Failures: a batch the pipeline refuses is retried file by file, so one poisoned request cannot
block the rest. A file whose events the pipeline rejects as invalid is moved to the dead-letter
folder ``failed/`` at once; a file that fails alone for any other reason is retried a bounded
number of times (``MAX_TRIES``) and then dead-lettered too, so it can never wedge the files
behind it. Only errors of the environment (``TransientError``: the repository lock, a full or
read-only disk) are retried without bound, since every file would fail the same way;
``/readyz`` reports them in one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from agentops.errors import InvalidEventError, TransientError
from agentops.events import Event
from agentops.server.metrics import Metrics
from agentops.server.spool import Spool, SpoolCorrupt, Spooled

log = logging.getLogger("agentops.serve")

Sink = Callable[[Sequence[Event]], Sequence[Any]]  # the pipeline: events -> outcomes
WINDOW = 0.2
MAX_BATCH = 1000
RETRY_PAUSE = 1.0
MAX_TRIES = 5  # a file failing alone this many times in a row is dead-lettered
MAX_REASON = 300


def one_line(exc: BaseException) -> str:
    """``Type: first line``, bounded: what /readyz and the logs show (never a traceback)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:MAX_REASON]


class Committer:
    """A thread that turns spooled requests into group commits until stopped."""

    def __init__(
        self, spool: Spool, sink: Sink, *, metrics: Metrics, window: float = WINDOW,
        max_batch: int = MAX_BATCH, retry_pause: float = RETRY_PAUSE,
    ) -> None:
        self.spool, self.sink, self.metrics = spool, sink, metrics
        self.window, self.max_batch, self.retry_pause = window, max_batch, retry_pause
        self.recovered = False  # the spool left by a previous run has been drained
        self.last_error: str | None = None
        self.tries: dict[str, int] = {}  # failures in a row of a file committed alone
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentops-committer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """A new file is in the spool (called from the request path)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop waiting, commit everything still spooled, and return when done."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    @property
    def healthy(self) -> bool:
        return self.alive and self.recovered and self.last_error is None

    def _run(self) -> None:
        self.drain()
        self.recovered = True
        while not self._stopping.is_set():
            self._wake.wait(self.retry_pause if self.last_error else None)
            self._wake.clear()
            self._stopping.wait(self.window)  # gather a group; cut short by stop()
            self.drain()
        self.drain()

    def drain(self) -> int:
        """Commit batches until the spool is empty or a batch fails; returns files committed."""
        done = 0
        while names := self.spool.pending(self.max_batch):
            committed = self._commit_batch(names)
            done += committed
            if committed < len(names):
                break
        return done

    def _commit_batch(self, names: list[str]) -> int:
        entries = self._load(names)
        if not entries:
            return len(names)
        try:
            self._commit(entries)
        except Exception as exc:
            if len(entries) == 1:
                return self._failed(entries[0], exc)
            log.warning("group commit of %d requests failed (%s); retrying one by one",
                        len(entries), exc)
            return len(names) - len(entries) + self._one_by_one(entries)
        return len(names)

    def _one_by_one(self, entries: list[Spooled]) -> int:
        """Find the request that broke a group; stop at the first that fails to stay in order."""
        done = 0
        for entry in entries:
            try:
                self._commit([entry])
            except Exception as exc:
                if not self._failed(entry, exc):
                    return done
            done += 1
        return done

    def _commit(self, entries: list[Spooled]) -> None:
        started = time.monotonic()
        outcomes = self.sink(unique_events(entries))
        duration = time.monotonic() - started
        self.spool.remove(entry.name for entry in entries)
        for entry in entries:
            self.tries.pop(entry.name, None)
        now = time.time()
        self.metrics.count_commit(
            events=sum(len(e.events) for e in entries), duration=duration,
            duplicates=sum(1 for o in outcomes if getattr(o, "duplicate", False)),
            ages=[now - entry.received for entry in entries],
        )
        self.last_error = None

    def _failed(self, entry: Spooled, exc: Exception) -> int:
        """Handle a file that failed alone: 1 if it was dead-lettered, 0 if it stays."""
        self.metrics.count_commit_error()
        reason = one_line(exc)
        tries = self.tries[entry.name] = self.tries.get(entry.name, 0) + 1
        if isinstance(exc, InvalidEventError) or (
                not isinstance(exc, TransientError) and tries >= MAX_TRIES):
            target = self.spool.quarantine(entry.name, f"after {tries} tries: {exc}")
            self.tries.pop(entry.name, None)
            self.metrics.count_dead_letter()
            log.error("the pipeline refused %s (%s); dead-lettered to %s", entry.name, reason,
                      target)
            self.last_error = None
            return 1
        self.last_error = reason
        log.error("commit failed (try %d), %s stays spooled and is retried: %s", tries,
                  entry.name, reason)
        return 0

    def _load(self, names: list[str]) -> list[Spooled]:
        entries = []
        for name in names:
            try:
                entries.append(self.spool.load(name))
            except SpoolCorrupt as exc:
                log.error("unreadable spool file moved to failed/: %s", exc)
                self.spool.quarantine(name, str(exc))
        return entries


def unique_events(entries: Sequence[Spooled]) -> list[Event]:
    """All events in arrival order, each idempotency key once (redeliveries in one group)."""
    seen: set[str] = set()
    out: list[Event] = []
    for entry in entries:
        for event in entry.events:
            if event.key not in seen:
                seen.add(event.key)
                out.append(event)
    return out
