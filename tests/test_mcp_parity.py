"""The same loop through ``agentops mcp`` and through the CLI commits the same content."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cli_helpers import run_cli
from mcp import Client
from mcp_client import call, drive, git, initialised

TIMES = [f"2026-11-24T08:0{n}:00Z" for n in range(3)]
ACK, RESOLVED = "2026-11-24T08:05:00Z", "2026-11-24T08:20:00Z"
ROOT_CAUSE = "Schema lock held by a stuck backup job"
RESOLUTION = "Killed the backup job and reran the migration"
LESSONS = "Check for long-running backup locks before migrating"
# When the journal took each event is "now" by design, and so are the blob hashes of the journal.
ACCEPTED = re.compile(r'"accepted":"[^"]*"')
BLOB_LINE = re.compile(r"^index [0-9a-f]+\.\.[0-9a-f]+.*$", re.MULTILINE)
# Each commit names its batch (a random id the journal records carry, for the push replay).
BATCH = re.compile(r"^Agentops-Batch: b-[0-9a-f]+$", re.MULTILINE)


def by_cli(repo: Path) -> None:
    inc = ""
    for n, when in enumerate(TIMES):
        out = run_cli(["record", "attempt", "-f", "agent=agent-9", "-f", "task=migrate",
                       "-f", "outcome=failed", "-f", "error=lock timeout", "--key", f"k{n}",
                       "--time", when, "--format", "json"], repo=repo)
        assert out.returncode == 0, out.stderr
        inc = (json.loads(out.stdout)["incidents"] or [{"id": ""}])[0]["id"]
    assert run_cli(["incident", "ack", inc, "--time", ACK], repo=repo).returncode == 0
    resolved = run_cli(["incident", "resolve", inc, "--time", RESOLVED, "--root-cause",
                        ROOT_CAUSE, "--resolution", RESOLUTION, "--lessons", LESSONS], repo=repo)
    assert resolved.returncode == 0


async def by_mcp(client: Client) -> None:
    fields = {"agent": "agent-9", "task": "migrate", "outcome": "failed", "error": "lock timeout"}
    outcomes = [await call(client, "record_event", type="attempt", fields=fields, key=f"k{n}",
                           time=when) for n, when in enumerate(TIMES)]
    inc = outcomes[-1]["incidents"][0]["id"]
    await call(client, "update_incident", id=inc, action="ack", time=ACK)
    await call(client, "update_incident", id=inc, action="resolve", time=RESOLVED,
               root_cause=ROOT_CAUSE, resolution=RESOLUTION, lessons=LESSONS)


def history(repo: Path) -> list[str]:
    """Each commit's subject, body, author and full diff, oldest first; no hashes, no dates."""
    shas = git(repo, "rev-list", "--reverse", "HEAD").split()
    shown = [git(repo, "show", "--format=%s%n%b%n%an <%ae>", sha) for sha in shas]
    return [BATCH.sub("Agentops-Batch: -", BLOB_LINE.sub("index -", ACCEPTED.sub(
        '"accepted":-', text))) for text in shown]


def journal(repo: Path) -> list[tuple[str, str]]:
    """What each journal record is about (an event's key, or an operation's name)."""
    from journal_helpers import journal_records

    return [(r.get("op") or "event", r["key"] if "event" in r else r["args"]["id"])
            for r in journal_records(repo)]


def test_mcp_and_cli_commit_identical_content(tmp_path: Path, git_repo: Path) -> None:
    cli_repo = tmp_path / "cli"
    git(git_repo, "clone", "-q", str(git_repo), str(cli_repo))
    mcp_repo = initialised(git_repo)
    initialised(cli_repo)
    by_cli(cli_repo)
    drive(mcp_repo, by_mcp)
    mcp_history, cli_history = history(mcp_repo), history(cli_repo)
    # init, initial, the incident (the first two failures open nothing: journal only), ack,
    # resolve
    assert len(mcp_history) == 5
    assert mcp_history == cli_history
    assert journal(mcp_repo) == journal(cli_repo) and len(journal(cli_repo)) == 5
