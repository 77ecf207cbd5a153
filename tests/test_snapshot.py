"""The committed snapshot of the journal state: a fresh clone replays only the journal's tail,
and knows exactly what a clone that read the whole journal knows."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from test_scale import storm

from agentops.policy.loader import load_policy
from agentops.store import oplog, snapshot
from agentops.store.rebuild import rebuild
from agentops.store.state import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WARNING = FIXTURES / "kubernetes" / "eventlist-BackOff-pod-dd1-0.json"
ALERT = FIXTURES / "alertmanager" / "kubesphere-KubePodCrashLooping-firing.json"
FAIL = ["attempt", "-f", "outcome=failed", "-f", "task=migrate", "--actor", "agent-7"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def ok(repo: Path, *args: str) -> Any:
    out = run_cli([*args, "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def clone(origin: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    for key, value in (("user.name", "t"), ("user.email", "t@example.com")):
        git(where, "config", key, value)
    return where


@pytest.fixture
def storm_repo(git_repo: Path, tmp_path: Path) -> Path:
    """A repository whose journal has more than a snapshot's worth of lines: one failed
    attempt and one crash-looping pod, then an alert storm, then a second failed attempt."""
    assert run_cli(["init"], repo=git_repo).returncode == 0
    policy = git_repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace("namespaces: [prod, ", "namespaces: [pp1, prod, ",
                                                 1))
    git(git_repo, "commit", "-qam", "pp1 is production")
    ok(git_repo, "record", *FAIL, "--key", "fail-1")
    ok(git_repo, "ingest", str(WARNING))
    storm(tmp_path / "events.jsonl", snapshot.EVERY + 100)
    assert run_cli(["ingest", str(tmp_path / "events.jsonl")], repo=git_repo).returncode == 0
    ok(git_repo, "record", *FAIL, "--key", "fail-2")
    return git_repo


def tail_lines(repo: Path) -> int | None:
    """Journal lines a rebuild of ``repo`` replays after the snapshot (None: no snapshot
    fits, every line is read)."""
    policy = load_policy([repo / "rules"], base=repo)
    oplog.fetch_if_missing(repo, "origin")  # what any first command of a clone does
    oplog.absorb(repo, "origin")
    store = Store(repo / ".git" / "agentops" / "probe.sqlite", root=repo)
    try:
        tip = oplog.tip(repo)
        assert tip is not None
        tail = snapshot.restore(repo, store, policy, tip)
        return None if tail is None else sum(data.count(b"\n", at) for _b, data, at in tail)
    finally:
        store.close()


def test_a_big_ingest_leaves_a_snapshot_of_the_journal_state(storm_repo: Path) -> None:
    tip = git(storm_repo, "rev-parse", snapshot.REF).strip()
    assert git(storm_repo, "ls-tree", "--name-only", tip).split() == [snapshot.FILE]
    assert git(storm_repo, "rev-list", "--count", tip).strip() == "1"  # no history to grow
    # it covers the journal up to an ingest chunk: a rebuild replays fewer lines than a
    # snapshot's worth (the rest of the storm and the failed attempt after it)
    tail = tail_lines(storm_repo)
    assert tail is not None and 1 <= tail < snapshot.EVERY


def test_a_fresh_clone_starts_from_the_snapshot_and_knows_everything(
        storm_repo: Path, tmp_path: Path) -> None:
    tail = tail_lines(storm_repo)
    fresh = clone(storm_repo, tmp_path / "fresh")
    assert not (fresh / ".git" / "agentops").exists()
    # a retried event of the storm (before the snapshot) answers its first outcome and
    # writes nothing: nothing twice
    again = ok(fresh, "record", "deletion", "-f", "resource=Pod/p5", "-f", "namespace=prod",
               "--key", "storm-5")
    assert [i["action"] for i in again["incidents"]] == ["open"]
    assert again["commit"] == git(storm_repo, "log", "-1", "--format=%H", "--grep",
                                  f"Agentops-Event: {again['event_id']}").strip()
    assert git(fresh, "rev-parse", "HEAD") == git(storm_repo, "rev-parse", "HEAD")
    assert tail_lines(fresh) == tail  # (the duplicate journals nothing)
    # the threshold counts the failure before the snapshot and the one after it
    third = ok(fresh, "record", *FAIL, "--key", "fail-3")
    assert [i["action"] for i in third["incidents"]] == ["open"]
    # the pod the warning opened an incident for (before the snapshot) correlates the alert
    alerted = ok(fresh, "hook", "alertmanager", str(ALERT))
    alert = alerted if isinstance(alerted, dict) else alerted[0]
    assert [i["action"] for i in alert["incidents"]] == ["recur"]
    assert "same subject as" in alert["why_not"][0]["reason"]
    assert run_cli(["lint"], repo=fresh).returncode == 0


def test_what_a_fresh_clone_answers_is_what_a_full_rebuild_answers(
        storm_repo: Path, tmp_path: Path) -> None:
    """The same events recorded in a clone that starts from the snapshot and in one without
    it (which reads every journal line): the same outcomes."""
    answers = []
    for name, fetch in (("from-snapshot", False), ("from-every-line", True)):
        repo = clone(storm_repo, tmp_path / name)
        if fetch:  # the journal alone, before the first run would fetch the snapshot too
            git(repo, "fetch", "-q", "origin", f"+{oplog.REF}:{oplog.REF}")
            (repo / ".git" / "agentops").mkdir()
            (repo / ".git" / "agentops" / "journal-fetched").write_text("1")
        assert (tail_lines(repo) is None) == fetch
        out = [ok(repo, "record", *FAIL, "--key", "fail-3"),
               ok(repo, "record", "deletion", "-f", "resource=Pod/p7", "-f", "namespace=prod",
                  "--time", "2026-11-24T09:00:00Z", "--key", "late-p7"),
               ok(repo, "record", "deletion", "-f", "resource=Pod/p7", "-f", "namespace=prod",
                  "--key", "storm-7"),
               ok(repo, "hook", "alertmanager", str(ALERT))]
        # (the commits differ: each clone commits at its own time)
        answers.append([{k: v for k, v in o.items() if k != "commit"} for o in out])
    assert answers[0] == answers[1]
    assert [i["action"] for o in answers[0][:3] for i in o["incidents"]] == [
        "open", "recur", "open"]


def test_a_snapshot_made_under_other_rules_is_not_used(storm_repo: Path, tmp_path: Path) -> None:
    fresh = clone(storm_repo, tmp_path / "fresh")
    rules = fresh / "rules" / "policy.yaml"
    rules.write_text(rules.read_text() + "\n# reviewed\n")
    git(fresh, "commit", "-qam", "rules reviewed")
    assert tail_lines(fresh) is None
    # and the clone still counts the failures, from every journal line
    third = ok(fresh, "record", *FAIL, "--key", "fail-3")
    assert [i["action"] for i in third["incidents"]] == ["open"]


def test_a_journal_that_is_not_the_snapshots_history_is_read_whole(
        storm_repo: Path, tmp_path: Path) -> None:
    """A snapshot whose covered part no longer starts the journal's part (a rewritten
    journal) does not fit."""
    fresh = clone(storm_repo, tmp_path / "fresh")
    git(fresh, "fetch", "-q", "origin", f"+{oplog.REF}:{oplog.REF}",
        f"+{snapshot.REF}:{snapshot.REF}")
    [(name, blob, data)] = oplog.parts(fresh, git(fresh, "rev-parse", oplog.REF).strip())[:1]
    rewritten = data.replace(b'"storm-0"', b'"storm-x"', 1)
    new_blob = git_input(fresh, rewritten, "hash-object", "-w", "--stdin")
    listing = git(fresh, "ls-tree", oplog.REF).replace(blob, new_blob)
    tree = git_input(fresh, listing.encode(), "mktree")
    commit = git(fresh, "commit-tree", tree, "-m", "rewritten").strip()
    git(fresh, "update-ref", oplog.REF, commit)
    assert tail_lines(fresh) is None


def git_input(repo: Path, data: bytes, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True,
                          check=True).stdout.decode().strip()


def test_a_full_rebuild_of_the_same_clone_after_the_snapshot_agrees(storm_repo: Path) -> None:
    """Rebuilt in process: the store a snapshot restore leaves answers the engine's
    questions (seen keys, counters, subjects) as the full rebuild's does."""
    policy = load_policy([storm_repo / "rules"], base=storm_repo)
    stores = []
    for name in ("restored", "full"):
        store = Store(storm_repo / ".git" / "agentops" / f"{name}.sqlite", root=storm_repo)
        if name == "full":
            snapshot_ref = git(storm_repo, "rev-parse", snapshot.REF).strip()
            git(storm_repo, "update-ref", "-d", snapshot.REF)
        rebuild(storm_repo, store, policy)
        if name == "full":
            git(storm_repo, "update-ref", snapshot.REF, snapshot_ref)
        stores.append(store)
    restored, full = stores
    for key in ("storm-0", "storm-700", f"storm-{snapshot.EVERY + 99}", "fail-1", "fail-2"):
        assert restored.seen[key]["event_id"] == full.seen[key]["event_id"]
    assert restored.seen.get("storm-x") is None and full.seen.get("storm-x") is None
    group = next(k for k in restored.db.execute("SELECT k FROM hits"))[0]
    assert restored.hits.get(json.loads(group)) == full.hits.get(json.loads(group))
    for n in (0, 500, snapshot.EVERY + 50):
        skey = policy.correlation.subject_key({"namespace": "prod", "kind": "Pod",
                                              "name": f"p{n}"})
        link, other = restored.subjects.get(skey), full.subjects.get(skey)
        assert link is not None and link == other
    for store in stores:
        store.close()


