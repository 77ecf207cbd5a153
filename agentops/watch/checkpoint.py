"""The last resourceVersion per stream, persisted after each committed batch.

Stored in ``<git-common-dir>/agentops/watch-state.json`` (a cache next to the repository, never
committed): per stream the resourceVersion the last *committed* batch reached, plus the memo
objects a restart needs (see :mod:`agentops.watch.resources`). Written atomically only after
the batch's commit, so a crash replays at most one batch, and the idempotency keys of its
events make that replay write nothing. The state belongs to one cluster (API server URL); a
file written for another cluster is ignored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from agentops import git
from agentops.fsutil import atomic_write, read_text
from agentops.watch.cycle import RawObject
from agentops.watch.resources import Memo

VERSION = 1
log = logging.getLogger("agentops.watch")


@dataclass
class StreamState:
    rv: str | None = None
    objects: dict[str, RawObject] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """Per-stream state of one cluster; :meth:`advance` in memory, :meth:`save` to disk."""

    path: Path
    cluster: str
    streams: dict[str, StreamState] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def for_repo(cls, repo: Path, *, cluster: str) -> Checkpoint:
        return cls.load(git.common_dir(repo) / "agentops" / "watch-state.json", cluster=cluster)

    @classmethod
    def load(cls, path: Path, *, cluster: str) -> Checkpoint:
        text = read_text(path)
        data: dict[str, Any] = json.loads(text) if text.strip() else {}
        if data and (data.get("version") != VERSION or data.get("cluster") != cluster):
            log.warning("%s was written for %s; starting afresh", path, data.get("cluster"))
            data = {}
        streams = {key: StreamState(value.get("rv"), dict(value.get("objects") or {}))
                   for key, value in (data.get("streams") or {}).items()}
        return cls(path, cluster, streams)

    def state(self, stream: str) -> StreamState:
        return self.streams.get(stream) or StreamState()

    def advance(self, stream: str, rv: str, memo: Memo) -> None:
        state = self.streams.setdefault(stream, StreamState())
        if rv != state.rv or memo:
            self.dirty = True
        state.rv = rv
        for uid, obj in memo:
            if obj is None:
                state.objects.pop(uid, None)
            else:
                state.objects[uid] = obj

    def save(self) -> None:
        if not self.dirty:
            return
        data = {"version": VERSION, "cluster": self.cluster, "streams": {
            key: {"rv": state.rv, "objects": cast(dict[str, Any], state.objects)}
            for key, state in sorted(self.streams.items())}}
        atomic_write(self.path, json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
        self.dirty = False
