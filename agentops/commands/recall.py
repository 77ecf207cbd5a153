"""``agentops recall``: what the ledger knows about an error, a reason or a resource.

Keeps the FTS5 index of :mod:`agentops.report.recall` under the git directory current: it is
rebuilt when HEAD moves or a ledger file (or an incident archive) changes on disk (size or
mtime), which costs one read of HEAD, a directory listing and a few ``stat`` calls per query.

With ``semantic`` (``--semantic``, or ``AGENTOPS_RECALL_SEMANTIC=1`` for callers that cannot
pass a flag, such as an MCP client) the lexical candidates are re-ranked by meaning
(:mod:`agentops.report.semantic`, the ``semantic`` extra); that module and its model are
imported only then, so the default path loads nothing more.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentops import git
from agentops.ledger import format as fmt
from agentops.ledger.incidents import as_opened
from agentops.ledger.model import Incident, MemoryEntry, TroubleshootingEntry
from agentops.paths import find_repo
from agentops.report import recall as report
from agentops.store import entries
from agentops.store.entries import incident_files

SEMANTIC_ENV = "AGENTOPS_RECALL_SEMANTIC"


def semantic_default() -> bool:
    """Whether recall re-ranks by meaning when the caller does not say: AGENTOPS_RECALL_SEMANTIC
    set to 1, true, yes or on."""
    return os.environ.get(SEMANTIC_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def index_path(root: Path) -> Path:
    return git.common_dir(root) / "agentops" / "recall.sqlite"


def stamp(root: Path) -> str:
    """What the index must have been built from: schema, HEAD, and each file's size and mtime."""
    parts = [report.SCHEMA, git.read_head(root) or "unborn"]
    paths = [root / name for name in fmt.FILE_NAMES.values()] + incident_files(root)[1:]
    for path in paths:
        try:
            st = path.stat()
            parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
        except FileNotFoundError:
            parts.append("-")
    return " ".join(parts)


def ensure_index(root: Path) -> tuple[Path, bool]:
    """The index path, and whether it had to be (re)built."""
    path, current = index_path(root), stamp(root)
    if report.stored_stamp(path) == current:
        return path, False
    gitdir = git.common_dir(root)
    loaded = {k: entries.load_entries(root, k, gitdir=gitdir)  # type: ignore[arg-type]
              for k in fmt.FILE_NAMES if k != "incident"}
    # An incident nobody has written in is found through its problem's TROUBLESHOOTING entry,
    # which lists it: ten thousand of them from an alert storm are not parsed nor indexed.
    loaded["incident"] = entries.select_incidents(
        root, lambda text: not as_opened(text), gitdir=gitdir)
    docs = report.documents(
        incidents=[e for e in loaded["incident"] if isinstance(e, Incident)],
        troubleshooting=[e for e in loaded["troubleshooting"]
                         if isinstance(e, TroubleshootingEntry)],
        memories=[e for e in loaded["memory"] if isinstance(e, MemoryEntry)])
    try:
        report.build(path, docs, stamp=current)
    except (OSError, sqlite3.OperationalError):
        # a read-only checkout: build a throw-away index instead (recall is a read command)
        scratch = Path(tempfile.mkdtemp(prefix="agentops-recall-")) / "recall.sqlite"
        report.build(scratch, docs, stamp=current)
        return scratch, True
    return path, True


def recall(query: str, *, repo: Path | None, limit: int = 10, include_all: bool = False,
           semantic: bool | None = None,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """{"query", "rebuilt", "hits": [Hit...]}; ``semantic`` None means
    :func:`semantic_default`; ``progress`` hears of its slow first steps."""
    root = find_repo(repo)
    path, rebuilt = ensure_index(root)
    try:
        if semantic_default() if semantic is None else semantic:
            from agentops.report import semantic as rerank

            hits = rerank.search(path, query, limit=limit, include_all=include_all,
                                 cache=rerank.cache_path(path), progress=progress)
        else:
            hits = report.search(path, query, limit=limit, include_all=include_all)
    finally:
        if path.parent.name.startswith("agentops-recall-"):
            shutil.rmtree(path.parent, ignore_errors=True)
    return {"query": query, "rebuilt": rebuilt, "hits": hits}


def as_json(result: dict[str, Any]) -> dict[str, Any]:
    return {"query": result["query"], "hits": [h.to_json() for h in result["hits"]]}


def as_text(result: dict[str, Any]) -> str:
    return report.to_text(result["hits"])
