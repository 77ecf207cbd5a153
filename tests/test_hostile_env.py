"""Hostile environments: kill -9 mid-commit, failing hooks, worktrees, symlinks, detached HEAD.

Each test drives the real ``agentops`` command against a real repository and checks what a user
would see: exit codes, the files, the commits, and that the next command just works.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TRIALS = 6  # kill -9 trials; each is bounded by the hook's own sleep


def agentops(repo: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "agentops", *args, "--repo", str(repo)],
                         capture_output=True, text=True, check=False, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"agentops {' '.join(args)} -> {out.returncode}\n{out.stderr}")
    return out


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def record(repo: Path, key: str) -> subprocess.CompletedProcess[str]:
    return agentops(repo, "record", "deployment", "-f", "status=failed", "-f", "service=api",
                    "-e", "production", "--key", key)


def managed(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.org")
    agentops(path, "init", check=True)
    return path


def hook(repo: Path, script: str) -> None:
    path = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    if not path.is_absolute():
        path = repo / path
    target = path / "hooks" / "pre-commit"
    target.write_text("#!/bin/sh\n" + script)
    target.chmod(0o755)


def ledger_status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--", "INCIDENTS.md", "TROUBLESHOOTING.md",
               "MEMORY.md", ".agentops")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return managed(tmp_path / "ops")


def test_kill_9_during_git_commit_then_the_next_record_succeeds(repo: Path,
                                                                 tmp_path: Path) -> None:
    marker, slow = tmp_path / "in-commit", tmp_path / "slow"
    hook(repo, f'if [ -e "{slow}" ]; then touch "{marker}"; sleep 2; fi\n')
    rng = random.Random(16)
    for trial in range(TRIALS):
        marker.unlink(missing_ok=True)
        slow.touch()
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentops", "record", "deletion", "-f",
             f"resource=Pod/t{trial}", "-f", "namespace=prod", "--key", f"killed-{trial}",
             "--repo", str(repo)], start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "record finished before its commit was interrupted"
            assert time.monotonic() < deadline, "the pre-commit hook never ran"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.2))
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: record and its git
        proc.wait()
        assert (repo / ".git" / "index.lock").exists()  # what the killed git left
        slow.unlink()
        nxt = record(repo, f"next-{trial}")
        assert nxt.returncode == 0, nxt.stderr
        assert "removed stale index.lock" in nxt.stderr
        assert "restoring" in nxt.stderr
        assert ledger_status(repo) == ""
    lint = agentops(repo, "lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    log = git(repo, "log", "--format=%B")
    assert all(f"next-{t}" not in log for t in range(TRIALS))  # keys live in the journal
    journal = git(repo, "grep", "-h", "-o", '"key": *"[a-z0-9-]*"',
                  "refs/agentops/journal")  # the journal's own ref
    assert all(f"next-{t}" in journal for t in range(TRIALS))
    assert all(f"killed-{t}" not in journal for t in range(TRIALS))


def test_lint_reports_a_stale_index_lock_and_a_pending_recovery(repo: Path,
                                                                tmp_path: Path) -> None:
    marker = tmp_path / "in-commit"
    hook(repo, f'touch "{marker}"; sleep 5\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentops", "record", "deployment", "-f", "status=failed",
         "-e", "production", "--key", "k1", "--repo", str(repo)], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    lint = agentops(repo, "lint")
    assert lint.returncode == 1
    assert "index.lock" in lint.stdout and "killed" in lint.stdout
    assert "interrupted batch" in lint.stdout
    hook(repo, "exit 0\n")
    assert record(repo, "k2").returncode == 0
    assert agentops(repo, "lint").returncode == 0


def test_failing_pre_commit_hook_exits_1_and_leaves_nothing_half_written(repo: Path) -> None:
    hook(repo, "echo 'policy says no' >&2; exit 1\n")
    head = git(repo, "rev-parse", "HEAD")
    out = record(repo, "refused")
    assert out.returncode == 1, out.stderr
    assert "git commit failed" in out.stderr and "policy says no" in out.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    assert ledger_status(repo) == ""  # nothing modified, nothing staged (journal included)
    assert not (repo / ".git" / "agentops" / "pending").exists()
    hook(repo, "exit 0\n")
    assert record(repo, "accepted").returncode == 0
    assert agentops(repo, "lint").returncode == 0


def test_an_uncommitted_edit_in_worktree_b_survives_a_failed_batch_in_worktree_a(
        repo: Path, tmp_path: Path) -> None:
    b = tmp_path / "b"
    git(repo, "worktree", "add", "-q", "-b", "b", str(b))
    note = "\nA person's note, not yet committed.\n"
    with (b / "INCIDENTS.md").open("a") as fh:
        fh.write(note)
    marker = tmp_path / "in-commit"
    # fail in A only (hooks are shared by worktrees); first a refusal, then a kill
    hook(repo, f'case "$PWD" in "{repo}") touch "{marker}"; sleep 2; exit 1;; esac\n')
    assert record(repo, "a-refused").returncode == 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentops", "record", "deployment", "-f", "status=failed",
         "-e", "production", "--key", "a-killed", "--repo", str(repo)], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker.unlink(missing_ok=True)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    out = record(b, "b-works")
    assert out.returncode == 0, out.stderr
    assert "restoring" not in out.stderr  # A's recovery is A's business
    assert note in (b / "INCIDENTS.md").read_text()
    hook(repo, "exit 0\n")
    again = record(repo, "a-again")
    assert again.returncode == 0, again.stderr
    assert "restoring" in again.stderr


def test_symlinked_incidents_file_is_refused_and_its_target_unchanged(repo: Path,
                                                                       tmp_path: Path) -> None:
    outside = tmp_path / "outside-INCIDENTS.md"
    outside.write_bytes((repo / "INCIDENTS.md").read_bytes())
    before = outside.read_bytes()
    (repo / "INCIDENTS.md").unlink()
    (repo / "INCIDENTS.md").symlink_to(outside)
    out = record(repo, "through-link")
    assert out.returncode == 1, out.stderr
    assert "symbolic link" in out.stderr
    assert outside.read_bytes() == before


def test_symlinked_journal_folder_is_refused(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "journal"
    (repo / ".agentops" / "journal").rename(elsewhere) if (
        repo / ".agentops" / "journal").exists() else elsewhere.mkdir()
    (repo / ".agentops" / "journal").symlink_to(elsewhere)
    listing = sorted(p.name for p in elsewhere.iterdir())
    out = record(repo, "journal-link")
    assert out.returncode == 1 and "symbolic link" in out.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == listing


def test_detached_head_is_refused_unless_configured(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    out = record(repo, "detached")
    assert out.returncode == 1 and "HEAD is detached" in out.stderr
    config = repo / ".agentops" / "config.yaml"
    config.write_text(config.read_text() + "\ngit:\n  allow_detached_head: true\n")
    assert record(repo, "detached-ok").returncode == 0


def test_init_pins_lf_so_an_autocrlf_clone_records_and_lints_clean(repo: Path,
                                                                   tmp_path: Path) -> None:
    assert "INCIDENTS.md text eol=lf" in (repo / ".gitattributes").read_text()
    clone = tmp_path / "clone"
    subprocess.run(["git", "-c", "core.autocrlf=true", "clone", "-q", str(repo), str(clone)],
                   check=True)
    git(clone, "config", "core.autocrlf", "true")
    assert b"\r\n" not in (clone / "INCIDENTS.md").read_bytes()
    assert record(clone, "crlf-clone").returncode == 0
    assert agentops(clone, "lint").returncode == 0


def test_lint_detects_crlf_and_init_repairs_the_attributes(repo: Path, tmp_path: Path) -> None:
    git(repo, "rm", "-q", "--cached", ".gitattributes")
    (repo / ".gitattributes").unlink()
    git(repo, "commit", "-q", "-m", "no attributes")
    clone = tmp_path / "clone"
    subprocess.run(["git", "-c", "core.autocrlf=true", "clone", "-q", str(repo), str(clone)],
                   check=True)
    git(clone, "config", "core.autocrlf", "true")
    lint = agentops(clone, "lint")
    assert lint.returncode == 1 and "INCIDENTS.md: CRLF line endings" in lint.stdout
    git(clone, "config", "user.name", "Test")
    git(clone, "config", "user.email", "test@example.org")
    assert agentops(clone, "init").returncode == 0
    for name in ("INCIDENTS.md", "TROUBLESHOOTING.md", "MEMORY.md"):
        (clone / name).unlink()
        git(clone, "checkout", "--", name)
    assert agentops(clone, "lint").returncode == 0