def pushing_remote(repo: Path, tmp_path: Path) -> Path:
    """A bare remote of ``repo`` whose policy pushes every write."""
    assert run_cli(["init"], repo=repo).returncode == 0
    config = repo / ".agentops" / "config.yaml"
    config.write_text(config.read_text().replace("enabled: false", "enabled: true"))
    git(repo, "commit", "-qam", "enable push")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(remote)], check=True)
    return remote


def test_the_snapshot_is_pushed_with_the_journal_and_a_clone_of_the_remote_uses_it(
        git_repo: Path, tmp_path: Path) -> None:
    remote = pushing_remote(git_repo, tmp_path)
    writer = clone(remote, tmp_path / "writer")
    storm(tmp_path / "events.jsonl", snapshot.EVERY + 10)
    assert run_cli(["ingest", str(tmp_path / "events.jsonl")], repo=writer).returncode == 0
    pushed = git(remote, "for-each-ref", "--format=%(refname) %(objectname)", "refs/agentops/")
    assert f"{snapshot.REF} {git(writer, 'rev-parse', snapshot.REF).strip()}" in pushed
    reader = clone(remote, tmp_path / "reader")
    tail = tail_lines(reader)
    assert tail is not None and tail < snapshot.EVERY
    again = ok(reader, "record", "deletion", "-f", "resource=Pod/p3", "-f", "namespace=prod",
               "--key", "storm-3")
    assert [i["action"] for i in again["incidents"]] == ["open"]  # its first outcome, once
    assert git(reader, "rev-parse", "HEAD") == git(remote, "rev-parse", "HEAD")


