"""The forever-loop around :func:`~agentops.watch.cycle.list_then_watch`, with backoff.

Deliberately tiny (and the one place with retries): what a cycle's end means is decided here
in five lines, everything else is tested in the cycle. 410 lists again at once; a 404 ends the
loop (the resource is not installed); any other error waits with capped exponential backoff
and resumes from the last resourceVersion reached.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from agentops.watch.cycle import Gone, ListCall, NotServed, StreamError, list_then_watch
from agentops.watch.resources import Tracker

log = logging.getLogger("agentops.watch")


@dataclass
class Backoff:
    """0.5 s, 1 s, 2 s ... capped at ``cap``; reset after a cycle that ended cleanly."""

    first: float = 0.5
    cap: float = 30.0
    _next: float = 0.0

    def next(self) -> float:
        self._next = self.first if not self._next else min(self._next * 2, self.cap)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


def watch_forever(
    api_call: ListCall, *, tracker: Tracker, stop: threading.Event, timeout_seconds: int,
    backoff: Backoff | None = None,
) -> None:
    backoff = backoff or Backoff()
    rv = tracker.since_rv
    while not stop.is_set():
        try:
            rv = list_then_watch(
                api_call, resource=tracker.key, since_rv=rv, on_list=tracker.listed,
                on_event=tracker.changed, on_bookmark=tracker.bookmark, stop=stop,
                timeout_seconds=timeout_seconds)
            backoff.reset()
            tracker.reached(None)
        except Gone as exc:
            tracker.reached(None)
            log.info("%s; listing again", exc)
            rv = None
        except NotServed as exc:
            tracker.reached(None)
            log.info("%s; not watching it", exc)
            return
        except StreamError as exc:
            rv = exc.rv
            tracker.reached(str(exc))
            if stop.wait(delay := backoff.next()):
                return  # stopping: a thread that outlives the command must not write
            log.warning("%s; retried after %.1fs", exc, delay)
