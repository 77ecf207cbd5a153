"""The durable spool between "202 Accepted" and the commit: one fsynced file per request.

``serve`` may only answer 202 once a crash can no longer lose the event (DESIGN.md, principle
1), but a git commit per request would be far too slow. So the request path writes the parsed
events to ``<git-common-dir>/agentops/spool/`` (write a dot-file, fsync, rename, fsync the
directory) and returns; the committer drains the spool in group commits and deletes the files
only after the commit. A crash in between leaves the files, and the next start drains them;
replaying an already committed file is harmless because the pipeline drops events whose
idempotency key it has seen.

Names are ``<time_ns>-<counter>.json``, so sorting them gives arrival order. Parsed events are
stored (not the raw body) so that a replay cannot derive different keys or times. A file that
cannot be read back is moved to ``failed/`` with the reason, never deleted.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentops import git
from agentops.errors import AgentopsError, InvalidEventError
from agentops.events import Event, event_from_dict
from agentops.paths import DEAD_LETTER, SPOOL_SUBDIR

FORMAT = 1
SUFFIX = ".json"


class SpoolCorrupt(Exception):
    """A spool file that cannot be read back as events."""


@dataclass(frozen=True)
class Spooled:
    """One accepted request, as read back from the spool."""

    name: str
    source: str
    received: float  # epoch seconds
    events: tuple[Event, ...]


def spool_dir(repo: Path) -> Path:
    return git.common_dir(repo) / SPOOL_SUBDIR


class Spool:
    """A directory of pending requests; :meth:`put` is safe from many threads at once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.failed = directory / DEAD_LETTER
        _make_dir(self.failed)
        self._dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        self._counter = itertools.count()
        self._lock_fd: int | None = None

    def close(self) -> None:
        os.close(self._dir_fd)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def lock(self) -> None:
        """Claim the spool for this process: two committers on one spool would race."""
        path = self.directory / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "unknown"
            os.close(fd)
            raise AgentopsError(
                f"another `agentops serve` (pid {holder}) is using this repository's spool: "
                f"{self.directory}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def put(self, source: str, events: Sequence[Event], *, received: float) -> str:
        """Write one request durably; returns its name once it survives a crash."""
        name = f"{time.time_ns():020d}-{next(self._counter):09d}"
        data = json.dumps(
            {"v": FORMAT, "source": source, "received": received,
             "events": [event.to_dict() for event in events]},
            separators=(",", ":"), ensure_ascii=False,
        ).encode("utf-8")
        tmp, final = f".{name}.tmp", name + SUFFIX
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=self._dir_fd)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        os.fsync(self._dir_fd)
        return name

    def pending(self, limit: int | None = None) -> list[str]:
        """Names waiting to be committed, oldest first."""
        names = sorted(n[: -len(SUFFIX)] for n in os.listdir(self.directory)
                       if n.endswith(SUFFIX) and not n.startswith("."))
        return names if limit is None else names[:limit]

    def depth(self) -> int:
        return len(self.pending())

    def load(self, name: str) -> Spooled:
        try:
            doc = json.loads((self.directory / (name + SUFFIX)).read_bytes())
            return _spooled(name, doc)
        except (OSError, ValueError, KeyError, TypeError, InvalidEventError) as exc:
            raise SpoolCorrupt(f"{name}: {type(exc).__name__}: {exc}") from None

    def remove(self, names: Iterable[str]) -> None:
        """Forget committed requests (one directory fsync for the whole group)."""
        for name in names:
            (self.directory / (name + SUFFIX)).unlink(missing_ok=True)
        os.fsync(self._dir_fd)

    def quarantine(self, name: str, reason: str) -> Path:
        """Move a request the pipeline can never take to ``failed/``, with the reason beside it."""
        target = self.failed / (name + SUFFIX)
        (self.failed / (name + ".error")).write_text(reason + "\n", encoding="utf-8")
        os.replace(self.directory / (name + SUFFIX), target)
        os.fsync(self._dir_fd)
        return target

    def failed_count(self) -> int:
        return sum(1 for n in os.listdir(self.failed) if n.endswith(SUFFIX))


def _spooled(name: str, doc: Any) -> Spooled:
    if doc.get("v") != FORMAT:
        raise ValueError(f"unknown spool format {doc.get('v')!r}")
    events = tuple(event_from_dict(item) for item in doc["events"])
    return Spooled(name, str(doc["source"]), float(doc["received"]), events)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _make_dir(directory: Path) -> None:
    """Create the spool directories, fsyncing parents so they survive a crash."""
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
