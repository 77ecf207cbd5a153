"""INCIDENTS.md stays bounded: the oldest entries, open ones too, move to archive files named by
their id; nothing is lost, every archived incident can still be shown, updated and reopened."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_helpers import run_cli

from agentops.ledger import archive
from agentops.ledger import format as fmt
from agentops.ledger.model import Incident, template_sections
from agentops.store.entries import incident_files, locate_incident
from agentops.store.writer import stable_uid


def ids(text: str) -> list[str]:
    return re.findall(r"^<!-- agentops:incident (INC-\S+) ", text, re.MULTILINE)


def every_id(repo: Path) -> list[str]:
    return [i for p in incident_files(repo) for i in ids(p.read_text())]


def seed(repo: Path, count: int, *, per_day: int = 4, open_every: int = 0) -> None:
    """``count`` incidents written straight into INCIDENTS.md (every ``open_every``-th one
    still open, with a dedup key a new event can recur on), committed once."""
    entries = []
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(count):
        when = start + timedelta(hours=24 // per_day * i)
        is_open = bool(open_every) and i % open_every == 0
        entries.append(fmt.render_incident(Incident(
            id=f"INC-{when.date().isoformat()}-{i % per_day + 1:03d}", uid=stable_uid("s", str(i)),
            title=f"seed {i}", status="Investigating" if is_open else "Resolved",
            severity="LOW", category="CLUSTER_FAILURE", rule="production-resource-deleted",
            dedup_key=f"deleted/prod/Pod/seed-{i}", occurrences=1, detected=when,
            resolved=None if is_open else when + timedelta(minutes=5),
            sections=template_sections("incident"))))
    path = repo / "INCIDENTS.md"
    path.write_text(fmt.insert_entries("incident", path.read_text(), entries))
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "seed"], check=True)


def git_clean(repo: Path) -> bool:
    return subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                          text=True, check=True).stdout == ""


def lint_ok(repo: Path) -> None:
    out = run_cli(["lint"], repo=repo)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_big_incidents_file_keeps_the_newest_and_archives_the_rest_by_id(
        git_repo: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    seed(git_repo, 900, open_every=3)
    before = ids((git_repo / "INCIDENTS.md").read_text())
    out = run_cli(["record", "deletion", "-f", "resource=Pod/a", "-f", "namespace=prod"],
                  repo=git_repo)
    assert out.returncode == 0, out.stderr
    main = (git_repo / "INCIDENTS.md").read_text()
    assert len(ids(main)) == archive.KEEP_ENTRIES
    assert ids(main)[0].startswith("INC-20") and ids(main)[0] not in before  # the new one
    for path in incident_files(git_repo)[1:]:  # each entry sits in the file its id names
        name = f"incidents/{path.name}"
        assert all(archive.archive_name(i) == name for i in ids(path.read_text()))
    assert sorted(every_id(git_repo)) == sorted([*before, ids(main)[0]])
    # the index in INCIDENTS.md links every archive holding open incidents, with its counts
    index = archive.parse_index(main)
    for path in incident_files(git_repo)[1:]:
        counted = archive.count(f"incidents/{path.name}", path.read_text())
        if counted.open:
            assert index[counted.name] == counted
            assert f"]({counted.name})" in main
    lint_ok(git_repo)
    assert git_clean(git_repo)
    # ids allocated later never collide with archived ones, even after a cache rebuild
    (git_repo / ".git" / "agentops" / "state.sqlite").unlink()
    out = run_cli(["record", "deletion", "-f", "resource=Pod/b", "-f", "namespace=prod",
                   "--time", "2025-01-01T12:00:00Z"], repo=git_repo)
    assert out.returncode == 0, out.stderr
    every = every_id(git_repo)
    assert len(every) == len(set(every)) == len(before) + 2


def test_an_archived_incident_can_be_acked_resolved_and_reopened(git_repo: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    seed(git_repo, 400, open_every=1)
    assert run_cli(["record", "deletion", "-f", "resource=Pod/a", "-f", "namespace=prod"],
                   repo=git_repo).returncode == 0
    old = "INC-2025-01-01-001"
    rel = locate_incident(git_repo, old)
    assert rel == "incidents/2025-01-01.md"
    assert old not in ids((git_repo / "INCIDENTS.md").read_text())
    shown = run_cli(["incident", "show", old, "--format", "json"], repo=git_repo)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "Investigating"
    open_before = archive.parse_index((git_repo / "INCIDENTS.md").read_text())[rel].open

    for args in (["ack", old], ["resolve", old], ["update", old, "--status", "Investigating"]):
        out = run_cli(["incident", *args, "--format", "json"], repo=git_repo)
        assert out.returncode == 0, out.stderr
        assert git_clean(git_repo)
    entry = json.loads(run_cli(["incident", "show", old, "--format", "json"],
                               repo=git_repo).stdout)
    assert entry["status"] == "Investigating" and entry["acknowledged"]
    assert "Reopened" in entry["markdown"] and "Resolved" in entry["markdown"]
    assert old not in ids((git_repo / "INCIDENTS.md").read_text())  # edited where it lives
    lint_ok(git_repo)

    run_cli(["incident", "resolve", old], repo=git_repo)
    index = archive.parse_index((git_repo / "INCIDENTS.md").read_text())
    assert index[rel].open == open_before - 1  # the index follows the archive's counts
    lint_ok(git_repo)


def test_an_event_recurring_on_an_archived_open_incident_updates_it_there(
        git_repo: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    seed(git_repo, 300, open_every=1)
    assert run_cli(["record", "deletion", "-f", "resource=Pod/x", "-f", "namespace=prod"],
                   repo=git_repo).returncode == 0
    # seed 0 opened INC-2025-01-01-001 for Pod prod/seed-0: delete it again
    out = run_cli(["record", "deletion", "-f", "resource=Pod/seed-0", "-f", "namespace=prod",
                   "--time", "2025-01-01T00:30:00Z", "--format", "json"], repo=git_repo)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["incidents"] == [{"id": "INC-2025-01-01-001",
                                                   "action": "recur"}]
    text = (git_repo / "incidents/2025-01-01.md").read_text()
    assert "occurrences: 2" in text[text.index("INC-2025-01-01-001 uid="):]
    lint_ok(git_repo)


def test_an_alert_storm_fills_bounded_archive_files_of_one_day(git_repo: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    lines = [json.dumps({"type": "resource.deleted", "key": f"storm-{i}",
                         "environment": "production", "time": "2026-11-24T08:00:00Z",
                         "subject": {"namespace": "prod", "kind": "Pod", "name": f"p{i}"}})
             for i in range(700)]
    (git_repo / "events.jsonl").write_text("\n".join(lines) + "\n")
    out = run_cli(["ingest", str(git_repo / "events.jsonl")], repo=git_repo)
    assert out.returncode == 0, out.stderr
    (git_repo / "events.jsonl").unlink()
    names = sorted(p.name for p in incident_files(git_repo)[1:])
    assert names == ["2026-11-24-2.md", "2026-11-24.md"]
    counts = [len(ids(p.read_text())) for p in incident_files(git_repo)]
    assert counts[0] == archive.KEEP_ENTRIES and sum(counts) == 700
    assert all(c <= archive.PER_FILE for c in counts)
    assert len(set(every_id(git_repo))) == 700
    listed = run_cli(["incident", "list", "--status", "Investigating", "--format", "json"],
                     repo=git_repo)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)["incidents"]) == 700
    lint_ok(git_repo)
    assert git_clean(git_repo)


def test_lint_fails_when_the_archive_index_drifts_from_the_files(git_repo: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    seed(git_repo, 300, open_every=2)
    assert run_cli(["record", "deletion", "-f", "resource=Pod/a", "-f", "namespace=prod"],
                   repo=git_repo).returncode == 0
    lint_ok(git_repo)
    path = git_repo / "INCIDENTS.md"
    text = path.read_text()
    row = next(r for r in archive.parse_index(text).values() if r.open)
    path.write_text(text.replace(f"]({row.name}) | {row.open} |", f"]({row.name}) | 0 |", 1))
    out = run_cli(["lint"], repo=git_repo)
    assert out.returncode == 1
    assert f"archive index says {row.name} has 0 open" in out.stdout


def test_a_new_incident_never_takes_an_id_already_in_an_archive(git_repo: Path) -> None:
    import sqlite3

    assert run_cli(["init"], repo=git_repo).returncode == 0
    seed(git_repo, 400, per_day=4)
    assert run_cli(["record", "deletion", "-f", "resource=Pod/a", "-f", "namespace=prod"],
                   repo=git_repo).returncode == 0
    # a cache whose counter fell behind the files (as after a hand edit it did not see)
    db = sqlite3.connect(git_repo / ".git" / "agentops" / "state.sqlite")
    db.execute("UPDATE counters SET v = 0 WHERE k = 'INC-2025-01-01'")
    db.commit()
    db.close()
    out = run_cli(["record", "deletion", "-f", "resource=Pod/b", "-f", "namespace=prod",
                   "--time", "2025-01-01T12:00:00Z", "--format", "json"], repo=git_repo)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["incidents"][0]["id"] == "INC-2025-01-01-005"
    every = every_id(git_repo)
    assert len(every) == len(set(every))
    lint_ok(git_repo)
