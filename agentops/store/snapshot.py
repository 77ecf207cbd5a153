"""A committed snapshot of the journal's derived state: a fresh clone replays only the tail.

Why: the derived state (seen idempotency keys, threshold counters, resolutions, which incident
heard of each subject last) is a function of every journal line. A fresh clone has no cache,
so its first command read the whole journal: after an alert storm of ten thousand incidents
that was most of the first ``record``'s cost, and agents in short-lived containers clone and
record once. So every :data:`EVERY` journal lines or more (see :data:`SPACING`) the writer
commits the journal tables of its cache as one SQLite file, with what each incident file said
(:data:`agentops.store.state.SNAPSHOT_TABLES`), and a rebuild starts from it, replays only the
journal lines written since and scans only the incident files whose content changed.

Where: ``refs/agentops/journal-snapshot``, a commit without parents whose tree holds
``state.sqlite``. Without parents, so that each snapshot replaces the last one and git can
collect the old ones: the repository does not grow by a snapshot each time. The name starts
with the journal's, so the fetches that bring the journal (a fresh clone's first run, the
push replay) bring the snapshot with it; it is pushed, forced, after the branch and journal.

It is a cache shared through git, never the truth: it is never merged, and a snapshot that
does not verify is ignored (the rebuild then reads the whole journal, as before). It verifies
when it was made by this schema under the same rules, over the same legacy journal files, and
when every journal part it covers is still in the journal tip, with its blob unchanged or
grown at the end (appends and the journal merge only ever add lines at the end of a part).
The tail is then what the parts gained after the covered bytes, plus parts it never saw.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Final

from agentops import git
from agentops.policy.model import Policy
from agentops.store import journal, oplog
from agentops.store.state import SCHEMA_VERSION, Store

REF: Final = "refs/agentops/journal-snapshot"
FILE: Final = "state.sqlite"
# Journal lines between two snapshots: at least EVERY, and at least a SPACING-th of the lines
# the last one covers. A snapshot costs what the state weighs (2.4 MB at 10,000 incidents), so
# a fixed spacing would make a long storm quadratic; this one keeps the total linear (each
# snapshot at most 5/4 of the one before) and what a fresh clone replays a quarter of the
# journal at most (read by regex, about 15 us a line).
EVERY: Final = 1000
SPACING: Final = 4
# What a snapshot file is: bump it (or the cache schema) with any change to what its tables
# hold or how their rows are derived, so that no clone reads a snapshot of another meaning.
FORMAT: Final = f"1/{SCHEMA_VERSION}"
JOURNAL_TRAILER: Final = "Agentops-Journal"
TAIL_KEY: Final = "journal_tail"  # store meta: journal lines the last snapshot does not cover
COVERED_KEY: Final = "journal_covered"  # store meta: the journal lines it covers
LATEST_KEY: Final = "journal_latest"  # store meta: the latest acceptance time in the journal

Part = tuple[str, bytes, int]  # (blob, bytes, offset where the lines not covered start)


def tracking_ref(remote: str) -> str:
    """Where a fetch of ``refs/agentops/journal*`` puts the remote's snapshot."""
    return oplog.tracking_ref(remote) + REF[len(oplog.REF):]


def count_appended(store: Store, lines: int) -> None:
    """The batch added ``lines`` journal lines the last snapshot does not cover."""
    store.set_meta(TAIL_KEY, str(int(store.meta(TAIL_KEY) or 0) + lines))


def note_latest(store: Store, accepted: str) -> None:
    """The journal now holds a line accepted at ``accepted`` (an ISO time, or "")."""
    if accepted > (store.meta(LATEST_KEY) or ""):
        store.set_meta(LATEST_KEY, accepted)


