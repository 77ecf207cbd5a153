"""The sender: committed outbox -> delivery queue -> HTTP, off every agent's hot path.

``agentops notify flush`` runs one pass (cron, a CI step); ``serve`` and ``watch`` run a
:class:`Drainer` thread that passes every second. A pass:

1. takes the sender lock (``.git/agentops/notify/lock``), so two senders never race for the
   same message;
2. reads the outbox files *as committed in HEAD* (``git cat-file``), never the work tree: a
   batch still being written, or undone by crash recovery, is invisible here;
3. adds each (message, channel) it has not seen to the delivery store, plus the reminders that
   time alone makes due (the update cadence of open incidents, overdue follow-ups, post-mortems
   due), whose keys are derived from the time slot so each is made once;
4. sends what is due, oldest first: exponential backoff with jitter between attempts, the
   receiver's ``Retry-After`` honoured for the whole channel, and a message still failing
   ``give_up_after`` after it was created is parked (``notify status``, ``check``,
   ``/metrics``; ``notify retry`` puts it back).
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from agentops import git
from agentops.errors import AgentopsError
from agentops.events import parse_time
from agentops.ledger.model import Incident
from agentops.notify import deliver, due
from agentops.notify.outbox import OUTBOX_DIR, Message, read_lines
from agentops.notify.render import render
from agentops.notify.store import EXPIRED, PENDING, Deliveries, Delivery, store_path
from agentops.paths import RULES_DIR
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy
from agentops.policy.notifications import Notifications, Settings

log = logging.getLogger("agentops.notify")
Post = Callable[..., deliver.Verdict]
MIN_RETRY_AFTER = 0.5  # a "Retry-After: 0" must not turn the pass into a busy loop


class SenderBusy(AgentopsError):
    """Another sender (serve, watch or a flush) holds the lock."""


class Report(NamedTuple):
    queued: int
    sent: int
    retried: int
    parked: int
    counts: dict[str, int]
    errors: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"queued": self.queued, "sent": self.sent, "retried": self.retried,
                "parked": self.parked, "pending": self.counts.get(PENDING, 0),
                "counts": self.counts, "errors": list(self.errors)}


class Sender:
    """One repository's sender; ``clock``, ``jitter`` and ``post`` are seams for tests."""

    def __init__(self, repo: Path, *, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = random.random, post: Post = deliver.post) -> None:
        self.repo = repo
        self.gitdir = git.common_dir(repo)
        self.clock, self.jitter, self.post = clock, jitter, post
        self._incidents_cache: tuple[str, list[Incident]] | None = None

    @contextmanager
    def locked(self, *, wait: float) -> Iterator[None]:
        path = self.gitdir / "agentops" / "notify" / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SenderBusy("another sender is flushing this repository "
                                         "(serve, watch or notify flush); try again") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def flush(self, *, wait: float = 0.0, lock_wait: float = 30.0) -> Report:
        """One pass; with ``wait`` > 0, keep retrying until nothing is pending or it passes."""
        with self.locked(wait=lock_wait):
            store = Deliveries(store_path(self.gitdir))
            try:
                return self._flush(store, wait)
            finally:
                store.close()

    def _flush(self, store: Deliveries, wait: float) -> Report:
        policy = self._policy()
        tally = {"sent": 0, "retried": 0, "parked": 0}
        if policy is None:  # a broken policy sends nothing and parks nothing until fixed
            return Report(0, 0, 0, 0, store.counts(), ("the policy does not load; see "
                                                       "`agentops rules validate`",))
        notes = policy.notifications
        settings = notes.settings if notes else Settings()
        queued = self._queue(store, policy, settings)
        errors: list[str] = []
        end = time.monotonic() + wait
        while True:
            self._send_due(store, notes, settings, tally, errors)
            upcoming = store.next_due()
            if upcoming is None or time.monotonic() >= end:
                break
            time.sleep(min(max(upcoming - self.clock(), 0.05), max(end - time.monotonic(), 0)))
        return Report(queued, tally["sent"], tally["retried"], tally["parked"], store.counts(),
                      tuple(dict.fromkeys(errors)))

    # -- queueing ---------------------------------------------------------------------------

    def _policy(self) -> Policy | None:
        try:
            return load_policy([self.repo / RULES_DIR], base=self.repo,
                               cache=self.gitdir / "agentops" / "notify" / "rules.cache")
        except AgentopsError as exc:
            log.error("cannot load the policy, nothing is sent until it is fixed: %s", exc)
            return None

    def _queue(self, store: Deliveries, policy: Policy, settings: Settings) -> int:
        limit = settings.give_up_after.total_seconds()
        now = self.clock()

        def state_of(msg: Message) -> str:
            return EXPIRED if now - parse_time(msg.created).timestamp() > limit else PENDING

        blobs = self._head_blobs()
        added = store.add(self._committed(store, blobs), state_of=state_of)
        if policy.notifications is not None:
            derived = due.reminders(self._incidents(blobs), policy=policy,
                                    notifications=policy.notifications,
                                    now=datetime.fromtimestamp(now, UTC))
            added += store.add(derived, state_of=lambda m: PENDING)
        return added

    def _head_blobs(self) -> dict[str, str]:
        """Path -> blob id in HEAD for the outbox files and INCIDENTS.md (one ``ls-tree``)."""
        listing = git.run(self.repo, "ls-tree", "HEAD", f"{OUTBOX_DIR}/", "INCIDENTS.md",
                          check=False)
        blobs = {}
        for line in listing.splitlines():
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob":
                blobs[path] = parts[2]
        return blobs

    def _blob(self, blob: str) -> bytes:
        return git.run(self.repo, "cat-file", "blob", blob).encode("utf-8", "surrogateescape")

    def _committed(self, store: Deliveries, blobs: dict[str, str]) -> Iterator[Message]:
        """Messages in outbox blobs of HEAD not read before (each blob is read once)."""
        seen = set((store.meta("outbox_blobs") or "").split())
        outbox = {p: b for p, b in blobs.items() if p.startswith(OUTBOX_DIR + "/")
                  and p.endswith(".jsonl")}
        for path, blob in sorted(outbox.items()):
            if blob not in seen:
                yield from read_lines(self._blob(blob), where=path)
        store.set_meta("outbox_blobs", " ".join(sorted(outbox.values())))

    def _incidents(self, blobs: dict[str, str]) -> list[Incident]:
        blob = blobs.get("INCIDENTS.md", "")
        if self._incidents_cache is None or self._incidents_cache[0] != blob:
            text = self._blob(blob).decode("utf-8") if blob else ""
            self._incidents_cache = (blob, due.parse_incidents(text))
        return self._incidents_cache[1]

    # -- sending ----------------------------------------------------------------------------

    def _send_due(self, store: Deliveries, notes: Notifications | None, settings: Settings,
                  tally: dict[str, int], errors: list[str]) -> None:
        held: dict[str, float] = {}  # channel -> when it may be tried again (Retry-After)
        while batch := [d for d in store.due(self.clock()) if d.channel not in held]:
            for delivery in batch:
                if delivery.channel in held:
                    continue
                result = self._one(store, delivery, notes, settings)
                tally[result.outcome] += 1
                if result.error:
                    errors.append(f"{delivery.key} -> {delivery.channel}: {result.error}")
                if result.outcome == "retried" and result.hold:
                    held[delivery.channel] = result.hold
            for d in store.due(self.clock()):
                if d.channel in held:
                    store.failed(d, error=d.last_error or "waiting for Retry-After",
                                 retry_at=held[d.channel])

    def _one(self, store: Deliveries, d: Delivery, notes: Notifications | None,
             settings: Settings) -> _Result:
        now = self.clock()
        channel = notes.channels.get(d.channel) if notes else None
        age = now - parse_time(d.created).timestamp()
        if channel is None:
            return self._park(store, d, f"channel {d.channel!r} is not in the policy", now)
        if age > settings.give_up_after.total_seconds():
            return self._park(store, d, f"not delivered within give_up_after "
                              f"({d.attempts} attempts; last: {d.last_error or 'none'})", now)
        store.attempting(d, retry_at=now + self._backoff(d.attempts + 1, settings))
        link = settings.incident_url.replace("{id}", d.incident) if settings.incident_url else None
        payload = render(channel.kind, d.body, key=d.key, transition=d.transition,
                         mention=d.mention, link=link)
        verdict = self.post(channel, payload, repo=self.repo, key=d.key,
                            timeout=settings.timeout.total_seconds())
        if verdict.outcome == deliver.SENT:
            store.sent(d, self.clock())
            return _Result("sent")
        if verdict.outcome == deliver.PARK:
            return self._park(store, d, verdict.error or "refused", self.clock())
        delay = self._backoff(d.attempts + 1, settings)
        if verdict.retry_after is not None:
            delay = max(verdict.retry_after, MIN_RETRY_AFTER)
        retry_at = self.clock() + delay
        store.failed(d, error=verdict.error or "failed", retry_at=retry_at)
        log.warning("%s to %s failed, retrying in %.1fs: %s", d.key, d.channel, delay,
                    verdict.error)
        return _Result("retried", verdict.error,
                       retry_at if verdict.retry_after is not None else None)

    def _park(self, store: Deliveries, d: Delivery, error: str, now: float) -> _Result:
        store.park(d, error=error, now=now)
        log.error("parked %s to %s: %s", d.key, d.channel, error)
        return _Result("parked", error)

    def _backoff(self, attempt: int, settings: Settings) -> float:
        """Exponential, capped, with "equal jitter": half fixed, half random."""
        base = settings.retry_initial.total_seconds() * float(2 ** min(attempt - 1, 30))
        delay = min(base, settings.retry_max.total_seconds())
        return delay / 2 + self.jitter() * delay / 2


class _Result(NamedTuple):
    outcome: str  # sent | retried | parked
    error: str | None = None
    hold: float | None = None


class Drainer:
    """The sender as a thread for ``serve`` and ``watch``: a pass every ``interval`` seconds.

    A pass that finds another sender holding the lock is skipped; errors are logged and the
    next pass tries again, so a broken receiver never stops the server.
    """

    def __init__(self, repo: Path, *, interval: float = 1.0,
                 may_send: Callable[[], bool] | None = None) -> None:
        self.sender = Sender(repo)
        self.interval = interval
        self.may_send = may_send or (lambda: True)  # watch: only the lease holder sends
        self.last: Report | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentops-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop after a last pass, so what the final commit queued goes out too."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.pass_once()
            self._stop.wait(self.interval)
        self.pass_once()

    def pass_once(self) -> None:
        if not self.may_send():
            return
        try:
            self.last = self.sender.flush(lock_wait=0.0)
        except SenderBusy:
            pass
        except Exception as exc:  # a sender error must never take the server down
            log.error("notification pass failed: %s", exc)

    def counts(self) -> dict[str, int]:
        return self.last.counts if self.last else {}
