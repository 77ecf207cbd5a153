"""A history people can review: events that change no ledger file make no commit on the
branch, yet stay durable and shared on refs/agentops/journal, so thresholds count across clones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from journal_helpers import journal_keys

AGENTOPS = [sys.executable, "-m", "agentops"]


def agentops(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENTOPS, *args, "--repo", str(repo)], capture_output=True,
                          text=True)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def attempt(repo: Path, n: int, outcome: str) -> dict[str, object]:
    out = agentops(repo, "record", "attempt", "-f", "agent=agent-7", "-f", "task=migrate-db",
                   "-f", f"outcome={outcome}", "-f", "error=lock timeout", "--key",
                   f"{repo.name}-{outcome}-{n}", "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def clones(tmp_path: Path, git_repo: Path, *, push: bool) -> tuple[Path, Path, Path]:
    assert agentops(git_repo, "init").returncode == 0
    if push:
        config = git_repo / ".agentops" / "config.yaml"
        config.write_text(config.read_text().replace("enabled: false", "enabled: true"))
        git(git_repo, "commit", "-qam", "enable push")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo), str(remote)], check=True)
    a, b = tmp_path / "a", tmp_path / "b"
    for clone in (a, b):
        subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
        assert agentops(clone, "init").returncode == 0  # per clone: driver and journal refspec
    return remote, a, b


def test_twenty_successes_add_no_commit_to_the_branch(git_repo: Path) -> None:
    assert agentops(git_repo, "init").returncode == 0
    before = git(git_repo, "rev-parse", "HEAD").strip()
    for n in range(20):
        assert attempt(git_repo, n, "success")["incidents"] == []
    assert len(git(git_repo, "rev-list", f"{before}..HEAD").split()) <= 1
    assert git(git_repo, "status", "--porcelain") == ""
    # ... and yet every one is journaled, durably, in git
    assert sorted(journal_keys(git_repo)) == sorted(f"repo-success-{n}" for n in range(20))
    assert agentops(git_repo, "lint").returncode == 0


def test_incident_commit_keeps_its_trailers_and_the_log_shows_people_and_incidents(
        git_repo: Path) -> None:
    assert agentops(git_repo, "init").returncode == 0
    for n in range(3):
        result = attempt(git_repo, n, "failed")
    inc = result["incidents"][0]["id"]  # type: ignore[index]
    message = git(git_repo, "log", "-1", "--format=%B")
    assert f"Agentops-Incident: {inc}" in message
    assert "Agentops-Event: ev-" in message and "Agentops-Rule: " in message
    assert agentops(git_repo, "incident", "resolve", inc).returncode == 0
    subjects = git(git_repo, "log", "--format=%s").splitlines()
    assert subjects[:2] == [f"agentops: resolve {inc}", f"agentops: open {inc}"]
    assert not any("journal" in s for s in subjects)


def test_two_failures_in_one_clone_and_a_third_in_another_open_the_incident(
        tmp_path: Path, git_repo: Path) -> None:
    remote, a, b = clones(tmp_path, git_repo, push=True)
    assert attempt(a, 1, "failed")["incidents"] == []
    assert attempt(a, 2, "failed")["incidents"] == []
    git(b, "pull", "-q")
    third = attempt(b, 3, "failed")
    assert [i["action"] for i in third["incidents"]] == ["open"]  # type: ignore[union-attr]
    assert sorted(journal_keys(remote)) == ["a-failed-1", "a-failed-2", "b-failed-3"]
    assert "agent-7" in git(remote, "show", "main:INCIDENTS.md")


def test_thresholds_count_across_clones_without_push_through_git_pull(
        tmp_path: Path, git_repo: Path) -> None:
    remote, a, b = clones(tmp_path, git_repo, push=False)
    attempt(a, 1, "failed")
    attempt(a, 2, "failed")
    git(a, "push", "-q", "origin", "main", "refs/agentops/journal")
    git(b, "pull", "-q")  # the refspec `agentops init` added brings the journal along
    third = attempt(b, 3, "failed")
    assert [i["action"] for i in third["incidents"]] == ["open"]  # type: ignore[union-attr]
    assert sorted(journal_keys(b)) == ["a-failed-1", "a-failed-2", "b-failed-3"]
    assert agentops(b, "lint").returncode == 0


def test_journal_objects_written_directly_pass_git_fsck(git_repo: Path) -> None:
    assert agentops(git_repo, "init").returncode == 0
    for n in range(3):
        attempt(git_repo, n, "failed")  # two journal-only batches, then an incident
    fsck = subprocess.run(["git", "-C", str(git_repo), "fsck", "--strict", "--no-dangling"],
                          capture_output=True, text=True)
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr
    (name,) = git(git_repo, "ls-tree", "--name-only", "refs/agentops/journal").split()
    data = subprocess.run(["git", "-C", str(git_repo), "show", f"refs/agentops/journal:{name}"],
                          capture_output=True, check=True).stdout
    blob = subprocess.run(["git", "-C", str(git_repo), "hash-object", "--stdin"], input=data,
                          capture_output=True, check=True).stdout.decode().strip()
    assert blob == git(git_repo, "rev-parse", f"refs/agentops/journal:{name}").strip()
    assert len(git(git_repo, "rev-list", "refs/agentops/journal").split()) == 3


def test_a_sha256_repository_journals_through_git_plumbing(tmp_path: Path) -> None:
    repo = tmp_path / "sha256"
    subprocess.run(["git", "init", "-q", "--object-format=sha256", str(repo)], check=True)
    assert agentops(repo, "init").returncode == 0
    for n in range(3):
        result = attempt(repo, n, "failed")
    assert [i["action"] for i in result["incidents"]] == ["open"]  # type: ignore[union-attr]
    assert len(git(repo, "rev-parse", "refs/agentops/journal").strip()) == 64
    assert sorted(journal_keys(repo)) == [f"sha256-failed-{n}" for n in range(3)]
    assert agentops(repo, "lint").returncode == 0
