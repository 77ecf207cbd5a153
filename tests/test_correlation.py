"""Events about one subject from different sources build one incident; every event is counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from report_helpers import agentops_json, git, init

from agentops.ledger import format as fmt
from agentops.ledger.model import Incident

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WARNING = FIXTURES / "kubernetes" / "eventlist-BackOff-pod-dd1-0.json"
ALERT = FIXTURES / "alertmanager" / "kubesphere-KubePodCrashLooping-firing.json"


def agentops(repo: Path, *args: str) -> Any:
    return run_cli(list(args), repo=repo)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """A repository whose policy counts the fixtures' namespace pp1 as production."""
    init(git_repo)
    policy = git_repo / "rules" / "policy.yaml"
    text = policy.read_text()
    assert "namespaces: [prod, " in text
    policy.write_text(text.replace("namespaces: [prod, ", "namespaces: [pp1, prod, ", 1))
    git(git_repo, "commit", "-qam", "pp1 is production")
    return git_repo


def incidents(repo: Path) -> list[Incident]:
    text = (repo / "INCIDENTS.md").read_text()
    return [e for e in fmt.parse_file("incident", text).parsed() if isinstance(e, Incident)]


def warning_then_alert(repo: Path) -> tuple[Any, Any]:
    warned = agentops_json(repo, "ingest", str(WARNING))
    alerted = agentops_json(repo, "hook", "alertmanager", str(ALERT))
    return warned, alerted


def test_a_kubernetes_warning_and_an_alert_about_one_pod_are_one_incident(repo: Path) -> None:
    warned, alerted = warning_then_alert(repo)
    opened = warned["outcomes"][0]["incidents"][0]
    assert opened["action"] == "open"
    alert = alerted if isinstance(alerted, dict) else alerted[0]
    assert alert["incidents"] == [{"id": opened["id"], "action": "recur"}]
    assert alert["why_not"][0]["result"] == "deduplicated"
    assert "same subject as" in alert["why_not"][0]["reason"]
    [inc] = incidents(repo)
    assert inc.occurrences == 2 and len(inc.events) == 2
    rows = [r.text for r in inc.timeline]
    assert rows[0].startswith("Detected: k8s.warning from kubernetes;")
    assert rows[1].startswith("Correlated alert.firing from alertmanager (occurrence 2; rule "
                              "alert-firing): Pod pp1/dd1-0")
    assert agentops(repo, "lint").returncode == 0


def test_correlation_survives_a_rebuilt_cache(repo: Path) -> None:
    agentops_json(repo, "ingest", str(WARNING))
    cache = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    state = (cache if cache.is_absolute() else repo / cache) / "agentops" / "state.sqlite"
    assert state.exists()
    state.unlink()
    agentops_json(repo, "hook", "alertmanager", str(ALERT))
    assert len(incidents(repo)) == 1


def test_outside_the_window_or_with_correlation_off_there_are_two_incidents(
        repo: Path) -> None:
    policy = repo / "rules" / "policy.yaml"
    text = policy.read_text()
    assert "  window: 30m\n" in text
    policy.write_text(text.replace("  window: 30m\n", "  window: 2m\n"))  # the alert is 4m later
    git(repo, "commit", "-qam", "correlate within 2 minutes only")
    warning_then_alert(repo)
    assert len(incidents(repo)) == 2


def test_a_bad_correlation_setting_names_its_key(repo: Path) -> None:
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace(
        "subject_keys: [subject.namespace, subject.kind, subject.name]",
        "subject_keys: [subject.pod]"))
    out = agentops(repo, "rules", "validate")
    assert out.returncode == 1
    assert "correlation.subject_keys[0]" in out.stderr


def test_an_incident_opened_by_three_failed_attempts_lists_all_three(repo: Path) -> None:
    ids = []
    for n in range(3):
        out = agentops_json(repo, "record", "attempt", "-f", "outcome=failed", "-f",
                            "agent=agent-7", "-f", "task=migrate-db", "-f", "error=lock timeout",
                            "--time", f"2026-11-30T10:0{n}:00Z")
        ids.append(out["event_id"])
    [inc] = incidents(repo)
    assert inc.events == tuple(ids)
    assert inc.occurrences == 3
    assert f"Earlier events counted by rule agent-repeated-failure: `{ids[0]}`, `{ids[1]}`" in \
        inc.sections["Related Logs"]
    assert "after 2 earlier events" in inc.timeline[0].text
