"""GitHub webhooks (CI runs, deployments, environment approvals) to events.

The event name is not in the body but in the ``X-GitHub-Event`` header. Only outcomes matter
here: completed workflow runs and failed jobs, final deployment statuses and deployment
reviews. Everything else (``ping``, ``push``, in-progress runs...) is accepted and ignored, so
one webhook can be pointed at agentops with "send me everything". Keys come from GitHub's own
ids, so a redelivery from the GitHub UI is the same fact.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, make_event
from agentops.sources import as_obj, get_int, get_obj, get_str, get_time, header, items

SOURCE = "github"
RUN_FAILED = ("failure", "timed_out", "startup_failure")
DEPLOY_FAILED = ("failure", "error")
REVIEW_TYPES = {
    "requested": "approval.requested", "approved": "approval.approved",
    "rejected": "approval.denied",
}

Handler = Callable[[Mapping[str, Any], datetime | None], list[Event]]


def parse(
    doc: Any, *, headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> list[Event]:
    """Events for one delivery; unknown or uninteresting deliveries give ``[]``."""
    name = header(headers, "X-GitHub-Event")
    if not name:
        raise InvalidEventError("X-GitHub-Event: header required (it names the webhook event)")
    body = as_obj(doc, "")
    handler = HANDLERS.get(name.strip().lower())
    return handler(body, now) if handler else []


def _workflow_run(body: Mapping[str, Any], now: datetime | None) -> list[Event]:
    run = get_obj(body, "workflow_run", "")
    conclusion = get_str(run, "conclusion", "workflow_run")
    if body.get("action") != "completed" or not conclusion:
        return []
    if conclusion not in (*RUN_FAILED, "success"):
        return []
    status = "succeeded" if conclusion == "success" else "failed"
    attempt = get_int(run, "run_attempt", "workflow_run") or 1
    run_id = _id(run, "workflow_run")
    workflow = get_str(run, "name", "workflow_run") or _dig(body, "workflow", "name")
    attributes = {
        "repository": _repository(body), "workflow": workflow, "run_id": run_id,
        "run_attempt": attempt, "run_number": get_int(run, "run_number", "workflow_run"),
        "conclusion": conclusion, "head_branch": get_str(run, "head_branch", "workflow_run"),
        "head_sha": get_str(run, "head_sha", "workflow_run"),
        "trigger": get_str(run, "event", "workflow_run"),
        "url": get_str(run, "html_url", "workflow_run"),
    }
    return [_event(
        f"ci.{status}", body, now=now, attributes=attributes,
        time=get_time(run, "updated_at", "workflow_run"),
        actor=_login(run, "triggering_actor") or _login(run, "actor"),
        message=f"workflow {workflow or run_id} {status} ({conclusion}) on "
        f"{attributes['head_branch'] or attributes['head_sha']}",
        key=f"{SOURCE}:workflow_run:{run_id}:{attempt}:{conclusion}",
    )]


def _workflow_job(body: Mapping[str, Any], now: datetime | None) -> list[Event]:
    job = get_obj(body, "workflow_job", "")
    conclusion = get_str(job, "conclusion", "workflow_job")
    if body.get("action") != "completed" or conclusion not in RUN_FAILED:
        return []
    attempt = get_int(job, "run_attempt", "workflow_job") or 1
    job_id = _id(job, "workflow_job")
    name = get_str(job, "name", "workflow_job")
    failed_steps = [
        get_str(step, "name", where) for where, step in items(job, "steps", "workflow_job")
        if step.get("conclusion") in RUN_FAILED
    ]
    attributes = {
        "repository": _repository(body), "workflow": get_str(job, "workflow_name", "workflow_job"),
        "job": name, "job_id": job_id, "run_id": get_int(job, "run_id", "workflow_job"),
        "run_attempt": attempt, "conclusion": conclusion, "failed_steps": failed_steps,
        "head_branch": get_str(job, "head_branch", "workflow_job"),
        "head_sha": get_str(job, "head_sha", "workflow_job"),
        "url": get_str(job, "html_url", "workflow_job"),
    }
    return [_event(
        "ci.failed", body, now=now, attributes=attributes,
        time=get_time(job, "completed_at", "workflow_job"), actor=_login(body, "sender"),
        message=f"job {name} of workflow {attributes['workflow']} failed ({conclusion})",
        key=f"{SOURCE}:workflow_job:{job_id}:{attempt}:{conclusion}",
    )]


def _deployment_status(body: Mapping[str, Any], now: datetime | None) -> list[Event]:
    status = get_obj(body, "deployment_status", "")
    deployment = get_obj(body, "deployment", "")
    state = get_str(status, "state", "deployment_status", required=True) or ""
    if state not in (*DEPLOY_FAILED, "success"):
        return []
    outcome = "succeeded" if state == "success" else "failed"
    environment = _environment(
        get_str(deployment, "environment", "deployment")
        or get_str(status, "environment", "deployment_status")
    )
    attributes = {
        "repository": _repository(body), "state": state, "environment": environment,
        "deployment_id": _id(deployment, "deployment"),
        "status_id": _id(status, "deployment_status"),
        "ref": get_str(deployment, "ref", "deployment"),
        "sha": get_str(deployment, "sha", "deployment"),
        "task": get_str(deployment, "task", "deployment"),
        "description": get_str(status, "description", "deployment_status"),
        "url": get_str(status, "target_url", "deployment_status")
        or get_str(status, "log_url", "deployment_status"),
    }
    return [_event(
        f"deployment.{outcome}", body, now=now, attributes=attributes, environment=environment,
        time=get_time(status, "updated_at", "deployment_status")
        or get_time(status, "created_at", "deployment_status"),
        actor=_login(status, "creator") or _login(deployment, "creator"),
        message=f"deployment of {attributes['ref'] or attributes['sha']} to "
        f"{environment or 'unknown environment'} {outcome} ({state})",
        key=f"{SOURCE}:deployment_status:{attributes['deployment_id']}:"
        f"{attributes['status_id']}:{state}",
    )]


def _deployment_review(body: Mapping[str, Any], now: datetime | None) -> list[Event]:
    action = get_str(body, "action", "")
    if action not in REVIEW_TYPES:
        return []
    run = get_obj(body, "workflow_run", "")
    job_runs = [job for _, job in items(body, "workflow_job_runs", "")]
    job_run = get_obj(body, "workflow_job_run", "") or (job_runs[0] if job_runs else {})
    environment = _environment(
        get_str(body, "environment", "") or get_str(job_run, "environment", "workflow_job_run")
    )
    approver = _login(body, "approver")
    requestor = _login(body, "requestor")
    attributes: dict[str, Any] = {
        "action": action, "approver": approver, "environment": environment,
        "repository": _repository(body), "workflow": get_str(run, "name", "workflow_run"),
        "run_id": _id(run, "workflow_run"),
        "run_attempt": get_int(run, "run_attempt", "workflow_run") or 1,
        "requestor": requestor, "reviewers": _reviewers(body),
        "comment": get_str(body, "comment", ""), "url": get_str(run, "html_url", "workflow_run"),
    }
    time = get_time(body, "since", "") if action == "requested" else None
    return [_event(
        REVIEW_TYPES[action], body, now=now, attributes=attributes, environment=environment,
        time=time or get_time(run, "updated_at", "workflow_run"),
        actor=approver or requestor,
        message=f"deployment to {environment or 'unknown environment'} {action}"
        + (f" by {approver}" if approver else ""),
        key=f"{SOURCE}:deployment_review:{attributes['run_id']}:{attributes['run_attempt']}:"
        f"{environment or ''}:{action}",
    )]


HANDLERS: dict[str, Handler] = {
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "deployment_status": _deployment_status,
    "deployment_review": _deployment_review,
}


def _event(
    etype: str,
    body: Mapping[str, Any],
    *,
    now: datetime | None,
    attributes: Mapping[str, Any],
    time: str | None,
    actor: str | None,
    message: str,
    key: str,
    environment: str | None = None,
) -> Event:
    repository = attributes.get("repository")
    return make_event(
        etype, time=time, source=SOURCE, environment=environment, actor=actor, message=message,
        subject={"kind": "Repository", "name": repository} if repository else None,
        attributes={k: v for k, v in attributes.items() if v is not None},
        key=key, now=now,
    )


def _id(data: Mapping[str, Any], where: str) -> int:
    value = get_int(data, "id", where)
    if value is None:
        raise InvalidEventError(f"{where}.id: required")
    return value


def _repository(body: Mapping[str, Any]) -> str | None:
    return get_str(get_obj(body, "repository", ""), "full_name", "repository")


def _login(data: Mapping[str, Any], key: str) -> str | None:
    return get_str(get_obj(data, key, ""), "login", key)


def _dig(data: Mapping[str, Any], key: str, name: str) -> str | None:
    return get_str(get_obj(data, key, ""), name, key)


def _environment(value: str | None) -> str | None:
    return value.strip().lower() if value and value.strip() else None


def _reviewers(body: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for where, entry in items(body, "reviewers", ""):
        reviewer = get_obj(entry, "reviewer", where)
        name = get_str(reviewer, "login", where) or get_str(reviewer, "slug", where)
        if name:
            names.append(name)
    return names


def verify_signature(body: bytes, header: str | None, secret: bytes) -> bool:
    """Check ``X-Hub-Signature-256: sha256=<hex>`` against the webhook secret."""
    if not header or not header.strip().lower().startswith("sha256="):
        return False
    digest = header.strip()[len("sha256="):].lower()
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.encode())
