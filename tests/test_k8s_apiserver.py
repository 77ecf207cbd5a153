"""The fake apiserver speaks LIST+WATCH to real clients: the official client and kubectl.

How the official ``kubernetes`` client surfaces 410 (asserted below):
- an in-stream ``ERROR`` event with code 410 becomes ``ApiException(status=410)`` whose
  reason is ``"Expired: too old resource version: ..."`` when ``timeout_seconds`` is given;
  without ``timeout_seconds`` ``Watch.stream`` silently re-watches once from the last
  resourceVersion it saw and raises only if that second watch fails the same way;
- a LIST answered with HTTP 410 raises ``ApiException(status=410, reason="Gone")`` whose
  ``body`` is the ``Status`` JSON (reason ``Expired``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from conftest import fixture_path
from k8s_apiserver import FakeApiServer, serve
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not found")


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


@pytest.fixture
def kubeconfig(api: FakeApiServer, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(kubeconfig)) as api_client:
        yield api_client


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


def pod(name: str, namespace: str = "prod", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}}


def kubectl(kubeconfig: Path, *args: str) -> str:
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def watch_requests(api: FakeApiServer) -> list[dict[str, str]]:
    return [r.query for r in api.requests if r.query.get("watch") in ("true", "1")]


# --- the official client: LIST --------------------------------------------------------------


def test_load_kube_config_reaches_the_server(kubeconfig: Path, api: FakeApiServer) -> None:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        assert client.VersionApi(api_client).get_code().git_version == "v1.32.0"
    assert configuration.host == api.url


def test_token_is_enforced_when_asked_for(tmp_path: Path) -> None:
    with FakeApiServer(token="s3cret") as api, config.new_client_from_config(
            config_file=str(api.kubeconfig(tmp_path / "kubeconfig"))) as api_client, \
            client.ApiClient(client.Configuration(host=api.url)) as anonymous:
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(anonymous).list_node()

        assert client.CoreV1Api(api_client).list_node().items == []
    assert denied.value.status == 401


def test_list_returns_fixture_pods_with_fresh_versions(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    api.load_fixture(fixture_path("kubernetes", "podlist-OOMKilled.json"))
    api.load_fixture(fixture_path("kubernetes", "pod-CrashLoopBackOff.yaml"))

    pods = core.list_pod_for_all_namespaces()

    assert [(p.metadata.namespace, p.metadata.name) for p in pods.items] == [
        ("argocd", "my-pod"), ("message-oomkill-pod", "oom-kill-job3-gbb89")]
    assert pods.metadata.resource_version == api.resource_version == "3"
    assert [p.metadata.resource_version for p in pods.items] == ["3", "2"]
    oom = pods.items[1].status.container_statuses[0].state.terminated
    assert (oom.reason, oom.exit_code) == ("OOMKilled", 137)
    assert pods.items[1].metadata.uid == "c8d3f094-b80c-4ff8-aff7-f0e624f1bf3a"


def test_create_fills_uid_and_creation_timestamp(api: FakeApiServer,
                                                 core: client.CoreV1Api) -> None:
    api.create(pod("web"))

    stored = core.read_namespaced_pod("web", "prod")

    assert stored.metadata.uid
    assert stored.metadata.creation_timestamp is not None


def test_paging_with_limit_and_continue(api: FakeApiServer, core: client.CoreV1Api) -> None:
    for name in ("e", "a", "d", "b", "c"):
        api.create(pod(name))
    first = core.list_namespaced_pod("prod", limit=2)
    pages = [first]
    while pages[-1].metadata._continue:
        pages.append(core.list_namespaced_pod("prod", limit=2,
                                              _continue=pages[-1].metadata._continue))

    assert [[p.metadata.name for p in page.items] for page in pages] == [
        ["a", "b"], ["c", "d"], ["e"]]
    assert first.metadata.remaining_item_count == 3
    assert {page.metadata.resource_version for page in pages} == {api.resource_version}


def test_continue_token_older_than_compaction_gets_410(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    for name in ("a", "b", "c"):
        api.create(pod(name))
    token = core.list_namespaced_pod("prod", limit=1).metadata._continue
    api.create(pod("d"))
    api.compact(api.resource_version)

    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("prod", limit=1, _continue=token)

    assert caught.value.status == 410
    assert json.loads(caught.value.body)["reason"] == "Expired"


def test_label_and_field_selectors_filter_lists(api: FakeApiServer,
                                                core: client.CoreV1Api) -> None:
    api.create(pod("web-1", app="web", tier="front"))
    api.create(pod("web-2", app="web", tier="back"))
    api.create(pod("db-1", app="db"))
    api.create(pod("web-3", namespace="staging", app="web"))

    def names(**kwargs: str) -> list[str]:
        return [p.metadata.name for p in core.list_pod_for_all_namespaces(**kwargs).items]

    assert names(label_selector="app=web") == ["web-1", "web-2", "web-3"]
    assert names(label_selector="app==web,tier!=front") == ["web-2", "web-3"]
    assert names(label_selector="tier in (front,back)") == ["web-1", "web-2"]
    assert names(label_selector="!tier,app") == ["db-1", "web-3"]
    assert names(field_selector="metadata.name=db-1") == ["db-1"]
    assert names(field_selector="metadata.namespace=staging") == ["web-3"]
    assert names(field_selector="metadata.namespace!=staging", label_selector="app=web") == [
        "web-1", "web-2"]


def test_injected_list_failures_answer_with_status(api: FakeApiServer,
                                                   core: client.CoreV1Api) -> None:
    api.fail_next_list("pods", code=410)
    api.fail_next_list("pods", code=500)

    with pytest.raises(ApiException) as gone:
        core.list_namespaced_pod("prod")
    with pytest.raises(ApiException) as broken:
        core.list_namespaced_pod("prod")

    assert (gone.value.status, gone.value.reason) == (410, "Gone")
    assert json.loads(gone.value.body)["reason"] == "Expired"
    assert (broken.value.status, json.loads(broken.value.body)["reason"]) == (
        500, "InternalError")
    assert core.list_namespaced_pod("prod").items == []


def test_deployments_and_nodes_from_real_fixtures(
        api: FakeApiServer, api_client: client.ApiClient, core: client.CoreV1Api) -> None:
    api.load_fixture(fixture_path("kubernetes", "deployment-ProgressDeadlineExceeded.yaml"))
    api.load_fixture(fixture_path("kubernetes", "node-Ready-False.yaml"))

    deployments = client.AppsV1Api(api_client).list_namespaced_deployment("default").items
    nodes = core.list_node().items

    progressing = {c.type: c for c in deployments[0].status.conditions}["Progressing"]
    assert (deployments[0].metadata.name, progressing.reason) == (
        "guestbook-ui", "ProgressDeadlineExceeded")
    ready = {c.type: c.status for c in nodes[0].status.conditions}["Ready"]
    assert (nodes[0].metadata.name, ready) == ("gk3-infra-cluster-pool-2-be3fcd50-lzd5", "False")
    assert nodes[0].metadata.namespace is None


def test_event_lists_load_item_by_item(api: FakeApiServer, core: client.CoreV1Api) -> None:
    loaded = api.load_fixture(fixture_path(
        "kubernetes", "eventlist-warnings-FailedScheduling-FailedMount-Unhealthy-BackOff.json"))

    events = core.list_event_for_all_namespaces().items

    assert len(loaded) == len(events) == 76
    assert {"FailedScheduling", "FailedMount", "Unhealthy", "BackOff"} <= {
        e.reason for e in events if e.type == "Warning"}


def test_lease_stale_update_conflicts(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    body = {"metadata": {"name": "agentops-leader", "namespace": "ops"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
    created = leases.create_namespaced_lease("ops", body)
    created.spec.holder_identity = "b"
    renewed = leases.replace_namespaced_lease("agentops-leader", "ops", created)

    created.spec.holder_identity = "c"  # still carries the first resourceVersion
    with pytest.raises(ApiException) as conflict:
        leases.replace_namespaced_lease("agentops-leader", "ops", created)
    with pytest.raises(ApiException) as exists:
        leases.create_namespaced_lease("ops", body)

    assert renewed.metadata.resource_version != created.metadata.resource_version
    assert (conflict.value.status, json.loads(conflict.value.body)["reason"]) == (
        409, "Conflict")
    assert (exists.value.status, json.loads(exists.value.body)["reason"]) == (
        409, "AlreadyExists")
    assert leases.read_namespaced_lease("agentops-leader", "ops").spec.holder_identity == "b"


def test_crd_endpoints_are_absent_by_default(api: FakeApiServer,
                                             api_client: client.ApiClient) -> None:
    groups = client.ApisApi(api_client).get_api_versions().groups

    with pytest.raises(ApiException) as missing:
        client.CustomObjectsApi(api_client).list_cluster_custom_object(
            "argoproj.io", "v1alpha1", "applications")

    assert missing.value.status == 404
    assert "argoproj.io" not in {g.name for g in groups}
    with pytest.raises(KeyError):
        api.load_fixture(fixture_path("argocd", "application-health-degraded.yaml"))


def test_crd_endpoints_serve_argo_and_flux_when_enabled(tmp_path: Path) -> None:
    with FakeApiServer(crds=True) as api, config.new_client_from_config(
            config_file=str(api.kubeconfig(tmp_path / "kubeconfig"))) as api_client:
        api.load_fixture(fixture_path("argocd", "application-health-degraded.yaml"))
        api.load_fixture(fixture_path("flux", "helmrelease-UpgradeFailed.yaml"))
        api.load_fixture(fixture_path("flux", "kustomization-ReconciliationFailed.yaml"))
        custom = client.CustomObjectsApi(api_client)

        apps = custom.list_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "argo-apps", "applications")["items"]
        releases = custom.list_cluster_custom_object(
            "helm.toolkit.fluxcd.io", "v2", "helmreleases")["items"]
        kustomization = custom.get_namespaced_custom_object(
            "kustomize.toolkit.fluxcd.io", "v1", "flux-system", "kustomizations", "cronjobs")

    assert apps[0]["status"]["health"]["status"] == "Degraded"
    assert releases[0]["apiVersion"] == "helm.toolkit.fluxcd.io/v2"  # served as v2
    assert isinstance(kustomization["metadata"]["creationTimestamp"], str)  # YAML datetime


def test_crds_can_be_enabled_one_by_one(api_client: client.ApiClient, tmp_path: Path) -> None:
    with FakeApiServer(crds=["kustomize.toolkit.fluxcd.io"]) as api, \
            config.new_client_from_config(
                config_file=str(api.kubeconfig(tmp_path / "kubeconfig"))) as flux_client:
        groups = {g.name for g in client.ApisApi(flux_client).get_api_versions().groups}

    assert "kustomize.toolkit.fluxcd.io" in groups
    assert not {"argoproj.io", "helm.toolkit.fluxcd.io"} & groups


# --- the official client: WATCH -------------------------------------------------------------


def test_watch_streams_changes_in_order_then_bookmarks(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("prod").metadata.resource_version

    def change_the_cluster() -> None:
        api.wait_for_watch("pods")
        created = api.create(pod("web"))
        created["metadata"]["labels"] = {"app": "web"}
        api.update(created)
        api.create(pod("elsewhere", namespace="staging"))
        api.delete("pods", "prod", "web")

    writer = threading.Thread(target=change_the_cluster)
    writer.start()
    seen: list[tuple[str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_pod, "prod", resource_version=rv,
                               allow_watch_bookmarks=True, timeout_seconds=2):
        obj = event["raw_object"]
        seen.append((event["type"], obj["metadata"]["resourceVersion"]))
        if event["type"] == "BOOKMARK" and ("DELETED", "5") in seen:
            stream.stop()
    writer.join()

    changes = [s for s in seen if s[0] != "BOOKMARK"]
    assert changes == [("ADDED", "2"), ("MODIFIED", "3"), ("DELETED", "5")]
    assert seen[-1] == ("BOOKMARK", "5")
    assert watch_requests(api)[0] == {
        "allowWatchBookmarks": "true", "resourceVersion": rv, "timeoutSeconds": "2",
        "watch": "true"}


def test_watch_replays_history_after_resource_version(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("prod").metadata.resource_version
    api.create(pod("a"))
    api.update({**pod("a"), "status": {"phase": "Running"}})

    stream = watch.Watch()
    events = []
    for event in stream.stream(core.list_namespaced_pod, "prod", resource_version=rv,
                               timeout_seconds=2):
        events.append(event)
        if len(events) == 2:
            stream.stop()

    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "a"), ("MODIFIED", "a")]
    assert events[1]["object"].status.phase == "Running"


def test_watch_from_resource_version_zero_starts_with_synthetic_added(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    api.create(pod("a"))
    api.create(pod("b"))
    stream = watch.Watch()
    names = []
    for event in stream.stream(core.list_namespaced_pod, "prod", resource_version="0",
                               timeout_seconds=2):
        names.append((event["type"], event["object"].metadata.name))
        if len(names) == 2:
            stream.stop()

    assert names == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_ends_cleanly_when_timeout_elapses(api: FakeApiServer,
                                                 core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("prod").metadata.resource_version

    events = list(watch.Watch().stream(core.list_namespaced_pod, "prod", resource_version=rv,
                                       timeout_seconds=1))

    assert events == []


def test_compacted_resource_version_gets_in_stream_410(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("prod").metadata.resource_version
    api.create(pod("a"))
    api.create(pod("b"))
    api.compact(api.resource_version)

    raw = core.list_namespaced_pod("prod", watch=True, resource_version=rv,
                                   _preload_content=False)
    lines = raw.read().decode().splitlines()
    with pytest.raises(ApiException) as expired:
        list(watch.Watch().stream(core.list_namespaced_pod, "prod", resource_version=rv,
                                  timeout_seconds=1))

    assert raw.status == 200
    assert [json.loads(line) for line in lines] == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version: 1 (3)", "reason": "Expired", "code": 410}}]
    assert expired.value.status == 410
    assert expired.value.reason == "Expired: too old resource version: 1 (3)"


def test_injected_stream_error_raises_410_when_timeout_is_given(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("prod").metadata.resource_version
    received: list[str] = []

    def expire_when_watched() -> None:
        api.wait_for_watch("pods")
        api.create(pod("a"))
        api.inject_stream_error("pods")

    expirer = threading.Thread(target=expire_when_watched)
    expirer.start()
    with pytest.raises(ApiException) as expired:
        for event in watch.Watch().stream(core.list_namespaced_pod, "prod",
                                          resource_version=rv, timeout_seconds=2):
            received.append(event["type"])
    expirer.join()

    assert expired.value.status == 410
    assert expired.value.reason.startswith("Expired: too old resource version")
    assert received in ([], ["ADDED"])  # the error may overtake the pod


def test_client_rewatches_once_after_in_stream_410_without_timeout(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("prod").metadata.resource_version
    api.create(pod("a"))
    api.inject_stream_error("pods")  # no watch is open: the next one fails
    stream = watch.Watch()
    names = []
    for event in stream.stream(core.list_namespaced_pod, "prod", resource_version=rv):
        names.append(event["object"].metadata.name)
        stream.stop()

    assert names == ["a"]
    assert [q["resourceVersion"] for q in watch_requests(api)] == [rv, rv]


def test_dropped_connection_breaks_stream_and_resume_replays(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("prod").metadata.resource_version

    dropped: list[int] = []

    def drop_when_watched() -> None:
        api.wait_for_watch("pods")
        dropped.append(api.drop_connections())
        api.create(pod("made-while-disconnected"))

    dropper = threading.Thread(target=drop_when_watched)
    dropper.start()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        list(watch.Watch().stream(core.list_namespaced_pod, "prod", resource_version=rv,
                                  timeout_seconds=5))
    dropper.join()
    resumed = watch.Watch()
    names = []
    for event in resumed.stream(core.list_namespaced_pod, "prod", resource_version=rv,
                                timeout_seconds=5):
        names.append(event["object"].metadata.name)
        resumed.stop()

    assert dropped == [1]
    assert names == ["made-while-disconnected"]


def test_stop_closes_open_watches(tmp_path: Path) -> None:
    api = FakeApiServer().start()
    with config.new_client_from_config(
            config_file=str(api.kubeconfig(tmp_path / "kubeconfig"))) as api_client:
        core = client.CoreV1Api(api_client)
        errors: list[BaseException] = []

        def watch_forever() -> None:
            try:
                list(watch.Watch().stream(core.list_namespaced_pod, "prod",
                                          resource_version="1", timeout_seconds=60))
            except Exception as err:
                errors.append(err)

        watcher = threading.Thread(target=watch_forever, daemon=True)
        watcher.start()
        api.wait_for_watch("pods")
        api.stop()
        watcher.join(timeout=5)

    assert not watcher.is_alive()


# --- real kubectl ---------------------------------------------------------------------------


@needs_kubectl
def test_kubectl_get_pods_all_namespaces_json(api: FakeApiServer, kubeconfig: Path) -> None:
    api.load_fixture(fixture_path("kubernetes", "podlist-OOMKilled.json"))
    api.load_fixture(fixture_path("kubernetes", "pod-lastState-OOMKilled-restarting.yaml"))

    listing = json.loads(kubectl(kubeconfig, "get", "pods", "-A", "-o", "json"))

    assert listing["kind"] == "List"  # kubectl rewraps a single-type list
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in listing["items"]] == [
        ("message-oomkill-pod", "oom-kill-job3-gbb89"), ("mission-control", "oomkilled-pod")]
    assert ("GET", "/api/v1/pods") in {(r.method, r.path) for r in api.requests}


@needs_kubectl
def test_kubectl_get_events_json(api: FakeApiServer, kubeconfig: Path) -> None:
    name = "eventlist-init-container-BackOff-FailedMount.json"
    api.load_fixture(fixture_path("kubernetes", name))

    listing = json.loads(kubectl(kubeconfig, "get", "events", "-A", "-o", "json"))

    assert len(listing["items"]) == 17
    assert {item["kind"] for item in listing["items"]} == {"Event"}
    assert "BackOff" in {item["reason"] for item in listing["items"]}


@needs_kubectl
def test_kubectl_get_nodes_prints_server_table(api: FakeApiServer, kubeconfig: Path) -> None:
    api.load_fixture(fixture_path("kubernetes", "node-Ready-False.yaml"))

    lines = kubectl(kubeconfig, "get", "nodes").splitlines()

    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert lines[1].split()[:3] == ["gk3-infra-cluster-pool-2-be3fcd50-lzd5", "NotReady",
                                    "<none>"]


@needs_kubectl
def test_kubectl_falls_back_to_plain_lists_without_tables(tmp_path: Path) -> None:
    with FakeApiServer(tables=False) as api:
        api.load_fixture(fixture_path("kubernetes", "node-Ready-False.yaml"))
        lines = kubectl(api.kubeconfig(tmp_path / "kubeconfig"), "get", "nodes").splitlines()

    assert lines[0].split() == ["NAME", "AGE"]
    assert lines[1].split()[0] == "gk3-infra-cluster-pool-2-be3fcd50-lzd5"


@needs_kubectl
def test_kubectl_get_deployments_in_namespace_json(api: FakeApiServer,
                                                   kubeconfig: Path) -> None:
    deployment, = api.load_fixture(
        fixture_path("kubernetes", "deployment-ProgressDeadlineExceeded.yaml"))
    deployment["metadata"]["namespace"] = "prod"
    api.create(deployment)

    listing = json.loads(kubectl(kubeconfig, "get", "deploy", "-n", "prod", "-o", "json"))

    assert [d["metadata"]["name"] for d in listing["items"]] == ["guestbook-ui"]
    assert listing["items"][0]["metadata"]["namespace"] == "prod"


@needs_kubectl
def test_kubectl_watch_prints_rows_for_new_objects(api: FakeApiServer, kubeconfig: Path) -> None:
    api.create(pod("before"))

    def create_when_watched() -> None:
        api.wait_for_watch("pods")
        api.create(pod("during"))

    creator = threading.Thread(target=create_when_watched)
    creator.start()
    lines = kubectl(kubeconfig, "get", "pods", "-n", "prod", "--watch",
                    "--request-timeout=1s").splitlines()
    creator.join()

    assert [line.split()[0] for line in lines] == ["NAME", "before", "during"]
    assert watch_requests(api)[0]["resourceVersion"] == "2"
