"""Kubernetes objects, audit events and policy reports to events."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from conftest import FIXTURES

from agentops.errors import InvalidEventError
from agentops.sources.kubernetes import (
    audit_events,
    deletion_event,
    deployment_events,
    events_from_document,
    events_from_eventlist,
    job_events,
    node_events,
    pod_events,
    policy_events,
)

WARNINGS = "kubernetes/eventlist-warnings-FailedScheduling-FailedMount-Unhealthy-BackOff.json"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text())
    return data


# --- core/v1 events


def test_eventlist_gives_warning_and_normal_events_with_unique_keys() -> None:
    events = events_from_eventlist(load(WARNINGS), cluster="kind")
    assert len(events) == 76
    assert sum(e.type == "k8s.warning" for e in events) == 24
    assert sum(e.type == "k8s.normal" for e in events) == 52
    assert len({e.key for e in events}) == 76
    assert {e.subject.cluster for e in events} == {"kind"}


def test_relisting_the_same_events_gives_the_same_keys() -> None:
    first = [e.key for e in events_from_eventlist(load(WARNINGS))]
    again = [e.key for e in events_from_eventlist(load(WARNINGS))]
    assert first == again


def test_warning_and_normal_backoff_are_told_apart() -> None:
    events = events_from_eventlist(load(WARNINGS))
    backoff = {e.type for e in events if e.attributes["reason"] == "BackOff"}
    assert backoff == {"k8s.warning", "k8s.normal"}


def test_single_flux_event_with_null_event_time_and_empty_reporting_component() -> None:
    [event] = events_from_document(load("flux/k8s-event-GitRepository-GitOperationFailed.json"))
    assert event.type == "k8s.warning"
    assert event.subject.to_dict() == {
        "namespace": "default", "kind": "GitRepository", "name": "podinfo",
    }
    assert event.attributes == {
        "reason": "GitOperationFailed", "count": 4, "component": "source-controller",
        "first_seen": "2023-08-22T20:24:06Z", "last_seen": "2023-08-22T20:24:18Z",
        "event_uid": "3c8f568a-c99b-4279-8093-6ef08fae325b",
        "object_uid": "2c2ed1da-556f-4793-863d-7d96e8bab3f5",
    }
    assert event.key == "k8s-event:3c8f568a-c99b-4279-8093-6ef08fae325b:4"
    assert event.time.isoformat() == "2023-08-22T20:24:18+00:00"


def test_repeated_event_with_bumped_count_is_a_new_fact() -> None:
    doc = load("flux/k8s-event-GitRepository-GitOperationFailed.json")
    bumped = {**doc, "count": 5, "lastTimestamp": "2023-08-22T20:30:00Z"}
    [before], [after] = events_from_eventlist(doc), events_from_eventlist(bumped)
    assert before.key != after.key
    assert after.key.endswith(":5")


def test_event_with_only_event_time_uses_it_and_reporting_component() -> None:
    [scheduled] = [e for e in events_from_eventlist(load(WARNINGS))
                   if e.attributes["reason"] == "Scheduled"][:1]
    assert scheduled.attributes["component"] == "default-scheduler"
    assert scheduled.attributes["count"] == 1
    assert scheduled.time.isoformat() == "2023-07-10T05:31:39.694000+00:00"


def test_init_container_backoff_warning_is_reported() -> None:
    doc = load("kubernetes/eventlist-init-container-BackOff-FailedMount.json")
    events = events_from_document(doc)
    warnings = sorted(e.attributes["reason"] for e in events if e.type == "k8s.warning")
    assert warnings == ["BackOff", "BackOff", "Failed", "Failed", "FailedMount", "FailedMount"]


def test_eventlist_item_that_is_not_an_object_is_named() -> None:
    with pytest.raises(InvalidEventError, match=r"^items\[1\]: expected an object"):
        events_from_eventlist({"kind": "EventList", "items": [load(
            "flux/k8s-event-GitRepository-GitOperationFailed.json"), "x"]})


# --- pods


def test_crashloop_pod_first_seen_is_degraded() -> None:
    [event] = pod_events(None, load("kubernetes/pod-CrashLoopBackOff.yaml"), cluster="mk")
    assert event.type == "workload.degraded"
    assert event.subject.to_dict() == {
        "cluster": "mk", "namespace": "argocd", "kind": "Pod", "name": "my-pod",
    }
    assert event.attributes == {
        "reason": "CrashLoopBackOff", "container": "main", "restart_count": 3, "exit_code": 1,
        "init_container": False, "image": "alpine:latest", "node": "minikube",
    }
    assert event.key == "k8s-pod:63674389-f613-11e8-a057-fe5f49266390:main:CrashLoopBackOff:3"
    assert event.environment is None


def test_same_pod_state_seen_again_is_no_transition() -> None:
    pod = load("kubernetes/pod-CrashLoopBackOff.yaml")
    assert pod_events(pod, copy.deepcopy(pod)) == []


def test_crashloop_pod_running_between_backoffs_is_the_same_episode() -> None:
    looping = load("kubernetes/pod-CrashLoopBackOff.yaml")
    running = copy.deepcopy(looping)
    status = running["status"]["containerStatuses"][0]
    status["state"] = {"running": {"startedAt": "2018-12-02T09:21:05Z"}}
    status["restartCount"] = 4
    again = copy.deepcopy(looping)
    again["status"]["containerStatuses"][0]["restartCount"] = 4
    assert pod_events(looping, running) == []
    assert pod_events(running, again) == []


def test_oomkilled_last_state_while_not_ready_is_degraded() -> None:
    [event] = pod_events(None, load("kubernetes/pod-lastState-OOMKilled-restarting.yaml"))
    assert event.attributes["reason"] == "OOMKilled"
    assert event.attributes["restart_count"] == 9
    assert event.attributes["exit_code"] == 1
    assert event.key == "k8s-pod:def4df27-ade6-4ba1-b2dc-57d07e12bfe6:oomkilled:OOMKilled:9"
    assert event.time.isoformat() == "2024-11-20T10:00:00+00:00"


def test_podlist_with_terminated_oomkilled_job_pod() -> None:
    [event] = events_from_document(load("kubernetes/podlist-OOMKilled.json"))
    assert event.type == "workload.degraded"
    assert event.attributes["reason"] == "OOMKilled"
    assert event.attributes["exit_code"] == 137
    assert event.subject.name == "oom-kill-job3-gbb89"


def test_image_pull_backoff_alternating_with_err_image_pull_is_one_episode() -> None:
    pod = load("kubernetes/pod-CrashLoopBackOff.yaml")
    status = pod["status"]["containerStatuses"][0]
    status.update(lastState={}, restartCount=0)
    status["state"] = {"waiting": {"reason": "ErrImagePull"}}
    backoff = copy.deepcopy(pod)
    backoff["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
    [first] = pod_events(None, pod)
    assert first.attributes["reason"] == "ErrImagePull"
    assert "exit_code" not in first.attributes
    assert pod_events(pod, backoff) == []


def test_pod_recovers_when_all_containers_are_ready_and_running() -> None:
    looping = load("kubernetes/pod-CrashLoopBackOff.yaml")
    healthy = copy.deepcopy(looping)
    status = healthy["status"]["containerStatuses"][0]
    status.update(ready=True, restartCount=4, state={"running": {"startedAt": "2018-12-02T09:22Z"}})
    [event] = pod_events(looping, healthy)
    assert event.type == "workload.recovered"
    assert event.attributes == {
        "previous_reasons": ["CrashLoopBackOff"], "restart_counts": "main=4",
    }
    assert event.key == "k8s-pod:63674389-f613-11e8-a057-fe5f49266390:recovered:main=4"
    assert pod_events(None, healthy) == []


def test_healthy_pod_becoming_oomkilled_is_degraded() -> None:
    pod = load("kubernetes/pod-lastState-OOMKilled-restarting.yaml")
    healthy = copy.deepcopy(pod)
    healthy["status"]["containerStatuses"][0].update(ready=True, lastState={})
    [event] = pod_events(healthy, pod)
    assert event.attributes["reason"] == "OOMKilled"


# --- deployments, nodes, jobs, deletions


def test_progress_deadline_exceeded_is_deployment_failed() -> None:
    dep = load("kubernetes/deployment-ProgressDeadlineExceeded.yaml")
    [event] = deployment_events(None, dep)
    assert event.type == "deployment.failed"
    assert event.subject.to_dict() == {
        "namespace": "default", "kind": "Deployment", "name": "guestbook-ui",
    }
    assert event.attributes == {
        "reason": "ProgressDeadlineExceeded", "revision": "4", "unavailable_replicas": 1,
        "replicas": 2, "generation": 4,
    }
    assert event.message == 'ReplicaSet "guestbook-ui-75dd4d49d5" has timed out progressing.'
    assert event.key == (
        "k8s-deployment:bb9af0c7-8a44-11e8-9e23-42010aa80010:failed:4:4:2018-07-18T06:29:23Z"
    )
    assert deployment_events(dep, copy.deepcopy(dep)) == []


def test_failed_deployment_becoming_available_is_deployment_succeeded() -> None:
    failed = load("kubernetes/deployment-ProgressDeadlineExceeded.yaml")
    fixed = copy.deepcopy(failed)
    fixed["status"].pop("unavailableReplicas")
    fixed["status"]["conditions"][1].update(
        status="True", reason="NewReplicaSetAvailable", lastTransitionTime="2018-07-18T07:00:00Z"
    )
    [event] = deployment_events(failed, fixed)
    assert event.type == "deployment.succeeded"
    assert event.attributes["after_failure"] is True
    assert event.attributes["unavailable_replicas"] == 0
    assert deployment_events(None, fixed) == []


def test_node_not_ready_gives_notready_and_availability_sample() -> None:
    node = load("kubernetes/node-Ready-False.yaml")
    notready, sample = node_events(None, node)
    name = "gk3-infra-cluster-pool-2-be3fcd50-lzd5"
    assert notready.type == "node.notready"
    assert notready.subject.to_dict() == {"kind": "Node", "name": name}
    assert notready.attributes == {"reason": "KubeletReady", "status": "False", "node": name}
    assert sample.type == "availability.sample"
    assert sample.attributes == {"up": False, "node": name}
    assert notready.key != sample.key
    assert node_events(node, copy.deepcopy(node)) == []


def test_node_back_to_ready_gives_ready_and_up_sample() -> None:
    down = load("kubernetes/node-Ready-False.yaml")
    up = copy.deepcopy(down)
    for condition in up["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition["status"] = "True"
    ready, sample = node_events(down, up)
    assert ready.type == "node.ready"
    assert sample.attributes["up"] is True
    assert node_events(None, up) == []


def test_node_going_from_false_to_unknown_is_no_new_transition() -> None:
    down = load("kubernetes/node-Ready-False.yaml")
    unknown = copy.deepcopy(down)
    for condition in unknown["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition.update(status="Unknown", reason="NodeStatusUnknown")
    assert node_events(down, unknown) == []


JOB = {
    "apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "backup", "namespace": "prod", "uid": "j-1",
                 "ownerReferences": [{"kind": "CronJob", "name": "nightly-backup"}]},
    "spec": {"backoffLimit": 2},
    "status": {"failed": 3, "conditions": [{
        "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "lastTransitionTime": "2026-11-24T03:00:00Z"}]},
}


def test_job_failed_condition_is_job_failed_once() -> None:
    [event] = job_events(None, JOB)
    assert event.type == "job.failed"
    assert event.attributes == {"reason": "BackoffLimitExceeded", "failed": 3,
                                "backoff_limit": 2, "owner": "nightly-backup"}
    assert event.key == "k8s-job:j-1:failed"
    assert job_events(JOB, JOB) == []
    assert events_from_document(JOB)[0].key == event.key


def test_deleted_object_is_resource_deleted() -> None:
    event = deletion_event(load("kubernetes/deployment-ProgressDeadlineExceeded.yaml"), cluster="c")
    assert event.type == "resource.deleted"
    assert event.subject.to_dict() == {
        "cluster": "c", "namespace": "default", "kind": "Deployment", "name": "guestbook-ui",
    }
    assert event.attributes == {"uid": "bb9af0c7-8a44-11e8-9e23-42010aa80010",
                                "resource_version": "13660", "api_version": "apps/v1"}
    assert event.key == "k8s-deleted:bb9af0c7-8a44-11e8-9e23-42010aa80010"


# --- audit


def test_audit_delete_deployment_without_api_version() -> None:
    [event] = audit_events(load("audit/audit-delete-deployment.json"))
    assert event.type == "resource.deleted"
    assert event.source == "audit"
    assert event.actor == "minikube-user"
    assert event.subject.to_dict() == {
        "namespace": "default", "kind": "Deployment", "name": "nginx-deployment",
    }
    assert event.key == "audit:8bb19a30-3d68-4fd7-999e-90a9014afac0"
    assert event.attributes["api_group"] == "extensions"
    assert event.attributes["response_code"] == 200


def test_audit_delete_namespace_without_response_status_string() -> None:
    [event] = events_from_document(load("audit/audit-delete-namespace.json"))
    assert event.subject.kind == "Namespace"
    assert event.subject.name == "foo"
    assert event.message == "Namespace foo deleted by minikube-user"


def test_audit_v1_eventlist_keeps_only_successful_completed_deletes() -> None:
    item = load("audit/audit-delete-deployment.json")
    v1 = {**item, "apiVersion": "audit.k8s.io/v1"}
    started = {**v1, "auditID": "a-2", "stage": "ResponseStarted"}
    forbidden = {**v1, "auditID": "a-3", "responseStatus": {"code": 403, "status": "Failure"}}
    get = {**v1, "auditID": "a-4", "verb": "get"}
    doc = {"apiVersion": "audit.k8s.io/v1", "kind": "EventList",
           "items": [v1, started, forbidden, get]}
    events = events_from_document(doc)
    assert [e.key for e in events] == ["audit:8bb19a30-3d68-4fd7-999e-90a9014afac0"]


def test_impersonated_user_is_the_actor() -> None:
    item = load("audit/audit-delete-deployment.json")
    item["impersonatedUser"] = {"username": "deploy-bot"}
    [event] = audit_events(item)
    assert event.actor == "deploy-bot"
    assert event.attributes["user"] == "minikube-user"


# --- policy


def test_kyverno_report_gives_one_violation_per_failed_result() -> None:
    [event] = policy_events(load("policy/kyverno-PolicyReport-fail.yaml"))
    assert event.type == "security.violation"
    assert event.source == "kyverno"
    assert event.subject.to_dict() == {
        "namespace": "kube-system", "kind": "Pod", "name": "kube-apiserver-kind-control-plane",
    }
    assert event.attributes["policy"] == "disallow-host-namespaces"
    assert event.attributes["rule"] == "host-namespaces"
    assert event.attributes["severity"] == "medium"
    assert event.attributes["result"] == "fail"
    assert event.attributes["message"].startswith("validation error: Sharing the host namespaces")
    assert event.key == ("kyverno:disallow-host-namespaces:host-namespaces:Pod:"
                         "487df031-11d8-4ab4-b089-dfc0db1e533e:fail")
    assert event.time.isoformat() == "2023-12-06T13:19:22+00:00"


def test_gatekeeper_constraint_gives_one_violation_each() -> None:
    events = policy_events(load("policy/gatekeeper-K8sRequiredLabels-constraint-violations.yaml"))
    assert [e.subject.name for e in events] == [
        "default", "gatekeeper-system", "kube-public", "kube-system",
    ]
    first = events[0]
    assert first.source == "gatekeeper"
    assert first.attributes == {
        "policy": "ns-must-have-gk", "rule": "K8sRequiredLabels", "result": "fail",
        "message": 'you must provide labels: {"gatekeeper"}', "enforcement_action": "deny",
    }
    assert first.key == "gatekeeper:K8sRequiredLabels/ns-must-have-gk:Namespace:default:deny"


def test_gatekeeper_audit_log_line_is_a_violation() -> None:
    [event] = events_from_document(load("policy/gatekeeper-audit-log-violation_audited.json"))
    assert event.type == "security.violation"
    assert event.subject.to_dict() == {
        "namespace": "kube-system", "kind": "Pod", "name": "kube-scheduler-kind-control-plane",
    }
    assert event.attributes["policy"] == "container-must-have-limits"
    assert event.attributes["rule"] == "K8sContainerLimits"
    assert event.attributes["enforcement_action"] == "deny"
    assert event.key == ("gatekeeper:K8sContainerLimits/container-must-have-limits:Pod:"
                         "kube-system/kube-scheduler-kind-control-plane:deny")


def test_policy_events_rejects_other_documents() -> None:
    with pytest.raises(InvalidEventError, match=r"^kind: 'Pod' is not a PolicyReport"):
        policy_events({"kind": "Pod"})


# --- documents


def test_list_of_mixed_items_dispatches_each_and_skips_unknown_kinds() -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        load("kubernetes/pod-CrashLoopBackOff.yaml"),
        load("kubernetes/deployment-ProgressDeadlineExceeded.yaml"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    ]}
    assert [e.type for e in events_from_document(doc)] == [
        "workload.degraded", "deployment.failed",
    ]


def test_unknown_document_kind_is_rejected_listing_what_is_accepted() -> None:
    with pytest.raises(InvalidEventError, match=r"^kind: 'ConfigMap' is not something"):
        events_from_document({"kind": "ConfigMap"})


def test_document_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^body: expected an object, got a list"):
        events_from_document([])


def test_bad_list_item_error_names_its_index() -> None:
    pod = load("kubernetes/pod-CrashLoopBackOff.yaml")
    pod["status"]["containerStatuses"] = "broken"
    with pytest.raises(InvalidEventError, match=r"^items\[0\]: status.containerStatuses"):
        events_from_document({"kind": "PodList", "items": [pod]})


def test_events_serialise_to_json() -> None:
    for name in (WARNINGS, "kubernetes/pod-CrashLoopBackOff.yaml",
                 "policy/kyverno-PolicyReport-fail.yaml", "kubernetes/node-Ready-False.yaml"):
        for event in events_from_document(load(name)):
            json.dumps(event.to_dict())
