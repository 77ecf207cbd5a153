"""Flux notification-controller events (``generic`` / ``generic-hmac`` provider) to events.

The body names the reconciled object, a severity and a reason. Failures (``severity: error``
or a ``...Failed`` reason) become ``deployment.failed``; successful installs, upgrades and
reconciliations ``deployment.succeeded``; everything else ``gitops.info``. helm-controller
has shipped events whose ``reason`` repeats the severity (fluxcd/flux2#4453); the real reason
is then read from the message ("Helm upgrade succeeded" -> ``UpgradeSucceeded``).

Placement: an ``environment`` or ``env`` key in the event metadata (the Alert's
``spec.eventMetadata``, or the object's ``event.toolkit.fluxcd.io/environment`` annotation) is
the environment; without one the involved object's namespace places it through the policy.

``generic-hmac`` differs only by the ``X-Signature: <alg>=<hex>`` header: see
:func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, make_event
from agentops.sources import as_obj, get_obj, get_str, get_time

SOURCE = "flux"
SEVERITIES = ("info", "error", "trace")
SUCCEEDED = frozenset({
    "Succeeded", "ReconciliationSucceeded", "UpgradeSucceeded", "InstallSucceeded",
    "ApplySucceeded",
})
SECRET_NAMES = ("token", "password", "secret")
ENVIRONMENT_KEYS = ("environment", "env")
SIGNATURE_ALGORITHMS = {
    "sha1": hashlib.sha1, "sha256": hashlib.sha256,
    "sha384": hashlib.sha384, "sha512": hashlib.sha512,
}
_HELM_MESSAGE = re.compile(
    r"^Helm (install|upgrade|test|rollback|uninstall) (succeeded|failed)", re.IGNORECASE
)


def parse(
    doc: Any, *, headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> list[Event]:
    """One event per notification body."""
    body = as_obj(doc, "")
    obj = get_obj(body, "involvedObject", "")
    if not obj:
        raise InvalidEventError("involvedObject: required (is this a Flux notification body?)")
    severity = (get_str(body, "severity", "") or "info").lower()
    if severity not in SEVERITIES:
        raise InvalidEventError(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    message = get_str(body, "message", "") or ""
    reported = get_str(body, "reason", "") or ""
    reason = effective_reason(reported, severity=severity, message=message)
    metadata = _metadata(body)
    revision = _revision(metadata)
    timestamp = get_time(body, "timestamp", "")
    attributes: dict[str, Any] = {
        "reason": reason, "severity": severity, "revision": revision,
        "controller": get_str(body, "reportingController", ""),
        "metadata": metadata,
    }
    if reported != reason:
        attributes["reported_reason"] = reported
    subject = _subject(obj, metadata)
    identity = get_str(obj, "uid", "involvedObject") or "/".join(
        subject.get(name) or "" for name in ("kind", "namespace", "name")
    )
    attributes["identity"] = "/".join(p for p in (
        subject.get("cluster"), subject.get("namespace"), subject["kind"], subject["name"]) if p)
    return [make_event(
        event_type(severity=severity, reason=reason),
        time=timestamp, source=SOURCE, subject=subject, message=message,
        environment=environment_from_metadata(metadata),
        attributes={k: v for k, v in attributes.items() if v is not None},
        key=f"{SOURCE}:{identity}:{reason}:{revision or ''}:{timestamp or ''}",
        now=now,
    )]


def event_type(*, severity: str, reason: str) -> str:
    if severity == "error" or reason.endswith("Failed"):
        return "deployment.failed"
    if reason in SUCCEEDED:
        return "deployment.succeeded"
    return "gitops.info"


def effective_reason(reported: str, *, severity: str, message: str) -> str:
    """The reason, recovered from a Helm message when the controller sent the severity."""
    if reported and reported.lower() not in SEVERITIES:
        return reported
    found = _HELM_MESSAGE.match(message)
    if found:
        return found.group(1).capitalize() + found.group(2).capitalize()
    return reported or ("Failed" if severity == "error" else "Info")


def _metadata(body: Mapping[str, Any]) -> dict[str, str]:
    """Event metadata as strings, without keys that name credentials."""
    raw = get_obj(body, "metadata", "")
    out: dict[str, str] = {}
    for name in raw:
        if _is_secret(str(name)):
            continue
        out[str(name)] = get_str(raw, name, "metadata") or ""
    return out


def environment_from_metadata(metadata: Mapping[str, str]) -> str | None:
    """The environment the Alert's ``eventMetadata`` (or the object's
    ``event.toolkit.fluxcd.io/<key>`` annotation, which Flux sends without the prefix) names.
    Flux objects mostly live in ``flux-system`` whatever they deploy, so the involved
    object's namespace alone rarely says "production"."""
    for name in ENVIRONMENT_KEYS:
        if metadata.get(name):
            return metadata[name]
    return None


def _is_secret(name: str) -> bool:
    last = re.split(r"[/.]", name.lower())[-1]
    return any(last == word or last.endswith(("-" + word, "_" + word)) for word in SECRET_NAMES)


def _revision(metadata: Mapping[str, str]) -> str | None:
    """``revision`` (older controllers) or ``<group>/revision`` (v1beta3 and later)."""
    if metadata.get("revision"):
        return metadata["revision"]
    for name, value in metadata.items():
        if name.endswith("/revision") and value:
            return value
    return None


def _subject(obj: Mapping[str, Any], metadata: Mapping[str, str]) -> dict[str, str | None]:
    where = "involvedObject"
    return {
        "cluster": metadata.get("cluster") or None,
        "namespace": get_str(obj, "namespace", where),
        "kind": get_str(obj, "kind", where, required=True),
        "name": get_str(obj, "name", where, required=True),
    }


def verify_signature(body: bytes, header: str | None, secret: bytes) -> bool:
    """Check Flux's ``X-Signature: sha256=<hex>`` (sha1, sha384 and sha512 also accepted)."""
    if not header or "=" not in header:
        return False
    algorithm, _, digest = header.strip().partition("=")
    hasher = SIGNATURE_ALGORITHMS.get(algorithm.lower())
    if hasher is None:
        return False
    expected = hmac.new(secret, body, hasher).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode())
