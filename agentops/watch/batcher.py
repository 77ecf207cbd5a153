"""Group commits: events of one window go through the pipeline in one call, one commit.

A storm (10,000 BackOff events) must not cost 10,000 commits. Trackers put :class:`Item` s on a
queue from their watch threads; the batcher (on the main thread) takes everything that arrives
within ``window`` seconds of the first item, calls the sink (``pipeline.process``: one lock,
one commit) and only then advances and saves the checkpoint, so the persisted resourceVersions
never run ahead of what is committed. A failing sink keeps the batch and retries it with the
next one; nothing is checkpointed until it has gone through.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentops.errors import AgentopsError
from agentops.events import Event
from agentops.watch.checkpoint import Checkpoint
from agentops.watch.resources import Item

WINDOW = 0.5
MAX_EVENTS = 20_000
log = logging.getLogger("agentops.watch")


class OutcomeLike(Protocol):
    """What the batcher reads of ``agentops.pipeline.Outcome``."""

    @property
    def duplicate(self) -> bool: ...
    @property
    def incidents(self) -> tuple[Mapping[str, Any], ...]: ...
    @property
    def commit(self) -> str | None: ...


class Sink(Protocol):
    """``pipeline.process`` with the repository bound: one call, at most one commit."""

    def __call__(self, events: Sequence[Event]) -> Sequence[OutcomeLike]: ...


class NotLeader(AgentopsError):
    """The lease was lost (or never held): this replica must not write."""


@dataclass
class Stats:
    events: int = 0
    duplicates: int = 0
    batches: int = 0
    commits: set[str] = field(default_factory=set)
    opened: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)

    def record(self, outcomes: Sequence[OutcomeLike]) -> None:
        self.batches += 1
        for outcome in outcomes:
            self.events += 1
            self.duplicates += outcome.duplicate
            if outcome.commit:
                self.commits.add(outcome.commit)
            if not outcome.duplicate:
                self._incidents(outcome.incidents)

    def _incidents(self, incidents: tuple[Mapping[str, Any], ...]) -> None:
        for incident in incidents:
            opened = incident.get("action") == "open"
            (self.opened if opened else self.updated).add(str(incident.get("id")))

    def to_dict(self) -> dict[str, int]:
        return {"events": self.events, "duplicates": self.duplicates, "batches": self.batches,
                "commits": len(self.commits), "incidents_opened": len(self.opened),
                "incidents_updated": len(self.updated - self.opened)}


class Batcher:
    def __init__(
        self, sink: Sink, checkpoint: Checkpoint, *, window: float = WINDOW,
        max_events: int = MAX_EVENTS, may_write: Callable[[], bool] = lambda: True,
    ) -> None:
        self.sink, self.checkpoint = sink, checkpoint
        self.window, self.max_events, self.may_write = window, max_events, may_write
        self.stats = Stats()
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._pending: list[Item] = []

    def put(self, item: Item) -> None:
        self._queue.put(item)

    def run_once(self, timeout: float) -> None:
        """Wait up to ``timeout`` for an item, collect one window, flush it (retrying later)."""
        items = self._pending + self._collect(timeout)
        if not items:
            return
        try:
            self.flush(items)
        except NotLeader:
            raise
        except Exception as exc:
            self._pending = items
            log.warning("writing a batch of %d items failed, will retry: %s", len(items), exc)
            time.sleep(min(self.window, timeout))

    def drain(self) -> None:
        """Flush everything queued so far (at stop)."""
        items = self._pending
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._pending = []
        self.flush(items)

    def flush(self, items: Sequence[Item]) -> None:
        events = [event for item in items for event in item.events]
        if events:
            if not self.may_write():
                raise NotLeader("not the leader (lease lost): refusing to write")
            self.stats.record(self.sink(events))
        for item in items:
            self.checkpoint.advance(item.stream, item.rv, item.memo)
        self.checkpoint.save()
        self._pending = []

    def _collect(self, timeout: float) -> list[Item]:
        try:
            first = self._queue.get(timeout=max(timeout, 0.001))
        except queue.Empty:
            return []
        items, count = [first], len(first.events)
        deadline = time.monotonic() + self.window
        while count < self.max_events:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            items.append(item)
            count += len(item.events)
        return items
