"""``record`` reads ``.agentops/config.yaml`` from a memo of its parsed content (so that it
imports no YAML library while the file is unchanged): an edit takes effect on the next run,
and a broken file is reported as ever."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_cli


def record(repo: Path) -> int:
    return run_cli(["record", "deletion", "-f", "resource=Pod/p1", "-f", "namespace=prod"],
                   repo=repo).returncode


def test_an_edited_config_takes_effect_on_the_next_record(git_repo: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    assert record(git_repo) == 0
    memo = git_repo / ".git" / "agentops" / "config.json"
    assert json.loads(memo.read_text())["doc"]["redaction"] == {"patterns": []}
    config = git_repo / ".agentops" / "config.yaml"
    config.write_text(config.read_text().replace("patterns: []", 'patterns: ["tkt-[0-9]{6}"]'))
    out = run_cli(["record", "deletion", "-f", "resource=Pod/p2", "-f", "namespace=prod",
                   "-f", "user_impact=see tkt-123456"], repo=git_repo)
    assert out.returncode == 0, out.stderr
    text = (git_repo / "INCIDENTS.md").read_text()
    assert "tkt-123456" not in text and "[REDACTED:custom]" in text


def test_a_broken_config_is_reported_with_its_line_whatever_the_memo_holds(
        git_repo: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    assert record(git_repo) == 0
    config = git_repo / ".agentops" / "config.yaml"
    config.write_text(config.read_text() + "push: [unclosed\n")
    before = (git_repo / "INCIDENTS.md").read_text()
    out = run_cli(["record", "deletion", "-f", "resource=Pod/p3", "-f", "namespace=prod"],
                  repo=git_repo)
    assert out.returncode == 1
    assert ".agentops/config.yaml:" in out.stderr and "invalid YAML" in out.stderr
    assert (git_repo / "INCIDENTS.md").read_text() == before
