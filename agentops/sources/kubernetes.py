"""Kubernetes objects (as ``kubectl get -o json`` prints them) to events.

Used by ``agentops ingest`` (whole documents, :func:`events_from_document`) and by the cluster
watcher (old/new pairs: :func:`pod_events`, :func:`deployment_events`, :func:`node_events`,
:func:`job_events`, :func:`deletion_event`). The watcher sees every status update, so the pair
functions report TRANSITIONS only; ``old=None`` is first sight and counts as one. Keys are
built from uids plus the counters Kubernetes itself bumps (event ``count``, ``restartCount``),
so a re-list or a replayed watch gives the same keys and never a second entry.

Also here, because they arrive as the same kind of documents: API-server audit events
(deletions) and policy reports (Kyverno PolicyReport, Gatekeeper constraints and audit logs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, format_time, make_event
from agentops.sources import (
    as_obj,
    child,
    get_int,
    get_list,
    get_obj,
    get_str,
    get_time,
    items,
    str_map,
)

SOURCE = "kubernetes"
DEGRADED_WAITING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
SAME_EPISODE = {"ImagePullBackOff": "ErrImagePull"}  # kubelet alternates between the two
NOT_READY = ("False", "Unknown")
POLICY_FAILED = ("fail", "error")
RESOURCE_KINDS = {
    "deployments": "Deployment", "namespaces": "Namespace", "pods": "Pod",
    "services": "Service", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet", "configmaps": "ConfigMap", "secrets": "Secret",
    "persistentvolumeclaims": "PersistentVolumeClaim", "persistentvolumes": "PersistentVolume",
    "jobs": "Job", "cronjobs": "CronJob", "ingresses": "Ingress", "nodes": "Node",
    "serviceaccounts": "ServiceAccount", "networkpolicies": "NetworkPolicy",
    "roles": "Role", "rolebindings": "RoleBinding", "clusterroles": "ClusterRole",
    "clusterrolebindings": "ClusterRoleBinding",
    "customresourcedefinitions": "CustomResourceDefinition",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler",
}
Obj = Mapping[str, Any]


# --- core/v1 Events -----------------------------------------------------------------------


def events_from_eventlist(
    doc: Obj, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """``k8s.warning`` / ``k8s.normal`` for each item of an EventList (or one Event)."""
    doc = as_obj(doc, "")
    if doc.get("kind") == "Event":
        return [_core_event(doc, "", cluster=cluster, now=now)]
    return [_core_event(item, where, cluster=cluster, now=now)
            for where, item in items(doc, "items", "")]


def _core_event(item: Obj, where: str, *, cluster: str | None, now: datetime | None) -> Event:
    meta = get_obj(item, "metadata", where)
    series = get_obj(item, "series", where)
    involved = get_obj(item, "involvedObject", where) or get_obj(item, "regarding", where)
    count = get_int(item, "count", where) or get_int(series, "count", child(where, "series")) or 1
    first = get_time(item, "firstTimestamp", where) or get_time(item, "eventTime", where)
    last = get_time(item, "lastTimestamp", where) or get_time(
        series, "lastObservedTime", child(where, "series")
    ) or get_time(item, "eventTime", where) or first
    source = get_obj(item, "source", where)
    uid = get_str(meta, "uid", child(where, "metadata"))
    attributes = {
        "reason": get_str(item, "reason", where), "count": count,
        "component": get_str(source, "component", child(where, "source"))
        or get_str(item, "reportingComponent", where)
        or get_str(item, "reportingController", where),
        "first_seen": first, "last_seen": last, "event_uid": uid,
        "object_uid": get_str(involved, "uid", child(where, "involvedObject")),
        "field_path": get_str(involved, "fieldPath", child(where, "involvedObject")),
    }
    etype = "k8s.warning" if item.get("type") == "Warning" else "k8s.normal"
    return make_event(
        etype, time=last or get_time(meta, "creationTimestamp", child(where, "metadata")),
        source=SOURCE, subject=_ref_subject(involved, child(where, "involvedObject"), cluster),
        message=get_str(item, "message", where) or get_str(item, "note", where) or "",
        attributes=_compact(attributes), key=f"k8s-event:{uid}:{count}" if uid else None,
        now=now,
    )


# --- Pods ---------------------------------------------------------------------------------


def pod_events(
    old: Obj | None, new: Obj, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """``workload.degraded`` when a container newly enters a bad state, ``workload.recovered``
    when a pod that was degraded has all its containers ready and running again."""
    old_statuses = {cs.get("name"): cs for cs, _ in _containers(old)} if old else {}
    events = [
        _degraded(new, cs, init=init, cluster=cluster, now=now)
        for cs, init in _containers(new)
        if _newly_degraded(old_statuses.get(cs.get("name")) if old else None, cs)
    ]
    if old is not None and _pod_troubled(old) and _pod_healthy(new):
        events.append(_recovered(old, new, cluster=cluster, now=now))
    return events


def degraded_reason(status: Obj) -> str | None:
    """Why a container status counts as degraded, or ``None``."""
    state, last = _obj(status, "state"), _obj(status, "lastState")
    ready = status.get("ready") is True
    if _obj(state, "terminated").get("reason") == "OOMKilled":
        return "OOMKilled"
    recent_oom = _obj(last, "terminated").get("reason") == "OOMKilled"
    if recent_oom and not ready and "terminated" not in state:
        return "OOMKilled"
    waiting = _obj(state, "waiting").get("reason")
    return waiting if waiting in DEGRADED_WAITING else None


def _newly_degraded(old: Obj | None, new: Obj) -> bool:
    reason = degraded_reason(new)
    if reason is None:
        return False
    if old is None:
        return True
    before = degraded_reason(old)
    if before is not None and SAME_EPISODE.get(before, before) == SAME_EPISODE.get(reason, reason):
        return False
    # Between two back-offs a crash-looping container briefly runs: still the same episode.
    return not (reason == "CrashLoopBackOff" and _restarting(old))


def _restarting(status: Obj) -> bool:
    restarts = status.get("restartCount") or 0
    recently_ended = bool(_obj(_obj(status, "lastState"), "terminated"))
    return status.get("ready") is not True and restarts > 0 and recently_ended


def _pod_troubled(pod: Obj) -> bool:
    return any(degraded_reason(cs) or _restarting(cs) for cs, _ in _containers(pod))


def _pod_healthy(pod: Obj) -> bool:
    regular = [cs for cs, init in _containers(pod) if not init]
    running = all(cs.get("ready") is True and "running" in _obj(cs, "state") for cs in regular)
    return bool(regular) and running and not any(degraded_reason(cs) for cs, _ in _containers(pod))


def _containers(pod: Obj) -> Iterator[tuple[Obj, bool]]:
    status = get_obj(pod, "status", "")
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for _, cs in items(status, key, "status"):
            yield cs, init


def _degraded(pod: Obj, cs: Obj, *, init: bool, cluster: str | None, now: datetime | None) -> Event:
    reason = degraded_reason(cs) or ""
    state, last = _obj(cs, "state"), _obj(cs, "lastState")
    ended = _obj(state, "terminated") or _obj(last, "terminated")
    detail = _obj(state, "waiting").get("message") or ended.get("message")
    name, restarts = str(cs.get("name")), cs.get("restartCount") or 0
    subject = _subject(pod, "", cluster, kind="Pod")
    attributes = {
        "reason": reason, "container": name, "restart_count": restarts,
        "exit_code": ended.get("exitCode"), "init_container": init,
        "image": cs.get("image"), "node": get_obj(pod, "spec", "").get("nodeName"),
    }
    message = f"container {name} of pod {subject['namespace']}/{subject['name']} is {reason}"
    return make_event(
        "workload.degraded", time=get_time(ended, "finishedAt", "status") if ended else None,
        source=SOURCE, subject=subject, message=f"{message}: {detail}" if detail else message,
        attributes=_compact(attributes),
        key=f"k8s-pod:{_identity(pod)}:{name}:{reason}:{restarts}", now=now,
    )


def _recovered(old: Obj, new: Obj, *, cluster: str | None, now: datetime | None) -> Event:
    subject = _subject(new, "", cluster, kind="Pod")
    counts = ",".join(f"{cs.get('name')}={cs.get('restartCount') or 0}"
                      for cs, _ in _containers(new))
    reasons = sorted({r for cs, _ in _containers(old) if (r := degraded_reason(cs))})
    ready = _condition(new, "Ready")
    return make_event(
        "workload.recovered", time=get_time(ready, "lastTransitionTime", "status.conditions"),
        source=SOURCE, subject=subject,
        message=f"pod {subject['namespace']}/{subject['name']} is ready again",
        attributes={"previous_reasons": reasons, "restart_counts": counts},
        key=f"k8s-pod:{_identity(new)}:recovered:{counts}", now=now,
    )


# --- Deployments, Nodes, Jobs, deletions --------------------------------------------------


def deployment_events(
    old: Obj | None, new: Obj, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """``deployment.failed`` on ProgressDeadlineExceeded; ``deployment.succeeded`` when a
    deployment that was failing or unavailable becomes fully available."""
    if _rollout_failed(new) and not (old and _rollout_failed(old)):
        return [_deployment_event(new, "deployment.failed", cluster=cluster, now=now)]
    if old is not None and _rollout_healthy(new) and not _rollout_healthy(old):
        event = _deployment_event(new, "deployment.succeeded", cluster=cluster, now=now,
                                  after_failure=_rollout_failed(old))
        return [event]
    return []


def _rollout_failed(dep: Obj) -> bool:
    progressing = _condition(dep, "Progressing")
    failed = progressing.get("reason") == "ProgressDeadlineExceeded"
    return progressing.get("status") == "False" and failed


def _rollout_healthy(dep: Obj) -> bool:
    unavailable = get_obj(dep, "status", "").get("unavailableReplicas") or 0
    available = _condition(dep, "Available").get("status") == "True"
    return available and unavailable == 0 and not _rollout_failed(dep)


def _deployment_event(
    dep: Obj, etype: str, *, cluster: str | None, now: datetime | None,
    after_failure: bool = False,
) -> Event:
    status = get_obj(dep, "status", "")
    condition = _condition(dep, "Progressing" if etype == "deployment.failed" else "Available")
    revision = _annotations(dep).get("deployment.kubernetes.io/revision")
    changed = get_time(condition, "lastTransitionTime", "status.conditions")
    attributes = {
        "reason": condition.get("reason"), "revision": revision,
        "unavailable_replicas": status.get("unavailableReplicas") or 0,
        "replicas": status.get("replicas"), "generation": _meta(dep).get("generation"),
    }
    if etype == "deployment.succeeded":
        attributes["after_failure"] = after_failure
    subject = _subject(dep, "", cluster, kind="Deployment")
    outcome = etype.split(".")[1]
    generation = status.get("observedGeneration")
    return make_event(
        etype, time=changed, source=SOURCE, subject=subject,
        message=str(condition.get("message") or f"deployment {subject['name']} {outcome}"),
        attributes=_compact(attributes),
        key=f"k8s-deployment:{_identity(dep)}:{outcome}:{revision}:{generation}:{changed}",
        now=now,
    )


def node_events(
    old: Obj | None, new: Obj, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """``node.notready`` / ``node.ready`` on Ready transitions, each with an
    ``availability.sample``; a node first seen Ready is no transition."""
    before = _condition(old, "Ready").get("status") if old else None
    ready = _condition(new, "Ready")
    after = ready.get("status")
    if after == "True" and before not in (None, "True"):
        etype, up = "node.ready", True
    elif after in NOT_READY and before not in NOT_READY:
        etype, up = "node.notready", False
    else:
        return []
    subject = _subject(new, "", cluster, kind="Node")
    name = subject["name"]
    changed = get_time(ready, "lastTransitionTime", "status.conditions")
    stamp = changed or _meta(new).get("resourceVersion") or ""
    attributes = {"reason": ready.get("reason"), "status": after, "node": name}
    time = changed or get_time(ready, "lastHeartbeatTime", "status.conditions")
    message = f"node {name} is {'Ready' if up else 'NotReady'}"
    if ready.get("message"):
        message += f": {ready['message']}"
    return [
        make_event(etype, time=time, source=SOURCE, subject=subject, message=message,
                   attributes=_compact(attributes),
                   key=f"k8s-node:{_identity(new)}:Ready={after}:{stamp}", now=now),
        make_event("availability.sample", time=time, source=SOURCE, subject=subject,
                   message=message, attributes={"up": up, "node": name},
                   key=f"k8s-node-availability:{_identity(new)}:Ready={after}:{stamp}", now=now),
    ]


def job_events(
    old: Obj | None, new: Obj, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """``job.failed`` when the Job's Failed condition becomes True."""
    failed = _condition(new, "Failed")
    already = old is not None and _condition(old, "Failed").get("status") == "True"
    if failed.get("status") != "True" or already:
        return []
    subject = _subject(new, "", cluster, kind="Job")
    status = get_obj(new, "status", "")
    owners = [ref.get("name") for _, ref in items(_meta(new), "ownerReferences", "metadata")]
    attributes = {
        "reason": failed.get("reason"), "failed": status.get("failed"),
        "backoff_limit": get_obj(new, "spec", "").get("backoffLimit"),
        "owner": owners[0] if owners else None,
    }
    return [make_event(
        "job.failed", time=get_time(failed, "lastTransitionTime", "status.conditions"),
        source=SOURCE, subject=subject,
        message=str(failed.get("message") or f"job {subject['name']} failed"),
        attributes=_compact(attributes), key=f"k8s-job:{_identity(new)}:failed", now=now,
    )]


