"""GitHub webhooks: CI runs, deployment statuses, environment approvals."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from conftest import fixture_path

from agentops.errors import InvalidEventError
from agentops.sources import parse_payload
from agentops.sources.github import verify_signature

FIXTURES = fixture_path("github")


def loaded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_bytes())
    return data


def hook(event: str, body: Any) -> list[Any]:
    return parse_payload("github", body, headers={"X-GitHub-Event": event})


def test_successful_workflow_run_is_ci_succeeded() -> None:
    [event] = hook("workflow_run", (FIXTURES / "workflow_run.completed.json").read_bytes())
    assert event.type == "ci.succeeded"
    assert event.source == "github"
    assert event.subject.to_dict() == {"kind": "Repository", "name": "octo-org/octo-repo"}
    assert event.key == "github:workflow_run:289782451:1:success"
    assert event.attributes["workflow"] == "test"
    assert event.attributes["conclusion"] == "success"
    assert event.attributes["head_branch"] == "master"
    assert event.time.isoformat() == "2020-10-05T16:33:49+00:00"


@pytest.mark.parametrize("conclusion", ["failure", "timed_out", "startup_failure"])
def test_failed_workflow_run_is_ci_failed(conclusion: str) -> None:
    data = loaded("workflow_run.completed.json")
    data["workflow_run"]["conclusion"] = conclusion
    [event] = hook("workflow_run", data)
    assert event.type == "ci.failed"
    assert event.key == f"github:workflow_run:289782451:1:{conclusion}"


def test_rerun_attempt_is_a_new_fact() -> None:
    data = loaded("workflow_run.completed.json")
    data["workflow_run"]["run_attempt"] = 2
    [event] = hook("workflow_run", data)
    assert event.key == "github:workflow_run:289782451:2:success"


@pytest.mark.parametrize(
    ("action", "conclusion"), [("in_progress", None), ("completed", "cancelled")]
)
def test_unfinished_or_cancelled_run_is_ignored(action: str, conclusion: str | None) -> None:
    data = loaded("workflow_run.completed.json")
    data["action"] = action
    data["workflow_run"]["conclusion"] = conclusion
    assert hook("workflow_run", data) == []


def test_failed_workflow_job_names_job_and_failed_steps() -> None:
    [event] = hook("workflow_job", loaded("workflow_job.completed.failure.json"))
    assert event.type == "ci.failed"
    assert event.key == "github:workflow_job:289782451:1:failure"
    assert event.attributes["job"] == "linters"
    assert event.attributes["workflow"] == "CodeQL"
    assert event.attributes["run_id"] == 2202229078
    assert isinstance(event.attributes["failed_steps"], list)
    assert event.message == "job linters of workflow CodeQL failed (failure)"


def test_successful_workflow_job_is_ignored() -> None:
    data = loaded("workflow_job.completed.failure.json")
    data["workflow_job"]["conclusion"] = "success"
    assert hook("workflow_job", data) == []


def test_successful_deployment_status_is_deployment_succeeded_in_production() -> None:
    [event] = hook("deployment_status", loaded("deployment_status.created.json"))
    assert event.type == "deployment.succeeded"
    assert event.environment == "production"
    assert event.attributes["environment"] == "production"
    assert event.attributes["state"] == "success"
    assert event.key == "github:deployment_status:145988746:209916254:success"


@pytest.mark.parametrize("state", ["failure", "error"])
def test_failed_deployment_status_is_deployment_failed(state: str) -> None:
    data = loaded("deployment_status.created.json")
    data["deployment_status"]["state"] = state
    data["deployment"]["environment"] = "Production"
    [event] = hook("deployment_status", data)
    assert event.type == "deployment.failed"
    assert event.environment == "production"
    assert event.key == f"github:deployment_status:145988746:209916254:{state}"


def test_pending_deployment_status_is_ignored() -> None:
    data = loaded("deployment_status.created.json")
    data["deployment_status"]["state"] = "in_progress"
    assert hook("deployment_status", data) == []


def test_deployment_review_requested_is_approval_requested() -> None:
    [event] = hook("deployment_review", loaded("deployment_review.requested.json"))
    assert event.type == "approval.requested"
    assert event.environment == "tst"
    assert event.actor == "ilmax"
    assert event.attributes["decision"] == "requested"
    assert event.attributes["action"] == (
        "deployment of Build pull_request 3 by @ilmax run #15 to tst")
    assert event.attributes["environment"] == "tst"
    assert event.attributes["reviewers"] == ["admins"]
    assert "approver" not in event.attributes
    assert event.key == "github:deployment_review:5453085689:1:tst:requested"


@pytest.mark.parametrize(
    ("action", "etype"), [("rejected", "approval.denied"), ("approved", "approval.approved")]
)
def test_deployment_review_decision_carries_approver(action: str, etype: str) -> None:
    data = loaded("deployment_review.requested.json")
    data["action"] = action
    data["approver"] = {"login": "octo-lead"}
    data["workflow_job_runs"] = [data.pop("workflow_job_run")]
    del data["environment"]
    [event] = hook("deployment_review", data)
    assert event.type == etype
    assert event.actor == "octo-lead"
    assert event.attributes["approver"] == "octo-lead"
    assert event.attributes["environment"] == "tst"
    assert event.key == f"github:deployment_review:5453085689:1:tst:{action}"


@pytest.mark.parametrize("name", ["ping", "push", "issues"])
def test_other_events_are_ignored(name: str) -> None:
    assert hook(name, {"zen": "Keep it logically awesome."}) == []


def test_event_header_is_case_insensitive() -> None:
    events = parse_payload("github", loaded("workflow_job.completed.failure.json"),
                           headers={"x-github-event": "workflow_job"})
    assert [e.type for e in events] == ["ci.failed"]


def test_missing_event_header_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^github: X-GitHub-Event: header required"):
        parse_payload("github", {"zen": "x"})


def test_bad_field_is_reported_with_its_path() -> None:
    data = loaded("deployment_status.created.json")
    data["deployment"] = ["not", "an", "object"]
    with pytest.raises(InvalidEventError, match=r"^github: deployment: expected an object"):
        hook("deployment_status", data)


def test_redelivery_gives_identical_key() -> None:
    data = loaded("workflow_job.completed.failure.json")
    assert hook("workflow_job", data)[0].key == hook("workflow_job", json.dumps(data))[0].key


def test_signature_verifies_and_rejects() -> None:
    payload = (FIXTURES / "workflow_run.completed.json").read_bytes()
    digest = hmac.new(b"hook-secret", payload, hashlib.sha256).hexdigest()
    assert verify_signature(payload, f"sha256={digest}", b"hook-secret")
    assert not verify_signature(payload, f"sha256={digest}", b"wrong")
    assert not verify_signature(payload + b"\n", f"sha256={digest}", b"hook-secret")
    assert not verify_signature(payload, f"sha1={digest}", b"hook-secret")
    assert not verify_signature(payload, None, b"hook-secret")
