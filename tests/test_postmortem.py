"""``agentops postmortem``: the document, its review lifecycle, and what ``check`` asks of it."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from report_helpers import git, init

from agentops.ledger.model import FollowUp, Incident, template_sections, timeline_row
from agentops.report import postmortem as pm

GOLDEN = Path(__file__).resolve().parent / "golden"
INC = "INC-2026-11-20-001"
DOC = f"postmortems/{INC}.md"


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return init(git_repo)


def run(repo: Path, *args: str, code: int = 0) -> dict[str, Any]:
    out = run_cli([*args, "--format", "json"], repo=repo)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout) if code == 0 else {"stderr": out.stderr}


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def worked_high_incident(repo: Path) -> None:
    """A HIGH incident taken through ack -> update -> follow-up -> resolve, as a person would."""
    run(repo, "record", "deployment", "-f", "status=failed", "-e", "production", "-f",
        "service=api", "-f", "namespace=shop-prod", "--time", "2026-11-20T09:15:00Z",
        "-m", "Back-off pulling image registry.local/api:2.14.1",
        "-f", "affected_services=api,checkout", "-f", "affected_users=1200")
    run(repo, "incident", "ack", INC, "--time", "2026-11-20T09:18:00Z", "--actor", "@alice")
    run(repo, "incident", "update", INC, "--status", "Identified", "--note",
        "the image tag was never pushed", "--time", "2026-11-20T09:25:00Z")
    run(repo, "incident", "followup", INC, "add", "Check image tags exist before deploying",
        "--owner", "@bob", "--due", "2027-01-15")
    run(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z",
        "--root-cause", "Tag 2.14.1 was never pushed to the registry",
        "--resolution", "Rolled back to 2.14.0", "--lessons", "Verify the image before deploy")
    # a person writes the impact, as the log asks within 24 hours
    path = repo / "INCIDENTS.md"
    text = path.read_text()
    start = text.index("### Impact\n\n") + len("### Impact\n\n")
    path.write_text(text[:start] + "Checkout failed for 25 minutes." +
                    text[start:][len("_To be filled in._"):])
    git(repo, "commit", "-qam", "impact written")


def findings(repo: Path, now: str) -> list[dict[str, Any]]:
    out = run_cli(["check", "--now", now, "--format", "json"], repo=repo)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)["findings"]  # type: ignore[no-any-return]


def test_worked_high_incident_gets_a_prefilled_postmortem_and_check_follows_it(
        repo: Path) -> None:
    worked_high_incident(repo)
    after_48h = "2026-11-22T10:00:00Z"
    missing = [f for f in findings(repo, after_48h) if f["requirement"] == "postmortem"]
    assert [(f["incident"], f["deadline"]) for f in missing] == [(INC, "2026-11-22T09:40:00Z")]
    assert findings(repo, "2026-11-22T09:00:00Z") == []  # before the deadline: nothing due

    before = head(repo)
    result = run(repo, "postmortem", INC)
    assert (result["action"], result["status"], result["template"]) == (
        "written", "Draft", "seeds")
    # one commit, through the pipeline: the document and the incident's timeline row
    assert git(repo, "rev-list", f"{before}..HEAD").split() == [result["commit"]]
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "INCIDENTS.md", DOC]
    text = (repo / DOC).read_text()
    for expected in (
            "| Severity | HIGH |", "| Duration | 25m |", "| Affected services | api, checkout |",
            "| 2026-11-20T09:18:00Z | Acknowledged by @alice |",
            "| 2026-11-20T09:25:00Z | Status Investigating -> Identified: the image tag was never "
            "pushed |",
            "## Details and Root Cause\n\nTag 2.14.1 was never pushed to the registry",
            "## Resolution and Recovery\n\nRolled back to 2.14.0",
            "| 1 | Check image tags exist before deploying | @bob | 2027-01-15 | open |",
            "[TS-0001](../TROUBLESHOOTING.md#ts-0001)", "[MEM-0001](../MEMORY.md#mem-0001)",
            "### What went well?", "### Where did we get lucky?",
            "### What went wrong, or could be improved?",
            "## Impact\n\nCheckout failed for 25 minutes."):
        assert expected in text, expected
    assert [f["requirement"] for f in findings(repo, after_48h)] == []

    # not reviewed four days after resolution: named again, until reviewed
    late = "2026-11-24T12:00:00Z"
    assert [f["requirement"] for f in findings(repo, late)] == ["postmortem_review"]
    run(repo, "postmortem", INC, "--status", "in-review", "--reviewer", "@carol")
    run(repo, "postmortem", INC, "--status", "reviewed", "--reviewer", "dave")
    assert findings(repo, late) == []
    meta = pm.parse((repo / DOC).read_text(), where=DOC).meta
    assert (meta.status, meta.reviewers) == ("Reviewed", ("carol", "dave"))
    shown = run(repo, "incident", "show", INC)
    assert shown["review_done"] is not None
    assert "Post-mortem reviewed by @carol, @dave" in [r["text"] for r in shown["timeline"]]
    assert run_cli(["lint"], repo=repo).returncode == 0


def test_rerunning_refreshes_derived_parts_and_keeps_what_people_wrote(repo: Path) -> None:
    worked_high_incident(repo)
    run(repo, "postmortem", INC)
    path = repo / DOC
    text = path.read_text()
    ours = ("### What went well?\n\nThe rollback took two minutes; the runbook was right.\n"
            "\n- [ ] Add a registry check to CI\n")
    text = text.replace("### What went well?\n\n_To be answered in the review._\n", ours)
    text = text.replace("Rolled back to 2.14.0", "Rolled back to 2.14.0 by @alice at 09:38.")
    path.write_text(text)
    git(repo, "commit", "-qam", "review notes")
    human_before = pm.human_text(path.read_text())

    run(repo, "incident", "followup", INC, "add", "Alert on ImagePullBackOff", "--owner",
        "@ops", "--due", "2027-01-20")
    result = run(repo, "postmortem", INC)
    assert result["action"] == "refreshed"
    after = path.read_text()
    assert pm.human_text(after) == human_before  # byte for byte
    assert "| 2 | Alert on ImagePullBackOff | @ops | 2027-01-20 | open |" in after
    assert "Follow-up 2 added: Alert on ImagePullBackOff" in after
    # the action item written in the post-mortem counts like a follow-up of the incident
    found = [(f["requirement"], f["message"]) for f in findings(repo, "2026-11-21T00:00:00Z")
             if f["requirement"].startswith("followup")]
    assert found == [("followup_owner", "post-mortem action 1 (Add a registry check to CI) "
                      "has no owner (- @name)"),
                     ("followup_due", "post-mortem action 1 (Add a registry check to CI) "
                      "has no due date (- YYYY-MM-DD)")]

    # nothing new: no commit at all
    before = head(repo)
    again = run(repo, "postmortem", INC)
    assert (again["action"], again["commit"], head(repo)) == ("unchanged", None, before)


def test_review_moves_that_make_no_sense_are_refused_and_write_nothing(repo: Path) -> None:
    run(repo, "record", "deployment", "-f", "status=failed", "-e", "production", "-f",
        "service=api", "-f", "namespace=shop-prod", "--time", "2026-11-20T09:15:00Z")
    run(repo, "postmortem", INC)
    before = head(repo)
    for args, message in (
            (("--status", "reviewed"), "needs a reviewer"),
            (("--status", "reviewed", "--reviewer", "@a"), "resolve it before"),
            (("--status", "approved"), "is not one of Draft, In review, Reviewed"),
            (("--template", "google-sre"), "was written from the seeds template")):
        out = run_cli(["postmortem", INC, *args], repo=repo)
        assert out.returncode == 1, out.stderr
        assert message in out.stderr
        assert head(repo) == before and git(repo, "status", "--porcelain") == ""
    run(repo, "postmortem", INC, "--status", "in-review", "--reviewer", "@a")
    out = run_cli(["postmortem", INC, "--status", "draft"], repo=repo)
    assert out.returncode == 1 and "not to Draft" in out.stderr
    out = run_cli(["postmortem", "INC-2026-11-20-009"], repo=repo)
    assert out.returncode == 1 and "not found" in out.stderr


def test_the_policy_selects_the_google_sre_template(repo: Path) -> None:
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace("template: seeds", "template: google-sre"))
    git(repo, "commit", "-qam", "SRE template")
    run(repo, "record", "deployment", "-f", "status=failed", "-e", "production", "-f",
        "service=api", "-f", "namespace=shop-prod", "--time", "2026-11-20T09:15:00Z")
    assert run(repo, "postmortem", INC)["template"] == "google-sre"
    text = (repo / DOC).read_text()
    headings = re.findall(r"^##+ (.*)$", text, re.M)
    assert headings == ["Summary", "Impact", "Root Causes", "Trigger", "Resolution",
                        "Detection", "Action Items", "Lessons Learned", "What went well",
                        "What went wrong", "Where we got lucky", "Timeline",
                        "Supporting Information"]


def test_a_bad_template_in_the_policy_names_file_and_key(repo: Path) -> None:
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace("template: seeds", "template: five-whys"))
    out = run_cli(["rules", "validate"], repo=repo)
    assert out.returncode == 1
    assert re.search(r"policy\.yaml:\d+: postmortem\.template: 'five-whys' is not one of "
                     r"seeds, google-sre", out.stdout + out.stderr), out.stdout + out.stderr


# --- golden files of the rendered markdown -------------------------------------------------------


def golden_incident() -> Incident:
    t = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    rows = "\n".join(timeline_row(t.replace(minute=m), text) for m, text in (
        (15, "Detected: deployment.failed from cli; opened by rule production-deployment-failed"),
        (18, "Acknowledged by @alice"), (40, "Resolved")))
    followups = "\n".join(["- [ ] Check image tags exist before deploying - @bob - 2026-11-27",
                           "- [x] Roll back - @alice - 2026-11-20"])
    assert FollowUp(False, "x").done is False
    return Incident(
        id=INC, uid="01JD0000000000000000000000", title="Deployment of shop-prod/api failed",
        status="Resolved", severity="HIGH", category="DEPLOYMENT_FAILURE",
        rule="production-deployment-failed", environment="production", detected=t,
        acknowledged=t.replace(minute=18), mitigated=t.replace(minute=35),
        resolved=t.replace(minute=40), troubleshooting="TS-0003", memory=("MEM-0007",),
        affected_services=("api", "checkout"), affected_users=1200,
        user_impact="Checkout returned 503", scope="eu-west", detection_method="alert",
        sections=template_sections(
            "incident", Description="The api rollout failed: Back-off pulling image.",
            Root_Cause="Tag 2.14.1 was never pushed.", Resolution="Rolled back to 2.14.0.",
            Timeline="| Time (UTC) | Event |\n|---|---|\n" + rows, Follow_up_Actions=followups,
            Lessons_Learned="- Verify the image first ([MEM-0007](MEMORY.md#mem-0007))"))


@pytest.mark.parametrize("template", ["seeds", "google-sre"])
def test_rendered_postmortem_matches_its_golden_file(template: str) -> None:
    meta = pm.Meta(INC, template, written=datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    text = pm.render(golden_incident(), meta)
    golden = GOLDEN / f"postmortem-{template}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    # parse(render) gives the metadata back; refresh of an unchanged document is the identity
    assert pm.parse(text, where="golden").meta == meta
    assert pm.refresh(text, golden_incident(), meta) == text
    assert pm.parse(text, where="golden").followups == ()
    assert date(2026, 11, 27).isoformat() in text
