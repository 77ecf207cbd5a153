"""Help people read: grouped commands, summaries that fit, examples, forgiving argument order,
and completion of the words agentops knows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from cli_helpers import CliResult, run_process

from agentops.cli import COMMANDS, SECTIONS, cli


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    # a process: shell completion reads its environment at start-up
    out = run_process(args, cwd=cwd, env=env)
    return CliResult(out.returncode, out.stdout, out.stderr)


def test_top_level_help_lists_commands_by_section_with_whole_summaries() -> None:
    out = run("--help")
    assert out.returncode == 0
    text = out.stdout
    positions = [text.index(f"\n{section}:\n") for section in SECTIONS]
    assert positions == sorted(positions)
    for name, (_section, summary) in COMMANDS.items():
        assert f"  {name}  " in text or f"  {name} " in text
        assert summary in text.replace("\n" + " " * 12, " "), summary  # never cut off
        assert len(summary) <= 60
    assert "..." not in text.split("Options:")[1]


def test_every_command_has_an_example_block() -> None:
    ctx = click.Context(cli, info_name="agentops")
    missing = []

    def walk(group: click.Group, path: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if not re.search(r"Examples:\n\s+\S*.*\bagentops \w", command.help or ""):
                missing.append(f"{path} {name}")
            if isinstance(command, click.Group):
                walk(command, f"{path} {name}")

    walk(cli, "agentops")
    assert missing == []


def test_followup_add_id_is_accepted_as_well_as_followup_id_add(git_repo: Path) -> None:
    assert run("init", "--repo", str(git_repo)).returncode == 0
    opened = run("record", "deletion", "-f", "resource=Deployment/api", "-e", "production",
                 "--time", "2026-11-01T10:00:00Z", "--format", "json", "--repo", str(git_repo))
    inc = json.loads(opened.stdout)["incidents"][0]["id"]
    new = run("incident", "followup", "add", inc, "Alert on locks", "--owner", "@dba",
              "--due", "2026-12-15", "--repo", str(git_repo))
    assert new.returncode == 0, new.stderr
    old = run("incident", "followup", inc, "add", "Page the DBA", "--owner", "@dba",
              "--due", "2026-12-16", "--repo", str(git_repo))
    assert old.returncode == 0, old.stderr
    done = run("incident", "followup", "done", inc, "1", "--repo", str(git_repo))
    assert done.returncode == 0, done.stderr
    text = (git_repo / "INCIDENTS.md").read_text()
    assert "- [x] Alert on locks - @dba - 2026-12-15" in text
    assert "- [ ] Page the DBA - @dba - 2026-12-16" in text


def complete(words: str, cwd: Path) -> list[str]:
    """What bash completion offers for ``agentops <words>``, as click computes it."""
    out = run(cwd=cwd, env={"_AGENTOPS_COMPLETE": "bash_complete",
                            "COMP_WORDS": f"agentops {words}",
                            "COMP_CWORD": str(len(words.split(" ")))})
    assert out.returncode == 0, out.stderr
    return [line.split(",", 1)[1] for line in out.stdout.splitlines()]


def test_completion_offers_incident_ids_types_fields_statuses_severities_sources(
        git_repo: Path) -> None:
    assert run("init", "--repo", str(git_repo)).returncode == 0
    opened = run("record", "deletion", "-f", "resource=Deployment/api", "-e", "production",
                 "--format", "json", "--repo", str(git_repo))
    inc = json.loads(opened.stdout)["incidents"][0]["id"]
    assert complete("incident show INC-", git_repo) == [inc]
    assert complete(f"incident followup {inc[:5]}", git_repo) == [inc]
    assert "deployment" in complete("record dep", git_repo)
    assert complete("record deployment -f sta", git_repo) == ["status="]
    assert complete("record deployment -f status=", git_repo) == ["status=failed",
                                                                   "status=succeeded"]
    assert complete("incident list --status ", git_repo) == [
        "Investigating", "Identified", "Monitoring", "Resolved", "open"]
    assert complete("incident list --severity ", git_repo) == ["LOW", "MEDIUM", "HIGH",
                                                                "CRITICAL"]
    assert complete("hook ", git_repo) == ["alertmanager", "flux", "argocd", "github",
                                           "generic"]