def test_a_snapshot_made_before_a_push_replay_never_replaces_the_remotes(
        git_repo: Path, tmp_path: Path) -> None:
    """Writer B's snapshot describes its own journal; its push is rejected and its events are
    replayed onto the remote's journal, so that snapshot fits nothing any more: it is
    dropped, and the remote keeps writer A's, which fits."""
    remote = pushing_remote(git_repo, tmp_path)
    a, b = clone(remote, tmp_path / "a"), clone(remote, tmp_path / "b")
    # B journals a snapshot's worth less one, unpushed (push switched off in its work tree)
    b_config = b / ".agentops" / "config.yaml"
    b_config.write_text(b_config.read_text().replace("enabled: true", "enabled: false"))
    storm(tmp_path / "b.jsonl", snapshot.EVERY - 1)
    staging = (tmp_path / "b.jsonl").read_text().replace('"production"', '"staging"')
    (tmp_path / "b.jsonl").write_text(staging.replace('"storm-', '"b-'))
    assert run_cli(["ingest", str(tmp_path / "b.jsonl")], repo=b).returncode == 0
    git(b, "checkout", "--", ".agentops/config.yaml")
    # meanwhile A writes a storm: its snapshot reaches the remote
    storm(tmp_path / "a.jsonl", snapshot.EVERY + 10)
    assert run_cli(["ingest", str(tmp_path / "a.jsonl")], repo=a).returncode == 0
    a_snapshot = git(remote, "rev-parse", snapshot.REF).strip()
    # B's next record completes its snapshot, is rejected, replayed, pushed
    ok(b, "record", "deletion", "-f", "resource=Pod/b", "-f", "namespace=prod", "--key", "b-x")
    assert git(remote, "rev-parse", snapshot.REF).strip() == a_snapshot
    assert git(b, "for-each-ref", snapshot.REF).strip() == ""  # b's own was dropped
    # a clone of the remote starts from A's snapshot and knows B's events too
    reader = clone(remote, tmp_path / "reader")
    tail = tail_lines(reader)  # B's lines, replayed after A's (and A's after its last chunk)
    assert tail is not None and snapshot.EVERY <= tail <= snapshot.EVERY + 10
    again = ok(reader, "record", "deletion", "-f", "resource=Pod/p3", "-f", "namespace=prod",
               "--environment", "staging", "--key", "b-3")
    assert again["incidents"] == []
    assert git(reader, "rev-parse", "HEAD") == git(remote, "rev-parse", "HEAD")