def deletion_event(obj: Obj, *, cluster: str | None = None, now: datetime | None = None) -> Event:
    """``resource.deleted`` for any object the watcher saw disappear."""
    obj = as_obj(obj, "")
    meta = _meta(obj)
    subject = _subject(obj, "", cluster)
    version = get_str(meta, "resourceVersion", "metadata")
    attributes = {"uid": get_str(meta, "uid", "metadata"), "resource_version": version,
                  "api_version": get_str(obj, "apiVersion", "")}
    return make_event(
        "resource.deleted", time=get_time(meta, "deletionTimestamp", "metadata"),
        source=SOURCE, subject=subject,
        message=f"{subject['kind']} {_path(subject)} was deleted",
        attributes=_compact(attributes),
        key=f"k8s-deleted:{_identity(obj)}", now=now,  # one deletion per object, however seen
    )


# --- API-server audit events --------------------------------------------------------------


def audit_events(
    doc: Obj, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """``resource.deleted`` for each successful ``delete`` in an audit Event or EventList."""
    doc = as_obj(doc, "")
    if "items" in doc:
        found = [_audit_event(item, where, cluster=cluster, now=now)
                 for where, item in items(doc, "items", "")]
    else:
        found = [_audit_event(doc, "", cluster=cluster, now=now)]
    return [event for event in found if event is not None]


def _audit_event(
    item: Obj, where: str, *, cluster: str | None, now: datetime | None
) -> Event | None:
    ref = get_obj(item, "objectRef", where)
    stage = item.get("stage")
    if item.get("verb") != "delete" or stage not in (None, "ResponseComplete"):
        return None
    if not _audit_succeeded(item, where) or ref.get("subresource"):
        return None
    resource = get_str(ref, "resource", child(where, "objectRef"), required=True) or ""
    kind = RESOURCE_KINDS.get(resource, resource)
    subject = {"cluster": cluster, "kind": kind,
               "namespace": get_str(ref, "namespace", child(where, "objectRef")),
               "name": get_str(ref, "name", child(where, "objectRef"))}
    user = get_obj(item, "user", where)
    actor = get_str(get_obj(item, "impersonatedUser", where), "username", where) or get_str(
        user, "username", child(where, "user"))
    audit_id = get_str(item, "auditID", where, required=True)
    attributes = {
        "audit_id": audit_id, "verb": "delete", "resource": resource,
        "api_group": ref.get("apiGroup") or None, "api_version": ref.get("apiVersion"),
        "user": get_str(user, "username", child(where, "user")),
        "source_ips": get_list(item, "sourceIPs", where), "user_agent": item.get("userAgent"),
        "response_code": get_obj(item, "responseStatus", where).get("code"),
    }
    return make_event(
        "resource.deleted", source="audit", subject=subject, actor=actor,
        time=get_time(item, "stageTimestamp", where) or get_time(item, "timestamp", where),
        message=f"{kind} {_path(subject)} deleted by {actor or 'unknown user'}",
        attributes=_compact(attributes), key=f"audit:{audit_id}", now=now,
    )


def _audit_succeeded(item: Obj, where: str) -> bool:
    response = get_obj(item, "responseStatus", where)
    code = get_int(response, "code", child(where, "responseStatus"))
    if response.get("status") == "Failure":
        return False
    return code is None or 200 <= code < 300


# --- policy reports -----------------------------------------------------------------------


def policy_events(
    doc: Obj, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """``security.violation`` from a Kyverno (Cluster)PolicyReport, a Gatekeeper constraint's
    ``status.violations`` or a Gatekeeper ``violation_audited`` log line."""
    doc = as_obj(doc, "")
    if doc.get("event_type") == "violation_audited":
        return [_gatekeeper_log(doc, cluster=cluster, now=now)]
    if str(doc.get("apiVersion", "")).startswith("constraints.gatekeeper.sh"):
        return _gatekeeper_constraint(doc, cluster=cluster, now=now)
    if doc.get("kind") in ("PolicyReport", "ClusterPolicyReport"):
        return _policy_report(doc, cluster=cluster, now=now)
    raise InvalidEventError(
        f"kind: {doc.get('kind')!r} is not a PolicyReport, ClusterPolicyReport, "
        "Gatekeeper constraint or Gatekeeper audit log line"
    )


def _policy_report(doc: Obj, *, cluster: str | None, now: datetime | None) -> list[Event]:
    scope = get_obj(doc, "scope", "")
    events: list[Event] = []
    for where, result in items(doc, "results", ""):
        outcome = get_str(result, "result", where)
        if outcome not in POLICY_FAILED:
            continue
        resources = [ref for _, ref in items(result, "resources", where)]
        ref = resources[0] if resources else scope
        subject = _ref_subject(ref, where, cluster)
        policy = get_str(result, "policy", where, required=True)
        rule = get_str(result, "rule", where)
        identity = ref.get("uid") or _path(subject)
        attributes = {
            "policy": policy, "rule": rule, "severity": get_str(result, "severity", where),
            "result": outcome, "message": get_str(result, "message", where),
            "category": get_str(result, "category", where), "report": _meta(doc).get("name"),
        }
        seconds = get_obj(result, "timestamp", where).get("seconds")
        events.append(make_event(
            "security.violation", time=seconds,
            source=get_str(result, "source", where) or "kyverno",
            subject=subject, message=attributes["message"] or f"policy {policy} {outcome}",
            attributes=_compact(attributes),
            key=f"kyverno:{policy}:{rule}:{subject['kind']}:{identity}:{outcome}", now=now,
        ))
    return events


def _gatekeeper_constraint(doc: Obj, *, cluster: str | None, now: datetime | None) -> list[Event]:
    status = get_obj(doc, "status", "")
    constraint = f"{doc.get('kind')}/{_meta(doc).get('name')}"
    events = []
    for where, violation in items(status, "violations", "status"):
        events.append(_violation(
            constraint, _ref_subject(violation, where, cluster), now=now,
            action=get_str(violation, "enforcementAction", where),
            message=get_str(violation, "message", where),
            time=get_time(status, "auditTimestamp", "status"),
        ))
    return events


def _gatekeeper_log(line: Obj, *, cluster: str | None, now: datetime | None) -> Event:
    subject = {"cluster": cluster, "kind": get_str(line, "resource_kind", ""),
               "namespace": get_str(line, "resource_namespace", ""),
               "name": get_str(line, "resource_name", "")}
    constraint = f"{line.get('constraint_kind')}/{line.get('constraint_name')}"
    return _violation(constraint, subject, now=now, time=line.get("ts"),
                      action=get_str(line, "constraint_action", ""),
                      message=get_str(line, "msg", ""))


def _violation(
    constraint: str, subject: Mapping[str, str | None], *, action: str | None,
    message: str | None, time: Any, now: datetime | None,
) -> Event:
    """One Gatekeeper violation; audit status and audit log of the same finding share a key."""
    kind, _, name = constraint.partition("/")
    attributes = {"policy": name, "rule": kind, "result": "fail", "message": message,
                  "enforcement_action": action}
    return make_event(
        "security.violation", time=time, source="gatekeeper", subject=subject,
        message=message or f"violates {constraint}", attributes=_compact(attributes),
        key=f"gatekeeper:{constraint}:{subject.get('kind')}:{_path(subject)}:{action}", now=now,
    )


# --- whole documents (agentops ingest) ----------------------------------------------------


def events_from_document(
    doc: Any, *, cluster: str | None = None, now: datetime | None = None
) -> list[Event]:
    """Events from any document ``agentops ingest`` accepts, dispatched on its ``kind``."""
    doc = as_obj(doc, "")
    kind = str(doc.get("kind") or "")
    if str(doc.get("apiVersion", "")).startswith("audit.k8s.io") or "auditID" in doc:
        return audit_events(doc, cluster=cluster, now=now)
    if kind in ("EventList", "Event"):
        return events_from_eventlist(doc, cluster=cluster, now=now)
    if kind == "List" or (kind.endswith("List") and "items" in doc):
        return _list_events(doc, kind.removesuffix("List"), cluster=cluster, now=now)
    found = _object_events(doc, kind, cluster=cluster, now=now)
    if found is None:
        raise InvalidEventError(
            f"kind: {kind or None!r} is not something agentops ingests (EventList, Event, "
            "Pod, Deployment, Node, Job, PolicyReport, Gatekeeper constraint, audit Event, "
            "or a List of them)"
        )
    return found


def _list_events(doc: Obj, kind: str, *, cluster: str | None, now: datetime | None) -> list[Event]:
    events: list[Event] = []
    for where, item in items(doc, "items", ""):
        item_kind = str(item.get("kind") or kind)
        try:
            events.extend(_object_events(item, item_kind, cluster=cluster, now=now) or [])
        except InvalidEventError as exc:
            raise InvalidEventError(f"{where}: {exc}") from None
    return events


def _object_events(
    obj: Obj, kind: str, *, cluster: str | None, now: datetime | None
) -> list[Event] | None:
    """Events for one object as a transition from nothing; ``None`` for kinds not handled."""
    if "auditID" in obj:
        return audit_events(obj, cluster=cluster, now=now)
    if kind == "Event":
        return [_core_event(obj, "", cluster=cluster, now=now)]
    pairs = {"Pod": pod_events, "Deployment": deployment_events, "Node": node_events,
             "Job": job_events}
    if kind in pairs:
        return pairs[kind](None, obj, cluster=cluster, now=now)
    policy = kind in ("PolicyReport", "ClusterPolicyReport") or obj.get("event_type")
    if policy or str(obj.get("apiVersion", "")).startswith("constraints.gatekeeper.sh"):
        return policy_events(obj, cluster=cluster, now=now)
    return None


# --- small readers ------------------------------------------------------------------------


def _obj(data: Obj, key: str) -> Obj:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _meta(obj: Obj) -> Obj:
    return get_obj(obj, "metadata", "")


def _annotations(obj: Obj) -> dict[str, str]:
    return str_map(_meta(obj), "annotations", "metadata")


def _condition(obj: Obj | None, ctype: str) -> Obj:
    """The status condition of type ``ctype`` (empty when absent)."""
    status = get_obj(obj or {}, "status", "")
    for _, condition in items(status, "conditions", "status"):
        if condition.get("type") == ctype:
            return condition
    return {}


def _subject(obj: Obj, where: str, cluster: str | None, *, kind: str | None = None) -> dict[
    str, str | None
]:
    meta = get_obj(obj, "metadata", where)
    return {"cluster": cluster, "kind": kind or get_str(obj, "kind", where),
            "namespace": get_str(meta, "namespace", child(where, "metadata")),
            "name": get_str(meta, "name", child(where, "metadata"))}


def _ref_subject(ref: Obj, where: str, cluster: str | None) -> dict[str, str | None]:
    """Subject from an object reference (involvedObject, scope, a violation)."""
    return {"cluster": cluster, "kind": get_str(ref, "kind", where),
            "namespace": get_str(ref, "namespace", where), "name": get_str(ref, "name", where)}


def _identity(obj: Obj) -> str:
    """The uid when present, else kind/namespace/name."""
    meta = _meta(obj)
    uid = meta.get("uid")
    if uid:
        return str(uid)
    return "/".join(str(part or "") for part in (obj.get("kind"), meta.get("namespace"),
                                                  meta.get("name")))


def _path(subject: Mapping[str, str | None]) -> str:
    namespace, name = subject.get("namespace"), subject.get("name")
    if not namespace or subject.get("kind") == "Namespace":
        return str(name)
    return f"{namespace}/{name}"


def _compact(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes without ``None`` values; datetimes (from YAML) as ISO strings."""
    return {k: format_time(v) if isinstance(v, datetime) else v
            for k, v in attributes.items() if v is not None}
