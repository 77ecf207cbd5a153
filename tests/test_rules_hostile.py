"""Rules that would hang or crash the pipeline are refused at validate, or cannot hang.

Every command runs under a generous ``timeout`` so a regression fails the test instead of
hanging the suite; no assertion is made on speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LIMIT = 60  # seconds: generous, only there so that a hang fails


def agentops(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentops", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, check=False, timeout=LIMIT)


TRIGGER = """\
triggers:
  - name: hostile
    on: attempt.failed
    severity: LOW
    category: AUTOMATION_FAILURE
"""


def alias_bomb() -> str:
    """The billion laughs, 800 bytes: nine levels of nine aliases each, inside an ``in:``."""
    lines = ['  - &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"  - &l{i} [{refs}]")
    return ("anchors:\n" + "\n".join(lines) + "\n" + TRIGGER
            + "    match:\n      message:\n        in: *l8\n")


def nested_not(depth: int) -> str:
    body = "".join("  " * (i + 3) + "not:\n" for i in range(depth))
    return TRIGGER + "    match:\n" + body + "  " * (depth + 3) + "message: x\n"


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bomb", alias_bomb(), "alias bomb"),
    ("deep", nested_not(500), "nested deeper than"),
])
def test_validate_rejects_bombs_with_file_and_line(tmp_path: Path, name: str, text: str,
                                                    expected: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / f"{name}.yaml").write_text(text)
    out = agentops("rules", "validate", str(rules), cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    report = out.stdout + out.stderr
    assert f"{name}.yaml:" in report and expected in report
    assert "internal error" not in report


def test_moderate_nesting_and_ordinary_anchors_still_load(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ok.yaml").write_text(
        TRIGGER + "    match:\n      all:\n        - not:\n            not:\n"
        "              subject.namespace: {in: &envs [prod, live]}\n"
        "        - subject.cluster: {not_in: *envs}\n")
    out = agentops("rules", "validate", str(rules), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def explain(tmp_path: Path, rule: str,
            event: dict[str, object]) -> subprocess.CompletedProcess[str]:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yaml").write_text(TRIGGER + rule)
    return agentops("rules", "explain", "--rules", str(rules), "--format", "json", "-",
                    cwd=tmp_path, stdin=json.dumps(event))


def test_catastrophic_regex_evaluates_in_linear_time(tmp_path: Path) -> None:
    # ^(a+)+$ backtracks 2^n times in Python's re; RE2 answers at once
    out = explain(tmp_path, "    match:\n      message: {regex: '^(a+)+$'}\n",
                  {"type": "attempt.failed", "message": "a" * 30 + "!"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["triggers"][0]["matched"] is False
    out = explain(tmp_path, "    match:\n      message: {regex: '^(a+)+$'}\n",
                  {"type": "attempt.failed", "message": "a" * 30})
    assert json.loads(out.stdout)["triggers"][0]["matched"] is True


def test_regex_constructs_re2_lacks_are_refused_at_validate(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(TRIGGER + "    match:\n      message: {regex: '(a)\\1'}\n")
    out = agentops("rules", "validate", str(rules), cwd=tmp_path)
    assert out.returncode == 1
    assert "r.yaml:" in out.stdout + out.stderr and "no backreferences" in out.stdout + out.stderr
    assert "re2.cc" not in out.stderr  # the library's own log line is not shown


def test_cel_runtime_error_is_reported_by_explain_and_counted(tmp_path: Path) -> None:
    pytest.importorskip("cel_expr_python")
    out = explain(tmp_path, "    when: 'event.attributes.retries > 3'\n",
                  {"type": "attempt.failed", "attributes": {"task": "x"}})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    trigger = result["triggers"][0]
    assert trigger["matched"] is False
    assert "retries" in trigger["cel_error"]
    assert result["cel_errors"] >= 1
