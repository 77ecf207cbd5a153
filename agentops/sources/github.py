"""GitHub webhooks (CI runs, deployments, environment approvals) to events.

The event name is not in the body but in the ``X-GitHub-Event`` header. Only outcomes matter
here: completed workflow runs and failed jobs, completed check suites and check runs of apps
other than Actions (CI outside Actions), final deployment statuses, deployment reviews and
deployment protection rule requests. CI events carry ``default_branch`` and
``on_default_branch``, so "a failed run on the default branch" can be written as a rule.
Everything else (``ping``, ``push``, in-progress runs...) is accepted and ignored, so
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
ACTIONS_APP = "github-actions"
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
        **_branch(body, get_str(run, "head_branch", "workflow_run"), workflow),
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
    workflow = get_str(job, "workflow_name", "workflow_job")
    attributes = {
        "repository": _repository(body), "workflow": workflow,
        "job": name, "job_id": job_id, "run_id": get_int(job, "run_id", "workflow_job"),
        "run_attempt": attempt, "conclusion": conclusion, "failed_steps": failed_steps,
        "head_branch": get_str(job, "head_branch", "workflow_job"),
        "head_sha": get_str(job, "head_sha", "workflow_job"),
        "url": get_str(job, "html_url", "workflow_job"),
        **_branch(body, get_str(job, "head_branch", "workflow_job"), workflow),
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
    workflow = get_str(run, "name", "workflow_run")
    run_id = _id(run, "workflow_run")
    number = get_int(run, "run_number", "workflow_run")
    # What was to be approved, as the approval trigger's title and key use it: the run and the
    # environment, so rejections of different runs or environments stay different incidents.
    what = (f"deployment of {workflow or 'workflow'} run #{number or run_id} "
            f"to {environment or 'an unknown environment'}")
    attributes: dict[str, Any] = {
        "action": what, "decision": action, "approver": approver, "environment": environment,
        "repository": _repository(body), "workflow": workflow, "run_id": run_id,
        "run_number": number, "run_attempt": get_int(run, "run_attempt", "workflow_run") or 1,
        "requestor": requestor, "reviewers": _reviewers(body),
        "comment": get_str(body, "comment", ""), "url": get_str(run, "html_url", "workflow_run"),
        "identity": f"{_repository(body) or ''}/{environment or ''}/run-{run_id}",
    }
    time = get_time(body, "since", "") if action == "requested" else None
    return [_event(
        REVIEW_TYPES[action], body, now=now, attributes=attributes, environment=environment,
        time=time or get_time(run, "updated_at", "workflow_run"),
        actor=approver or requestor,
        message=f"{what} {action}" + (f" by {approver}" if approver else ""),
        key=f"{SOURCE}:deployment_review:{attributes['run_id']}:{attributes['run_attempt']}:"
        f"{environment or ''}:{action}",
    )]


def _check_suite(body: Mapping[str, Any], now: datetime | None) -> list[Event]:
    """CI outside Actions: a third-party app's suite of checks on a commit."""
    suite = get_obj(body, "check_suite", "")
    return _check(body, now, kind="check_suite", obj=suite,
                  name=_dig(suite, "app", "name"), branch=get_str(suite, "head_branch",
                                                                  "check_suite"),
                  time=get_time(suite, "updated_at", "check_suite"))


def _check_run(body: Mapping[str, Any], now: datetime | None) -> list[Event]:
    """One check of a third-party app (a linter, an external CI job)."""
    run = get_obj(body, "check_run", "")
    suite = get_obj(run, "check_suite", "check_run")
    return _check(body, now, kind="check_run", obj=run, name=get_str(run, "name", "check_run"),
                  branch=get_str(suite, "head_branch", "check_run.check_suite"),
                  time=get_time(run, "completed_at", "check_run"))


def _check(body: Mapping[str, Any], now: datetime | None, *, kind: str,
           obj: Mapping[str, Any], name: str | None, branch: str | None,
           time: str | None) -> list[Event]:
    conclusion = get_str(obj, "conclusion", kind)
    if body.get("action") != "completed" or conclusion not in (*RUN_FAILED, "success"):
        return []
    app = get_obj(obj, "app", kind)
    if get_str(app, "slug", f"{kind}.app") == ACTIONS_APP:
        return []  # Actions reports the same run as workflow_run / workflow_job
    status = "succeeded" if conclusion == "success" else "failed"
    check_id = _id(obj, kind)
    attributes = {
        "repository": _repository(body), "workflow": name, "check": kind,
        "check_id": check_id, "app": get_str(app, "slug", f"{kind}.app"),
        "conclusion": conclusion, "head_branch": branch,
        "head_sha": get_str(obj, "head_sha", kind), "url": get_str(obj, "html_url", kind),
        **_branch(body, branch, name),
    }
    return [_event(
        f"ci.{status}", body, now=now, attributes=attributes, time=time,
        actor=_login(body, "sender"),
        message=f"{kind.replace('_', ' ')} {name or check_id} {status} ({conclusion}) on "
        f"{branch or attributes['head_sha']}",
        key=f"{SOURCE}:{kind}:{check_id}:{conclusion}",
    )]


def _deployment_protection_rule(body: Mapping[str, Any], now: datetime | None) -> list[Event]:
    """A deployment waiting for a custom protection rule (an app decides). GitHub sends only
    ``requested``: the app's verdict goes to ``deployment_callback_url``, not to a webhook."""
    if body.get("action") != "requested":
        return []
    deployment = get_obj(body, "deployment", "")
    environment = _environment(get_str(body, "environment", ""))
    deployment_id = get_int(deployment, "id", "deployment")
    attributes = {
        "decision": "requested", "environment": environment, "repository": _repository(body),
        "deployment_id": deployment_id, "ref": get_str(deployment, "ref", "deployment"),
        "sha": get_str(deployment, "sha", "deployment"),
        "trigger": get_str(body, "event", ""),
        "action": f"deployment of {get_str(deployment, 'ref', 'deployment') or 'a ref'}"
        f" to {environment or 'an unknown environment'}",
    }
    return [_event(
        "approval.requested", body, now=now, attributes=attributes, environment=environment,
        time=get_time(deployment, "updated_at", "deployment")
        or get_time(deployment, "created_at", "deployment"),
        actor=_login(body, "sender"),
        message=f"{attributes['action']} waits for a deployment protection rule",
        key=f"{SOURCE}:deployment_protection_rule:{deployment_id}:{environment or ''}",
    )]


HANDLERS: dict[str, Handler] = {
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "check_suite": _check_suite,
    "check_run": _check_run,
    "deployment_status": _deployment_status,
    "deployment_review": _deployment_review,
    "deployment_protection_rule": _deployment_protection_rule,
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


def _branch(body: Mapping[str, Any], branch: str | None, workflow: str | None
            ) -> dict[str, Any]:
    """The repository's default branch, whether the run was on it, and the run's identity
    (repository, workflow, branch: what a later success of the same workflow matches)."""
    default = get_str(get_obj(body, "repository", ""), "default_branch", "repository")
    return {
        "default_branch": default,
        "on_default_branch": bool(branch and default and branch == default),
        "identity": f"{_repository(body) or ''}/{workflow or ''}@{branch or ''}",
    }


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
