"""The operations journal on its own ref, ``refs/agentops/journal``, written with git plumbing.

Why a ref and not files on the branch: every event and operation must be journaled durably (and
shared, so thresholds count across clones), but most of them change no ledger file. Committing
each one to the checked-out branch buried the incidents people review under journal commits. So
the journal is a history of its own: one commit per batch on ``refs/agentops/journal``, whose
tree holds one JSON-lines file per day, made with ``hash-object``, ``mktree``, ``commit-tree``
and a compare-and-swap ``update-ref`` (no index, no work tree; in the usual SHA-1, files-backend
repository the same objects and ref update are written directly, see ``git.LooseWriter``,
since four processes per ``record`` cost more than the rest of the journal write). The branch
gets a commit only when a ledger file changes. The ref is pushed with the branch (atomically
where the remote supports it) and fetched into ``refs/agentops/remotes/<remote>/journal``
(``agentops init`` adds the refspec), and a journal fetched by ``git pull`` is merged in by the
next agentops run, so clone B counts the failures clone A recorded.

Repositories written before keep their journal files under ``.agentops/journal/`` on the
branch; they are read as the oldest part of the journal and never written again.

A work tree may name another journal ref in ``<git-dir>/agentops-journal-ref``: the push replay
uses that to rebuild on the remote's journal in its scratch work tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from agentops import git
from agentops.errors import LedgerError
from agentops.fsutil import write_note
from agentops.store import journal

REF: Final = "refs/agentops/journal"
TRACKING: Final = "refs/agentops/remotes/{remote}/journal"
OVERRIDE: Final = "agentops-journal-ref"
IDENT: Final = "agentops <agentops@localhost>"
IDENTITY: Final = {"GIT_AUTHOR_NAME": "agentops", "GIT_AUTHOR_EMAIL": "agentops@localhost",
                   "GIT_COMMITTER_NAME": "agentops", "GIT_COMMITTER_EMAIL": "agentops@localhost"}


def ref_name(repo: Path) -> str:
    """The journal ref this work tree writes (the default, or the replay's override)."""
    try:
        return (git.git_dir(repo) / OVERRIDE).read_text().strip() or REF
    except FileNotFoundError:
        return REF


def tip(repo: Path, ref: str | None = None) -> str | None:
    """The journal commit, read from the ref file when it is loose (no subprocess)."""
    ref = ref or ref_name(repo)
    common = git.common_dir(repo)
    try:
        value = (common / ref).read_text().strip()
        if len(value) in (40, 64):
            return value
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        if not (common / "reftable").exists():  # files backend: loose, or packed, or absent
            return _packed(common, ref)
    out = git.run(repo, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False).strip()
    return out or None


def _packed(common: Path, ref: str) -> str | None:
    try:
        text = (common / "packed-refs").read_text()
    except FileNotFoundError:
        return None
    suffix = f" {ref}"
    for line in text.splitlines():
        if line.endswith(suffix) and not line.startswith(("#", "^")):
            return line.split()[0]
    return None


def day_file(when: datetime, part: int = 0) -> str:
    """A day's journal file; a busy day continues in parts (``_001``...) so that an append
    never rehashes more than :data:`journal.PART_BYTES` of it."""
    return f"{when:%Y-%m-%d}_{part:03d}.jsonl"


def _current_part(entries: dict[str, str], when: datetime) -> tuple[str, int]:
    prefix = f"{when:%Y-%m-%d}_"
    parts = sorted(n for n in entries if n.startswith(prefix))
    if not parts:
        return day_file(when), 0
    last = parts[-1]
    return last, int(last[len(prefix):len(prefix) + 3])


# --- reading ---------------------------------------------------------------------------------


def read(repo: Path, commit: str | None = None, *, legacy_rev: str | None = None,
         needle: bytes = b"", legacy: bool = True) -> Iterator[dict[str, Any]]:
    """Every journal record: the legacy files on the branch (work tree, or ``legacy_rev``),
    then the journal commit (default: this work tree's journal tip), oldest day first.

    With ``needle``, only the records whose line contains it (the others are not decoded).
    """
    if not legacy:
        pass
    elif legacy_rev is None:
        yield from journal.read_containing(repo, needle)
    else:
        yield from _legacy_at(repo, legacy_rev)
    commit = commit if commit is not None else tip(repo)
    if commit:
        for name, _blob, data in parts(repo, commit):
            yield from journal.parse_lines(data, where=f"{REF}:{name}", needle=needle)


def record_at(repo: Path, blob: str, offset: int, *,
              blobs: dict[str, bytes] | None = None) -> dict[str, Any]:
    """The record at ``offset`` of one journal part (by its blob id, which never changes);
    ``blobs`` keeps the parts read, for callers that read many lines."""
    data = blobs.get(blob) if blobs is not None else None
    if data is None:
        data = git.run_bytes(repo, "cat-file", "blob", blob)
        if blobs is not None:
            blobs[blob] = data
    end = data.find(b"\n", offset)
    record = json.loads(data[offset:end if end >= 0 else len(data)])
    if not isinstance(record, dict):
        raise ValueError(f"{blob}@{offset}: not a journal record")
    return record


def keys(repo: Path, commit: str | None, *, legacy_rev: str | None) -> set[str]:
    return {str(r["key"]) for r in read(repo, commit or "", legacy_rev=legacy_rev)
            if isinstance(r.get("key"), str)}


def _legacy_at(repo: Path, rev: str) -> Iterator[dict[str, Any]]:
    listing = git.run(repo, "ls-tree", "--name-only", rev, f"{journal.JOURNAL_DIR}/",
                      check=False)
    for name in sorted(listing.split()):
        yield from journal.parse_lines(git.show_file(repo, rev, name) or b"", where=name)


def _entries(repo: Path, commit: str) -> list[tuple[str, str]]:
    """(name, blob) of the files in a journal commit's tree."""
    out = git.run(repo, "ls-tree", "-z", commit)
    entries = []
    for item in out.split("\0"):
        if item:
            meta, _, name = item.partition("\t")
            entries.append((name, meta.split()[2]))
    return sorted(entries)


def parts(repo: Path, commit: str) -> list[tuple[str, str, bytes]]:
    """(name, blob, bytes) of each part of a journal commit, oldest first, in one git call."""
    entries = _entries(repo, commit)
    out = []
    for (name, blob), data in zip(entries, blobs(repo, [b for _n, b in entries]), strict=True):
        if data is None:
            raise LedgerError(f"{REF}:{name}: blob {blob} is missing from this repository "
                              "(fetch the journal again: git fetch --refetch)")
        out.append((name, blob, data))
    return out


def blobs(repo: Path, ids: Sequence[str]) -> list[bytes | None]:
    """The bytes of each blob (None: not in this repository), in one ``cat-file --batch``."""
    if not ids:
        return []
    batch = git.run_bytes(repo, "cat-file", "--batch",
                          input="".join(f"{blob}\n" for blob in ids).encode())
    out: list[bytes | None] = []
    pos = 0
    for _blob in ids:
        header_end = batch.index(b"\n", pos)
        header = batch[pos:header_end].split()
        if len(header) < 3 or header[-1] == b"missing":
            out.append(None)
            pos = header_end + 1
            continue
        size = int(header[2])
        start = header_end + 1
        out.append(batch[start:start + size])
        pos = start + size + 1
    return out


# --- writing ---------------------------------------------------------------------------------


def append(repo: Path, lines: Sequence[bytes], *, when: datetime, subject: str,
           ref: str | None = None, parent: str | None = None) -> str:
    """Commit ``lines`` onto the journal ref (appended to the file of ``when``'s day).

    Compare-and-swap: the ref moves only if it still is ``parent`` (default: the current tip).
    The parent's tree listing and today's file are remembered under the git directory from the
    last write, so the usual append costs four short git processes and reads nothing back.
    """
    ref = ref or ref_name(repo)
    parent = parent if parent is not None else tip(repo, ref)
    cache = _Cache(repo, ref)
    entries = dict(cache.entries(parent))
    name, part = _current_part(entries, when)
    old = cache.day(name, entries.get(name))
    if old and len(old) >= journal.PART_BYTES:
        name, old = day_file(when, part + 1), b""
    data = old + b"".join(lines)
    loose = git.LooseWriter(repo)
    if loose.usable():
        entries[name] = loose.write("blob", data)
        new = loose.commit(loose.tree(entries), [parent] if parent else [], subject,
                           ident=IDENT)
        if not loose.update_ref(ref, new, parent):
            # moved meanwhile, or locked by a git: let git decide (it fails on a real race)
            git.run(repo, "update-ref", "-m", subject, ref, new, parent or "0" * len(new))
    else:
        entries[name] = git.run(repo, "hash-object", "-w", "--stdin", input=data).strip()
        new = _commit(repo, entries, parents=[parent] if parent else [], subject=subject)
        git.run(repo, "update-ref", "-m", subject, ref, new, parent or "0" * len(new))
    cache.remember(new, entries, name, data)
    return new


def _commit(repo: Path, entries: dict[str, str], *, parents: Sequence[str], subject: str) -> str:
    listing = "".join(f"100644 blob {blob}\t{name}\n" for name, blob in sorted(entries.items()))
    tree = git.run(repo, "mktree", input=listing.encode()).strip()
    args = ["commit-tree", tree, "-m", subject]
    for parent in parents:
        args += ["-p", parent]
    return git.run(repo, *args, env=_identity(repo)).strip()


def _identity(repo: Path) -> dict[str, str]:
    # the journal is the tool's own bookkeeping: a fixed identity, so that no clone without
    # user.name is refused and no person is named as its author
    return IDENTITY


class _Cache:
    """What the last append wrote: the commit, its tree listing and the day file's bytes.

    Only a cache: anything that does not match the ref's commit is read from git instead.
    """

    def __init__(self, repo: Path, ref: str) -> None:
        self.repo = repo
        base = git.common_dir(repo) / "agentops" / ("journal-" + ref.replace("/", "-"))
        self.meta_path, self.day_path = base.with_suffix(".json"), base.with_suffix(".day")
        try:
            self.meta: dict[str, Any] = json.loads(self.meta_path.read_text())
        except (FileNotFoundError, ValueError):
            self.meta = {}

    def entries(self, commit: str | None) -> list[tuple[str, str]]:
        if commit is None:
            return []
        if self.meta.get("commit") == commit and isinstance(self.meta.get("entries"), list):
            return [(str(n), str(b)) for n, b in self.meta["entries"]]
        self.meta = {}
        return _entries(self.repo, commit)

    def day(self, name: str, blob: str | None) -> bytes:
        if blob is None:
            return b""
        if self.meta.get("day") == name and self.meta.get("day_blob") == blob:
            try:
                data = self.day_path.read_bytes()
                if len(data) == self.meta.get("day_size"):
                    return data
            except FileNotFoundError:
                pass
        return git.run_bytes(self.repo, "cat-file", "blob", blob)

    def remember(self, commit: str, entries: dict[str, str], name: str, data: bytes) -> None:
        try:
            self.day_path.write_bytes(data)
            write_note(self.meta_path, json.dumps({
                "commit": commit, "entries": sorted(entries.items()), "day": name,
                "day_blob": entries[name], "day_size": len(data)}))
        except OSError:
            pass  # only a cache


# --- sharing ---------------------------------------------------------------------------------


def tracking_ref(remote: str) -> str:
    return TRACKING.format(remote=remote)


def fetch_refspec(remote: str) -> str:
    return f"+{REF}:{tracking_ref(remote)}"


def merge_commits(repo: Path, ours: str | None, theirs: str | None, *, subject: str
                  ) -> str | None:
    """A journal commit holding both histories (records united by key), or the one that
    already contains the other."""
    if theirs is None or ours == theirs:
        return ours
    if ours is None or git.is_ancestor(repo, ours, theirs):
        return theirs
    if git.is_ancestor(repo, theirs, ours):
        return ours
    mine = {n: d for n, _b, d in parts(repo, ours)}
    other = {n: d for n, _b, d in parts(repo, theirs)}
    entries = dict(_entries(repo, ours))
    for name, data in other.items():
        merged = _union(mine.get(name, b""), data)
        if merged != mine.get(name):
            entries[name] = git.run(repo, "hash-object", "-w", "--stdin", input=merged).strip()
    return _commit(repo, entries, parents=[ours, theirs], subject=subject)


def merge_into(repo: Path, rebuilt: str | None, local: str | None, *, subject: str
               ) -> str | None:
    """The journal after a push replay: the rebuilt one (the remote's plus our records redone
    on it), with our old history as a second parent so nothing of it is unreachable."""
    if rebuilt is None or local is None or git.is_ancestor(repo, local, rebuilt):
        return rebuilt if rebuilt is not None else local
    return git.run(repo, "commit-tree", f"{rebuilt}^{{tree}}", "-p", rebuilt, "-p", local,
                   "-m", subject, env=_identity(repo)).strip()


def _union(ours: bytes, theirs: bytes) -> bytes:
    known = {_key(line) for line in ours.splitlines() if line.strip()}
    extra = [line for line in theirs.splitlines() if line.strip() and _key(line) not in known]
    base = ours if not ours or ours.endswith(b"\n") else ours + b"\n"
    return base + b"".join(line + b"\n" for line in extra)


def _key(line: bytes) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return line.decode("utf-8", "replace")
    return str(record.get("key")) if isinstance(record, dict) else str(record)


def fetch_if_missing(repo: Path, remote: str) -> None:
    """A fresh ``git clone`` has the branch but not the journal ref: fetch it once from the
    remote (when there is one), so that the clone knows every key and counter."""
    if ref_name(repo) != REF or tip(repo, REF) or tip(repo, tracking_ref(remote)):
        return
    marker = git.common_dir(repo) / "agentops" / "journal-fetched"
    if marker.exists():
        return
    if git.remote_url(repo, remote) is not None:
        try:
            git.fetch_refs(repo, remote, [f"+{REF}*:{tracking_ref(remote)}*"])
        except git.GitError:
            pass  # offline: the clone counts from what it has, and merges the rest later
    marker.parent.mkdir(parents=True, exist_ok=True)
    write_note(marker, "1")


def absorb(repo: Path, remote: str) -> bool:
    """Merge a journal that ``git fetch``/``pull`` brought in; True when the local one moved.

    Cheap when nothing came: the tracking ref is read from its file and compared with the one
    merged last time.
    """
    if ref_name(repo) != REF:
        return False
    theirs = tip(repo, tracking_ref(remote))
    if theirs is None:
        return False
    marker = git.common_dir(repo) / "agentops" / "journal-absorbed"
    try:
        if marker.read_text().strip() == theirs:
            return False
    except FileNotFoundError:
        pass
    ours = tip(repo, REF)
    new = merge_commits(repo, ours, theirs, subject=f"agentops: journal from {remote}")
    if new is None or new == ours:
        write_note(marker, theirs)
        return False
    git.run(repo, "update-ref", "-m", "agentops: absorb journal", REF, new,
            ours or "0" * len(new))
    write_note(marker, theirs)
    return True


def set_ref(repo: Path, ref: str, new: str | None, old: str | None) -> None:
    """Point ``ref`` at ``new`` (or delete it), if it still is ``old``."""
    if new is None:
        git.run(repo, "update-ref", "-d", ref, *([old] if old else []), check=False)
    else:
        git.run(repo, "update-ref", ref, new, old or "0" * len(new))


def records_lint(repo: Path) -> list[str]:
    """Problems of the journal on the ref: non-JSON lines, missing fields, repeated keys."""
    commit = tip(repo)
    if not commit:
        return []
    return journal.lint_texts([(f"{REF}:{n}", d) for n, _b, d in parts(repo, commit)],
                              seen=journal.legacy_keys(repo))
