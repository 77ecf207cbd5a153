"""Alertmanager webhook bodies, real captures and v4 envelopes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import fixture_path

from agentops.errors import InvalidEventError
from agentops.sources import parse_payload

FIXTURES = fixture_path("alertmanager")


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def loaded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body(name))
    return data


def test_trimmed_body_without_version_or_group_key_gives_one_firing_event() -> None:
    [event] = parse_payload("alertmanager", body("kubesphere-KubePodCrashLooping-firing.json"))
    assert event.type == "alert.firing"
    assert event.source == "alertmanager"
    assert event.subject.to_dict() == {"namespace": "pp1", "kind": "Pod", "name": "dd1-0"}
    assert event.key == "alertmanager:a4c6c4f7a49ca0ae:firing:2020-02-26T07:05:04.989Z"
    assert event.message == "Pod pp1/dd1-0 (busybox-3jb7u6) is restarting 1.07 times / 5 minutes."
    assert event.attributes["alertname"] == "KubePodCrashLooping"
    assert event.attributes["severity"] == "critical"
    assert "group_key" not in event.attributes


def test_zero_ends_at_of_firing_alert_is_omitted_and_time_is_starts_at() -> None:
    [event] = parse_payload("alertmanager", body("kubesphere-KubePodCrashLooping-firing.json"))
    assert "ends_at" not in event.attributes
    assert event.attributes["starts_at"] == "2020-02-26T07:05:04.989Z"
    assert event.time.isoformat() == "2020-02-26T07:05:04.989000+00:00"


def test_escaped_ampersand_in_generator_url_is_decoded() -> None:
    [event] = parse_payload("alertmanager", body("kubesphere-KubePodCrashLooping-firing.json"))
    assert event.attributes["generator_url"].endswith("%3E+0&g0.tab=1")


def test_alert_named_for_deployment_is_about_the_deployment_not_the_exporter_pod() -> None:
    [event] = parse_payload(
        "alertmanager", body("kubesphere-KubeDeploymentReplicasMismatch-firing.json")
    )
    assert event.subject.to_dict() == {
        "namespace": "default", "kind": "Deployment", "name": "nginx",
    }
    assert event.attributes["annotations"]["runbook_url"].startswith("https://github.com/")


def test_group_of_two_alerts_gives_one_event_per_alert() -> None:
    events = parse_payload("alertmanager", body("kubesphere-KubePodNotReady-2alerts-firing.json"))
    assert [e.subject.name for e in events] == [
        "s2i-1-viafnz-5474c8b5b7-px7kz", "s2i-1-viafnz-89f49c678-2mzsm",
    ]
    assert len({e.key for e in events}) == 2


def test_v4_envelope_carries_cluster_group_key_and_summary() -> None:
    events = parse_payload("alertmanager", body("v4-KubePodCrashLooping-group-of-3-firing.json"))
    assert [e.attributes["fingerprint"] for e in events] == ["b1", "b2", "b3"]
    first = events[0]
    assert first.subject.to_dict() == {
        "cluster": "gcp-0", "namespace": "apps", "kind": "Pod", "name": "podinfo-7d8f",
    }
    assert first.message == "Pod is restarting repeatedly."
    group_key = '{}/{}:{alertname="KubePodCrashLooping", cluster="gcp-0"}'
    assert first.attributes["group_key"] == group_key
    assert first.attributes["annotations"]["description"] == "12 restarts in 10m"
    assert first.key == "alertmanager:b1:firing:2026-09-12T09:12:00Z"


def test_resolved_alert_uses_ends_at_as_time() -> None:
    [event] = parse_payload("alertmanager", body("v4-TargetDown-kube-system-resolved.json"))
    assert event.type == "alert.resolved"
    assert event.attributes["ends_at"] == "2026-09-12T09:11:00Z"
    assert event.time.isoformat() == "2026-09-12T09:11:00+00:00"
    assert event.key == "alertmanager:c1:resolved:2026-09-12T09:05:00Z"
    assert event.subject.to_dict() == {
        "cluster": "aws-0", "namespace": "kube-system", "kind": "ScrapeJob", "name": "core-dns",
    }


def test_resolution_is_a_new_fact_with_a_different_key() -> None:
    resolved = loaded("v4-TargetDown-kube-system-resolved.json")
    firing = json.loads(json.dumps(resolved))
    firing["status"] = firing["alerts"][0]["status"] = "firing"
    firing["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    [fired] = parse_payload("alertmanager", firing)
    [cleared] = parse_payload("alertmanager", resolved)
    assert fired.type == "alert.firing"
    assert fired.key != cleared.key
    assert fired.key == "alertmanager:c1:firing:2026-09-12T09:05:00Z"


def test_redelivery_gives_identical_keys() -> None:
    name = "v4-KubePodCrashLooping-group-of-3-firing.json"
    first = [e.key for e in parse_payload("alertmanager", body(name))]
    again = [e.key for e in parse_payload("alertmanager", body(name).decode())]
    assert first == again


def test_firing_group_with_one_resolved_alert_gives_resolved_event() -> None:
    events = parse_payload("alertmanager", body("vmalert-v4-mixed-firing-resolved.json"))
    assert [e.type for e in events] == ["alert.firing", "alert.resolved"]
    resolved = events[1]
    assert resolved.subject.to_dict() == {"kind": "Instance", "name": "10.30.1.161"}
    assert resolved.attributes["ends_at"] == "2021-03-30T13:17:50.814Z"


def test_duplicate_fingerprints_with_identical_keys_are_reported_once() -> None:
    events = parse_payload("alertmanager", body("vmalert-v4-CPUHigh-resolved.json"))
    assert len(events) == 1
    assert events[0].key == "alertmanager:83eb2c81e0da3faf:resolved:2021-03-30T12:17:50.814Z"


def test_non_utc_offset_and_nanoseconds_are_normalised_to_utc() -> None:
    [event] = parse_payload("alertmanager", body("vmalert-v4-CPUHigh-resolved.json"))
    assert event.attributes["starts_at"] == "2021-03-30T12:17:50.814Z"
    assert event.message == "cpu usage is high than 20% for 5 minutes"


def test_alert_without_fingerprint_gets_the_one_alertmanager_computes() -> None:
    data = loaded("kubesphere-KubePodCrashLooping-firing.json")
    del data["alerts"][0]["fingerprint"]
    [event] = parse_payload("alertmanager", data)
    [again] = parse_payload("alertmanager", data)
    # The capture's own fingerprint, recomputed from its labels as Alertmanager does.
    assert event.key == "alertmanager:a4c6c4f7a49ca0ae:firing:2020-02-26T07:05:04.989Z"
    assert event.key == again.key
    assert event.attributes["fingerprint"] == "a4c6c4f7a49ca0ae"
    assert event.attributes["fingerprint_computed"] is True


def test_message_is_empty_without_annotations() -> None:
    data = loaded("kubesphere-KubePodCrashLooping-firing.json")
    data["alerts"][0]["annotations"] = {}
    [event] = parse_payload("alertmanager", data)
    assert event.message == ""


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["alerts"].append({"status": "firing", "labels": "x"}),
         "alertmanager: alerts[1].labels: expected an object, got a string"),
        (lambda d: d["alerts"][0].update(status="pending"),
         "alertmanager: alerts[0].status: 'pending' is not one of firing, resolved"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"),
         "alertmanager: alerts[0].startsAt: 'yesterday' is not an ISO 8601 time"),
        (lambda d: d.update(alerts={}), "alertmanager: alerts: expected a list, got an object"),
        (lambda d: d.pop("alerts"), "alertmanager: alerts: required"),
    ],
)
def test_bad_payload_names_the_field_path(mutate: Any, expected: str) -> None:
    data = loaded("kubesphere-KubePodCrashLooping-firing.json")
    mutate(data)
    with pytest.raises(InvalidEventError) as info:
        parse_payload("alertmanager", data)
    assert str(info.value).startswith(expected)


def test_body_that_is_not_json_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^alertmanager: body: not valid JSON"):
        parse_payload("alertmanager", b"{not json")
