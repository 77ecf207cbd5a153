"""The journal: every accepted event and operation, append-only JSON lines.

An event record holds ``event``, ``decisions`` and ``outcome``; an operation record (a
lifecycle write, ``stats --write``) holds ``op``, ``args``, ``actor`` and ``outcome``. Both
carry ``key`` (idempotency), ``accepted`` (when) and ``batch`` (the commit they were made in).

One file per month (by the time the event was accepted) keeps each file small enough for git
to hash quickly. A record holds the redacted event and what the pipeline decided, so state can
be rebuilt and a retried event can be answered with its original outcome.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from agentops.errors import LedgerError

JOURNAL_DIR = ".agentops/journal"


def journal_path(accepted: datetime) -> str:
    """The repository-relative journal file for events accepted at ``accepted``."""
    return f"{JOURNAL_DIR}/{accepted:%Y-%m}.jsonl"


def encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False)
            + "\n").encode("utf-8")


def read_all(repo: Path) -> Iterator[dict[str, Any]]:
    """Every journal record, oldest file first; a torn last line (a crash) is skipped."""
    folder = repo / JOURNAL_DIR
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.jsonl")):
        yield from _read(path)


def read_containing(repo: Path, needle: bytes) -> Iterator[dict[str, Any]]:
    """The records whose line contains ``needle`` (one event type, say): the other lines are
    not decoded, which keeps a scan for a few records cheap in a long journal."""
    folder = repo / JOURNAL_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*.jsonl")):
            yield from _read(path, needle)


def _read(path: Path, needle: bytes = b"") -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        data = fh.read()
    yield from parse_lines(data, where=str(path), needle=needle)


def parse_lines(data: bytes, *, where: str, needle: bytes = b"") -> Iterator[dict[str, Any]]:
    """The records of one journal file's bytes (only lines containing ``needle``); a torn
    last line (a crash) is skipped."""
    lines = data.split(b"\n")
    for n, line in enumerate(lines, start=1):
        if not line.strip() or needle not in line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):  # an unterminated last line: a write cut short
                return
            raise LedgerError(f"{where}:{n}: journal line is not JSON") from None
        if isinstance(record, dict):
            yield record


def legacy_keys(repo: Path) -> dict[str, str]:
    """Keys of the journal files on the branch (written by older versions): key -> where."""
    found: dict[str, str] = {}
    folder = repo / JOURNAL_DIR
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for n, record in enumerate(_read(path), start=1):
            if isinstance(record.get("key"), str):
                found.setdefault(record["key"], f"{JOURNAL_DIR}/{path.name}:{n}")
    return found


def lint_journal(repo: Path) -> list[str]:
    """Problems in the journal files on the branch: non-JSON lines, missing fields, duplicate
    keys."""
    folder = repo / JOURNAL_DIR
    return lint_texts([(f"{JOURNAL_DIR}/{path.name}", path.read_bytes())
                       for path in (sorted(folder.glob("*.jsonl")) if folder.is_dir() else [])])


def lint_texts(files: list[tuple[str, bytes]], *, seen: dict[str, str] | None = None
               ) -> list[str]:
    """Problems in journal files given as (name, bytes); ``seen``: keys already found."""
    problems: list[str] = []
    seen = dict(seen or {})
    for rel, data in files:
        if data and not data.endswith(b"\n"):
            problems.append(f"{rel}: last line is not terminated (a torn write)")
        for n, line in enumerate(data.splitlines(), start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{rel}:{n}: not JSON")
                continue
            key = record.get("key") if isinstance(record, dict) else None
            if not isinstance(key, str) or ("event" not in record and "op" not in record):
                problems.append(f"{rel}:{n}: a record needs 'key' and 'event' or 'op'")
            elif key in seen:
                problems.append(f"{rel}:{n}: key {key!r} already journaled at {seen[key]}")
            else:
                seen[key] = f"{rel}:{n}"
    return problems
