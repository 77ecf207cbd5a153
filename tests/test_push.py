"""Several clones writing to one bare remote: every event lands once, ids never collide."""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cli_helpers import run_cli, run_process


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          check=True).stdout


def make_clones(tmp_path: Path, git_repo: Path, count: int) -> tuple[Path, list[Path]]:
    init = run_cli(["init"], repo=git_repo)
    assert init.returncode == 0, init.stderr
    config = git_repo / ".agentops" / "config.yaml"
    config.write_text(config.read_text().replace("enabled: false", "enabled: true"))
    git(git_repo, "commit", "-qam", "enable push")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo), str(remote)], check=True)
    clones = []
    for i in range(count):
        clone = tmp_path / f"clone{i}"
        subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
        clones.append(clone)
    return remote, clones


def test_four_clones_pushing_at_once_keep_every_event_once(tmp_path: Path, git_repo: Path) -> None:
    remote, clones = make_clones(tmp_path, git_repo, 4)

    def writer(n: int) -> list[int]:
        codes = []
        for i in range(25):
            # separate processes: the point is clones racing each other to the remote
            out = run_process(["record", "deletion", "-f", f"resource=Pod/c{n}-{i}",
                               "-f", "namespace=prod", "--key", f"c{n}-{i}"], repo=clones[n])
            codes.append(out.returncode)
            assert out.returncode == 0, out.stderr
        return codes

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(writer, range(4)))
    assert all(code == 0 for codes in results for code in codes)
    keys = remote_keys(remote)
    assert sorted(keys) == sorted(f"c{n}-{i}" for n in range(4) for i in range(25))
    check = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", str(remote), str(check)], check=True)
    ids = re.findall(r"^<!-- agentops:incident (INC-\S+) ", (check / "INCIDENTS.md").read_text(),
                     re.MULTILINE)
    assert len(ids) == 100 and len(set(ids)) == 100
    lint = run_cli(["lint"], repo=check)
    assert lint.returncode == 0, lint.stdout


# --- a rejected push keeps every commit ------------------------------------------------------


