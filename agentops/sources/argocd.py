"""Argo CD notifications webhook bodies to events.

Argo CD sends whatever body its notification template renders, so agentops defines that body:
a flat JSON object (:class:`ArgoBody`) rendered by ``template.agentops-app`` in
``deploy/argocd/argocd-notifications-cm.yaml``. :func:`body_from_application` computes the same
body from a full ``Application`` object, so the mapping is tested against real objects and the
template and the parser cannot drift apart unnoticed.

The key is the application's state (app, revision, phase, health, operation end): the
``on-sync-failed`` and ``on-health-degraded`` triggers firing for one state are one fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict

from agentops.errors import InvalidEventError
from agentops.events import Event, format_time, make_event, parse_time
from agentops.sources import as_obj, get_obj, get_str

SOURCE = "argocd"
NO_VALUE = "<no value>"  # what Go templates print for a missing key
FAILED_PHASES = ("Failed", "Error")
FAILED_HEALTH = ("Degraded", "Missing")


class ArgoBody(TypedDict):
    """The webhook body ``template.agentops-app`` renders (all values strings, "" if unknown)."""

    source: str
    app: str
    app_namespace: str
    project: str
    namespace: str
    cluster: str
    revision: str
    sync_status: str
    health_status: str
    phase: str
    message: str
    finished_at: str
    trigger: str
    key: str


def parse(
    doc: Any, *, headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> list[Event]:
    """One event per notification."""
    body = _read_body(as_obj(doc, ""))
    etype, reason = classify(body)
    attributes = {
        "app": body["app"], "app_namespace": body["app_namespace"] or None,
        "project": body["project"] or None, "revision": body["revision"] or None,
        "sync_status": body["sync_status"] or None,
        "health_status": body["health_status"] or None, "phase": body["phase"] or None,
        "trigger": body["trigger"] or None, "reason": reason,
    }
    return [make_event(
        etype,
        time=body["finished_at"] or None, source=SOURCE,
        subject={"cluster": body["cluster"] or None, "namespace": body["namespace"] or None,
                 "kind": "Application", "name": body["app"]},
        message=_message(body),
        attributes={k: v for k, v in attributes.items() if v is not None},
        key=body["key"] or state_key(body),
        now=now,
    )]


def classify(body: ArgoBody) -> tuple[str, str]:
    """The event type and a reason for it."""
    if "deleted" in body["trigger"]:
        return "resource.deleted", "Deleted"
    if body["phase"] in FAILED_PHASES:
        return "deployment.failed", f"Sync{body['phase']}"
    if body["health_status"] in FAILED_HEALTH:
        return "deployment.failed", f"Health{body['health_status']}"
    state = (body["health_status"], body["sync_status"], body["phase"])
    if state == ("Healthy", "Synced", "Succeeded"):
        return "deployment.succeeded", "SyncSucceeded"
    return "gitops.info", body["phase"] or body["sync_status"] or "Unknown"


def state_key(body: ArgoBody) -> str:
    """The idempotency key; the template renders exactly this string."""
    suffix = ":deleted" if "deleted" in body["trigger"] else ""
    return (
        f"argocd:{body['app_namespace']}/{body['app']}:{body['revision']}:{body['phase']}"
        f":{body['health_status']}:{body['finished_at']}{suffix}"
    )


def body_from_application(app: Mapping[str, Any], *, trigger: str) -> ArgoBody:
    """The body the notifications template renders for ``app`` when ``trigger`` fires."""
    meta = get_obj(app, "metadata", "metadata")
    spec, status = get_obj(app, "spec", ""), get_obj(app, "status", "")
    dest = get_obj(spec, "destination", "spec")
    operation = get_obj(status, "operationState", "status")
    revision = _dig(operation, "syncResult", "revision") or _dig(status, "sync", "revision")
    body = ArgoBody(
        source=SOURCE, app=_dig(meta, "name"), app_namespace=_dig(meta, "namespace"),
        project=_dig(spec, "project"), namespace=_dig(dest, "namespace"),
        cluster=_dig(dest, "server") or _dig(dest, "name"), revision=revision,
        sync_status=_dig(status, "sync", "status"),
        health_status=_dig(status, "health", "status"), phase=_dig(operation, "phase"),
        message=_dig(operation, "message"), finished_at=_dig(operation, "finishedAt"),
        trigger=trigger, key="",
    )
    body["key"] = state_key(body)
    return body


def _dig(data: Mapping[str, Any], *path: str) -> str:
    """Like sprig's ``dig ... ""``: a nested value as the API prints it, "" when absent."""
    value: Any = data
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, datetime):  # YAML reads bare timestamps as datetimes
        return format_time(parse_time(value))
    return "" if value is None else str(value)


def _read_body(raw: Mapping[str, Any]) -> ArgoBody:
    source = get_str(raw, "source", "")
    if source not in (None, SOURCE):
        raise InvalidEventError(f"source: expected 'argocd', got {source!r}")

    def value(name: str) -> str:
        return _clean(get_str(raw, name, ""))

    body = ArgoBody(
        source=SOURCE, app=value("app"), app_namespace=value("app_namespace"),
        project=value("project"), namespace=value("namespace"), cluster=value("cluster"),
        revision=value("revision"), sync_status=value("sync_status"),
        health_status=value("health_status"), phase=value("phase"), message=value("message"),
        finished_at=value("finished_at"), trigger=value("trigger"), key=value("key"),
    )
    if not body["app"]:
        raise InvalidEventError("app: required (the Application name)")
    if body["finished_at"]:
        parse_time(body["finished_at"], where="finished_at")
    return body


def _clean(value: str | None) -> str:
    return "" if value is None or value == NO_VALUE else value


def _message(body: ArgoBody) -> str:
    state = (
        f"Argo CD application {body['app']}: sync {body['sync_status'] or 'unknown'}, "
        f"health {body['health_status'] or 'unknown'}, operation {body['phase'] or 'none'}"
    )
    if "deleted" in body["trigger"]:
        state = f"Argo CD application {body['app']} was deleted"
    return f"{state}: {body['message']}" if body["message"] else state
