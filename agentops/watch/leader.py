"""Leader election on a coordination.k8s.io Lease, so that two replicas never both write.

The algorithm of client-go's ``leaderelection``: read the Lease; take it if it is free, ours,
or its holder has not renewed it for ``lease_duration`` *as observed by our own clock* (the
renewTime written by another machine is never compared with our clock); every write is a
``replace`` carrying the resourceVersion we read, so two candidates racing for the same Lease
get one success and one 409. A leader may write only until ``renew_deadline`` after its last
successful renewal, which is shorter than ``lease_duration``: by the time anybody else may take
the Lease, the old leader has already stopped writing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("agentops.watch")


@dataclass
class LeaderElector:
    api: Any  # kubernetes.client.CoordinationV1Api
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    clock: Callable[[], float] = time.monotonic
    _valid_until: float = 0.0
    _observed: tuple[Any, ...] | None = None
    _observed_at: float = 0.0

    def is_leader(self) -> bool:
        """Whether this replica may write now."""
        return self.clock() < self._valid_until

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when we hold the Lease afterwards."""
        from kubernetes.client.exceptions import ApiException

        started = self.clock()
        try:
            ok = self._attempt()
        except ApiException as exc:
            if exc.status not in (404, 409):
                log.warning("lease %s/%s: HTTP %s %s", self.namespace, self.name,
                            exc.status, exc.reason)
            ok = False
        if ok:
            self._valid_until = started + self.renew_deadline
        return ok

    def _attempt(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.api.create_namespaced_lease(self.namespace, self._new_lease())
            return True
        spec = lease.spec
        holder = spec.holder_identity or ""
        if holder and holder != self.identity and not self._expired(spec):
            return False
        if holder != self.identity:
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
            spec.acquire_time = _now()
        spec.holder_identity = self.identity
        spec.lease_duration_seconds = max(1, round(self.lease_duration))
        spec.renew_time = _now()
        self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        return True

    def _expired(self, spec: Any) -> bool:
        record = (spec.holder_identity, spec.renew_time, spec.lease_duration_seconds)
        if record != self._observed:
            self._observed, self._observed_at = record, self.clock()
        duration = spec.lease_duration_seconds or self.lease_duration
        return self.clock() > self._observed_at + duration

    def _new_lease(self) -> Any:
        from kubernetes import client

        now = _now()
        return client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=self.identity, acquire_time=now, renew_time=now,
                lease_duration_seconds=max(1, round(self.lease_duration)), lease_transitions=0))

    def acquire(self, stop: threading.Event) -> bool:
        """Block until we lead (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            if self.try_acquire_or_renew():
                log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
                return True
            stop.wait(self.retry_period)
        return False

    def keep_renewing(self, stop: threading.Event, on_lost: Callable[[], None]) -> None:
        """Renew every ``retry_period``; call ``on_lost`` once the deadline passes unrenewed."""
        while not stop.wait(self.retry_period):
            if not self.try_acquire_or_renew() and not self.is_leader():
                log.error("lost lease %s/%s", self.namespace, self.name)
                on_lost()
                return

    def release(self) -> None:
        """Give the Lease up (holder cleared) so another replica need not wait it out."""
        from kubernetes.client.exceptions import ApiException

        if not self.is_leader():
            return
        self._valid_until = 0.0
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, exc)


def _now() -> datetime:
    return datetime.now(UTC)