def _link_after_rebuild(repo: Path, name: str, *, snapshot_too: bool) -> Any:
    policy = load_policy([repo / "rules"], base=repo)
    saved = git(repo, "rev-parse", snapshot.REF).strip()
    if not snapshot_too:
        git(repo, "update-ref", "-d", snapshot.REF)
    store = Store(repo / ".git" / "agentops" / f"{name}.sqlite", root=repo)
    try:
        rebuild(repo, store, policy)
        return store.subjects.get(policy.correlation.subject_key(
            {"namespace": "pp1", "kind": "Pod", "name": "dd1-0"}))
    finally:
        store.close()
        git(repo, "update-ref", snapshot.REF, saved)


def test_a_subject_linked_before_the_snapshot_and_again_after_it_is_replayed_in_order(
        storm_repo: Path) -> None:
    """The warning's link was replayed by the writer (the snapshot holds it decoded); the
    alert after the snapshot joins the same incident: a restore applies the tail's line on
    top of the snapshot's link, as the full rebuild does from every line."""
    before = _link_after_rebuild(storm_repo, "before", snapshot_too=True)
    alerted = ok(storm_repo, "hook", "alertmanager", str(ALERT))
    alert = alerted if isinstance(alerted, dict) else alerted[0]
    assert [i["action"] for i in alert["incidents"]] == ["recur"]
    restored = _link_after_rebuild(storm_repo, "restored", snapshot_too=True)
    full = _link_after_rebuild(storm_repo, "full", snapshot_too=False)
    assert before is not None and restored == full
    assert restored.dedup_key == before.dedup_key and restored.last_seen > before.last_seen


def test_an_incident_file_a_person_edited_after_the_snapshot_is_read_again(
        storm_repo: Path, tmp_path: Path) -> None:
    """The snapshot remembers what each incident file said, by its content's hash: a file a
    person changed since (an incident resolved by hand) is read again, the others are not
    needed."""
    files = sorted((storm_repo / "incidents").rglob("*.md")) + [storm_repo / "INCIDENTS.md"]
    key = "dedup_key: deleted/prod/Pod/p5\n"
    [path] = [p for p in files if key in p.read_text()]
    text = path.read_text()
    at = text.index(key)
    status = text.rindex("\nstatus: Investigating\n", 0, at)
    path.write_text(text[:status] + "\nstatus: Resolved\n" + text[status + 23:])
    git(storm_repo, "commit", "-qam", "p5 was a planned deletion")
    fresh = clone(storm_repo, tmp_path / "fresh")
    assert tail_lines(fresh) is not None
    later = "2026-11-24T12:00:00Z"
    p5 = ok(fresh, "record", "deletion", "-f", "resource=Pod/p5", "-f", "namespace=prod",
            "--time", later)
    p6 = ok(fresh, "record", "deletion", "-f", "resource=Pod/p6", "-f", "namespace=prod",
            "--time", later)
    assert [i["action"] for i in p5["incidents"]] == ["open"]  # its incident was resolved
    assert [i["action"] for i in p6["incidents"]] == ["recur"]


