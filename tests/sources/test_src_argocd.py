"""Argo CD notification bodies, computed from real Application objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import fixture_path

from agentops.errors import InvalidEventError
from agentops.sources import parse_payload
from agentops.sources.argocd import ArgoBody, body_from_application

FIXTURES = fixture_path("argocd")
CONFIGMAP = Path(__file__).resolve().parents[2] / "deploy/argocd/argocd-notifications-cm.yaml"


def application(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text())
    return data


def test_body_from_healthy_synced_application() -> None:
    body = body_from_application(
        application("application-synced-operationState.yaml"), trigger="on-sync-succeeded"
    )
    assert body == {
        "source": "argocd", "app": "velero-test", "app_namespace": "argo-cd", "project": "sre",
        "namespace": "test-lla", "cluster": "gke-alpha-01-europe-west1",
        "revision": "ea8759964626a583667a2bfd08f334ec2070040a", "sync_status": "Synced",
        "health_status": "Healthy", "phase": "Succeeded",
        "message": "successfully synced (all tasks run)", "finished_at": "2024-03-05T07:33:04Z",
        "trigger": "on-sync-succeeded",
        "key": "argocd:argo-cd/velero-test:ea8759964626a583667a2bfd08f334ec2070040a:Succeeded:"
        "Healthy:2024-03-05T07:33:04Z",
        "environment": "", "health_at": "2024-03-05T07:33:04Z",
    }


def test_healthy_synced_succeeded_is_deployment_succeeded() -> None:
    body = body_from_application(
        application("application-synced-operationState.yaml"), trigger="on-sync-succeeded"
    )
    event, health = parse_payload("argocd", json.dumps(body))
    assert health.type == "health.recovered"
    assert event.type == "deployment.succeeded"
    assert event.source == "argocd"
    assert event.subject.to_dict() == {
        "cluster": "gke-alpha-01-europe-west1", "namespace": "test-lla", "kind": "Application",
        "name": "velero-test",
    }
    assert event.key == body["key"]
    assert event.attributes["reason"] == "SyncSucceeded"
    assert event.time.isoformat() == "2024-03-05T07:33:04+00:00"


def test_degraded_health_after_successful_sync_is_two_facts() -> None:
    app = application("application-health-degraded.yaml")
    body = body_from_application(app, trigger="on-health-degraded")
    assert body["cluster"] == "https://kubernetes.default.svc"
    assert body["finished_at"] == "2024-10-08T13:50:17Z"  # YAML datetime printed as the API does
    sync, health = parse_payload("argocd", body)
    assert (sync.type, sync.attributes["reason"]) == ("deployment.succeeded", "SyncSucceeded")
    assert health.type == "health.degraded"
    assert health.attributes["reason"] == "HealthDegraded"
    assert health.attributes["health_status"] == "Degraded"
    assert health.subject.namespace == "snipe-it"
    assert health.key != sync.key


def test_two_triggers_for_one_state_are_one_fact() -> None:
    app = application("application-health-degraded.yaml")
    keys = {
        tuple(e.key for e in parse_payload("argocd", body_from_application(app, trigger=trigger)))
        for trigger in ("on-health-degraded", "on-sync-succeeded")
    }
    assert len(keys) == 1


@pytest.mark.parametrize("phase", ["Failed", "Error"])
def test_failed_sync_phase_is_deployment_failed(phase: str) -> None:
    app = application("application-synced-operationState.yaml")
    app["status"]["operationState"]["phase"] = phase
    app["status"]["sync"]["status"] = "OutOfSync"
    event, _health = parse_payload("argocd", body_from_application(app, trigger="on-sync-failed"))
    assert event.type == "deployment.failed"
    assert event.attributes["reason"] == f"Sync{phase}"
    assert f":{phase}:" in event.key


def test_sync_succeeded_while_progressing_is_a_successful_sync_and_no_health_fact() -> None:
    app = application("application-synced-operationState.yaml")
    app["status"]["health"]["status"] = "Progressing"
    [event] = parse_payload("argocd", body_from_application(app, trigger="on-sync-succeeded"))
    assert event.type == "deployment.succeeded"


def test_running_operation_with_progressing_health_is_only_informational() -> None:
    app = application("application-synced-operationState.yaml")
    app["status"]["health"]["status"] = "Progressing"
    app["status"]["operationState"]["phase"] = "Running"
    [event] = parse_payload("argocd", body_from_application(app, trigger="on-sync-running"))
    assert event.type == "gitops.info"


def test_deleted_trigger_is_resource_deleted_with_its_own_key() -> None:
    app = application("application-synced-operationState.yaml")
    deleted = body_from_application(app, trigger="on-deleted")
    synced = body_from_application(app, trigger="on-sync-succeeded")
    [event] = parse_payload("argocd", deleted)
    assert event.type == "resource.deleted"
    assert event.subject.kind == "Application"
    assert event.key == synced["key"] + ":deleted"


def test_application_without_operation_state_uses_sync_revision() -> None:
    app = application("application-synced-operationState.yaml")
    del app["status"]["operationState"]
    body = body_from_application(app, trigger="on-health-degraded")
    assert body["revision"] == "rev1"
    assert body["phase"] == "" and body["finished_at"] == ""


def test_missing_key_in_body_is_recomputed_and_no_value_placeholders_are_empty() -> None:
    body: dict[str, Any] = dict(body_from_application(
        application("application-synced-operationState.yaml"), trigger="on-sync-succeeded"
    ))
    expected = body.pop("key")
    event, _health = parse_payload("argocd", body)
    assert event.key == expected
    body["message"] = "<no value>"
    event, _health = parse_payload("argocd", body)
    assert "<no value>" not in event.message


def test_body_without_app_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^argocd: app: required"):
        parse_payload("argocd", {"source": "argocd", "phase": "Failed"})


def test_body_from_another_source_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^argocd: source: expected 'argocd'"):
        parse_payload("argocd", {"source": "flux", "app": "x"})


def test_bad_finished_at_is_rejected_with_its_field() -> None:
    with pytest.raises(InvalidEventError, match=r"^argocd: finished_at: 'soon'"):
        parse_payload("argocd", {"app": "x", "finished_at": "soon"})


def test_notifications_configmap_defines_service_template_and_triggers() -> None:
    doc = yaml.safe_load(CONFIGMAP.read_text())
    assert doc["kind"] == "ConfigMap"
    assert doc["metadata"]["name"] == "argocd-notifications-cm"
    data = doc["data"]
    assert "url" in yaml.safe_load(data["service.webhook.agentops"])
    template = yaml.safe_load(data["template.agentops-app"])
    body = template["webhook"]["agentops"]["body"]
    for field in ArgoBody.__annotations__:
        assert f'"{field}":' in body
    for trigger in ("on-sync-failed", "on-health-degraded", "on-sync-succeeded", "on-deleted"):
        [rule] = yaml.safe_load(data[f"trigger.{trigger}"])
        assert rule["send"] == ["agentops-app"]
        assert trigger in body
    # Healthy again is its own notification: it resolves a Degraded health incident.
    [rule] = yaml.safe_load(data["trigger.on-health-recovered"])
    assert rule["send"] == ["agentops-app"] and "'Healthy'" in rule["when"]
