"""``agentops rules ...`` as a user runs it: exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_policy_validates_and_its_tests_pass() -> None:
    out = run_cli(["rules", "validate", "--format", "json"], cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["valid"] is True
    tests = sorted(str(p) for p in (ROOT / "rules" / "tests").glob("*.yaml"))
    out = run_cli(["rules", "test", *tests], cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("0 failed")


def test_flipped_expectation_fails_with_a_diff(tmp_path: Path) -> None:
    source = (ROOT / "rules" / "tests" / "approval-and-security.yaml").read_text()
    flipped = tmp_path / "flipped.yaml"
    flipped.write_text(source.replace("severity: CRITICAL, category: DATA_LOSS",
                                      "severity: LOW, category: DATA_LOSS"))
    out = run_cli(["rules", "test", "--rules", str(ROOT / "rules"), str(flipped)], cwd=ROOT)
    assert out.returncode == 1
    assert "-  severity: LOW\n+  severity: CRITICAL" in out.stdout


def test_validate_error_exits_1_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("triggers:\n  - name: x\n    on: a.b\n    severity: HIGH\n"
                   "    category: DATA_LOSS\n    dedup: {window: soon}\n")
    out = run_cli(["rules", "validate", str(bad)], cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr == ("error: bad.yaml:6: triggers[0].dedup.window: 'soon' is not a "
                          "duration like 30m, 1h, 7d\n")


def test_explain_says_why_a_dev_deletion_does_not_match() -> None:
    event = {"type": "resource.deleted",
             "subject": {"namespace": "dev", "kind": "Pod", "name": "a"}}
    out = run_cli(["rules", "explain", "--format", "json"], input=json.dumps(event), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    row = next(t for t in result["triggers"] if t["trigger"] == "production-resource-deleted")
    lines = (ROOT / "rules" / "triggers.yaml").read_text().splitlines()
    line = lines.index("  - name: production-resource-deleted") + 1
    assert row == {"trigger": "production-resource-deleted", "file": f"rules/triggers.yaml:{line}",
                   "matched": False, "dedup_key": "deleted/dev/Pod/a",
                   "reason": "environment development is not production"}
    assert result["decisions"] == [{"action": "ignored", "reason": "no trigger matched"}]


def test_usage_error_exits_2_and_bad_event_exits_1() -> None:
    assert run_cli(["rules", "frobnicate"], cwd=ROOT).returncode == 2
    out = run_cli(["rules", "explain"], input='{"type": "NotDotted"}', cwd=ROOT)
    assert out.returncode == 1 and out.stderr.startswith("error: event.type:")


def test_version_and_help() -> None:
    assert run_cli(["--version"], cwd=ROOT).stdout.startswith("agentops, version ")
    for args in (["--help"], ["rules", "--help"], ["rules", "test", "--help"]):
        out = run_cli([*args], cwd=ROOT)
        assert out.returncode == 0 and "Usage: agentops" in out.stdout
