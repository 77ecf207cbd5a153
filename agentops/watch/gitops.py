"""Argo CD Applications and Flux Kustomizations/HelmReleases, watched as objects.

The webhook adapters (:mod:`agentops.sources.argocd`, :mod:`agentops.sources.flux`) already
turn a notification into events; a watched object is converted by building the notification
those controllers would have sent and handing it to the same adapter, so a failure seen by
``watch`` and by ``hook`` carries the same key and is recorded once. Only transitions count:
into a failed state, and out of it (which resolves the incident).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentops.events import Event
from agentops.sources import argocd, flux
from agentops.watch.cycle import RawObject

BAD = {"sync": "deployment.failed", "health": "health.degraded"}
GOOD = {"sync": "deployment.succeeded", "health": "health.recovered"}
WATCH_TRIGGER = "on-watch"


def application_events(
    old: RawObject | None, new: RawObject, *, cluster: str | None
) -> list[Event]:
    """Per fact of an Application (its last sync, its health): an event when it turns bad
    (``deployment.failed``, ``health.degraded``) and when a bad one turns good again."""
    body = _with_cluster(argocd.body_from_application(new, trigger=WATCH_TRIGGER), cluster)
    before = _facts(old)
    out = []
    for event in argocd.parse(body):
        family = "health" if event.type.startswith("health.") else "sync"
        bad, was = BAD[family], before.get(family)
        if (event.type == bad and was != bad) or (event.type == GOOD[family] and was == bad):
            out.append(event)
    return out


def application_deleted(obj: RawObject, *, cluster: str | None) -> list[Event]:
    body = argocd.body_from_application(obj, trigger="on-deleted")
    return argocd.parse(_with_cluster(body, cluster))


def _facts(app: RawObject | None) -> dict[str, str]:
    if app is None:
        return {}
    body = argocd.body_from_application(app, trigger=WATCH_TRIGGER)
    return {family: etype for etype, _, family in argocd.classify_all(body)}


def _with_cluster(body: argocd.ArgoBody, cluster: str | None) -> argocd.ArgoBody:
    if cluster and not body["cluster"]:
        body["cluster"] = cluster
    return body


def flux_events(old: RawObject | None, new: RawObject, *, cluster: str | None) -> list[Event]:
    """A Flux object whose Ready condition turns False (a failure) or back to True."""
    ready, before = _ready(new), _ready(old) if old is not None else {}
    failing = ready.get("status") == "False"
    if failing and (before.get("status") != "False" or before.get("reason") != ready.get("reason")):
        return flux.parse(_notification(new, ready, severity="error", cluster=cluster))
    if ready.get("status") == "True" and before.get("status") == "False":
        return flux.parse(_notification(new, ready, severity="info", cluster=cluster))
    return []


def _ready(obj: RawObject | None) -> Mapping[str, Any]:
    for condition in (obj or {}).get("status", {}).get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition
    return {}


def _notification(
    obj: RawObject, ready: Mapping[str, Any], *, severity: str, cluster: str | None
) -> dict[str, Any]:
    """The body notification-controller would post for this condition."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    revision = status.get("lastAttemptedRevision") or status.get("lastAppliedRevision")
    metadata = {k: v for k, v in (("revision", revision), ("cluster", cluster)) if v}
    group = str(obj.get("apiVersion", "")).split("/")[0]
    return {
        "involvedObject": {"kind": obj.get("kind"), "namespace": meta.get("namespace"),
                           "name": meta.get("name"), "uid": meta.get("uid"),
                           "apiVersion": obj.get("apiVersion")},
        "severity": severity, "reason": ready.get("reason") or "",
        "message": str(ready.get("message") or "").strip(), "metadata": metadata,
        "timestamp": ready.get("lastTransitionTime"),
        "reportingController": f"{group.split('.')[0]}-controller",
    }
