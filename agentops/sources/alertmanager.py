"""Alertmanager webhook bodies (``webhook_config``) to events, one per alert.

Alertmanager groups alerts and re-sends the whole group on every change, so the adapter works
per alert: the alert's own ``status`` decides ``alert.firing`` or ``alert.resolved`` (a firing
group may carry resolved alerts), and the key ``alertmanager:{fingerprint}:{status}:{startsAt}``
makes a redelivered group the same fact while a resolution is a new one. Trimmed captures
without ``version``/``groupKey``/``truncatedAlerts`` are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, make_event
from agentops.sources import as_obj, get_str, get_time, items, short_hash, str_map

SOURCE = "alertmanager"
ZERO_TIME = "0001-01-01T00:00:00Z"
STATUSES = ("firing", "resolved")
ANNOTATION_MESSAGE = ("summary", "description", "message")
# Most specific first. ``job`` is Prometheus' scrape job, so Kubernetes Jobs come from
# kube-state-metrics' ``job_name``; the scrape job is only a last resort.
SUBJECT_LABELS = (
    ("pod", "Pod"), ("deployment", "Deployment"), ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"), ("job_name", "Job"), ("cronjob", "CronJob"), ("node", "Node"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"), ("service", "Service"),
    ("instance", "Instance"), ("job", "ScrapeJob"),
)


def parse(
    doc: Any, *, headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> list[Event]:
    """One event per alert in the body; identical keys within a body are reported once."""
    body = as_obj(doc, "")
    if "alerts" not in body:
        raise InvalidEventError("alerts: required (is this an Alertmanager webhook body?)")
    group_key = get_str(body, "groupKey", "")
    events: dict[str, Event] = {}
    for where, alert in items(body, "alerts", ""):
        event = _alert_event(alert, where, group_key=group_key, now=now)
        events.setdefault(event.key, event)
    return list(events.values())


def _alert_event(
    alert: Mapping[str, Any], where: str, *, group_key: str | None, now: datetime | None
) -> Event:
    status = get_str(alert, "status", where, required=True)
    if status not in STATUSES:
        raise InvalidEventError(f"{where}.status: {status!r} is not one of firing, resolved")
    labels = str_map(alert, "labels", where)
    annotations = str_map(alert, "annotations", where)
    starts_at = get_time(alert, "startsAt", where)
    ends_at = _ends_at(alert, where)
    fingerprint = get_str(alert, "fingerprint", where)
    alertname = labels.get("alertname", "")
    attributes: dict[str, Any] = {
        "alertname": alertname, "status": status, "severity": labels.get("severity"),
        "fingerprint": fingerprint, "labels": labels, "annotations": annotations,
        "starts_at": starts_at, "ends_at": ends_at, "group_key": group_key,
        "generator_url": get_str(alert, "generatorURL", where),
    }
    identity = fingerprint or short_hash(labels)
    return make_event(
        f"alert.{status}",
        time=(ends_at if status == "resolved" else starts_at) or starts_at,
        source=SOURCE,
        subject=subject_from_labels(labels),
        message=_message(annotations, alertname),
        attributes={k: v for k, v in attributes.items() if v is not None},
        key=f"{SOURCE}:{identity}:{status}:{starts_at or ''}",
        now=now,
    )


def _ends_at(alert: Mapping[str, Any], where: str) -> str | None:
    """``endsAt`` unless it is Go's zero time, which firing alerts carry."""
    raw = alert.get("endsAt")
    if raw is None or (isinstance(raw, str) and raw.startswith("0001-01-01")):
        return None
    return get_time(alert, "endsAt", where)


def subject_from_labels(labels: Mapping[str, str]) -> dict[str, str | None]:
    """Namespace, cluster and the most specific object the labels name.

    The alert name wins over precedence: ``KubeDeploymentReplicasMismatch`` is about the
    ``deployment`` label even when a ``pod`` label (the exporter's own pod) is present.
    """
    present = [(label, kind) for label, kind in SUBJECT_LABELS if labels.get(label)]
    alertname = labels.get("alertname", "").lower()
    named = [(label, kind) for label, kind in present if kind.lower() in alertname]
    subject: dict[str, str | None] = {
        "cluster": labels.get("cluster") or None,
        "namespace": labels.get("namespace") or None,
    }
    if named or present:
        label, kind = (named or present)[0]
        subject.update(kind=kind, name=labels[label])
    return subject


def _message(annotations: Mapping[str, str], alertname: str) -> str:
    for name in ANNOTATION_MESSAGE:
        if annotations.get(name):
            return annotations[name]
    return alertname
