"""Trackers (raw changes -> events with transitions), the batcher and the checkpoint, in memory."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from watch_helpers import deployment, fixture, pod, warning

from agentops.events import Event
from agentops.watch.batcher import Batcher, NotLeader
from agentops.watch.checkpoint import Checkpoint
from agentops.watch.cycle import Change, RawObject
from agentops.watch.gitops import application_events, flux_events
from agentops.watch.resources import KINDS, Item, Placement, Tracker, parse_selector


class Outbox:
    def __init__(self) -> None:
        self.items: list[Item] = []

    def put(self, item: Item) -> None:
        self.items.append(item)

    def events(self) -> list[tuple[str, str | None]]:
        return [(e.type, e.environment) for i in self.items for e in i.events]


def raw(obj: dict[str, Any], uid: str, rv: str = "1") -> RawObject:
    obj["metadata"] |= {"uid": uid, "resourceVersion": rv}
    return cast(RawObject, obj)


def tracker(plural: str, outbox: Outbox, *, selector: str | None = None,
            known: dict[str, RawObject] | None = None) -> Tracker:
    globs = Placement(lambda ns: fnmatch.fnmatch(ns, "prod*"), selector)
    return Tracker(plural, KINDS[plural], outbox, globs, known=known or {})


def test_pod_updates_report_transitions_only() -> None:
    out = Outbox()
    pods = tracker("pods", out)

    pods.changed(Change("ADDED", raw(pod("web", "prod"), "u1"), "1"))
    for rv in ("2", "3"):  # two status updates of one crash-loop episode
        pods.changed(Change("MODIFIED", raw(pod("web", "prod", waiting="CrashLoopBackOff",
                                                restarts=1), "u1", rv), rv))
    pods.changed(Change("MODIFIED", raw(pod("web", "prod", restarts=1), "u1", "4"), "4"))

    assert out.events() == [("workload.degraded", None), ("workload.recovered", None)]
    assert [item.rv for item in out.items] == ["1", "2", "3", "4"]


def test_relist_synthesises_deletions_missed_during_a_gap() -> None:
    out = Outbox()
    deployments = tracker("deployments", out)
    deployments.listed([raw(deployment("a", "prod"), "ua"), raw(deployment("b", "prod"), "ub")],
                       "5")

    deployments.listed([raw(deployment("a", "prod"), "ua")], "9")

    deleted = [e for e in out.items[-1].events]
    assert [(e.type, e.subject.name) for e in deleted] == [("resource.deleted", "b")]
    assert ("ub", None) in out.items[-1].memo


def test_deletions_only_in_production_and_not_of_controlled_objects() -> None:
    out = Outbox()
    pods = tracker("pods", out)
    for name, ns, owned in (("bare", "prod", False), ("rs-pod", "prod", True),
                            ("dev-pod", "dev", False)):
        pods.changed(Change("DELETED", raw(pod(name, ns, owned=owned), name), "2"))

    assert [e.subject.name for i in out.items for e in i.events] == ["bare"]


def test_memo_keeps_deletable_production_objects_and_troubled_ones() -> None:
    out = Outbox()
    pods = tracker("pods", out)
    pods.changed(Change("ADDED", raw(pod("calm", "dev"), "u1"), "1"))
    pods.changed(Change("ADDED", raw(pod("sick", "dev", waiting="ImagePullBackOff"), "u2"), "2"))
    pods.changed(Change("ADDED", raw(pod("bare", "prod"), "u3"), "3"))

    assert [[uid for uid, _ in item.memo] for item in out.items] == [[], ["u2"], ["u3"]]
    kept = out.items[2].memo[0][1]
    assert kept is not None and "spec" in kept and "containers" not in kept["spec"]


def test_only_warning_events_are_forwarded() -> None:
    out = Outbox()
    events = tracker("events", out)
    normal = warning("n", "prod", pod_name="p", count=1) | {"type": "Normal"}

    events.changed(Change("ADDED", raw(normal, "e1"), "1"))
    events.changed(Change("ADDED", raw(warning("w", "prod", pod_name="p", count=1), "e2"), "2"))
    events.changed(Change("DELETED", raw(warning("w", "prod", pod_name="p", count=1), "e2"), "3"))

    assert out.events() == [("k8s.warning", None)]
    assert events.known == {}  # core Events are not tracked


def test_label_selected_namespace_places_events_in_production() -> None:
    out = Outbox()
    namespaces = tracker("namespaces", out, selector="team=pay,env!=dev")
    shared = namespaces.placement
    pods = Tracker("pods", KINDS["pods"], out, shared)
    labelled = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "payments", "labels": {"team": "pay"}}}

    namespaces.listed([raw(labelled, "ns1")], "1")
    pods.changed(Change("ADDED", raw(pod("p", "payments", waiting="CrashLoopBackOff"), "p1"),
                        "2"))
    namespaces.changed(Change("DELETED", raw(labelled, "ns1", "3"), "3"))

    assert out.events() == [("workload.degraded", "production"),
                            ("resource.deleted", "production")]
    assert not shared.is_production("payments")


def test_selector_terms() -> None:
    match = parse_selector("a=1,b==2,c!=3,d,!e")

    assert match({"a": "1", "b": "2", "d": ""})
    assert not match({"a": "1", "b": "2", "d": "", "e": ""})
    assert not match({"a": "1", "b": "2", "c": "3", "d": ""})


def test_argo_application_failure_and_recovery_are_transitions() -> None:
    app = cast(RawObject, fixture("argocd", "application-health-degraded.yaml"))
    healthy = cast(RawObject, {**app, "status": {**app["status"], "health": {"status": "Healthy"}}})

    failed = application_events(None, app, cluster="c")
    again = application_events(app, app, cluster="c")
    recovered = application_events(app, healthy, cluster="c")

    # The sync succeeded; the health is what failed, and what recovers.
    assert [e.type for e in failed] == ["health.degraded"]
    assert again == []
    assert [e.type for e in recovered] == ["health.recovered"]


def test_flux_ready_false_is_a_failure_once() -> None:
    ks = cast(RawObject, fixture("flux", "kustomization-ReconciliationFailed.yaml"))

    failed = flux_events(None, ks, cluster=None)

    assert [(e.type, e.attributes["reason"]) for e in failed] == [
        ("deployment.failed", "ReconciliationFailed")]
    assert flux_events(ks, ks, cluster=None) == []


class ListSink:
    def __init__(self, fail: int = 0) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def __call__(self, events: Sequence[Event]) -> Sequence[Any]:
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.calls.append(len(events))
        return []


def checkpoint(tmp_path: Path) -> Checkpoint:
    return Checkpoint.load(tmp_path / "state.json", cluster="https://c")


def items(n: int) -> list[Item]:
    event = Outbox()
    tracker("pods", event).changed(Change("ADDED", raw(pod("p", "prod", waiting="ErrImagePull"),
                                                       "u"), "1"))
    ev = event.items[0].events
    return [Item("pods", str(i + 1), ev) for i in range(n)]


def test_one_window_is_one_sink_call_then_the_checkpoint(tmp_path: Path) -> None:
    sink = ListSink()
    batcher = Batcher(sink, checkpoint(tmp_path), window=0.2)
    for item in items(5) + [Item("nodes", "7")]:
        batcher.put(item)

    batcher.run_once(1.0)

    assert sink.calls == [5]
    saved = checkpoint(tmp_path)
    assert (saved.state("pods").rv, saved.state("nodes").rv) == ("5", "7")


def test_a_failed_batch_is_retried_and_not_checkpointed_before(tmp_path: Path) -> None:
    sink = ListSink(fail=1)
    batcher = Batcher(sink, checkpoint(tmp_path), window=0.05)
    for item in items(2):
        batcher.put(item)

    batcher.run_once(0.5)
    assert checkpoint(tmp_path).state("pods").rv is None
    batcher.put(items(3)[2])
    batcher.run_once(0.5)

    assert sink.calls == [3]
    assert checkpoint(tmp_path).state("pods").rv == "3"


def test_a_replica_that_is_not_leader_refuses_to_write(tmp_path: Path) -> None:
    batcher = Batcher(ListSink(), checkpoint(tmp_path), window=0.01, may_write=lambda: False)
    batcher.put(items(1)[0])

    with pytest.raises(NotLeader):
        batcher.run_once(0.5)
    assert checkpoint(tmp_path).state("pods").rv is None


def test_checkpoint_of_another_cluster_is_ignored(tmp_path: Path) -> None:
    first = checkpoint(tmp_path)
    first.advance("pods", "42", (("u", cast(RawObject, {"metadata": {"name": "x"}})),))
    first.save()

    other = Checkpoint.load(tmp_path / "state.json", cluster="https://elsewhere")

    assert checkpoint(tmp_path).state("pods").rv == "42"
    assert checkpoint(tmp_path).state("pods").objects == {"u": {"metadata": {"name": "x"}}}
    assert other.state("pods").rv is None
