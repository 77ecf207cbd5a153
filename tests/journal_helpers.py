"""Reading what a repository journaled, as a user would with git: the journal ref's files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

JOURNAL_REF = "refs/agentops/journal"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def journal_records(repo: Path, ref: str = JOURNAL_REF) -> list[dict[str, Any]]:
    """Every record on the journal ref (``git show REF:DAY.jsonl``), oldest day first."""
    listing = _git(repo, "ls-tree", "--name-only", ref)
    if listing.returncode != 0:
        return []
    records = []
    for name in sorted(listing.stdout.split()):
        text = _git(repo, "show", f"{ref}:{name}").stdout
        records += [json.loads(line) for line in text.splitlines() if line.strip()]
    return records


def journal_keys(repo: Path, ref: str = JOURNAL_REF) -> list[str]:
    return [str(r["key"]) for r in journal_records(repo, ref)]
