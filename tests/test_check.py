"""``agentops check``: the post-incident requirements, as CI runs it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli
from report_helpers import (
    T0,
    add,
    agentops_json,
    documented,
    edit_incident,
    git,
    incident,
    init,
    iso,
    minutes,
)

from agentops.ledger.model import Incident, template_sections

ROOT = Path(__file__).resolve().parents[1]
INC = f"INC-{T0.date().isoformat()}-001"


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return init(git_repo)


def complete_high(**fields: object) -> Incident:
    """A HIGH incident resolved in 20 minutes with everything written and linked."""
    sections = documented(Follow_up_Actions="- [ ] Pin image digests - @alice - 2026-12-20")
    return incident(1, T0, severity="HIGH", acknowledged=T0 + minutes(2),
                    resolved=T0 + minutes(20), troubleshooting="TS-0001", memory=("MEM-0001",),
                    review_required=True, sections=sections, **fields)


def without_postmortems(repo: Path) -> None:
    """The review requirements alone (post-mortem documents are tested in test_postmortem)."""
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace("postmortem_for_high_critical: true",
                                                 "postmortem_for_high_critical: false"))
    git(repo, "commit", "-qam", "no post-mortem documents")


def test_high_incident_without_review_49_hours_after_detection_fails_until_done(
        repo: Path) -> None:
    without_postmortems(repo)
    add(repo, complete_high())
    now = iso(T0 + timedelta(hours=49))
    out = run_cli(["check", "--now", now], repo=repo)
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"{INC}: review_scheduled: HIGH incident has no review scheduled within 48h of "
        f"detection (deadline {iso(T0 + timedelta(hours=48))})",
        "1 finding(s) in 1 incident(s)",
    ]
    data = agentops_json(repo, "check", "--now", now, code=1)
    assert data["findings"] == [{
        "incident": INC, "requirement": "review_scheduled",
        "message": "HIGH incident has no review scheduled within 48h of detection",
        "deadline": iso(T0 + timedelta(hours=48))}]
    edit_incident(repo, INC, review_done=T0 + timedelta(hours=30))
    clean = run_cli(["check", "--now", now], repo=repo)
    assert clean.returncode == 0, clean.stdout
    assert clean.stdout.strip() == "ok: every incident meets the post-incident requirements"
    assert agentops_json(repo, "check", "--now", now) == {
        "ok": True, "now": iso(T0 + timedelta(hours=49)), "findings": []}
    assert run_cli(["lint"], repo=repo).returncode == 0


def test_a_scheduled_review_not_done_is_late_after_review_within(repo: Path) -> None:
    without_postmortems(repo)
    add(repo, complete_high(review_scheduled=T0 + timedelta(hours=20)))
    assert run_cli(["check", "--now", iso(T0 + timedelta(hours=67))], repo=repo).returncode == 0
    late = agentops_json(repo, "check", "--now", iso(T0 + timedelta(hours=69)), code=1)
    assert [(f["requirement"], f["deadline"]) for f in late["findings"]] == [
        ("review_done", iso(T0 + timedelta(hours=68)))]


def test_a_review_scheduled_after_the_deadline_is_reported_at_once(repo: Path) -> None:
    add(repo, complete_high(review_scheduled=T0 + timedelta(hours=60)))
    data = agentops_json(repo, "check", "--now", iso(T0 + timedelta(hours=1)), code=1)
    assert data["findings"] == [{
        "incident": INC, "requirement": "review_scheduled",
        "message": f"review scheduled for {iso(T0 + timedelta(hours=60))}, later than 48h "
                   "after detection", "deadline": iso(T0 + timedelta(hours=48))}]


def test_requirement_flags_in_the_policy_switch_checks_off(repo: Path) -> None:
    add(repo, complete_high())
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace("review_for_high_critical: true",
                                                 "review_for_high_critical: false"))
    assert [f["requirement"] for f in agentops_json(
        repo, "check", "--now", iso(T0 + timedelta(hours=49)), code=1)["findings"]] == [
        "postmortem"]
    policy.write_text(policy.read_text().replace("postmortem_for_high_critical: true",
                                                 "postmortem_for_high_critical: false"))
    assert run_cli(["check", "--now", iso(T0 + timedelta(hours=49))], repo=repo).returncode == 0


def test_undocumented_open_incident_and_its_follow_ups(repo: Path) -> None:
    followups = ("- [ ] Add an alert\n- [ ] Rotate the key - @bob - 2026-11-03\n"
                 "- [x] Roll back")
    add(repo, incident(1, T0, severity="MEDIUM", sections=template_sections(
        "incident", Description="Disk filled up.", Follow_up_Actions=followups)))
    data = agentops_json(repo, "check", "--now", iso(T0 + timedelta(hours=25)), code=1)
    assert [(f["requirement"], f["deadline"]) for f in data["findings"]] == [
        ("documented", iso(T0 + timedelta(hours=24))),
        ("mttr", iso(T0 + timedelta(hours=2))),
        ("followup_owner", None),
        ("followup_due", None),
    ]
    assert data["findings"][0]["message"] == "Impact not written within 24h of detection"
    later = agentops_json(repo, "check", "--now", iso(T0 + timedelta(days=2)), code=1)
    overdue = [f for f in later["findings"] if f["requirement"] == "followup_overdue"]
    assert overdue == [{"incident": INC, "requirement": "followup_overdue",
                        "message": "follow-up 2 (Rotate the key) was due 2026-11-03",
                        "deadline": "2026-11-04T00:00:00Z"}]


def test_resolved_incident_needs_root_cause_troubleshooting_and_memory(repo: Path) -> None:
    add(repo, incident(1, T0, severity="LOW", resolved=T0 + minutes(30),
                       sections=template_sections("incident", Description="d", Impact="i")))
    assert run_cli(["check", "--now", iso(T0 + timedelta(hours=20))], repo=repo).returncode == 0
    data = agentops_json(repo, "check", "--now", iso(T0 + timedelta(hours=25)), code=1)
    assert [f["requirement"] for f in data["findings"]] == [
        "root_cause", "troubleshooting", "memory"]
    assert data["findings"][0]["message"] == (
        "resolved, but Root Cause and Resolution not written within 24h")


def test_check_on_a_repository_without_incidents_is_clean(repo: Path) -> None:
    out = run_cli(["check"], repo=repo)
    assert (out.returncode, out.stderr) == (0, "")


def test_pre_commit_hooks_expose_lint_and_check() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"]: h["entry"] for h in hooks} == {
        "agentops-lint": "agentops lint", "agentops-check": "agentops check"}
    for hook in hooks:
        assert (hook["language"], hook["pass_filenames"], hook["always_run"]) == (
            "python", False, True)

