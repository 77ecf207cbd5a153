"""``agentops rules test``: unit tests for policies, in the spirit of ``promtool test rules``.

A test file holds named tests; each replays events at relative times (``+0s``, ``+5m``) against
a fresh state and compares the decisions after each event with what the step expects. Tests may
add their own silences to the policy under test.

    name: agent failures
    start: 2026-11-24T10:00:00Z          # optional
    tests:
      - name: third failure opens
        silences: []                     # optional, same shape as in rules/
        steps:
          - at: +0s
            event: {type: attempt.failed, actor: agent-7, attributes: {task: migrate}}
            expect: []                   # nothing but "ignored"
          - at: +10m
            event: {...}
            expect: [{action: open, rule: agent-repeated-failure, severity: MEDIUM}]
            notify: [{transition: opened, to: incidents}]   # optional: the announcements
          - at: +40m                     # no event: time passes (update cadence)
            notify: [{transition: update, to: incidents}]
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agentops.errors import AgentopsError, InvalidRulesError
from agentops.events import event_from_dict, format_time, parse_time
from agentops.policy.engine import IGNORED, Decision, State, decide, normalise, observe
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy
from agentops.policy.schema import parse_duration
from agentops.policy.yamldoc import RuleError
from agentops.policy.yamlload import RulesLoader

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Failure:
    file: str
    test: str
    step: int
    diff: str


@dataclass(frozen=True, slots=True)
class TestReport:
    tests: int
    steps: int
    failures: tuple[Failure, ...]


def run_tests(files: list[Path], *, rules: list[Path], base: Path | None = None) -> TestReport:
    """Run every test in ``files`` against the policy in ``rules``."""
    failures: list[Failure] = []
    tests = steps = 0
    for path in files:
        doc = _load(path)
        start = parse_time(doc.get("start", DEFAULT_START), where=f"{path}: start")
        for i, test in enumerate(doc["tests"]):
            name = str(test.get("name", f"tests[{i}]"))
            policy = _policy(path, test, rules, base, i)
            tests += 1
            for n, failure in _run(policy, test, start, path, i):
                steps += 1
                if failure:
                    failures.append(Failure(str(path), name, n, failure))
    return TestReport(tests=tests, steps=steps, failures=tuple(failures))


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=RulesLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidRulesError(f"{path}: cannot read test file: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tests"), list):
        raise InvalidRulesError(f"{path}: expected a mapping with a list under 'tests'")
    return dict(doc)


def _policy(path: Path, test: Mapping[str, Any], rules: list[Path], base: Path | None,
            i: int) -> Policy:
    extra = {k: test[k] for k in ("silences", "maintenance_windows") if k in test}
    if not extra:
        return _cached(tuple(rules), base)
    label = f"{path}: tests[{i}]"
    return load_policy(rules, base=base, extra=[(label, yaml.safe_dump(extra, sort_keys=False))])


_CACHE: dict[tuple[tuple[Path, ...], Path | None], Policy] = {}


def _cached(rules: tuple[Path, ...], base: Path | None) -> Policy:
    key = (rules, base)
    if key not in _CACHE:
        _CACHE[key] = load_policy(list(rules), base=base)
    return _CACHE[key]


def _run(policy: Policy, test: Mapping[str, Any], start: datetime, path: Path,
         i: int) -> list[tuple[int, str | None]]:
    state = State()
    results: list[tuple[int, str | None]] = []
    steps = test.get("steps")
    if not isinstance(steps, list):
        raise InvalidRulesError(f"{path}: tests[{i}].steps: expected a list of steps")
    notified = _notifications(policy)
    for n, step in enumerate(steps):
        where = f"{path}: tests[{i}].steps[{n}]"
        now = start + _offset(step.get("at", "+0s"), where)
        if "event" not in step and "notify" in step:  # a tick: only time passes
            results.append((n, _compare(step["notify"], notified.step(
                (), environment=None, now=now), where, label="notify")))
            continue
        raw = dict(step.get("event") or {})
        raw.setdefault("time", format_time(now))
        raw.setdefault("source", "test")
        try:
            event = normalise(policy, event_from_dict(raw, now=now))
        except AgentopsError as exc:
            raise InvalidRulesError(f"{where}.event: {exc}") from None
        decisions = decide(policy, state, event, now)
        observe(policy, state, event, decisions)
        failure = _compare(step.get("expect", []), decisions, where)
        sent = notified.step(decisions, environment=event.environment, now=now)
        if failure is None and "notify" in step:
            failure = _compare(step["notify"], sent, where, label="notify")
        results.append((n, failure))
    return results


def _notifications(policy: Policy) -> Any:
    from agentops.policy.notifications import Simulation

    return Simulation(policy.notifications)


def _offset(value: Any, where: str) -> Any:
    text = str(value).lstrip("+")
    try:
        return parse_duration(text, "at")
    except RuleError as err:
        raise InvalidRulesError(f"{where}.at: {err.message}") from None


def _compare(expect: Any, decisions: Sequence[Decision] | list[dict[str, Any]], where: str,
             *, label: str = "expect") -> str | None:
    """Compare decisions (``expect``) or notifications (``notify``) with what is wanted."""
    if not isinstance(expect, list):
        raise InvalidRulesError(f"{where}.{label}: expected a list")
    first = "action" if label == "expect" else "transition"
    wanted = [{first: e} if isinstance(e, str) else dict(e) for e in expect]
    show_ignored = any(w.get("action") == IGNORED for w in wanted)
    actual = [d if isinstance(d, dict) else d.to_dict() for d in decisions
              if isinstance(d, dict) or show_ignored or d.action != IGNORED]
    projected = [
        {k: a.get(k) for k in wanted[j]} if j < len(wanted) else a for j, a in enumerate(actual)
    ]
    if projected == wanted:
        return None
    want_text = yaml.safe_dump(wanted, sort_keys=False).splitlines()
    got_text = yaml.safe_dump(projected, sort_keys=False).splitlines()
    diff = difflib.unified_diff(want_text, got_text, "expected", "actual", lineterm="")
    return "\n".join(diff)