# --- small repositories, a snapshot every 3 lines (EVERY lowered in this process) -----------


@pytest.fixture
def small(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(snapshot, "EVERY", 3)
    assert run_cli(["init"], repo=git_repo).returncode == 0
    return git_repo


def rebuilt(repo: Path, name: str, *, snapshot_too: bool = True) -> Store:
    """A store rebuilt from scratch, from the snapshot (when it fits) or from every line."""
    policy = load_policy([repo / "rules"], base=repo)
    saved = oplog.tip(repo, snapshot.REF)
    if not snapshot_too and saved:
        git(repo, "update-ref", "-d", snapshot.REF)
    store = Store(repo / ".git" / "agentops" / f"{name}.sqlite", root=repo)
    try:
        rebuild(repo, store, policy)
    finally:
        if not snapshot_too and saved:
            git(repo, "update-ref", snapshot.REF, saved)
    return store


def rows(store: Store, table: str) -> list[tuple[str, str]]:
    for lazy in store._tables():
        lazy.flush()
    return sorted(store.db.execute(f"SELECT k, v FROM {table}").fetchall())


def test_a_snapshot_that_cannot_be_copied_whole_adds_nothing(small: Path, tmp_path: Path) -> None:
    """A snapshot whose copy fails half-way (here: a table missing) leaves nothing behind:
    the counters are the full replay's, not the snapshot's plus the replay's."""
    for n in (1, 2):
        ok(small, "record", *FAIL, "--key", f"f{n}")
    for i in range(3):
        ok(small, "record", "deletion", "-f", f"resource=Pod/p{i}", "-f", "namespace=prod")
    snap = git(small, "rev-parse", snapshot.REF).strip()
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(subprocess.run(["git", "-C", str(small), "show", f"{snap}:{snapshot.FILE}"],
                                      capture_output=True, check=True).stdout)
    db = sqlite3.connect(broken)
    db.execute("DROP TABLE ledger_files")
    db.commit()
    db.close()
    blob = git(small, "hash-object", "-w", str(broken)).strip()
    tree = git_input(small, f"100644 blob {blob}\t{snapshot.FILE}\n".encode(), "mktree")
    git(small, "update-ref", snapshot.REF, git(small, "commit-tree", tree, "-m", "x").strip())
    with_broken, full = rebuilt(small, "broken"), rebuilt(small, "full", snapshot_too=False)
    assert rows(with_broken, "hits") == rows(full, "hits") != []
    assert rows(with_broken, "hit_events") == rows(full, "hit_events")
    with_broken.close()
    full.close()


def test_a_link_to_an_incident_a_person_resolved_since_the_snapshot_answers_as_a_replay(
        small: Path, tmp_path: Path) -> None:
    """Source A opened two incidents about one pod, a snapshot was made, then a person
    resolved the later one by hand: the clone that starts from the snapshot links the pod as
    a full replay does, and an event from source B gets the same outcome from both."""
    pod = {"namespace": "prod", "kind": "Pod", "name": "p1"}
    events = tmp_path / "a.jsonl"
    events.write_text("".join(json.dumps({
        "type": t, "key": k, "environment": "production", "time": when, "source": "srcA",
        "subject": pod, **({"attributes": {"policy": "x"}} if t.startswith("security") else {})})
        + "\n" for t, k, when in (("resource.deleted", "a1", "2026-11-24T08:00:00Z"),
                                  ("security.violation", "a2", "2026-11-24T08:01:00Z"))))
    assert run_cli(["ingest", str(events)], repo=small).returncode == 0
    for i in range(3):
        ok(small, "record", "deletion", "-f", f"resource=Pod/q{i}", "-f", "namespace=prod",
           "--time", "2026-11-24T08:02:00Z")
    assert oplog.tip(small, snapshot.REF)
    text = (small / "INCIDENTS.md").read_text()
    at = text.index("dedup_key: security/")
    status = text.rindex("\nstatus: ", 0, at)
    end = text.index("\n", status + 1)
    (small / "INCIDENTS.md").write_text(text[:status] + "\nstatus: Resolved" + text[end:])
    git(small, "commit", "-qam", "resolved by hand")
    policy = load_policy([small / "rules"], base=small)
    skey = policy.correlation.subject_key(pod)
    restored, full = rebuilt(small, "restored"), rebuilt(small, "full", snapshot_too=False)
    assert restored.subjects.get(skey) == full.subjects.get(skey) is not None
    restored.close()
    full.close()
    later = tmp_path / "b.jsonl"
    later.write_text(json.dumps({"type": "workload.degraded", "key": "b1", "time":
                                 "2026-11-24T08:10:00Z", "environment": "production",
                                 "source": "srcB", "subject": pod}) + "\n")
    answers = []
    for name, fetch_all in (("from-snapshot", False), ("from-every-line", True)):
        repo = clone(small, tmp_path / name)
        if fetch_all:
            git(repo, "fetch", "-q", "origin", f"+{oplog.REF}:{oplog.REF}")
            (repo / ".git" / "agentops").mkdir()
            (repo / ".git" / "agentops" / "journal-fetched").write_text("1")
        answers.append(ok(repo, "ingest", str(later))["outcomes"][0]["incidents"])
    assert answers[0] == answers[1]


def test_lines_merged_into_an_older_part_are_replayed_in_journal_order(small: Path) -> None:
    """An agent offline since 11-20 brings two failed attempts of that day (a journal part
    that sorts before the one the snapshot covers): the snapshot does not fit, and the
    threshold counts as a full replay does."""
    ok(small, "record", *FAIL, "--key", "f1")
    for i in range(2):
        ok(small, "record", "deletion", "-f", f"resource=Pod/p{i}", "-f", "namespace=prod")
    assert oplog.tip(small, snapshot.REF)
    tip = git(small, "rev-parse", oplog.REF).strip()
    parts = oplog.parts(small, tip)
    first = json.loads(parts[0][2].split(b"\n")[0])
    assert first["key"] == "f1"
    old = []
    for n in range(2):
        record = json.loads(json.dumps(first))
        record.update(key=f"old{n}", id=f"ev-00000000000000a{n}",
                      accepted=f"2026-11-20T08:0{n}:00Z")
        record["event"]["time"] = f"2026-11-20T08:0{n}:00Z"
        old.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
    blob = git_input(small, b"".join(old), "hash-object", "-w", "--stdin")
    listing = "".join(f"100644 blob {b}\t{n}\n" for n, b, _ in parts)
    tree = git_input(small, (listing + f"100644 blob {blob}\t2026-11-20_000.jsonl\n").encode(),
                     "mktree")
    git(small, "update-ref", oplog.REF,
        git(small, "commit-tree", tree, "-p", tip, "-m", "from an agent offline").strip(), tip)
    assert tail_lines(small) is None
    restored, full = rebuilt(small, "restored"), rebuilt(small, "full", snapshot_too=False)
    assert rows(restored, "hits") == rows(full, "hits")
    restored.close()
    full.close()


def test_a_remotes_snapshot_is_found_after_git_packed_the_refs(
        storm_repo: Path, tmp_path: Path) -> None:
    fresh = clone(storm_repo, tmp_path / "fresh")
    oplog.fetch_if_missing(fresh, "origin")
    assert git(fresh, "for-each-ref", snapshot.tracking_ref("origin")).strip()
    git(fresh, "pack-refs", "--all", "--prune")
    assert not (fresh / ".git" / "refs" / "agentops" / "remotes").exists()
    assert tail_lines(fresh) is not None
