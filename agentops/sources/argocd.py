"""Argo CD notifications webhook bodies to events.

Argo CD sends whatever body its notification template renders, so agentops defines that body:
a flat JSON object (:class:`ArgoBody`) rendered by ``template.agentops-app`` in
``deploy/argocd/argocd-notifications-cm.yaml``. :func:`body_from_application` computes the same
body from a full ``Application`` object, so the mapping is tested against real objects and the
template and the parser cannot drift apart unnoticed.

One body can carry two facts, kept apart because they resolve apart: the last sync
operation (``Failed``/``Error`` -> ``deployment.failed``, ``Succeeded`` ->
``deployment.succeeded`` whatever the health, since a sync usually succeeds while the app is
still ``Progressing``) and the health (``Degraded``/``Missing`` -> ``health.degraded``,
``Healthy`` -> ``health.recovered``); every notification reports both, whichever trigger
sent it (the template cannot know). The sync event's key is the application's state (app,
revision, phase, health, operation end), so the ``on-sync-failed`` and ``on-health-degraded``
triggers firing for one state are one fact; the health event's key and time come from the
health's ``lastTransitionTime`` (or ``reconciledAt``).

Placement: an ``environment``/``env`` label on the Application is its environment; without
one the destination namespace places it through the policy.
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
ENVIRONMENT_LABELS = ("environment", "env")


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
    environment: str
    health_at: str


def parse(
    doc: Any, *, headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> list[Event]:
    """The sync and health events of one notification (see the module docstring)."""
    body = _read_body(as_obj(doc, ""))
    facts = classify_all(body)
    attributes = {
        "app": body["app"], "app_namespace": body["app_namespace"] or None,
        "project": body["project"] or None, "revision": body["revision"] or None,
        "sync_status": body["sync_status"] or None,
        "health_status": body["health_status"] or None, "phase": body["phase"] or None,
        "trigger": body["trigger"] or None,
        "identity": "/".join(p for p in (body["cluster"], body["namespace"], body["app"]) if p),
    }
    events = []
    for etype, reason, family in facts:
        health = family == "health"
        events.append(make_event(
            etype,
            time=(body["health_at"] or body["finished_at"] or None) if health
            else body["finished_at"] or None,
            source=SOURCE,
            subject={"cluster": body["cluster"] or None, "namespace": body["namespace"] or None,
                     "kind": "Application", "name": body["app"]},
            environment=body["environment"] or None,
            message=_message(body),
            attributes={k: v for k, v in {**attributes, "reason": reason}.items()
                        if v is not None},
            key=health_key(body) if health else body["key"] or state_key(body),
            now=now,
        ))
    return events


def classify(body: ArgoBody) -> tuple[str, str]:
    """The main event type of a body and a reason for it (the first of :func:`classify_all`)."""
    etype, reason, _ = classify_all(body)[0]
    return etype, reason


def classify_all(body: ArgoBody) -> list[tuple[str, str, str]]:
    """``(event type, reason, "sync"|"health"|"app")`` for each fact the body reports."""
    trigger = body["trigger"]
    if "deleted" in trigger:
        return [("resource.deleted", "Deleted", "app")]
    facts: list[tuple[str, str, str]] = []
    phase, health = body["phase"], body["health_status"]
    if phase in FAILED_PHASES:
        facts.append(("deployment.failed", f"Sync{phase}", "sync"))
    elif phase == "Succeeded":
        facts.append(("deployment.succeeded", "SyncSucceeded", "sync"))
    if health in FAILED_HEALTH:
        facts.append(("health.degraded", f"Health{health}", "health"))
    elif health == "Healthy":
        facts.append(("health.recovered", "HealthHealthy", "health"))
    return facts or [("gitops.info", phase or body["sync_status"] or health or "Unknown", "app")]


def health_key(body: ArgoBody) -> str:
    """One health state of one application at one transition is one fact."""
    when = body["health_at"] or body["finished_at"]
    return f"argocd:{body['app_namespace']}/{body['app']}:health:{body['health_status']}:{when}"


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
        environment=_dig(meta, "labels", "environment") or _dig(meta, "labels", "env"),
        health_at=_dig(status, "health", "lastTransitionTime") or _dig(status, "reconciledAt"),
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
        environment=value("environment"), health_at=value("health_at"),
    )
    if not body["app"]:
        raise InvalidEventError("app: required (the Application name)")
    for name in ("finished_at", "health_at"):
        if body[name]:
            parse_time(body[name], where=name)
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
