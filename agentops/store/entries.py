"""Parsed ledger entries for the read-only commands, with a cache under the git directory.

Parsing an entry costs ~180 µs (mostly its YAML block), so ``stats`` over 10,000 incidents
would spend two seconds just reading. Parsed entries are kept in one pickle per kind, keyed by
the hash of each entry's text: after an agent records one event only the entries it touched
are parsed again. Incidents are read from INCIDENTS.md and from the archive files its oldest
entries move to (:mod:`agentops.ledger.archive`), all through :func:`incident_files`. The
cache describes nothing the files do not say; deleting it is always safe, and a missing,
corrupt or foreign one is just a miss.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from agentops import fsutil
from agentops.errors import RepoError
from agentops.ledger import format as fmt
from agentops.ledger.archive import ARCHIVE_DIR, archive_name, legacy_name, name_order
from agentops.ledger.files import find_line
from agentops.ledger.incidents import IncidentLine
from agentops.ledger.markdown import begin_prefix
from agentops.ledger.model import INCIDENT_ID_RE, Entry, Incident
from agentops.vocabulary import LEDGER_KINDS, Kind

CACHE_VERSION: Final = 4  # 4: the incident impact fields


def incident_files(repo: Path) -> list[Path]:
    """INCIDENTS.md then the archive files, newest first: every file holding incidents.

    ``lint``, ``stats``, ``check``, ``recall`` and ``incident list`` read incidents through this
    one list (see :mod:`agentops.ledger.archive` for the layout).
    """
    archives = sorted((repo / ARCHIVE_DIR).glob("*.md"), key=lambda p: name_order(p.name),
                      reverse=True)
    return [repo / LEDGER_KINDS["incident"].file_name, *archives]


def locate_incident(repo: Path, inc_id: str, *,
                    read: Callable[[str], str] | None = None) -> str | None:
    """The repository-relative file holding an incident, or None: INCIDENTS.md, else the
    archive file its id names, else the monthly archive of earlier versions. O(1) files."""
    if not INCIDENT_ID_RE.match(inc_id):
        return None
    read = read or (lambda rel: fsutil.read_text(repo / rel))
    main = LEDGER_KINDS["incident"].file_name
    for rel in (main, archive_name(inc_id), legacy_name(inc_id)):
        if rel != main and not (repo / rel).exists():
            continue
        if find_line(read(rel), begin_prefix("incident", inc_id)) >= 0:
            return rel
    return None

def cache_path(gitdir: Path, kind: Kind) -> Path:
    """``<git-common-dir>/agentops/entries-<kind>.pickle``."""
    return gitdir / "agentops" / f"entries-{kind}.pickle"


def read_ledger(repo: Path, kind: Kind) -> str:
    """One ledger file's text; a clear error when ``agentops init`` was never run."""
    path = repo / fmt.FILE_NAMES[kind]
    if not path.exists():
        raise RepoError(f"{path.name}: missing in {repo} (run `agentops init`)")
    return fsutil.read_text(path)


def parse_files(kind: Kind, texts: Sequence[str], *, cache: Path | None = None,
                heads: bool = False) -> list[Entry]:
    """Every entry of several files of one kind (INCIDENTS.md and its archives), in order.

    ``heads`` (incidents): when nothing is cached, read each entry up to its metadata only
    (as :func:`select_incidents` does), for figures that need no prose."""
    raws = [r for text in texts for r in fmt.parse_file(kind, text).entries]
    known = _load(cache)
    if heads and kind == "incident" and not known:
        return [fmt.parse_incident_head(r.text) for r in raws]
    digests = [_blake2b(r.text.encode(), digest_size=16).digest() for r in raws]
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


def select_incidents(repo: Path, keep: Callable[[str], bool], *,
                     gitdir: Path | None) -> list[Entry]:
    """The incidents of every incident file whose entry text ``keep`` accepts, newest file
    first.

    ``keep`` looks at the text before anything is parsed (:func:`status_line`), so listing the
    few open incidents of a ledger of ten thousand resolved ones parses only those few.
    """
    raws = _kept(repo, keep)
    cache = cache_path(gitdir, "incident") if gitdir is not None else None
    known = _load(cache)
    out: list[Entry] = []
    misses = 0
    for raw in raws:
        digest = _blake2b(raw.text.encode(), digest_size=16).digest()
        entry = known.get(digest)
        if entry is None:
            entry, misses = raw.parse(), misses + 1
            known[digest] = entry
        out.append(entry)
    if cache is not None and misses:
        _save(cache, known)  # a subset: the others stay cached for stats and recall
    return out


def incident_lines(repo: Path, keep: Callable[[str], bool], *,
                   gitdir: Path | None) -> list[IncidentLine]:
    """Like :func:`select_incidents`, what a list shows of each incident (no prose): from
    the cache when it holds the entry, else decoding only those fields, caching nothing (a
    fresh clone's ``incident list`` of ten thousand open incidents)."""
    raws = _kept(repo, keep)
    known = _load(cache_path(gitdir, "incident") if gitdir is not None else None)
    if not known:
        return [fmt.parse_incident_line(raw.text) for raw in raws]
    out = []
    for raw in raws:
        entry = known.get(_blake2b(raw.text.encode(), digest_size=16).digest())
        out.append(IncidentLine.of(entry) if isinstance(entry, Incident)
                   else fmt.parse_incident_line(raw.text))
    return out


def _kept(repo: Path, keep: Callable[[str], bool]) -> list[fmt.RawEntry]:
    return [r for path in incident_files(repo)
            for r in fmt.parse_file("incident", fsutil.read_text(path)).entries
            if keep(r.text)]


def status_line(text: str) -> str | None:
    """The value of an entry's first ``status:`` line if it is one plain word (else None)."""
    at = text.find("\nstatus: ")
    if at < 0:
        return None
    end = text.find("\n", at + 9)
    value = text[at + 9:end if end >= 0 else len(text)]
    return value if value and " " not in value else None


def archive_texts(repo: Path) -> list[str]:
    """The incident archive files (``incidents/...``), newest first."""
    return [fsutil.read_text(p) for p in incident_files(repo)[1:]]


def load_entries(repo: Path, kind: Kind, *, gitdir: Path | None) -> list[Entry]:
    """Every entry of one kind in ``repo`` (incidents: archives too), cached under ``gitdir``."""
    cache = cache_path(gitdir, kind) if gitdir is not None else None
    texts = [read_ledger(repo, kind)]
    if kind == "incident":
        texts += archive_texts(repo)
    return parse_files(kind, texts, cache=cache)


def _blake2b(data: bytes, *, digest_size: int) -> Any:
    import hashlib  # OpenSSL's start-up (3 ms) only for the commands that read entries

    return hashlib.blake2b(data, digest_size=digest_size)


def _load(path: Path | None) -> dict[bytes, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            import pickle  # the read commands' cache, not the record path's

            version, entries = pickle.load(fh)
    except Exception:
        return {}
    return entries if version == CACHE_VERSION and isinstance(entries, dict) else {}


def _save(path: Path, entries: dict[bytes, Any]) -> None:
    # Entries are NamedTuples: pickle stores them as their class and values, loading fast.
    import pickle

    data = pickle.dumps((CACHE_VERSION, entries), protocol=pickle.HIGHEST_PROTOCOL)
    with contextlib.suppress(OSError):  # a read-only git dir only costs speed
        fsutil.atomic_write(path, data)

