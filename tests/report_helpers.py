"""Building ledgers with exact times for the stats, check and recall tests.

Entries are rendered with the ledger's own functions, inserted at their place and committed
with git, as a person editing the files would; the commands then run through
``cli_helpers.run_cli``.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli_helpers import run_cli

from agentops.ledger import format as fmt
from agentops.ledger.model import (
    Incident,
    MemoryEntry,
    Signature,
    TroubleshootingEntry,
    template_sections,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_UIDS = iter(range(1, 1_000_000))


def agentops_json(repo: Path, *args: str, code: int = 0) -> Any:
    out = run_cli([*args, "--format", "json"], repo=repo)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def init(repo: Path) -> Path:
    out = run_cli(["init"], repo=repo)
    assert out.returncode == 0, out.stderr
    return repo


def uid() -> str:
    return f"TEST{next(_UIDS):022d}"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def incident(n: int, detected: datetime, **fields: Any) -> Incident:
    """INC-<day of detection>-<n>, Investigating unless resolved is given."""
    if fields.get("resolved") is not None:
        fields.setdefault("status", "Resolved")
    return Incident(id=f"INC-{detected.date().isoformat()}-{n:03d}", uid=uid(),
                    title=fields.pop("title", f"Incident {n}"), detected=detected, **fields)


def documented(**extra: str) -> Any:
    """Sections of an incident whose prose is all written."""
    return template_sections(
        "incident", Description="The api returned 503.", Impact="Checkout down for 20 minutes.",
        Root_Cause="A bad image tag.", Resolution="Rolled back to revision 41.", **extra)


def troubleshooting(n: int, title: str, *, event_type: str = "k8s.warning",
                    reason: str | None = None, pattern: str | None = None,
                    incidents: tuple[str, ...] = (), **sections: str) -> TroubleshootingEntry:
    return TroubleshootingEntry(
        id=f"TS-{n:04d}", uid=uid(), title=title, category="DEPLOYMENT_FAILURE",
        signature=Signature(event_type, reason, pattern), first_seen=T0, last_seen=T0,
        incidents=incidents, sections=template_sections("troubleshooting", **sections))


def memory(n: int, title: str, *, status: str = "active", lesson: str = "",
           evidence: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> MemoryEntry:
    return MemoryEntry(
        id=f"MEM-{n:04d}", uid=uid(), title=title, status=status, first_seen=T0,
        last_validated=T0, evidence=evidence, tags=tags,
        sections=template_sections("memory", Lesson=lesson or title))


def add(repo: Path, *entries: Incident | TroubleshootingEntry | MemoryEntry,
        message: str = "add entries") -> None:
    """Insert the entries in their files (keeping the derived header lines right) and commit."""
    for entry in entries:
        kind = "incident" if isinstance(entry, Incident) else (
            "troubleshooting" if isinstance(entry, TroubleshootingEntry) else "memory")
        path = repo / fmt.FILE_NAMES[kind]
        path.write_text(fmt.insert_entry(kind, path.read_text(), fmt.render_entry(entry)))
    _refresh_headers(repo)
    git(repo, "commit", "-q", "-a", "-m", message)


def _refresh_headers(repo: Path) -> None:
    inc_path, mem_path = repo / "INCIDENTS.md", repo / "MEMORY.md"
    incidents = fmt.parse_file("incident", inc_path.read_text()).parsed()
    if incidents:
        newest = incidents[0]
        assert isinstance(newest, Incident)
        inc_path.write_text(fmt.set_last_incident(inc_path.read_text(), newest.id,
                                                  newest.detected))
    memories = [m for m in fmt.parse_file("memory", mem_path.read_text()).parsed()
                if isinstance(m, MemoryEntry)]
    mem_path.write_text(fmt.set_memory_index(mem_path.read_text(), memories))


def edit_incident(repo: Path, inc_id: str, **fields: Any) -> None:
    """Change metadata of one incident with ``update_fields`` and commit."""
    path = repo / "INCIDENTS.md"
    text = path.read_text()
    span = fmt.find_entry("incident", text, inc_id)
    assert span is not None
    entry = fmt.update_fields(text[span[0]:span[1]], **fields)
    path.write_text(fmt.replace_entry("incident", text, inc_id, entry))
    git(repo, "commit", "-q", "-a", "-m", f"edit {inc_id}")


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_archived(repo: Path, inc: Incident) -> None:
    """Put a resolved incident in its monthly archive, as rotation does, and commit."""
    from agentops.ledger import archive

    name = archive.archive_name(inc.id)
    path = repo / name
    path.parent.mkdir(exist_ok=True)
    text = path.read_text() if path.exists() else fmt.render_empty_file("incident")
    text = fmt.insert_entry("incident", text, fmt.render_incident(inc))
    path.write_text(fmt.set_last_incident(text, inc.id, inc.detected))
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"archive {inc.id}")
