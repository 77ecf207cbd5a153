"""Wiring: one thread per stream (kind x namespace) feeding one batcher on the calling thread.

Watch threads are daemons that only read the cluster and put items on the batcher's queue;
the calling thread alone writes (sink, checkpoint), so stopping is simple: set ``stop``, flush
what is queued, save the checkpoint. Anything a watch thread still delivers after that was not
checkpointed and is read again on the next start. The namespace stream starts first and is
always listed afresh, so that label-selected production namespaces are known before any other
stream reports a deletion.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from agentops.errors import AgentopsError
from agentops.watch.batcher import WINDOW, Batcher, NotLeader, Sink, Stats
from agentops.watch.checkpoint import Checkpoint
from agentops.watch.cycle import WATCH_TIMEOUT, ListCall, raw_call
from agentops.watch.leader import LeaderElector
from agentops.watch.loop import watch_forever
from agentops.watch.resources import KINDS, Kind, Placement, Tracker, stream_key

log = logging.getLogger("agentops.watch")
READY_WAIT = 10.0
# After the deadline or a signal, how long the watch threads get to finish the call they are
# in (each call has a connect timeout below this); a thread still in one after that is a
# daemon that has been told to stop and writes nothing more.
JOIN_BUDGET = 1.0


class Unreachable(AgentopsError):
    """No stream ever got an answer from the API server; the message is the last error."""
TYPED: dict[str, tuple[str, str, str | None]] = {  # plural -> (api, all, namespaced)
    "namespaces": ("CoreV1Api", "list_namespace", None),
    "nodes": ("CoreV1Api", "list_node", None),
    "events": ("CoreV1Api", "list_event_for_all_namespaces", "list_namespaced_event"),
    "pods": ("CoreV1Api", "list_pod_for_all_namespaces", "list_namespaced_pod"),
    "deployments": ("AppsV1Api", "list_deployment_for_all_namespaces",
                    "list_namespaced_deployment"),
    "jobs": ("BatchV1Api", "list_job_for_all_namespaces", "list_namespaced_job"),
}


@dataclass(frozen=True)
class Options:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    kinds: tuple[str, ...] = tuple(KINDS)
    duration: float | None = None  # seconds; None: until stopped
    window: float = WINDOW
    watch_timeout: int = WATCH_TIMEOUT
    cluster: str | None = None  # subject.cluster of every event


def list_call(api_client: Any, kind: Kind, namespace: str | None) -> ListCall:
    """The client's list function for ``kind`` (in ``namespace``), returning raw JSON."""
    from kubernetes import client

    if kind.plural in TYPED:
        api_name, everywhere, namespaced = TYPED[kind.plural]
        api = getattr(client, api_name)(api_client)
        if namespace and namespaced:
            return raw_call(partial(getattr(api, namespaced), namespace))
        return raw_call(getattr(api, everywhere))
    custom = client.CustomObjectsApi(api_client)
    if namespace:
        return raw_call(partial(custom.list_namespaced_custom_object, kind.group, kind.version,
                                namespace, kind.plural))
    return raw_call(partial(custom.list_cluster_custom_object, kind.group, kind.version,
                            kind.plural))


def run(
    *, api_client: Any, sink: Sink, checkpoint: Checkpoint, placement: Placement,
    options: Options = Options(), elector: LeaderElector | None = None,
    stop: threading.Event | None = None,
) -> Stats:
    """Watch until ``stop`` is set or ``options.duration`` passes; returns what was written."""
    stop = stop or threading.Event()
    may_write: Callable[[], bool] = elector.is_leader if elector else (lambda: True)
    batcher = Batcher(sink, checkpoint, window=options.window, may_write=may_write)
    deadline = time.monotonic() + options.duration if options.duration is not None else None
    if elector is not None and not elector.acquire(stop):
        return batcher.stats
    threads: list[threading.Thread] = []
    trackers: list[Tracker] = []
    try:
        if elector is not None:
            threads.append(_start(partial(elector.keep_renewing, stop, stop.set), "lease"))
        trackers = _start_streams(api_client, batcher, checkpoint, placement, options, stop,
                                  threads=threads, deadline=deadline)
        _pump(batcher, stop, deadline)
    finally:
        stop.set()
        _join(threads, time.monotonic() + JOIN_BUDGET)
    if elector is not None and not elector.is_leader():
        raise NotLeader("lost the lease: stopped without writing the last batch")
    batcher.drain()
    if elector is not None:
        elector.release()
    unreached = [t for t in trackers if not t.contacted.is_set() and t.last_error]
    if trackers and len(unreached) == len(trackers):
        raise Unreachable(unreached[0].last_error or "no answer")
    return batcher.stats


def _join(threads: Sequence[threading.Thread], until: float) -> None:
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()))


def _pump(batcher: Batcher, stop: threading.Event, deadline: float | None) -> None:
    while not stop.is_set():
        remaining = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
        if remaining <= 0:
            return
        batcher.run_once(remaining)


def _start_streams(
    api_client: Any, batcher: Batcher, checkpoint: Checkpoint, placement: Placement,
    options: Options, stop: threading.Event, *, threads: list[threading.Thread],
    deadline: float | None = None,
) -> list[Tracker]:
    trackers = []
    for kind, namespace in _streams(options):
        key = stream_key(kind.plural, namespace)
        state = checkpoint.state(key)
        tracker = Tracker(key, kind, batcher, placement, cluster=options.cluster,
                          since_rv=None if kind.plural == "namespaces" else state.rv,
                          known=dict(state.objects))
        call = list_call(api_client, kind, namespace)
        threads.append(_start(partial(watch_forever, call, tracker=tracker, stop=stop,
                                      timeout_seconds=options.watch_timeout), key))
        trackers.append(tracker)
        if kind.plural == "namespaces" and not _wait_ready(tracker, stop, deadline):
            if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                break  # stopping before the first list: the other streams would only fail
            log.warning("namespaces not listed after %.0fs; label selection may lag",
                        READY_WAIT)
    return trackers


def _wait_ready(tracker: Tracker, stop: threading.Event, deadline: float | None) -> bool:
    """Wait for the namespaces to be listed: at most READY_WAIT, never past the deadline."""
    until = time.monotonic() + READY_WAIT
    if deadline is not None:
        until = min(until, deadline)
    while not tracker.ready.is_set() and not stop.is_set():
        remaining = until - time.monotonic()
        if remaining <= 0:
            break
        tracker.ready.wait(min(remaining, 0.1))
    return tracker.ready.is_set()


def _streams(options: Options) -> list[tuple[Kind, str | None]]:
    ordered = sorted(options.kinds, key=lambda name: name != "namespaces")
    out: list[tuple[Kind, str | None]] = []
    for name in ordered:
        kind = KINDS[name]
        scopes: Sequence[str | None] = options.namespaces if (
            kind.namespaced and options.namespaces) else [None]
        out.extend((kind, namespace) for namespace in scopes)
    return out


def _start(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=f"agentops-watch-{name}", daemon=True)
    thread.start()
    return thread
