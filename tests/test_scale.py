"""Big batches stay linear and never starve other writers: an ingest commits in chunks and lets
go of the repository lock between them, so a concurrent ``record`` gets in."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from cli_helpers import run_cli, run_process, start_process

from agentops.store import journal
from agentops.store.entries import incident_files


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def storm(path: Path, count: int) -> None:
    path.write_text("".join(json.dumps({
        "type": "resource.deleted", "key": f"storm-{i}", "environment": "production",
        "time": f"2026-11-24T08:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "subject": {"namespace": "prod", "kind": "Pod", "name": f"p{i}"}}) + "\n"
        for i in range(count)))


def test_a_big_ingest_commits_in_chunks_and_a_concurrent_record_gets_in_between(
        git_repo: Path, tmp_path: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    start = int(git(git_repo, "rev-list", "--count", "HEAD"))
    storm(tmp_path / "events.jsonl", 2000)
    ingest = start_process(["ingest", str(tmp_path / "events.jsonl")], repo=git_repo,
                           env={"AGENTOPS_CHUNK_EVENTS": "200"})
    try:
        deadline = time.monotonic() + 120  # a wait for the first chunk, not a timing check
        while int(git(git_repo, "rev-list", "--count", "HEAD")) == start:
            assert ingest.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        out = run_process(["record", "deletion", "-f", "resource=Pod/other", "-f",
                           "namespace=prod", "--key", "between", "--format", "json"],
                          repo=git_repo)
        assert out.returncode == 0, out.stderr
        recorded = json.loads(out.stdout)["commit"]
    finally:
        assert ingest.wait(timeout=300) == 0, ingest.stderr.read() if ingest.stderr else ""
    log = git(git_repo, "log", "--format=%H %s")
    commits = [line.split(" ", 1) for line in log.splitlines()]
    ingests = [sha for sha, subject in commits if subject.startswith("agentops: 200 events")]
    assert len(ingests) == 10  # 2,000 events in chunks of 200
    order = [sha for sha, _ in commits]
    assert order.index(recorded) > order.index(ingests[0])  # ingest commits came after it
    # the journal (on refs/agentops/journal) is continued in parts of bounded size
    ref = "refs/agentops/journal"
    parts = git(git_repo, "ls-tree", "--name-only", ref).split()
    assert len(parts) > 1
    sizes = [int(git(git_repo, "cat-file", "-s", f"{ref}:{p}")) for p in parts]
    assert all(size < journal.PART_BYTES + 200 * 2000 for size in sizes)
    keys = [json.loads(line)["key"] for p in parts
            for line in git(git_repo, "show", f"{ref}:{p}").splitlines()]
    assert sorted(keys) == sorted([*(f"storm-{i}" for i in range(2000)), "between"])
    assert [k for k in keys if k != "between"] == [f"storm-{i}" for i in range(2000)]
    ids = [i for p in incident_files(git_repo)
           for i in re.findall(r"^<!-- agentops:incident (\S+) ", p.read_text(), re.M)]
    assert len(ids) == len(set(ids)) == 2001
    assert run_cli(["lint"], repo=git_repo).returncode == 0


def test_a_fresh_clone_knows_every_key_open_incident_and_counter_of_a_big_ledger(
        git_repo: Path, tmp_path: Path) -> None:
    assert run_cli(["init"], repo=git_repo).returncode == 0
    storm(tmp_path / "events.jsonl", 400)
    assert run_cli(["ingest", str(tmp_path / "events.jsonl")], repo=git_repo).returncode == 0
    fail = ["attempt", "-f", "outcome=failed", "-f", "task=migrate", "--actor", "agent-7"]
    for n in (1, 2):
        assert run_cli(["record", *fail, "--key", f"fail-{n}"], repo=git_repo).returncode == 0
    first = run_cli(["record", "deletion", "-f", "resource=Pod/again", "-f", "namespace=prod",
                     "--key", "again", "--format", "json"], repo=git_repo)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(git_repo), str(clone)], check=True)
    for key, value in (("user.name", "t"), ("user.email", "t@example.com")):
        subprocess.run(["git", "-C", str(clone), "config", key, value], check=True)
    assert not (clone / ".git" / "agentops").exists()  # no cache: everything is rebuilt
    # a retried key answers its original outcome, from the journal line it points at
    again = run_cli(["record", "deletion", "-f", "resource=Pod/again", "-f", "namespace=prod",
                     "--key", "again", "--format", "json"], repo=clone)
    assert again.returncode == 0 and again.stdout == first.stdout
    # an open incident long moved to an archive file is found for its dedup key
    out = run_cli(["record", "deletion", "-f", "resource=Pod/p3", "-f", "namespace=prod",
                   "--time", "2026-11-24T09:00:00Z", "--format", "json"], repo=clone)
    assert json.loads(out.stdout)["incidents"] == [{"id": "INC-2026-11-24-004",
                                                   "action": "recur"}]
    # the counter of the threshold trigger survived: the third failure opens an incident
    third = run_cli(["record", *fail, "--key", "fail-3", "--format", "json"], repo=clone)
    assert [i["action"] for i in json.loads(third.stdout)["incidents"]] == ["open"]
    # and a new incident of the storm's day takes the next number, not one already used
    new = run_cli(["record", "deletion", "-f", "resource=Pod/new", "-f", "namespace=prod",
                   "--time", "2026-11-24T10:00:00Z", "--format", "json"], repo=clone)
    assert json.loads(new.stdout)["incidents"] == [{"id": "INC-2026-11-24-401",
                                                   "action": "open"}]
    assert run_cli(["lint"], repo=clone).returncode == 0
