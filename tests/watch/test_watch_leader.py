"""Lease-based leader election against the fake API server, with a hand-driven clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_apiserver import FakeApiServer, serve
from kubernetes import client, config

from agentops.watch.leader import LeaderElector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def leases(tmp_path: Path) -> Iterator[client.CoordinationV1Api]:
    api: FakeApiServer
    for api in serve():
        with config.new_client_from_config(
                config_file=str(api.kubeconfig(tmp_path / "kubeconfig"))) as api_client:
            yield client.CoordinationV1Api(api_client)


def elector(leases: client.CoordinationV1Api, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(leases, namespace="ops", name="agentops-watch", identity=identity,
                         lease_duration=15, renew_deadline=10, clock=clock)


def holder(leases: client.CoordinationV1Api) -> str | None:
    spec = leases.read_namespaced_lease("agentops-watch", "ops").spec
    return str(spec.holder_identity) if spec.holder_identity else None


def test_only_one_of_two_replicas_leads(leases: client.CoordinationV1Api) -> None:
    clock = Clock()
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)

    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    assert (a.is_leader(), b.is_leader(), holder(leases)) == (True, False, "a")


def test_leader_stops_writing_before_anyone_may_take_over(
        leases: client.CoordinationV1Api) -> None:
    clock = Clock()
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()  # b observes a's record now

    clock.now += 11  # a has not renewed: past its renew deadline, before the lease expires
    assert not a.is_leader()
    assert not b.try_acquire_or_renew()
    clock.now += 5  # lease_duration since b observed the record: expired
    assert b.try_acquire_or_renew()

    assert holder(leases) == "b"
    assert leases.read_namespaced_lease("agentops-watch", "ops").spec.lease_transitions == 1
    assert not a.try_acquire_or_renew()


def test_renewal_keeps_the_lease(leases: client.CoordinationV1Api) -> None:
    clock = Clock()
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)
    a.try_acquire_or_renew()
    for _ in range(5):
        clock.now += 5
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()

    assert a.is_leader() and holder(leases) == "a"


def test_release_hands_over_at_once(leases: client.CoordinationV1Api) -> None:
    clock = Clock()
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)
    a.try_acquire_or_renew()

    a.release()

    assert not a.is_leader()
    assert b.try_acquire_or_renew() and holder(leases) == "b"


def test_racing_writers_get_one_success(leases: client.CoordinationV1Api) -> None:
    clock = Clock()
    a = elector(leases, "a", clock)
    a.try_acquire_or_renew()
    a.release()
    stale = leases.read_namespaced_lease("agentops-watch", "ops")
    b = elector(leases, "b", clock)
    assert b.try_acquire_or_renew()

    stale.spec.holder_identity = "c"  # c read before b wrote: its replace must conflict
    with pytest.raises(client.ApiException) as conflict:
        leases.replace_namespaced_lease("agentops-watch", "ops", stale)

    assert conflict.value.status == 409 and holder(leases) == "b"
