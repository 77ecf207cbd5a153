"""``agentops rules validate|test|explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentops.errors import InvalidEventError, InvalidRulesError
from agentops.events import event_from_dict
from agentops.paths import find_repo, rules_dir
from agentops.policy import matchers
from agentops.policy.engine import State, decide, normalise
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy, Trigger


def _rules(paths: list[Path], repo: Path | None) -> tuple[list[Path], Path]:
    base = find_repo(repo, required=False)
    return (paths or [rules_dir(repo)]), base


def validate(paths: list[Path], *, repo: Path | None) -> dict[str, Any]:
    targets, base = _rules(paths, repo)
    policy = load_policy(targets, base=base)
    return {
        "valid": True, "files": list(policy.files), "triggers": len(policy.triggers),
        "silences": len(policy.silences), "uses_cel": policy.uses_cel,
        "channels": len(policy.notifications.channels) if policy.notifications else 0,
        "routes": len(policy.notifications.routes) if policy.notifications else 0,
    }


def validate_text(result: dict[str, Any]) -> str:
    routes = (f", {result['channels']} channels, {result['routes']} routes"
              if result["channels"] else "")
    return (f"ok: {result['triggers']} triggers, {result['silences']} silences{routes} "
            f"in {len(result['files'])} files")


def test(files: list[Path], *, rules_dir: Path | None, repo: Path | None) -> dict[str, Any]:
    from agentops.policy.testing import run_tests

    targets, base = _rules([rules_dir] if rules_dir else [], repo)
    report = run_tests(files, rules=targets, base=base)
    return {
        "tests": report.tests, "steps": report.steps, "failed": len(report.failures),
        "failures": [
            {"file": f.file, "test": f.test, "step": f.step, "diff": f.diff}
            for f in report.failures
        ],
    }


def test_text(result: dict[str, Any]) -> str:
    lines = []
    for f in result["failures"]:
        lines.append(f"FAIL {f['file']}: {f['test']} (step {f['step']})\n{f['diff']}\n")
    verdict = "FAILED" if result["failed"] else "ok"
    lines.append(f"{verdict}: {result['tests']} tests, {result['steps']} steps, "
                 f"{result['failed']} failed")
    return "\n".join(lines)


def explain(text: str, *, rules_dir: Path | None, repo: Path | None) -> dict[str, Any]:
    targets, base = _rules([rules_dir] if rules_dir else [], repo)
    policy = load_policy(targets, base=base)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEventError(f"event: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    event = normalise(policy, event_from_dict(raw))
    state = State()
    decisions = decide(policy, state, event, event.time)
    cel_errors = sum(getattr(t.when, "errors", 0) for t in policy.triggers)
    return {
        "event": event.to_dict(), "event_id": event.id,
        "triggers": [_why(policy, t, event) for t in policy.triggers],
        "decisions": [d.to_dict() for d in decisions], "cel_errors": cel_errors,
    }


def _why(policy: Policy, trig: Trigger, event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"trigger": trig.name, "file": _where(trig)}
    if trig in policy.resolvers_for(event.type) and trig.resolve and trig.resolve.match(event):
        out.update(matched=False, resolves=True, dedup_key=trig.dedup_key(event),
                   reason="recovery event for this trigger")
        return out
    if trig not in policy.triggers_for(event.type):
        out.update(matched=False, reason=f"listens to {', '.join(trig.types)}, not {event.type}")
        return out
    reason = matchers.explain(trig.match_spec, event)
    if reason is None and trig.when is not None:
        matched, error = _evaluate_when(trig.when, event)
        if error is not None:
            out["cel_error"] = error
            reason = f"when: {trig.when_source} failed at run time ({error}); counted as false"
        elif not matched:
            reason = f"when: {trig.when_source} is false"
    out.update(matched=reason is None, dedup_key=trig.dedup_key(event))
    if reason:
        out["reason"] = reason
    return out


def _evaluate_when(when: Any, event: Any) -> tuple[bool, str | None]:
    evaluate = getattr(when, "evaluate", None)  # a CEL condition reports its runtime errors
    return evaluate(event) if evaluate is not None else (bool(when(event)), None)


def _where(trig: Trigger) -> str:
    from agentops.policy.yamlload import line_of

    path = Path(trig.file)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path]
    for candidate in candidates:
        if candidate.exists():
            return f"{trig.file}:{line_of(candidate.read_text(encoding='utf-8'), trig.path)}"
    return f"{trig.file}: {trig.path}"


def explain_text(result: dict[str, Any]) -> str:
    lines = [f"event {result['event_id']} ({result['event']['type']})"]
    for t in result["triggers"]:
        mark = "MATCH" if t["matched"] else ("RESOLVE" if t.get("resolves") else "  -  ")
        detail = f"  key={t['dedup_key']}" if t.get("dedup_key") else ""
        reason = f"  ({t['reason']})" if t.get("reason") else ""
        lines.append(f"  {mark} {t['trigger']}{detail}{reason}")
    lines.append("decisions:")
    for d in result["decisions"]:
        extra = ", ".join(f"{k}={v}" for k, v in d.items() if k != "action")
        lines.append(f"  {d['action']}: {extra}")
    if result.get("cel_errors"):
        lines.append(f"{result['cel_errors']} CEL runtime error(s), each counted as false")
    return "\n".join(lines)


__all__ = ["InvalidRulesError", "explain", "test", "validate"]
