"""Templates: dedup keys never merge unrelated events; titles read as sentences."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentops.events import make_event
from agentops.policy.engine import OPEN, RECUR, State, decide, observe
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy, compile_template

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
RULES = """\
triggers:
  - name: signal
    on: custom.signal
    severity: {from: attributes.level, map: {quiet: none, loud: CRITICAL}, default: LOW}
    category: AUTOMATION_FAILURE
    title: "{attributes.check} failed for {subject.namespace}/{subject.name}: {message}"
    dedup: {key: "signal/{attributes.check}"}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return load_policy([path], base=tmp_path)


def _decide(policy: Policy, state: State, **fields: object) -> list[tuple[str, str | None]]:
    event = make_event("custom.signal", time=T0, **fields)  # type: ignore[arg-type]
    decisions = decide(policy, state, event, T0)
    observe(policy, state, event, decisions)
    return [(d.action, d.dedup_key) for d in decisions if d.action in (OPEN, RECUR)]


def test_key_with_an_empty_part_falls_back_to_the_event_identity(policy: Policy) -> None:
    state = State()
    first = _decide(policy, state, subject={"namespace": "shop", "name": "api"})
    other = _decide(policy, state, subject={"namespace": "shop", "name": "web"})
    again = _decide(policy, state, subject={"namespace": "shop", "name": "api"})
    assert first == [(OPEN, "signal/-@shop/api")]
    assert other == [(OPEN, "signal/-@shop/web")]
    assert again == [(RECUR, "signal/-@shop/api")]


def test_attributes_identity_wins_over_the_subject(policy: Policy) -> None:
    assert _decide(policy, State(), subject={"name": "api"}, attributes={"identity": "fp1"}) == [
        (OPEN, "signal/-@fp1")]


def test_complete_key_is_left_alone(policy: Policy) -> None:
    assert _decide(policy, State(), subject={"name": "api"}, attributes={"check": "disk"}) == [
        (OPEN, "signal/disk")]


def test_event_with_nothing_to_identify_it_keeps_the_placeholder(policy: Policy) -> None:
    assert _decide(policy, State()) == [(OPEN, "signal/-")]


def test_trigger_map_can_say_a_word_means_no_incident(policy: Policy) -> None:
    state = State()
    event = make_event("custom.signal", time=T0, attributes={"check": "x", "level": "QUIET"})
    [decision] = decide(policy, state, event, T0)
    assert decision.action == "ignored"
    assert "informational" in decision.reason
    loud = make_event("custom.signal", time=T0, attributes={"check": "x", "level": "Loud"})
    assert decide(policy, state, loud, T0)[0].severity == "CRITICAL"


@pytest.mark.parametrize(("fields", "title"), [
    ({"subject": {"namespace": "shop", "name": "api"}, "message": "disk full",
      "attributes": {"check": "disk"}}, "disk failed for shop/api: disk full"),
    ({"subject": {"name": "api"}, "message": "disk full", "attributes": {"check": "disk"}},
     "disk failed for api: disk full"),
    ({"subject": {"namespace": "shop", "name": "api"}, "attributes": {"check": "disk"}},
     "disk failed for shop/api"),
    ({"subject": {"name": "api"}}, "unknown failed for api"),
])
def test_titles_drop_what_is_missing(fields: dict[str, object], title: str) -> None:
    render = compile_template(
        "{attributes.check} failed for {subject.namespace}/{subject.name}: {message}",
        style="prose")
    assert render(make_event("custom.signal", time=T0, **fields)) == title  # type: ignore[arg-type]


def test_title_never_repeats_a_value() -> None:
    render = compile_template("{attributes.alertname}: {message}", style="prose")
    event = make_event("alert.firing", time=T0, message="Watchdog",
                       attributes={"alertname": "Watchdog"})
    assert render(event) == "Watchdog"
