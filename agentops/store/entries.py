"""Parsed ledger entries for the read-only commands, with a cache under the git directory.

Parsing an entry costs ~180 µs (mostly its YAML block), so ``stats`` over 10,000 incidents
would spend two seconds just reading. Parsed entries are kept in one pickle per kind, keyed by
the hash of each entry's text: after an agent records one event only the entries it touched
are parsed again. Incidents are read from INCIDENTS.md and from the monthly archives that old
resolved incidents are rotated into (:mod:`agentops.ledger.archive`). The cache describes
nothing the files do not say; deleting it is always safe, and a missing, corrupt or foreign
one is just a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from agentops import fsutil
from agentops.errors import RepoError
from agentops.ledger import format as fmt
from agentops.ledger.archive import ARCHIVE_DIR
from agentops.ledger.model import Entry
from agentops.vocabulary import LEDGER_KINDS, Kind

CACHE_VERSION: Final = 4  # 4: the incident impact fields


def incident_files(repo: Path) -> list[Path]:
    """INCIDENTS.md then the archives, newest month first."""
    archives = sorted((repo / ARCHIVE_DIR).glob("*.md"), reverse=True)
    return [repo / LEDGER_KINDS["incident"].file_name, *archives]

def cache_path(gitdir: Path, kind: Kind) -> Path:
    """``<git-common-dir>/agentops/entries-<kind>.pickle``."""
    return gitdir / "agentops" / f"entries-{kind}.pickle"


def read_ledger(repo: Path, kind: Kind) -> str:
    """One ledger file's text; a clear error when ``agentops init`` was never run."""
    path = repo / fmt.FILE_NAMES[kind]
    if not path.exists():
        raise RepoError(f"{path.name}: missing in {repo} (run `agentops init`)")
    return fsutil.read_text(path)


def parse_files(kind: Kind, texts: Sequence[str], *, cache: Path | None = None) -> list[Entry]:
    """Every entry of several files of one kind (INCIDENTS.md and its archives), in order."""
    raws = [r for text in texts for r in fmt.parse_file(kind, text).entries]
    known = _load(cache)
    digests = [hashlib.blake2b(r.text.encode(), digest_size=16).digest() for r in raws]
    out: list[Entry] = []
    misses = 0
    for raw, digest in zip(raws, digests, strict=True):
        entry = known.get(digest)
        if entry is None:
            entry, misses = raw.parse(), misses + 1
            known[digest] = entry
        out.append(entry)
    if cache is not None and (misses or len(known) != len(set(digests))):
        _save(cache, {d: known[d] for d in digests})
    return out


def archive_texts(repo: Path) -> list[str]:
    """The monthly incident archives (``incidents/YYYY-MM.md``), newest month first."""
    return [fsutil.read_text(p) for p in incident_files(repo)[1:]]


def load_entries(repo: Path, kind: Kind, *, gitdir: Path | None) -> list[Entry]:
    """Every entry of one kind in ``repo`` (incidents: archives too), cached under ``gitdir``."""
    cache = cache_path(gitdir, kind) if gitdir is not None else None
    texts = [read_ledger(repo, kind)]
    if kind == "incident":
        texts += archive_texts(repo)
    return parse_files(kind, texts, cache=cache)


def _load(path: Path | None) -> dict[bytes, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            version, entries = pickle.load(fh)
    except Exception:
        return {}
    return entries if version == CACHE_VERSION and isinstance(entries, dict) else {}


def _save(path: Path, entries: dict[bytes, Any]) -> None:
    # Entries are NamedTuples: pickle stores them as their class and values, loading fast.
    data = pickle.dumps((CACHE_VERSION, entries), protocol=pickle.HIGHEST_PROTOCOL)
    with contextlib.suppress(OSError):  # a read-only git dir only costs speed
        fsutil.atomic_write(path, data)

