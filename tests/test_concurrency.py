"""Many agents at once, and agents killed mid-write: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_helpers import run_cli, run_process, start_process
from journal_helpers import journal_keys

from agentops.store.entries import incident_files


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout




def incident_ids(repo: Path) -> list[str]:
    """Every incident id, in INCIDENTS.md and the archive files its oldest entries move to."""
    return [i for path in incident_files(repo) for i in re.findall(
        r"^<!-- agentops:incident (INC-\S+) ", path.read_text(), re.MULTILINE)]


@pytest.fixture
def repo(git_repo: Path) -> Path:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    return git_repo


def _writer(repo: Path, worker: int, count: int) -> list[int]:
    codes = []
    for i in range(count):
        # separate processes: the point is writers racing for the lock
        out = run_process(["record", "deletion", "-f", f"resource=Pod/w{worker}-{i}",
                           "-f", "namespace=prod", "--key", f"w{worker}-{i}"], repo=repo)
        codes.append(out.returncode)
    return codes


def test_eight_processes_times_25_records(repo: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda w: _writer(repo, w, 25), range(8)))
    assert all(code == 0 for codes in results for code in codes)
    keys = journal_keys(repo)
    assert sorted(keys) == sorted(f"w{w}-{i}" for w in range(8) for i in range(25))
    ids = incident_ids(repo)
    assert len(ids) == 200 and len(set(ids)) == 200
    assert run_cli(["lint"], repo=repo).returncode == 0
    assert git(repo, "status", "--porcelain") == ""


def test_kill_minus_9_at_random_moments_loses_nothing_acknowledged(repo: Path) -> None:
    rng = random.Random(4)
    acknowledged: list[str] = []
    for i in range(40):
        key = f"k{i}"
        proc = start_process(
            ["record", "deletion", "-f", f"resource=Pod/p{i}", "-f", "namespace=prod",
             "--key", key], repo=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.returncode == 0:
            acknowledged.append(key)
    # the next run finishes or discards whatever the last killed one left behind
    after = run_cli(["record", "attempt", "-f", "task=after", "-f", "outcome=failed",
                     "--key", "after"], repo=repo)
    assert after.returncode == 0
    assert run_cli(["lint"], repo=repo).returncode == 0, run_cli(["lint"], repo=repo).stdout
    history = git(repo, "log", "--format=%B")
    committed = set(journal_keys(repo))
    for key in acknowledged:
        assert key in committed
    ids = incident_ids(repo)
    assert len(ids) == len(set(ids))
    assert git(repo, "status", "--porcelain") == ""
    assert "Agentops-Event" in history
