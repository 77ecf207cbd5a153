"""The issue's acceptance scenarios: the watcher against the fake API server, the real pipeline
and a real managed repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_apiserver import FakeApiServer, serve
from watch_helpers import (
    CountingSink,
    Crash,
    commits,
    deployment,
    fixture,
    incidents,
    managed_repo,
    pod,
    start_watcher,
    wait_checkpointed,
    wait_streams,
    wait_until,
    warning,
    watching,
)

from agentops.watch.checkpoint import Checkpoint


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return managed_repo(tmp_path / "repo")


@pytest.fixture
def sink(repo: Path) -> CountingSink:
    return CountingSink(repo)


def opened(repo: Path) -> list[tuple[str, str, str]]:
    """(category, rule, subject without the cluster name) of every incident."""
    return sorted((inc["category"], inc["rule"], inc["subject"].removeprefix("test/"))
                  for inc in incidents(repo).values())


def test_crashloop_pod_in_production_opens_one_incident(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "pods")
        created = api.create(pod("web", "prod"))
        api.update(pod("web", "prod", waiting="CrashLoopBackOff", restarts=3) | {
            "metadata": created["metadata"]})
        api.update(pod("web", "prod", waiting="CrashLoopBackOff", restarts=3) | {
            "metadata": created["metadata"]})  # a status update in the same episode
        wait_until(lambda: len(incidents(repo)) == 1)
        watcher.stop()

    assert opened(repo) == [("DEPLOYMENT_FAILURE", "production-workload-degraded",
                             "prod/Pod/web")]


def test_crashloop_fixture_pod_listed_at_start_opens_one_incident(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    api.create(fixture("kubernetes", "pod-CrashLoopBackOff.yaml", namespace="payments-prod"))

    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_until(lambda: len(incidents(repo)) == 1)
        watcher.stop()

    (category, rule, subject), = opened(repo)
    assert (category, rule) == ("DEPLOYMENT_FAILURE", "production-workload-degraded")
    assert subject.startswith("payments-prod/Pod/")


def test_deployment_deleted_in_production_opens_one_deletion_incident(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    api.create(deployment("api", "prod"))
    api.create(deployment("api", "dev"))
    api.create(pod("api-123", "prod", owned=True))
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "deployments", "pods")
        api.delete("deployments", "prod", "api")
        api.delete("deployments", "dev", "api")
        api.delete("pods", "prod", "api-123")  # owned by a ReplicaSet: routine churn
        wait_until(lambda: len(incidents(repo)) == 1)
        watcher.stop()

    assert opened(repo) == [("CONFIGURATION_DRIFT", "production-resource-deleted",
                             "prod/Deployment/api")]


def test_deletion_in_dev_namespace_opens_nothing(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    api.create(deployment("api", "dev"))
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "deployments")
        api.delete("deployments", "dev", "api")
        api.create(deployment("marker", "dev"))
        wait_until(lambda: watcher.thread.is_alive() and sink.calls == [] and
                   Checkpoint.for_repo(repo, cluster=api.url).state("deployments").rv
                   == api.resource_version)
        stats = watcher.stop()

    assert incidents(repo) == {}
    assert stats.events == 0


def test_progress_deadline_exceeded_opens_deployment_failure(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "deployments")
        api.create(fixture("kubernetes", "deployment-ProgressDeadlineExceeded.yaml",
                           namespace="prod"))
        wait_until(lambda: len(incidents(repo)) == 1)
        watcher.stop()

    assert opened(repo) == [("DEPLOYMENT_FAILURE", "production-deployment-failed",
                             "prod/Deployment/guestbook-ui")]


def test_node_going_not_ready_opens_cluster_failure(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    node = fixture("kubernetes", "node-Ready-False.yaml")
    ready = {**node, "status": {**node["status"], "conditions": [
        {**c, "status": "True", "reason": "KubeletReady"} if c["type"] == "Ready" else c
        for c in node["status"]["conditions"]]}}
    api.create(ready)
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "nodes")
        api.update(node)
        wait_until(lambda: len(incidents(repo)) == 2)
        watcher.stop()

    name = "gk3-infra-cluster-pool-2-be3fcd50-lzd5"
    assert opened(repo) == [  # the Ready=False sample also takes availability below 99.9%
        ("CLUSTER_FAILURE", "availability-samples-below-target", f"Node/{name}"),
        ("CLUSTER_FAILURE", "node-not-ready", f"Node/{name}"),
    ]


def test_recovered_pod_resolves_its_incident(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "pods")
        meta = api.create(pod("web", "prod"))["metadata"]
        api.update(pod("web", "prod", waiting="CrashLoopBackOff", restarts=2) | {"metadata": meta})
        wait_until(lambda: len(incidents(repo)) == 1)
        api.update(pod("web", "prod", restarts=2) | {"metadata": meta})
        wait_until(lambda: [i["status"] for i in incidents(repo).values()] == ["Resolved"])
        watcher.stop()


def test_storm_updates_one_incident_per_pod_in_few_commits(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    with watching(api, repo, sink, tmp=tmp_path, window=0.5, kinds=("events",)) as watcher:
        wait_streams(api, "events")
        for i in range(1000):
            api.create(warning(f"bo-{i}", "prod", pod_name=f"web-{i % 20}", count=1))
        wait_until(lambda: sum(sink.calls) == 1000, timeout=60)
        stats = watcher.stop()

    assert len(incidents(repo)) == 20
    assert sum(inc["occurrences"] for inc in incidents(repo).values()) == 1000
    assert stats.events == 1000 and len(stats.commits) == len(sink.calls) < 20


def test_kill_between_commit_and_checkpoint_then_restart_writes_no_duplicates(
        api: FakeApiServer, repo: Path, tmp_path: Path) -> None:
    crashing = CountingSink(repo, crash_after=1)
    watcher = start_watcher(api, repo, crashing, tmp=tmp_path)
    wait_streams(api, "pods", "deployments")
    api.create(pod("a", "prod", waiting="CrashLoopBackOff", restarts=1))
    wait_until(lambda: bool(crashing.calls))
    with pytest.raises(Crash):
        watcher.stop()
    # while it is down: one more failure and a deletion
    api.create(pod("b", "prod", waiting="ImagePullBackOff"))
    api.create(deployment("gone", "prod"))
    before = len(commits(repo))

    sink = CountingSink(repo)
    with watching(api, repo, sink, tmp=tmp_path) as restarted:
        wait_checkpointed(repo, api, "deployments")
        api.delete("deployments", "prod", "gone")
        wait_until(lambda: len(incidents(repo)) == 3)
        restarted.stop()

    assert opened(repo) == [
        ("CONFIGURATION_DRIFT", "production-resource-deleted", "prod/Deployment/gone"),
        ("DEPLOYMENT_FAILURE", "production-workload-degraded", "prod/Pod/a"),
        ("DEPLOYMENT_FAILURE", "production-workload-degraded", "prod/Pod/b"),
    ]
    assert all(inc["occurrences"] == 1 for inc in incidents(repo).values())
    assert any(o.duplicate for o in sink.outcomes)  # the replayed batch wrote nothing
    assert len(commits(repo)) - before == len({o.commit for o in sink.outcomes
                                               if not o.duplicate})


def test_restart_resumes_from_checkpoint_without_listing(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "pods")
        api.create(pod("a", "prod", waiting="CrashLoopBackOff", restarts=1))
        wait_until(lambda: len(incidents(repo)) == 1)
        watcher.stop()
    api.create(pod("b", "prod", waiting="CrashLoopBackOff", restarts=1))
    lists_before = [r for r in api.requests if r.path == "/api/v1/pods"
                    and "watch" not in r.query]

    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_until(lambda: len(incidents(repo)) == 2)
        watcher.stop()

    lists_after = [r for r in api.requests if r.path == "/api/v1/pods" and "watch" not in r.query]
    assert lists_after == lists_before  # resumed by watching from the saved resourceVersion
    assert not any(o.duplicate for o in sink.outcomes)


def test_forced_410_relists_without_duplicates(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    api.create(deployment("doomed", "prod"))
    with watching(api, repo, sink, tmp=tmp_path) as watcher:
        wait_streams(api, "pods", "deployments")
        api.create(pod("a", "prod", waiting="CrashLoopBackOff", restarts=1))
        wait_until(lambda: len(incidents(repo)) == 1)
        api.compact(api.resource_version)
        api.fail_next_list("deployments", 410)  # the relist itself is refused once
        api.inject_stream_error("pods")
        api.inject_stream_error("deployments")
        api.delete("deployments", "prod", "doomed")  # during the gap
        wait_until(lambda: len(incidents(repo)) == 2)
        wait_streams(api, "pods", "deployments")
        watcher.stop()

    assert opened(repo) == [
        ("CONFIGURATION_DRIFT", "production-resource-deleted", "prod/Deployment/doomed"),
        ("DEPLOYMENT_FAILURE", "production-workload-degraded", "prod/Pod/a"),
    ]
    assert all(inc["occurrences"] == 1 for inc in incidents(repo).values())


def test_label_selected_namespace_counts_as_production(
        api: FakeApiServer, repo: Path, sink: CountingSink, tmp_path: Path) -> None:
    api.create({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "payments", "labels": {"tier": "production"}}})
    api.create(deployment("api", "payments"))
    with watching(api, repo, sink, tmp=tmp_path, selector="tier=production") as watcher:
        wait_streams(api, "deployments")
        api.delete("deployments", "payments", "api")
        wait_until(lambda: len(incidents(repo)) == 1)
        watcher.stop()

    assert opened(repo) == [("CONFIGURATION_DRIFT", "production-resource-deleted",
                             "payments/Deployment/api")]
