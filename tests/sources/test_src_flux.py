"""Flux notification-controller bodies and the generic-hmac signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from conftest import fixture_path

from agentops.errors import InvalidEventError
from agentops.sources import parse_payload
from agentops.sources.flux import verify_signature

FIXTURES = fixture_path("flux")
KUSTOMIZATION = "notification-generic-Kustomization-ValidationFailed.json"
HELMRELEASE = "notification-generic-HelmRelease-info-issue4453.json"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def loaded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body(name))
    return data


def test_error_severity_is_a_failed_deployment() -> None:
    [event] = parse_payload("flux", body(KUSTOMIZATION))
    assert event.type == "deployment.failed"
    assert event.source == "flux"
    assert event.subject.to_dict() == {
        "namespace": "apps", "kind": "Kustomization", "name": "webapp",
    }
    assert event.message == (
        "service/apps/webapp validation error: spec.type: Unsupported value: Ingress"
    )
    assert event.attributes == {
        "identity": "apps/Kustomization/webapp",
        "reason": "ValidationFailed",
        "severity": "error",
        "revision": "main/731f7eaddfb6af01cb2173e18f0f75b0ba780ef1",
        "controller": "kustomize-controller",
        "metadata": {
            "kustomize.toolkit.fluxcd.io/revision": "main/731f7eaddfb6af01cb2173e18f0f75b0ba780ef1",
        },
    }
    assert event.key == (
        "flux:7d0cdc51-ddcf-4743-b223-83ca5c699632:ValidationFailed:"
        "main/731f7eaddfb6af01cb2173e18f0f75b0ba780ef1:2022-10-28T07:26:19Z"
    )


def test_helm_reason_equal_to_severity_is_recovered_from_the_message() -> None:
    [event] = parse_payload("flux", body(HELMRELEASE))
    assert event.type == "deployment.succeeded"
    assert event.attributes["reason"] == "UpgradeSucceeded"
    assert event.attributes["reported_reason"] == "info"
    assert event.attributes["revision"] == "0.1.3+2"
    assert event.key == (
        "flux:b380efb3-1234-1234-a421-cd1e39b22e93:UpgradeSucceeded:0.1.3+2:2023-12-04T15:44:50Z"
    )


def test_metadata_token_is_dropped_from_attributes() -> None:
    [event] = parse_payload("flux", body(HELMRELEASE))
    assert event.attributes["metadata"] == {"revision": "0.1.3+2"}
    assert "abcd1234" not in json.dumps(event.to_dict())


@pytest.mark.parametrize(
    ("severity", "reason", "message", "expected"),
    [
        ("info", "ReconciliationSucceeded", "Reconciliation finished", "deployment.succeeded"),
        ("info", "InstallSucceeded", "Helm install succeeded", "deployment.succeeded"),
        ("info", "NewArtifact", "stored artifact for commit", "gitops.info"),
        ("info", "Progressing", "Deployment/apps/web configured", "gitops.info"),
        ("info", "DependencyNotReady", "dependency not ready", "gitops.info"),
        ("error", "error", "Helm upgrade failed: timed out", "deployment.failed"),
        ("info", "HealthCheckFailed", "health check failed", "deployment.failed"),
    ],
)
def test_severity_and_reason_map_to_event_type(
    severity: str, reason: str, message: str, expected: str
) -> None:
    data = loaded(KUSTOMIZATION)
    data.update(severity=severity, reason=reason, message=message)
    [event] = parse_payload("flux", data)
    assert event.type == expected


def test_helm_failure_with_severity_as_reason_gets_upgrade_failed() -> None:
    data = loaded(HELMRELEASE)
    data.update(severity="error", reason="error", message="Helm upgrade failed: timed out")
    [event] = parse_payload("flux", data)
    assert event.attributes["reason"] == "UpgradeFailed"


def test_older_shape_without_uid_is_keyed_by_kind_namespace_name() -> None:
    data = loaded(HELMRELEASE)
    del data["involvedObject"]["uid"]
    data["metadata"] = {"revision": "1.2.3"}
    [event] = parse_payload("flux", data)
    assert event.key == (
        "flux:HelmRelease/flux-system/appnamehere:UpgradeSucceeded:1.2.3:2023-12-04T15:44:50Z"
    )


def test_redelivery_gives_identical_key() -> None:
    [first] = parse_payload("flux", body(KUSTOMIZATION))
    [again] = parse_payload("flux", body(KUSTOMIZATION).decode())
    assert first.key == again.key


def test_missing_involved_object_is_rejected() -> None:
    data = loaded(KUSTOMIZATION)
    del data["involvedObject"]
    with pytest.raises(InvalidEventError, match=r"^flux: involvedObject: required"):
        parse_payload("flux", data)


def test_involved_object_without_name_is_rejected_with_its_path() -> None:
    data = loaded(KUSTOMIZATION)
    del data["involvedObject"]["name"]
    with pytest.raises(InvalidEventError, match=r"^flux: involvedObject.name: required"):
        parse_payload("flux", data)


def test_unknown_severity_is_rejected() -> None:
    data = loaded(KUSTOMIZATION)
    data["severity"] = "fatal"
    with pytest.raises(InvalidEventError, match=r"^flux: severity: 'fatal'"):
        parse_payload("flux", data)


def sign(algorithm: str, payload: bytes, secret: bytes) -> str:
    return f"{algorithm}=" + hmac.new(secret, payload, algorithm).hexdigest()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_generic_hmac_signature_verifies(algorithm: str) -> None:
    payload = body(KUSTOMIZATION)
    assert verify_signature(payload, sign(algorithm, payload, b"s3cret"), b"s3cret")


def test_generic_hmac_signature_rejects_wrong_secret_body_or_header() -> None:
    payload = body(KUSTOMIZATION)
    good = sign("sha256", payload, b"s3cret")
    assert not verify_signature(payload, sign("sha256", payload, b"other"), b"s3cret")
    assert not verify_signature(payload + b" ", good, b"s3cret")
    assert not verify_signature(payload, None, b"s3cret")
    assert not verify_signature(payload, "", b"s3cret")
    assert not verify_signature(payload, hashlib.sha256(payload).hexdigest(), b"s3cret")
    assert not verify_signature(payload, "md5=" + good.split("=")[1], b"s3cret")
