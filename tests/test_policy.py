"""The policy loader: defaults load, and every kind of mistake names file, line and key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentops.errors import InvalidRulesError
from agentops.paths import default_rules
from agentops.policy.loader import load_policy

ROOT = Path(__file__).resolve().parents[1]
GOOD_TRIGGER = """\
triggers:
  - name: t
    on: deployment.failed
    severity: HIGH
    category: DEPLOYMENT_FAILURE
"""


def _load_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    load_policy([path], base=tmp_path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(InvalidRulesError) as info:
        _load_text(tmp_path, text)
    return str(info.value)


def test_default_policy_has_the_seven_escalation_triggers() -> None:
    policy = load_policy([default_rules()])
    names = {t.name for t in policy.triggers}
    assert {
        "availability-below-target", "security-policy-violation", "production-deployment-failed",
        "data-integrity-concern", "agent-repeated-failure", "approval-denied",
        "production-resource-deleted",
    } <= names
    assert policy.sla.requirements == {
        "documented_within_24h": True, "troubleshooting_for_new_problem": True,
        "memory_lessons": True, "followups_have_owner_and_due": True,
        "review_for_high_critical": True, "postmortem_for_high_critical": True,
    }
    assert not policy.uses_cel


def test_misspelled_key_names_line_path_and_suggestion(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD_TRIGGER.replace("severity: HIGH", "severty: HIGH"))
    assert msg.startswith("rules.yaml:4: triggers[0].severty: unknown key 'severty' "
                          "(did you mean 'severity'?)")


def test_bad_duration_names_line_and_path(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD_TRIGGER + "    threshold: {count: 3, within: 1 hour}\n")
    assert msg == ("rules.yaml:6: triggers[0].threshold.within: '1 hour' is not a duration "
                   "like 30m, 1h, 7d")


def test_bad_regex_names_line_and_path(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD_TRIGGER + "    match:\n      message: {regex: '(['}\n")
    assert msg.startswith("rules.yaml:7: triggers[0].match.message.regex: invalid regex '(['")


def test_cel_syntax_error_names_line_and_path(tmp_path: Path) -> None:
    pytest.importorskip("cel_expr_python")
    msg = _error(tmp_path, GOOD_TRIGGER + "    when: 'event.type == '\n")
    assert msg.startswith("rules.yaml:6: triggers[0].when: invalid CEL expression:")
    assert "Syntax error" in msg


def test_cel_type_error_is_caught_at_load(tmp_path: Path) -> None:
    pytest.importorskip("cel_expr_python")
    msg = _error(tmp_path, GOOD_TRIGGER + "    when: '1 + \"a\"'\n")
    assert "triggers[0].when: invalid CEL expression" in msg and "no matching overload" in msg


def test_cel_condition_filters_events(tmp_path: Path) -> None:
    pytest.importorskip("cel_expr_python")
    from agentops.events import make_event

    path = tmp_path / "r.yaml"
    path.write_text(GOOD_TRIGGER + "    when: 'event.attributes.retries > 2'\n")
    policy = load_policy([path])
    trig = policy.triggers[0]
    assert policy.uses_cel and trig.when is not None
    assert trig.when(make_event("deployment.failed", attributes={"retries": 3}))
    assert not trig.when(make_event("deployment.failed", attributes={"retries": 1}))
    assert not trig.when(make_event("deployment.failed"))


def test_unknown_category_and_severity(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD_TRIGGER.replace("DEPLOYMENT_FAILURE", "DEPLOY_FAILURE"))
    assert "rules.yaml:5: triggers[0].category: 'DEPLOY_FAILURE' is not a category " \
           "(did you mean 'DEPLOYMENT_FAILURE'?)" in msg
    msg = _error(tmp_path, GOOD_TRIGGER.replace("HIGH", "URGENT"))
    assert msg.startswith("rules.yaml:4: triggers[0].severity: 'URGENT' is not a severity")


def test_p_aliases_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(GOOD_TRIGGER.replace("HIGH", "P0"))
    assert load_policy([path]).triggers[0].severity.default == "CRITICAL"


def test_silence_requires_expiry(tmp_path: Path) -> None:
    msg = _error(tmp_path, "silences:\n  - name: s\n    match: {environment: production}\n")
    assert msg == "rules.yaml:2: silences[0]: missing required key 'expires'"


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, "triggers:\n  - name: [unclosed\n")
    assert msg.startswith("rules.yaml:") and "invalid YAML" in msg


def test_unknown_event_path_in_match(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD_TRIGGER + "    match: {subject.nmespace: prod}\n")
    assert "triggers[0].match.subject.nmespace: unknown event path 'subject.nmespace'" in msg


def test_on_off_yes_no_are_not_booleans(tmp_path: Path) -> None:
    # YAML 1.1 would turn the `on:` key into True; the policy must read it as a key.
    path = tmp_path / "r.yaml"
    path.write_text(GOOD_TRIGGER)
    assert load_policy([path]).triggers[0].types == ("deployment.failed",)


def test_importing_policy_loads_no_kubernetes_and_no_cel() -> None:
    code = ("import sys, agentops.policy.loader, agentops.policy.engine;"
            "print(sorted(m for m in sys.modules if m.startswith(('kubernetes', 'cel_expr'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
