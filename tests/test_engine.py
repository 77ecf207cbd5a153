"""The engine's edges on the default policy, one behaviour per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentops.events import Event, make_event
from agentops.paths import default_rules
from agentops.policy.engine import State, decide, normalise, observe
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
OPENED = ["open", "troubleshooting", "memory"]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy([default_rules()])


def _feed(policy: Policy, state: State, etype: str, minutes: float, **kw: Any) -> list[str]:
    now = T0 + timedelta(minutes=minutes)
    event: Event = normalise(policy, make_event(etype, time=now, **kw))
    decisions = decide(policy, state, event, now)
    observe(policy, state, event, decisions)
    return [d.action for d in decisions if d.action != "ignored"]


def test_third_failed_attempt_opens(policy: Policy) -> None:
    state = State()
    fail = {"actor": "agent-1", "attributes": {"task": "deploy"}}
    assert _feed(policy, state, "attempt.failed", 0, **fail) == []
    assert _feed(policy, state, "attempt.failed", 1, **fail) == []
    assert _feed(policy, state, "attempt.failed", 2, **fail) == OPENED


def test_success_resets_the_attempt_count(policy: Policy) -> None:
    state = State()
    fail = {"actor": "agent-1", "attributes": {"task": "deploy"}}
    _feed(policy, state, "attempt.failed", 0, **fail)
    _feed(policy, state, "attempt.failed", 1, **fail)
    _feed(policy, state, "attempt.succeeded", 2, **fail)
    assert _feed(policy, state, "attempt.failed", 3, **fail) == []
    assert _feed(policy, state, "attempt.failed", 4, **fail) == []
    assert _feed(policy, state, "attempt.failed", 5, **fail) == OPENED


def test_deletion_in_production_opens_but_not_in_dev(policy: Policy) -> None:
    state = State()
    prod = {"subject": {"namespace": "prod", "kind": "Deployment", "name": "api"}}
    dev = {"subject": {"namespace": "dev", "kind": "Deployment", "name": "api"}}
    assert _feed(policy, state, "resource.deleted", 0, **dev) == []
    assert _feed(policy, state, "resource.deleted", 0, **prod) == ["open", "troubleshooting"]


def test_known_problem_type_gets_no_second_troubleshooting_entry(policy: Policy) -> None:
    state = State()
    a = {"subject": {"namespace": "prod", "kind": "Deployment", "name": "a"}}
    b = {"subject": {"namespace": "prod", "kind": "Deployment", "name": "b"}}
    assert _feed(policy, state, "resource.deleted", 0, **a) == ["open", "troubleshooting"]
    assert _feed(policy, state, "resource.deleted", 1, **b) == ["open"]


def test_recovery_resolves_and_the_next_failure_opens_again(policy: Policy) -> None:
    state = State()
    subject = {"environment": "production", "subject": {"namespace": "shop", "name": "web"}}
    assert _feed(policy, state, "deployment.failed", 0, **subject)[0] == "open"
    assert _feed(policy, state, "deployment.failed", 1, **subject) == ["recur"]
    assert _feed(policy, state, "deployment.succeeded", 2, **subject) == ["resolve"]
    assert _feed(policy, state, "deployment.succeeded", 3, **subject) == []
    assert _feed(policy, state, "deployment.failed", 4, **subject) == ["open"]


def test_decide_does_not_change_state(policy: Policy) -> None:
    state = State()
    event = normalise(policy, make_event("resource.deleted", time=T0,
                                         subject={"namespace": "prod", "name": "x"}))
    first = decide(policy, state, event, T0)
    assert decide(policy, state, event, T0) == first
    assert state == State()


def test_silence_suppresses_until_it_expires(tmp_path: Any) -> None:
    path = tmp_path / "silence.yaml"
    path.write_text("silences:\n  - name: quiet\n    match: {subject.namespace: prod}\n"
                    "    expires: 2026-11-24T11:00:00Z\n")
    policy = load_policy([default_rules(), path])
    state = State()
    prod = {"subject": {"namespace": "prod", "kind": "Secret", "name": "s"}}
    assert _feed(policy, state, "resource.deleted", 30, **prod) == ["suppressed"]
    assert _feed(policy, state, "resource.deleted", 61, **prod) == ["open", "troubleshooting"]


def test_environment_aliases_are_normalised(policy: Policy) -> None:
    event = normalise(policy, make_event("deployment.failed", environment="PROD"))
    assert event.environment == "production"
    event = normalise(policy, make_event("deployment.failed", subject={"namespace": "api-prod"}))
    assert event.environment == "production"
    event = normalise(policy, make_event("deployment.failed", subject={"namespace": "payments"}))
    assert event.environment is None


def test_unrelated_event_type_is_ignored_with_reason(policy: Policy) -> None:
    event = make_event("build.finished", time=T0)
    (decision,) = decide(policy, State(), event, T0)
    assert decision.action == "ignored"
    assert decision.reason == "no trigger listens to this event type"
