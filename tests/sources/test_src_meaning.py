"""What real payloads mean once they reach the ledger: ``agentops hook`` on real repositories.

Every test feeds upstream payloads (tests/fixtures, origins in its README) through the CLI a
pipeline step runs, then reads back what a user sees: the incidents, their status, severity
and title, and the decisions printed as JSON.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentops.sources.alertmanager import fingerprint_of
from agentops.sources.argocd import body_from_application

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(*parts: str) -> Any:
    path = FIXTURES.joinpath(*parts)
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)


def agentops(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "agentops", *args], input=stdin,
                         capture_output=True, check=False)
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(),
                                       out.stderr.decode())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "ops"
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    done = agentops("init", "--repo", str(path))
    assert done.returncode == 0, done.stderr
    return path


def hook(repo: Path, source: str, payload: Any, *, event: str | None = None) -> list[Any]:
    """One delivery; the outcomes as a list (one per event)."""
    extra = ["--event", event] if event else []
    out = agentops("hook", source, "-", "--repo", str(repo), "--format", "json", *extra,
                   stdin=json.dumps(payload).encode())
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    return result if isinstance(result, list) else [result]


def incidents(repo: Path, *, status: str | None = None) -> list[dict[str, Any]]:
    extra = ["--status", status] if status else []
    out = agentops("incident", "list", "--repo", str(repo), "--format", "json", *extra)
    assert out.returncode == 0, out.stderr
    found: list[dict[str, Any]] = json.loads(out.stdout)["incidents"]
    return found


def actions(outcomes: list[Any]) -> list[list[str]]:
    return [[i["action"] for i in o["incidents"]] for o in outcomes]


# --- Alertmanager: identity and order ------------------------------------------------------


def test_three_fingerprintless_alerts_open_three_incidents_and_their_resolution_closes_them(
    repo: Path,
) -> None:
    firing = hook(repo, "alertmanager",
                  fixture("alertmanager", "alertmonitor-ICMP-3alerts-no-fingerprint-firing.json"))
    assert actions(firing) == [["open"], ["open"], ["open"]]
    opened = {o["incidents"][0]["id"] for o in firing}
    assert {i["id"] for i in incidents(repo, status="open")} == opened
    titles = sorted(i["title"] for i in incidents(repo))
    assert titles[0] == "ICMP ping failed: 172.29.254.30 does not reply to ICMP pings"

    resolved = hook(repo, "alertmanager", fixture(
        "alertmanager", "alertmonitor-ICMP-3alerts-no-fingerprint-resolved.json"))
    assert {o["incidents"][0]["id"] for o in resolved} == opened
    assert actions(resolved) == [["resolve"], ["resolve"], ["resolve"]]
    assert incidents(repo, status="open") == []


def test_computed_fingerprint_is_the_one_alertmanager_sent() -> None:
    body = fixture("alertmanager", "kubesphere-KubePodCrashLooping-firing.json")
    [alert] = body["alerts"]
    assert fingerprint_of(alert["labels"]) == alert["fingerprint"] == "a4c6c4f7a49ca0ae"


def test_resolution_first_then_the_older_firing_leaves_no_open_incident(repo: Path) -> None:
    resolved = hook(repo, "alertmanager", fixture(
        "alertmanager", "alertmonitor-ICMP-3alerts-no-fingerprint-resolved.json"))
    assert actions(resolved) == [[], [], []]
    firing = hook(repo, "alertmanager",
                  fixture("alertmanager", "alertmonitor-ICMP-3alerts-no-fingerprint-firing.json"))
    assert actions(firing) == [[], [], []]
    assert incidents(repo) == []
    # Re-sending either body changes nothing.
    again = agentops("hook", "alertmanager", str(FIXTURES / "alertmanager" /
                     "alertmonitor-ICMP-3alerts-no-fingerprint-firing.json"), "--repo", str(repo))
    assert again.returncode == 0 and "already recorded" in again.stdout
    assert incidents(repo) == []


def _kubesphere(status: str, *, starts: str, ends: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(
        fixture("alertmanager", "kubesphere-KubePodCrashLooping-firing.json"))
    alert = body["alerts"][0]
    body["status"] = alert["status"] = status
    alert["startsAt"] = starts
    alert["endsAt"] = ends or "0001-01-01T00:00:00Z"
    return body


def test_late_firing_after_applied_resolution_is_a_timeline_row_not_a_reopen(repo: Path) -> None:
    first = hook(repo, "alertmanager", _kubesphere("firing", starts="2026-11-24T10:00:00Z"))
    inc = first[0]["incidents"][0]["id"]
    hook(repo, "alertmanager", _kubesphere("resolved", starts="2026-11-24T10:00:00Z",
                                           ends="2026-11-24T10:30:00Z"))
    # An HA peer's copy of an earlier firing episode arrives after the resolution.
    late = hook(repo, "alertmanager", _kubesphere("firing", starts="2026-11-24T09:40:00Z"))
    assert late[0]["incidents"] == [{"id": inc, "action": "late"}]
    assert incidents(repo, status="open") == []
    text = (repo / "INCIDENTS.md").read_text()
    assert "Late event alert.firing" in text and "not reopening" in text
    # Written at the time it happened, so the timeline stays in order.
    assert text.index("| 2026-11-24T09:40:00Z |") < text.index("Resolved by recovery event")
    lint = agentops("lint", "--repo", str(repo))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # A firing newer than the resolution is a new episode: it opens again.
    newer = hook(repo, "alertmanager", _kubesphere("firing", starts="2026-11-24T11:00:00Z"))
    assert actions(newer) == [["open"]]


def test_order_holds_within_one_batch_and_after_the_cache_is_deleted(repo: Path) -> None:
    resolved = _kubesphere("resolved", starts="2026-11-24T10:00:00Z", ends="2026-11-24T10:05:00Z")
    firing = _kubesphere("firing", starts="2026-11-24T10:00:00Z")
    # One body carrying the resolution before the firing: one batch, one commit.
    both = {**resolved, "alerts": resolved["alerts"] + firing["alerts"]}
    assert actions(hook(repo, "alertmanager", both)) == [[], []]
    assert incidents(repo) == []
    cache = repo / ".git" / "agentops" / "state.sqlite"
    assert cache.exists()
    cache.unlink()
    older = _kubesphere("firing", starts="2026-11-24T09:59:00Z")
    assert actions(hook(repo, "alertmanager", older)) == [[]]
    assert incidents(repo) == []


def test_ha_pair_sending_the_same_alert_is_one_incident_and_one_resolution(repo: Path) -> None:
    firing = _kubesphere("firing", starts="2026-11-24T10:00:00Z")
    assert actions(hook(repo, "alertmanager", firing)) == [["open"]]
    # The peer's copy of the group, and its resolution with a slightly different endsAt.
    peer = agentops("hook", "alertmanager", "-", "--repo", str(repo),
                    stdin=json.dumps(firing).encode())
    assert peer.returncode == 0 and "already recorded" in peer.stdout
    ends = ("2026-11-24T10:30:00Z", "2026-11-24T10:30:04Z")
    first = hook(repo, "alertmanager", _kubesphere("resolved", starts="2026-11-24T10:00:00Z",
                                                   ends=ends[0]))
    assert actions(first) == [["resolve"]]
    peer = agentops("hook", "alertmanager", "-", "--repo", str(repo), stdin=json.dumps(
        _kubesphere("resolved", starts="2026-11-24T10:00:00Z", ends=ends[1])).encode())
    assert peer.returncode == 0 and "already recorded" in peer.stdout
    assert [i["status"] for i in incidents(repo)] == ["Resolved"]


# --- severities ----------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "severity"), [
    ("Info", None), ("INFO", None), ("informational", None), ("none", None),
    ("P1", "HIGH"), ("major", "HIGH"), ("High", "HIGH"), ("error", "HIGH"),
    ("Critical", "CRITICAL"), ("page", "CRITICAL"), ("P0", "CRITICAL"),
    ("warning", "MEDIUM"), ("P3", "LOW"),
])
def test_severity_words_are_read_case_insensitively(
    repo: Path, label: str, severity: str | None,
) -> None:
    body = _kubesphere("firing", starts="2026-11-24T10:00:00Z")
    body["alerts"][0]["labels"]["severity"] = label
    del body["alerts"][0]["fingerprint"]
    hook(repo, "alertmanager", body)
    assert [i["severity"] for i in incidents(repo)] == ([severity] if severity else [])


def test_policy_can_override_a_severity_word(repo: Path) -> None:
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace("  minor: MEDIUM\n", "  minor: MEDIUM\n"
                                                 "  sev2: HIGH\n  notice: none\n  P1: CRITICAL\n"))
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "severity words"], check=True)
    for n, label in enumerate(("sev2", "notice", "p1")):
        body = _kubesphere("firing", starts=f"2026-11-24T10:0{n}:00Z")
        body["alerts"][0]["labels"].update(severity=label, pod=f"pod-{n}")
        del body["alerts"][0]["fingerprint"]  # other labels, another alert
        hook(repo, "alertmanager", body)
    assert sorted(i["severity"] for i in incidents(repo)) == ["CRITICAL", "HIGH"]


def test_an_unknown_severity_in_the_policy_is_a_rules_error_with_its_line(repo: Path) -> None:
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace("  minor: MEDIUM\n", "  minor: SEVERE\n"))
    out = agentops("rules", "validate", "--repo", str(repo))
    assert out.returncode == 1
    assert "rules/policy.yaml:" in out.stderr
    assert "severity_aliases.minor: 'SEVERE' is not a severity" in out.stderr


def test_alert_without_summary_is_titled_by_its_name_alone(repo: Path) -> None:
    body = _kubesphere("firing", starts="2026-11-24T10:00:00Z")
    body["alerts"][0]["annotations"] = {}
    hook(repo, "alertmanager", body)
    assert [i["title"] for i in incidents(repo)] == ["KubePodCrashLooping"]


def test_environment_label_places_an_alert_in_production(repo: Path) -> None:
    body = _kubesphere("firing", starts="2026-11-24T10:00:00Z")
    body["alerts"][0]["labels"]["env"] = "prod"
    [outcome] = hook(repo, "alertmanager", body)
    inc = outcome["incidents"][0]["id"]
    shown = agentops("incident", "show", inc, "--repo", str(repo), "--format", "json")
    assert json.loads(shown.stdout)["environment"] == "production"


# --- GitHub CI -----------------------------------------------------------------------------


def _run(conclusion: str, *, branch: str = "master", at: str, run_id: int = 30433642,
         attempt: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(
        fixture("github", "workflow_run.completed.json"))
    run = body["workflow_run"]
    run.update(conclusion=conclusion, head_branch=branch, updated_at=at, id=run_id,
               run_attempt=attempt)
    return body


def test_failed_run_on_default_branch_opens_and_a_later_success_resolves(repo: Path) -> None:
    failed = hook(repo, "github", _run("failure", at="2026-11-24T10:00:00Z"), event="workflow_run")
    assert actions(failed) == [["open"]]
    [inc] = incidents(repo, status="open")
    assert inc["title"] == "test failed on master of octo-org/octo-repo"
    assert inc["category"] == "AUTOMATION_FAILURE"
    again = hook(repo, "github", _run("failure", at="2026-11-24T10:20:00Z", run_id=2),
                 event="workflow_run")
    assert actions(again) == [["recur"]]
    fixed = hook(repo, "github", _run("success", at="2026-11-24T11:00:00Z", run_id=3),
                 event="workflow_run")
    assert actions(fixed) == [["resolve"]]
    assert incidents(repo, status="open") == []


def test_failed_run_on_a_feature_branch_opens_nothing(repo: Path) -> None:
    out = hook(repo, "github", _run("timed_out", branch="feature/login", at="2026-11-24T10:00:00Z"),
               event="workflow_run")
    assert actions(out) == [[]]
    assert incidents(repo) == []


def test_success_older_than_the_failure_does_not_resolve_it(repo: Path) -> None:
    hook(repo, "github", _run("failure", at="2026-11-24T10:00:00Z"), event="workflow_run")
    stale = hook(repo, "github", _run("success", at="2026-11-24T09:00:00Z", run_id=4),
                 event="workflow_run")
    assert [i["action"] for i in stale[0]["incidents"]] == ["late"]
    assert len(incidents(repo, status="open")) == 1


def _suite(conclusion: str, *, app: str = "octocoders-linter", at: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(
        fixture("github", "octokit-check_suite.completed.payload.json"))
    suite = body["check_suite"]
    suite.update(conclusion=conclusion, head_branch="master", updated_at=at)
    suite["app"]["slug"] = app
    return body


def test_check_suite_failure_outside_actions_opens_and_success_resolves(repo: Path) -> None:
    failed = hook(repo, "github", _suite("failure", at="2026-11-24T10:00:00Z"), event="check_suite")
    assert actions(failed) == [["open"]]
    [inc] = incidents(repo)
    assert inc["title"] == "octocoders-linter failed on master of Codertocat/Hello-World"
    ok = hook(repo, "github", _suite("success", at="2026-11-24T10:30:00Z"), event="check_suite")
    assert actions(ok) == [["resolve"]]


def test_check_suite_of_github_actions_is_left_to_workflow_run(repo: Path) -> None:
    out = agentops("hook", "github", "-", "--event", "check_suite", "--repo", str(repo),
                   stdin=json.dumps(_suite("failure", app="github-actions",
                                           at="2026-11-24T10:00:00Z")).encode())
    assert out.returncode == 0, out.stderr
    assert incidents(repo) == []


def test_check_run_failure_on_default_branch_opens(repo: Path) -> None:
    body = copy.deepcopy(fixture("github", "octokit-check_run.completed.payload.json"))
    body["check_run"].update(conclusion="failure", completed_at="2026-11-24T10:00:00Z")
    body["check_run"]["check_suite"]["head_branch"] = "master"
    assert actions(hook(repo, "github", body, event="check_run")) == [["open"]]
    body["check_run"]["check_suite"]["head_branch"] = "changes"
    body["check_run"]["id"] += 1
    assert actions(hook(repo, "github", body, event="check_run")) == [[]]


# --- GitHub approvals ------------------------------------------------------------------------


def test_rejected_deployment_review_names_environment_and_run(repo: Path) -> None:
    body = fixture("github", "derived-deployment_review.rejected.json")
    [outcome] = hook(repo, "github", body, event="deployment_review")
    assert [i["action"] for i in outcome["incidents"]] == ["open"]
    [inc] = incidents(repo)
    assert inc["title"] == ("Approval for deployment of Build pull_request 3 by @ilmax run #15 "
                            "to tst denied by ilmax")
    # Another run rejected for the same environment is another incident.
    other = copy.deepcopy(body)
    other["workflow_run"].update(id=5453085690, run_number=16)
    hook(repo, "github", other, event="deployment_review")
    assert len(incidents(repo)) == 2


def test_protection_rule_request_is_recorded_but_opens_nothing(repo: Path) -> None:
    body = fixture("github", "derived-deployment_protection_rule.requested.json")
    [outcome] = hook(repo, "github", body, event="deployment_protection_rule")
    assert outcome["event_id"].startswith("ev-") and outcome["incidents"] == []
    # journaled on the journal ref; the branch gets no commit for an event that opens nothing
    log = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%s",
                          "refs/agentops/journal"], capture_output=True, text=True,
                         check=True).stdout
    assert "approval.requested" in log


# --- Argo CD and Flux ----------------------------------------------------------------------


def _app(phase: str, health: str, *, finished: str) -> dict[str, Any]:
    app: dict[str, Any] = copy.deepcopy(fixture("argocd", "application-synced-operationState.yaml"))
    app["metadata"]["labels"]["environment"] = "production"
    app["status"]["operationState"].update(phase=phase, finishedAt=finished)
    app["status"]["health"] = {"status": health}
    app["status"]["reconciledAt"] = finished
    return app


def test_argocd_sync_failure_resolves_on_a_later_sync_while_progressing(repo: Path) -> None:
    failed = _app("Failed", "Progressing", finished="2026-11-24T10:00:00Z")
    out = hook(repo, "argocd", body_from_application(failed, trigger="on-sync-failed"))
    assert actions(out) == [["open"]]
    [inc] = incidents(repo, status="open")
    assert inc["title"] == "Deployment of test-lla/velero-test to production failed"
    synced = _app("Succeeded", "Progressing", finished="2026-11-24T10:10:00Z")
    out = hook(repo, "argocd", body_from_application(synced, trigger="on-sync-succeeded"))
    assert actions(out) == [["resolve"]]
    assert incidents(repo, status="open") == []


def test_argocd_health_is_its_own_incident(repo: Path) -> None:
    degraded = _app("Succeeded", "Degraded", finished="2026-11-24T10:00:00Z")
    out = hook(repo, "argocd", body_from_application(degraded, trigger="on-health-degraded"))
    assert actions(out) == [[], ["open"]]  # the sync succeeded; the health failed
    [inc] = incidents(repo, status="open")
    assert inc["title"] == "Application velero-test is Degraded in production"
    healthy = _app("Succeeded", "Healthy", finished="2026-11-24T10:00:00Z")
    healthy["status"]["reconciledAt"] = "2026-11-24T10:06:00Z"
    out = hook(repo, "argocd", body_from_application(healthy, trigger="on-health-recovered"))
    assert actions(out) == [[], ["resolve"]]
    assert incidents(repo, status="open") == []


def test_flux_helmrelease_in_flux_system_placed_by_event_metadata_opens(repo: Path) -> None:
    body = fixture("flux", "derived-HelmRelease-UpgradeFailed-flux-system-eventMetadata.json")
    [outcome] = hook(repo, "flux", body)
    assert [i["action"] for i in outcome["incidents"]] == ["open"]
    [inc] = incidents(repo)
    assert inc["title"] == "Deployment of flux-system/appnamehere to production failed"
    # Without the metadata the same failure in flux-system is not production.
    plain = copy.deepcopy(body)
    plain["metadata"] = {"revision": "0.1.3+2"}
    plain["timestamp"] = "2023-12-04T15:41:00Z"
    assert actions(hook(repo, "flux", plain)) == [[]]
    # The upgrade that succeeds later, reported with the same metadata, resolves it.
    fixed = fixture("flux", "notification-generic-HelmRelease-info-issue4453.json")
    fixed["metadata"]["environment"] = "production"
    assert actions(hook(repo, "flux", fixed)) == [["resolve"]]
