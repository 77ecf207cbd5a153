"""Counters for ``/metrics`` in the Prometheus text format, without a client library.

A handful of counters and one histogram do not justify a dependency; rendering the text
format (version 0.0.4) is a few lines. Label values are limited to the known sources and a
fixed set of reasons, so a hostile client cannot blow up the series count.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
REASONS = (
    "unauthorized", "too_large", "malformed", "invalid", "unknown_source", "spool_error",
    "timeout", "overload",
)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        pairs = zip(self.buckets, self.counts)
        out = [f'{name}_bucket{{le="{bound:g}"}} {n}' for bound, n in pairs]
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        return [*out, f"{name}_sum {self.total:.6f}", f"{name}_count {self.count}"]


class Metrics:
    """Thread-safe counters updated by the request path and the committer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.accepted_events: Counter[str] = Counter()
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.commits = 0
        self.commit_errors = 0
        self.dead_letters = 0
        self.committed_events = 0
        self.duplicate_events = 0
        self.latency = Histogram(LATENCY_BUCKETS)
        self.commit_duration = Histogram(LATENCY_BUCKETS)

    def count_received(self, source: str) -> None:
        with self._lock:
            self.received[source] += 1

    def count_accepted(self, source: str, events: int) -> None:
        with self._lock:
            self.accepted[source] += 1
            self.accepted_events[source] += events

    def count_rejected(self, source: str, reason: str) -> None:
        with self._lock:
            self.rejected[(source, reason)] += 1

    def count_commit(
        self, *, events: int, duplicates: int, duration: float, ages: Iterable[float]
    ) -> None:
        with self._lock:
            self.commits += 1
            self.committed_events += events
            self.duplicate_events += duplicates
            self.commit_duration.observe(duration)
            for age in ages:
                self.latency.observe(max(age, 0.0))

    def count_commit_error(self) -> None:
        with self._lock:
            self.commit_errors += 1

    def count_dead_letter(self) -> None:
        with self._lock:
            self.dead_letters += 1

    def render(self, *, spool_depth: int, spool_failed: int,
               notify: dict[str, int] | None = None) -> str:
        with self._lock:
            lines = [
                *_counter("agentops_hook_requests_received_total",
                          "Webhook requests received.", _by_source(self.received)),
                *_counter("agentops_hook_requests_accepted_total",
                          "Webhook requests spooled and answered 202.", _by_source(self.accepted)),
                *_counter("agentops_hook_events_accepted_total",
                          "Events in accepted requests.", _by_source(self.accepted_events)),
                *_counter("agentops_hook_requests_rejected_total",
                          "Webhook requests refused, by reason.", _by_reason(self.rejected)),
                *_gauge("agentops_spool_depth", "Accepted requests not yet committed.",
                        spool_depth),
                *_gauge("agentops_spool_failed", "Spooled requests the pipeline refused "
                        "(kept in spool/failed/).", spool_failed),
                *_counter("agentops_commits_total", "Group commits made.", [("", self.commits)]),
                *_counter("agentops_commit_errors_total", "Failed commit attempts (retried).",
                          [("", self.commit_errors)]),
                *_counter("agentops_dead_letters_total", "Spooled requests the pipeline kept "
                          "refusing, moved to spool/failed/.", [("", self.dead_letters)]),
                *_counter("agentops_events_committed_total", "Events passed to the pipeline.",
                          [("", self.committed_events)]),
                *_counter("agentops_events_duplicate_total", "Events already recorded "
                          "(same idempotency key).", [("", self.duplicate_events)]),
                "# HELP agentops_commit_latency_seconds Time from 202 to the commit, per request.",
                "# TYPE agentops_commit_latency_seconds histogram",
                *self.latency.lines("agentops_commit_latency_seconds"),
                "# HELP agentops_commit_duration_seconds Time the pipeline took per group commit.",
                "# TYPE agentops_commit_duration_seconds histogram",
                *self.commit_duration.lines("agentops_commit_duration_seconds"),
                *_notify_lines(notify),
            ]
        return "\n".join(lines) + "\n"


def _notify_lines(counts: dict[str, int] | None) -> list[str]:
    """Deliveries by state; ``parked`` above 0 wants a person (``agentops notify status``)."""
    if counts is None:
        return []
    name = "agentops_notifications"
    return [f"# HELP {name} Notification deliveries by state (parked: gave up, see "
            "`agentops notify status`).", f"# TYPE {name} gauge",
            *(f'{name}{{state="{_escape(s)}"}} {n}' for s, n in sorted(counts.items()))]


def _by_source(counter: Counter[str]) -> list[tuple[str, int]]:
    return [(f'{{source="{_escape(s)}"}}', n) for s, n in sorted(counter.items())]


def _by_reason(counter: Counter[tuple[str, str]]) -> list[tuple[str, int]]:
    return [(f'{{source="{_escape(s)}",reason="{_escape(r)}"}}', n)
            for (s, r), n in sorted(counter.items())]


def _counter(name: str, text: str, samples: list[tuple[str, int]]) -> list[str]:
    return [f"# HELP {name} {text}", f"# TYPE {name} counter",
            *(f"{name}{labels} {value}" for labels, value in samples)]


def _gauge(name: str, text: str, value: int) -> list[str]:
    return [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value}"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
