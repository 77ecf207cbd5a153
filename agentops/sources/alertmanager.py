"""Alertmanager webhook bodies (``webhook_config``) to events, one per alert.

Alertmanager groups alerts and re-sends the whole group on every change, so the adapter works
per alert: the alert's own ``status`` decides ``alert.firing`` or ``alert.resolved`` (a firing
group may carry resolved alerts), and the key ``alertmanager:{fingerprint}:{status}:{startsAt}``
makes a redelivered group the same fact while a resolution is a new one. Alerts without a
``fingerprint`` (Alertmanager before 0.19, Grafana and other senders) get the one Alertmanager
would compute from their labels (:func:`fingerprint_of`). Trimmed captures without
``version``/``groupKey``/``truncatedAlerts`` are accepted.

Placement: an ``environment`` or ``env`` label is the event's environment;
without one the ``namespace`` label places it through the policy's production namespaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, make_event
from agentops.sources import as_obj, get_str, get_time, items, str_map

SOURCE = "alertmanager"
ZERO_TIME = "0001-01-01T00:00:00Z"
STATUSES = ("firing", "resolved")
ANNOTATION_MESSAGE = ("summary", "description", "message")
ENVIRONMENT_LABELS = ("environment", "env")
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
    given = get_str(alert, "fingerprint", where)
    fingerprint = given or fingerprint_of(labels)
    alertname = labels.get("alertname", "")
    attributes: dict[str, Any] = {
        "alertname": alertname, "status": status, "severity": labels.get("severity"),
        "fingerprint": fingerprint, "identity": fingerprint,
        "fingerprint_computed": None if given else True,
        "labels": labels, "annotations": annotations,
        "starts_at": starts_at, "ends_at": ends_at, "group_key": group_key,
        "generator_url": get_str(alert, "generatorURL", where),
    }
    return make_event(
        f"alert.{status}",
        time=(ends_at if status == "resolved" else starts_at) or starts_at,
        source=SOURCE,
        subject=subject_from_labels(labels),
        environment=environment_from_labels(labels),
        message=_message(annotations),
        attributes={k: v for k, v in attributes.items() if v is not None},
        key=f"{SOURCE}:{fingerprint}:{status}:{starts_at or ''}",
        now=now,
    )


def fingerprint_of(labels: Mapping[str, str]) -> str:
    """The fingerprint Alertmanager gives an alert with these labels.

    prometheus/common's ``LabelSet.Fingerprint``: 64-bit FNV-1a over the label names in sorted
    order, each name and value followed by the 0xff separator byte, printed as 16 hex digits.
    Older Alertmanagers and other senders (Grafana, scripts) omit the field; computing it the
    same way keeps one alert one incident, and matches a later body that does carry it.
    """
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for text in (name, labels[name]):
            for byte in text.encode():
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK64
            digest = ((digest ^ 0xFF) * _FNV_PRIME) & _MASK64
    return f"{digest:016x}"


_FNV_OFFSET, _FNV_PRIME, _MASK64 = 14695981039346656037, 1099511628211, (1 << 64) - 1


def environment_from_labels(labels: Mapping[str, str]) -> str | None:
    """An explicit ``environment`` or ``env`` label; else the policy places the alert
    by its ``namespace`` label (a production namespace counts as production)."""
    for name in ENVIRONMENT_LABELS:
        if labels.get(name):
            return labels[name]
    return None


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


def _message(annotations: Mapping[str, str]) -> str:
    """The first of summary, description, message; "" when the alert carries none (the title
    then says just the alert name, never "X: X")."""
    for name in ANNOTATION_MESSAGE:
        if annotations.get(name):
            return annotations[name]
    return ""
