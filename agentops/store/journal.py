"""The journal: every accepted event and operation, append-only JSON lines.

An event record holds ``event``, ``decisions`` and ``outcome``; an operation record (a
lifecycle write, ``stats --write``) holds ``op``, ``args``, ``actor`` and ``outcome``. Both
carry ``key`` (idempotency), ``accepted`` (when) and ``batch`` (the commit they were made in).

One file per month (by the time the event was accepted), split into parts of bounded size
(:func:`journal_path`), keeps each file small enough for git to hash quickly. A record holds
the redacted event and what the pipeline decided, so state can be rebuilt and a retried event
can be answered with its original outcome.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from agentops.errors import LedgerError

JOURNAL_DIR = ".agentops/journal"


PART_BYTES = 256 * 1024  # a journal file past this size is continued in the next part


def journal_path(accepted: datetime, *, repo: Path | None = None) -> str:
    """The repository-relative journal file for events accepted at ``accepted``.

    ``YYYY-MM.jsonl``, continued in ``YYYY-MM_002.jsonl`` and so on once a file holds
    ``PART_BYTES``: git hashes and compresses the whole file on every commit, so a month of
    an alert storm in one file would make every later ``record`` pay for all of it. The names
    sort in journal order. Without ``repo``, the month's first file.
    """
    first = f"{JOURNAL_DIR}/{accepted:%Y-%m}.jsonl"
    if repo is None:
        return first
    parts = sorted((repo / JOURNAL_DIR).glob(f"{accepted:%Y-%m}_*.jsonl"))
    current = f"{JOURNAL_DIR}/{parts[-1].name}" if parts else first
    try:
        full = (repo / current).stat().st_size >= PART_BYTES
    except FileNotFoundError:
        return current
    if not full:
        return current
    number = int(current.rsplit("_", 1)[1].removesuffix(".jsonl")) + 1 if parts else 2
    return f"{JOURNAL_DIR}/{accepted:%Y-%m}_{number:03d}.jsonl"


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


def scan(repo: Path) -> Iterator[tuple[str, int, bytes]]:
    """Every complete journal line with where it starts: (relative path, offset, line), in
    journal order, undecoded (a rebuild reads keys with a regex and decodes only what it
    needs). A torn last line is skipped."""
    folder = repo / JOURNAL_DIR
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.jsonl")):
        yield from _scan_file(f"{JOURNAL_DIR}/{path.name}", path.read_bytes())


def _scan_file(rel: str, data: bytes, start: int = 0) -> Iterator[tuple[str, int, bytes]]:
    pos = start
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:  # unterminated: a complete record only if it decodes
            try:
                json.loads(data[pos:])
            except ValueError:
                return
            nl = len(data)
        if data[pos:nl].strip():
            yield rel, pos, data[pos:nl]
        pos = nl + 1


class Head(NamedTuple):
    """What a rebuild needs of one journal line without decoding it."""

    rel: str
    offset: int
    key: str
    accepted: str
    type: str


# The first fields of a record as the pipeline writes it (json.dumps, compact, in this order):
# an event's id or an operation's name, the key, the acceptance time, the batch (since the
# journal moved to its ref), and an event's type.
_HEAD_RE = re.compile(rb'\{(?:"id":(?:"[^"\\]*"|null)|"op":"[^"\\]*"),"key":"([^"\\]*)",'
                      rb'"accepted":"([^"\\]*)"(?:,"batch":"[^"\\]*")?'
                      rb'(?:,"event":\{"type":"([^"\\]*)")?')


def heads(repo: Path) -> Iterator[Head]:
    """Key, acceptance time and event type of every journal line on the branch (written by
    older versions), in journal order, without decoding them (see :func:`scan_heads`)."""
    folder = repo / JOURNAL_DIR
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.jsonl")):
        for head, _line in scan_heads(f"{JOURNAL_DIR}/{path.name}", path.read_bytes()):
            yield head


def scan_heads(rel: str, data: bytes, start: int = 0) -> Iterator[tuple[Head, bytes]]:
    """Each complete line of one journal file's bytes (from offset ``start``, a line's
    beginning) with its head, read by a regex; a line the regex does not read (a key with
    escapes, a record written by hand) is decoded. An operation's type is "". A torn last
    line is skipped."""
    for _, offset, line in _scan_file(rel, data, start):
        m = _HEAD_RE.match(line)
        if m is not None:
            yield Head(rel, offset, m.group(1).decode(), m.group(2).decode(),
                       (m.group(3) or b"").decode()), line
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise LedgerError(f"{rel}@{offset}: journal line is not JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            continue
        event = record.get("event")
        etype = event.get("type", "") if isinstance(event, dict) else ""
        yield Head(rel, offset, record["key"], str(record.get("accepted", "")), str(etype)), line


def read_many(repo: Path, heads: list[Head]) -> list[dict[str, Any]]:
    """The records of ``heads`` decoded, each file read once."""
    data: dict[str, bytes] = {}
    out = []
    for head in heads:
        if head.rel not in data:
            data[head.rel] = (repo / head.rel).read_bytes()
        text = data[head.rel]
        end = text.find(b"\n", head.offset)
        record = json.loads(text[head.offset:end if end >= 0 else len(text)])
        if not isinstance(record, dict):
            raise LedgerError(f"{head.rel}@{head.offset}: not a journal record")
        out.append(record)
    return out


def read_at(repo: Path, rel: str, offset: int) -> dict[str, Any]:
    """The journal record starting at ``offset`` of ``rel`` (see :func:`scan`)."""
    with (repo / rel).open("rb") as fh:
        fh.seek(offset)
        record = json.loads(fh.readline())
    if not isinstance(record, dict):
        raise LedgerError(f"{rel}@{offset}: not a journal record")
    return record


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