def agentops(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_process(list(args), repo=repo)  # clones racing: real processes


def record(repo: Path, name: str) -> str:
    """A production deletion (opens an incident); returns the incident id it reports."""
    out = agentops(repo, "record", "deletion", "-f", f"resource=Pod/{name}", "-f",
                   "namespace=prod", "--key", name, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["incidents"][0]["id"]  # type: ignore[no-any-return]


def fill_root_cause(repo: Path, inc_id: str, text: str) -> None:
    """What a person does: edit the Root Cause of one entry in an editor, commit."""
    path = repo / "INCIDENTS.md"
    doc = path.read_text()
    start = doc.index(f"<!-- agentops:incident {inc_id} ")
    at = doc.index("#### Root Cause\n", start) + len("#### Root Cause\n")
    end = doc.index("\n#### ", at)
    path.write_text(doc[:at] + f"\n{text}\n" + doc[end:])
    git(repo, "commit", "-qam", f"Root cause of {inc_id}")


def remote_file(remote: Path, name: str) -> str:
    return git(remote, "show", f"main:{name}")


def remote_keys(remote: Path) -> list[str]:
    """Idempotency keys in the remote's journal (its own ref, refs/agentops/journal)."""
    names = git(remote, "ls-tree", "--name-only", "refs/agentops/journal").split()
    return [json.loads(line)["key"] for name in names
            for line in git(remote, "show", f"refs/agentops/journal:{name}").splitlines()]


def lint_ok(tmp_path: Path, remote: Path) -> None:
    check = tmp_path / "lint-check"
    subprocess.run(["git", "clone", "-q", str(remote), str(check)], check=True)
    out = agentops(check, "lint")
    assert out.returncode == 0, out.stdout + out.stderr


def test_human_commit_survives_a_push_race(tmp_path: Path, git_repo: Path) -> None:
    remote, (a, b) = make_clones(tmp_path, git_repo, 2)
    first = record(a, "a1")
    fill_root_cause(a, first, "The node pool autoscaler evicted the pod (found by Dana).")
    git(b, "pull", "-q")
    record(b, "b1")
    record(a, "a2")  # rejected, rebuilt on B's tip, pushed: exit 0
    for text in ((a / "INCIDENTS.md").read_text(), remote_file(remote, "INCIDENTS.md")):
        assert "found by Dana" in text
    assert git(a, "rev-parse", "HEAD").strip() == git(remote, "rev-parse", "main").strip()
    # the person's commit is carried (same author, message and change), not replaced
    log = git(remote, "log", "--format=%an|%s", "main")
    assert f"Test Agent|Root cause of {first}" in log.splitlines()
    assert sorted(remote_keys(remote)) == ["a1", "a2", "b1"]
    assert git(a, "status", "--porcelain") == ""
    lint_ok(tmp_path, remote)


def test_ack_with_a_note_survives_a_push_race(tmp_path: Path, git_repo: Path) -> None:
    remote, (a, b) = make_clones(tmp_path, git_repo, 2)
    first = record(a, "a1")
    git(b, "pull", "-q")
    record(b, "b1")  # the remote moves on; A's ack is rejected and redone on B's tip
    out = agentops(a, "incident", "ack", first, "--note", "paged the storage team")
    assert out.returncode == 0, out.stderr
    record(a, "a2")
    for text in ((a / "INCIDENTS.md").read_text(), remote_file(remote, "INCIDENTS.md")):
        assert "paged the storage team" in text
    keys = remote_keys(remote)
    assert len(keys) == len(set(keys)) == 4  # three events and the ack, once each
    lint_ok(tmp_path, remote)


def test_unpushed_incident_renumbered_on_replay_keeps_its_ack(
        tmp_path: Path, git_repo: Path) -> None:
    remote, (a, b) = make_clones(tmp_path, git_repo, 2)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho maintenance >&2\nexit 1\n")
    hook.chmod(0o755)
    down = agentops(a, "record", "deletion", "-f", "resource=Pod/a1", "-f", "namespace=prod",
                    "--key", "a1", "--format", "json")
    assert down.returncode == 1 and "maintenance" in down.stderr  # committed here, not pushed
    local_id = re.findall(r"^<!-- agentops:incident (INC-\S+) ", (a / "INCIDENTS.md").read_text(),
                          re.MULTILINE)[0]
    acked = agentops(a, "incident", "ack", local_id, "--note", "on it")
    assert acked.returncode == 1  # the push failed again; the ack is committed locally
    hook.unlink()
    taken = record(b, "b1")
    assert taken == local_id  # B took the same number meanwhile
    record(a, "a2")
    text = remote_file(remote, "INCIDENTS.md")
    ids = re.findall(r"^<!-- agentops:incident (INC-\S+) ", text, re.MULTILINE)
    assert len(ids) == 3 and len(set(ids)) == 3
    # the ack followed A's incident to its new number, by uid
    entries = {i: text[text.index(f"<!-- agentops:incident {i} "):
                       text.index(f"<!-- /agentops:incident {i} -->")] for i in ids}
    acked_ids = [i for i, body in entries.items() if "on it" in body]
    assert len(acked_ids) == 1 and acked_ids[0] != taken
    assert "Pod/a1" in entries[acked_ids[0]]
    lint_ok(tmp_path, remote)


def test_conflicting_human_edit_stops_with_exit_1_and_changes_nothing(
        tmp_path: Path, git_repo: Path) -> None:
    remote, (a, b) = make_clones(tmp_path, git_repo, 2)
    first = record(a, "a1")
    git(b, "pull", "-q")
    fill_root_cause(b, first, "Bob says: the image registry was down.")
    git(b, "push", "-q")
    fill_root_cause(a, first, "Alice says: a bad config push.")
    before = git(a, "rev-parse", "HEAD").strip()
    out = agentops(a, "record", "deletion", "-f", "resource=Pod/a2", "-f", "namespace=prod",
                   "--key", "a2")
    assert out.returncode == 1
    assert "conflicts with origin/main" in out.stderr and "git pull --rebase" in out.stderr
    # the event is committed locally on top; nothing before it moved or vanished
    assert git(a, "rev-parse", "HEAD~1").strip() == before
    assert "Alice says" in (a / "INCIDENTS.md").read_text()
    assert git(a, "status", "--porcelain") == ""
    assert "Bob says" in remote_file(remote, "INCIDENTS.md")
    assert "a2" not in remote_keys(remote)