def due(repo: Path, store: Store) -> bool:
    """Whether a snapshot should be written now (only of this work tree's own journal)."""
    tail, covered = int(store.meta(TAIL_KEY) or 0), int(store.meta(COVERED_KEY) or 0)
    return tail >= max(EVERY, covered // SPACING) and oplog.ref_name(repo) == oplog.REF


def write(repo: Path, store: Store, policy: Policy) -> str | None:
    """Commit the store's journal tables as the snapshot of the journal tip; the store must
    describe that tip (call after :meth:`Store.save`). Returns the snapshot commit."""
    tip = oplog.tip(repo)
    if not tip:
        return None
    temp = _temp(repo)
    lines = int(store.meta(COVERED_KEY) or 0) + int(store.meta(TAIL_KEY) or 0)
    meta = {"format": FORMAT, "policy": policy.digest, "legacy": _legacy(repo), "journal": tip,
            "lines": str(lines), "latest": store.meta(LATEST_KEY) or "",
            "covers": json.dumps({name: [blob, size] for name, blob, size in listing(repo, tip)},
                                 separators=(",", ":"))}
    try:
        store.export_snapshot(temp, meta)
        data = temp.read_bytes()
    finally:
        temp.unlink(missing_ok=True)
    old = oplog.tip(repo, REF)
    loose = git.LooseWriter(repo)
    message = f"agentops: snapshot of the journal state\n\n{JOURNAL_TRAILER}: {tip}"
    if loose.usable():
        blob = loose.write("blob", data)
        commit = loose.commit(loose.tree({FILE: blob}), [], message, ident=oplog.IDENT)
        if not loose.update_ref(REF, commit, old):
            return None  # another writer's snapshot, just now: as good as this one
    else:
        blob = git.run(repo, "hash-object", "-w", "--stdin", input=data).strip()
        tree = git.run(repo, "mktree", input=f"100644 blob {blob}\t{FILE}\n".encode()).strip()
        commit = git.run(repo, "commit-tree", tree, "-m", message, env=oplog.IDENTITY).strip()
        git.run(repo, "update-ref", REF, commit)
    store.set_meta(TAIL_KEY, "0")
    store.set_meta(COVERED_KEY, str(lines))
    return commit


def restore(repo: Path, store: Store, policy: Policy, tip: str) -> list[Part] | None:
    """Load the journal tables from the first snapshot that verifies against the journal
    ``tip`` (ours, then each remote's); returns the tail to replay, or None: no snapshot
    verifies, read the whole journal."""
    current = {name: (blob, size) for name, blob, size in listing(repo, tip)}
    for ref in _candidates(repo):
        snap = oplog.tip(repo, ref)
        temp = _temp(repo)
        try:
            meta = _fetch(repo, snap, temp) if snap else None
            if meta is None or meta.get("policy") != policy.digest:
                continue
            found = _tail(repo, meta, current)
            if found is None:
                continue
            tail, rename = found
            store.import_snapshot(temp, rename)
            store.set_meta(TAIL_KEY, str(sum(part[1].count(b"\n", part[2]) for part in tail)))
            store.set_meta(COVERED_KEY, meta.get("lines") or "0")
            store.set_meta(LATEST_KEY, meta.get("latest") or "")
            return tail
        except (sqlite3.DatabaseError, git.GitError, OSError, ValueError):
            continue  # a snapshot that cannot be read is no snapshot
        finally:
            temp.unlink(missing_ok=True)
    return None


def fits(repo: Path, snap: str, tip: str) -> bool:
    """Whether snapshot commit ``snap`` covers only lines journal commit ``tip`` holds where
    it holds them (whatever rules it was made under)."""
    temp = _temp(repo)
    try:
        meta = _fetch(repo, snap, temp)
        current = {name: (blob, size) for name, blob, size in listing(repo, tip)}
        return meta is not None and _tail(repo, meta, current) is not None
    except (sqlite3.DatabaseError, git.GitError, OSError, ValueError):
        return False
    finally:
        temp.unlink(missing_ok=True)


def _fetch(repo: Path, snap: str, temp: Path) -> dict[str, str] | None:
    """Write the snapshot file of commit ``snap`` to ``temp``; its meta table if it is of
    this format over this work tree's legacy journal files, else None."""
    data = git.show_file(repo, snap, FILE)
    if data is None:
        return None
    temp.write_bytes(data)
    db = sqlite3.connect(temp)
    try:
        meta = {str(k): str(v) for k, v in db.execute("SELECT k, v FROM meta").fetchall()}
    finally:
        db.close()
    return meta if meta.get("format") == FORMAT and meta.get("legacy") == _legacy(repo) else None


def _tail(repo: Path, meta: dict[str, str], current: dict[str, tuple[str, int]]
          ) -> tuple[list[Part], dict[str, str]] | None:
    """The lines of the journal ``current`` (name -> blob, size) that the snapshot does not
    cover, and the renames of the blobs that grew; None if it covers anything else."""
    covers: dict[str, list[object]] = json.loads(meta.get("covers") or "{}")
    if any(name not in current for name in covers):
        return None  # a part it covered is gone: not this journal's history
    grown = {name: (str(covers[name][0]), int(str(covers[name][1]))) for name, (blob, _) in
             current.items() if name in covers and covers[name][0] != blob}
    new = [name for name in current if name not in covers]
    last = max(covers, default="")
    if any(name < last for name in [*grown, *new]):
        # lines merged into an older part (another clone's, or an older day's): a replay
        # reads them before the newer covered ones, so replaying them after would not agree
        return None
    wanted = [current[n][0] for n in [*grown, *new]] + [old for old, _ in grown.values()]
    blobs = dict(zip(wanted, oplog.blobs(repo, wanted), strict=True)) if wanted else {}
    tail: list[Part] = []
    rename = {}
    for name in sorted(current):
        blob = current[name][0]
        if name in grown:
            old, size = grown[name]
            data, before = blobs[blob], blobs[old]
            if before is None or data is None or len(before) != size or not (
                    data.startswith(before) and (not size or before.endswith(b"\n"))):
                return None
            tail.append((blob, data, size))
            rename[old] = blob
        elif name in new:
            data = blobs[blob]
            if data is None:
                return None
            tail.append((blob, data, 0))
    return tail, rename


def listing(repo: Path, commit: str) -> list[tuple[str, str, int]]:
    """(name, blob, size) of each part of a journal commit, in one ``ls-tree``."""
    out = git.run(repo, "ls-tree", "-l", "-z", commit)
    entries = []
    for item in out.split("\0"):
        if item:
            meta, _, name = item.partition("\t")
            fields = meta.split()
            entries.append((name, fields[2], int(fields[3])))
    return sorted(entries)


def _candidates(repo: Path) -> list[str]:
    """Our snapshot ref, then each remote's: loose, or packed by ``git pack-refs``/``gc``."""
    common = git.common_dir(repo)
    remotes = common / "refs" / "agentops" / "remotes"
    names = {p.name for p in remotes.iterdir()} if remotes.is_dir() else set()
    prefix, suffix = oplog.tracking_ref("\0").split("\0")
    suffix += REF[len(oplog.REF):]
    try:
        for line in (common / "packed-refs").read_text().splitlines():
            ref = line.partition(" ")[2]
            if ref.startswith(prefix) and ref.endswith(suffix):
                names.add(ref[len(prefix):-len(suffix)])
    except FileNotFoundError:
        pass
    return [REF, *(tracking_ref(name) for name in sorted(names))]


def _legacy(repo: Path) -> str:
    """The journal files older versions kept on the branch (never written again), by name
    and size: a snapshot replayed them, so it fits only the same ones."""
    folder = repo / journal.JOURNAL_DIR
    if not folder.is_dir():
        return ""
    return ",".join(f"{p.name}:{p.stat().st_size}" for p in sorted(folder.glob("*.jsonl")))


def _temp(repo: Path) -> Path:
    folder = git.common_dir(repo) / "agentops"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"snapshot.{os.getpid()}.tmp"
