"""TROUBLESHOOTING entries fill themselves from resolved incidents; people keep their prose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from report_helpers import agentops_json, git, init
from test_signatures import OOM, deploy_failed, pull, troubleshooting

from agentops.ledger import format as fmt
from agentops.ledger.model import MemoryEntry

ROOT_CAUSE = "The regcred pull secret still held the robot token rotated on Monday."
FIX = "Recreate the regcred secret from the current robot token, then restart the rollout."


def agentops(repo: Path, *args: str) -> Any:
    return run_cli(list(args), repo=repo)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return init(git_repo)


def opened(outcome: dict[str, object]) -> str:
    incidents = outcome["incidents"]
    assert isinstance(incidents, list)
    return str(incidents[0]["id"])


def test_resolving_fills_diagnosis_workaround_and_fix_attributed_to_the_incident(
        repo: Path) -> None:
    inc = opened(deploy_failed(repo, "api", pull("registry.example.com/payments/api:v2.3.1")))
    deploy_failed(repo, "worker", OOM.format(name="worker"))
    out = agentops(repo, "incident", "update", inc, "--status", "Monitoring",
                   "--note", "rolled back to the previous image")
    assert out.returncode == 0, out.stderr
    result = agentops_json(repo, "incident", "resolve", inc, "--root-cause", ROOT_CAUSE,
                           "--resolution", FIX)
    assert result["troubleshooting"] == {"id": "TS-0001", "action": "known",
                                         "filled": ["Diagnosis", "Workaround", "Fix"]}
    entry = troubleshooting(repo)[0]
    assert entry.sections["Diagnosis"] == f"From {inc}: {ROOT_CAUSE}"
    assert entry.sections["Workaround"] == f"From {inc}: rolled back to the previous image"
    assert entry.sections["Fix"] == f"From {inc}: {FIX}"
    assert troubleshooting(repo)[1].sections["Fix"] == "_To be filled in._"
    hits = agentops_json(repo, "recall", "failed to authorize: 401 Unauthorized")["hits"]
    assert hits[0]["id"] == "TS-0001"
    assert f"Fix: From {inc}: {FIX}" in hits[0]["text"]
    assert agentops(repo, "lint").returncode == 0


def test_a_section_a_person_wrote_is_never_touched_and_later_incidents_add_evidence(
        repo: Path) -> None:
    first = opened(deploy_failed(repo, "api", pull("registry.example.com/payments/api:v2.3.1")))
    path = repo / "TROUBLESHOOTING.md"
    mine = "Rotate the robot token only together with the secret (runbook RB-12)."
    text = path.read_text()
    head, sep, tail = text.partition("#### Fix\n\n_To be filled in._")
    assert sep
    path.write_text(head + "#### Fix\n\n" + mine + tail)
    git(repo, "commit", "-qam", "fix written by hand")
    agentops_json(repo, "incident", "resolve", first, "--root-cause", ROOT_CAUSE,
                  "--resolution", FIX)
    entry = troubleshooting(repo)[0]
    assert entry.sections["Fix"] == mine
    assert entry.sections["Diagnosis"] == f"From {first}: {ROOT_CAUSE}"
    second = opened(deploy_failed(repo, "web", pull("ghcr.io/acme/web:4.0.0")))
    agentops_json(repo, "incident", "resolve", second, "--root-cause", "Same token rotation.")
    entry = troubleshooting(repo)[0]
    assert entry.occurrences == 2
    assert entry.sections["Diagnosis"] == (f"From {first}: {ROOT_CAUSE}\n\n"
                                           f"From {second}: Same token rotation.")
    assert entry.sections["Fix"] == mine
    evidence = entry.sections["Evidence"]
    assert evidence.startswith(f"- Seen in {second} (")
    assert "ghcr.io/acme/web:4.0.0" in evidence


def lessons(repo: Path) -> list[MemoryEntry]:
    return [e for e in fmt.parse_file("memory", (repo / "MEMORY.md").read_text()).parsed()
            if isinstance(e, MemoryEntry)]


def test_generated_lessons_are_marked_and_ranked_below_peoples(repo: Path) -> None:
    for n in range(3):
        agentops_json(repo, "record", "attempt", "-f", "outcome=failed", "-f", "agent=agent-7",
                      "-f", "task=migrate-db", "-f", "error=lock timeout",
                      "--key", f"attempt-{n}")
    mem = lessons(repo)
    assert [m.tags for m in mem] == [("agent-repeated-failure", "generated")]
    assert mem[0].sections["Lesson"] != mem[0].title
    assert "not yet confirmed by a person" in mem[0].sections["Lesson"]
    inc = agentops_json(repo, "incident", "list")["incidents"][0]["id"]
    agentops_json(repo, "incident", "resolve", inc, "--root-cause", "A report held the lock.",
                  "--lessons", "Stop the report job before migrating")
    human = next(m for m in lessons(repo) if "generated" not in m.tags)
    assert human.sections["Lesson"] == (f"Learned resolving {inc}.\n\n"
                                        "Root Cause: A report held the lock.")
    index = (repo / "MEMORY.md").read_text()
    assert index.index(human.id + "]") < index.index(mem[0].id + "]")
    assert f"{mem[0].title} _(generated)_" in index
    hits = agentops_json(repo, "recall", "migrate-db lock")["hits"]
    ranked = [h["id"] for h in hits if h["kind"] == "memory"]
    assert ranked.index(human.id) < ranked.index(mem[0].id)


def test_recall_finds_an_untouched_incident_through_its_problem_and_a_written_one_itself(
        repo: Path) -> None:
    inc = opened(deploy_failed(repo, "api", pull("registry.example.com/payments/api:v2.3.1")))
    hits = agentops_json(repo, "recall", "failed to pull image 401 Unauthorized")["hits"]
    # as the tool opened it, the incident adds nothing its TROUBLESHOOTING entry lacks
    assert [h["id"] for h in hits] == ["TS-0001"]
    assert inc in hits[0]["evidence"]
    out = agentops(repo, "incident", "resolve", inc, "--root-cause", ROOT_CAUSE,
                   "--resolution", FIX)
    assert out.returncode == 0, out.stderr
    hits = agentops_json(repo, "recall", "regcred robot token rotated")["hits"]
    assert inc in [h["id"] for h in hits]  # a person wrote in it: it is a document of its own
