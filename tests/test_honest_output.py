"""Status lines say exactly what happened: dry runs, replays and unchanged stats blocks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CliResult, run_cli


def agentops(repo: Path, *args: str, stdin: str | None = None) -> CliResult:
    return run_cli(args, repo=repo, input=stdin)


def commits(repo: Path) -> int:
    out = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    assert agentops(git_repo, "init").returncode == 0
    return git_repo


def test_dry_run_says_would_record_and_writes_nothing(repo: Path) -> None:
    before = commits(repo)
    out = agentops(repo, "record", "deployment", "-f", "status=failed", "-e", "production",
                   "-f", "service=api", "--dry-run")
    assert out.returncode == 0, out.stderr
    head, *rest = out.stdout.splitlines()
    assert head.endswith(": would record (dry run; nothing written)")
    assert rest[0].split() == ["would", "open", "INC-" + rest[0].split("INC-")[1]]
    assert "recorded" not in out.stdout.replace("would record", "")
    assert commits(repo) == before


def test_ingest_of_events_already_recorded_reports_no_commit(repo: Path) -> None:
    lines = "\n".join(json.dumps({"type": "attempt.failed", "key": f"k{n}",
                                  "attributes": {"task": "t"}}) for n in range(3))
    first = agentops(repo, "ingest", "-", stdin=lines)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("; 1 commit " + first.stdout.split("1 commit ")[1]
                                         .strip())
    before = commits(repo)
    again = agentops(repo, "ingest", "-", "--format", "json", stdin=lines)
    assert json.loads(again.stdout)["commits"] == []
    text = agentops(repo, "ingest", "-", stdin=lines).stdout.splitlines()[0]
    assert text == "3 events (3 already recorded); incidents: none; nothing new, no commit"
    assert commits(repo) == before


def test_stats_write_twice_makes_one_commit(repo: Path) -> None:
    opened = agentops(repo, "record", "deletion", "-f", "resource=Deployment/api", "-e",
                      "production", "--time", "2026-11-01T10:00:00Z", "--format", "json")
    inc = json.loads(opened.stdout)["incidents"][0]["id"]
    assert agentops(repo, "incident", "resolve", inc, "--root-cause", "a script",
                    "--resolution", "restored", "--time", "2026-11-01T10:20:00Z").returncode == 0
    before = commits(repo)
    first = agentops(repo, "stats", "--write")
    assert first.returncode == 0, first.stderr
    assert "committed " in first.stdout
    block = (repo / "INCIDENTS.md").read_text()
    second = agentops(repo, "stats", "--write")
    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith(
        "nothing to commit: the figures in INCIDENTS.md are unchanged")
    assert commits(repo) == before + 1
    assert (repo / "INCIDENTS.md").read_text() == block
