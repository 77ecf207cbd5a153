"""INCIDENTS.md stays small: old resolved incidents move to monthly archives, nothing is lost."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_helpers import run_cli

from agentops.ledger import archive
from agentops.ledger import format as fmt
from agentops.ledger.model import Incident, template_sections
from agentops.store.entries import incident_files


def ids(text: str) -> list[str]:
    return re.findall(r"^<!-- agentops:incident (INC-\S+) ", text, re.MULTILINE)


def seed(repo: Path, count: int) -> None:
    text = (repo / "INCIDENTS.md").read_text()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(count):
        when = start + timedelta(hours=6 * i)
        inc = Incident(id=f"INC-{when.date().isoformat()}-{i % 4 + 1:03d}", uid=f"U{i:025d}",
                       title=f"seed {i} " + "x" * 400, status="Resolved", severity="LOW",
                       category="CLUSTER_FAILURE", detected=when,
                       resolved=when + timedelta(minutes=5),
                       sections=template_sections("incident"))
        text = fmt.insert_entry("incident", text, fmt.render_incident(inc))
    (repo / "INCIDENTS.md").write_text(text)
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "seed"], check=True)


def test_big_incidents_file_is_rotated_and_nothing_is_lost(git_repo: Path,
                                                           monkeypatch: object) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    seed(git_repo, 900)
    before = ids((git_repo / "INCIDENTS.md").read_text())
    assert len((git_repo / "INCIDENTS.md").read_text()) > archive.MAX_BYTES
    out = run_cli(["record", "deletion", "-f", "resource=Pod/a", "-f", "namespace=prod"],
                  repo=git_repo)
    assert out.returncode == 0, out.stderr
    main = (git_repo / "INCIDENTS.md").read_text()
    assert len(main) < archive.MAX_BYTES
    archived = [i for p in incident_files(git_repo)[1:] for i in ids(p.read_text())]
    assert archived, "nothing was archived"
    assert sorted(ids(main)[1:] + archived) == sorted(before)
    assert ids(main)[0].startswith("INC-20")  # the new incident stays in INCIDENTS.md
    assert run_cli(["lint"], repo=git_repo).returncode == 0, run_cli(["lint"], repo=git_repo).stdout
    status = subprocess.run(["git", "-C", str(git_repo), "status", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout
    assert status == ""
    # ids allocated later never collide with archived ones, even after a cache rebuild
    (git_repo / ".git" / "agentops" / "state.sqlite").unlink()
    out = run_cli(["record", "deletion", "-f", "resource=Pod/b", "-f", "namespace=prod",
              "--time", "2025-01-01T12:00:00Z"], repo=git_repo)
    assert out.returncode == 0, out.stderr
    every = [i for p in incident_files(git_repo) for i in ids(p.read_text())]
    assert len(every) == len(set(every))
