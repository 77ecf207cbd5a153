"""``agentops init``: scaffold a repository (idempotent, one commit)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from agentops import git
from agentops.config import CONFIG_PATH, DEFAULT_CONFIG
from agentops.fsutil import atomic_write
from agentops.ledger import format as fmt
from agentops.ledger.archive import ARCHIVE_DIR
from agentops.paths import RULES_DIR, default_rules
from agentops.store.writer import FILES


def init(repo: Path) -> dict[str, Any]:
    """Create what is missing; commit it. Running it again changes nothing (but registers the
    merge driver in a fresh clone, whose .git/config is its own)."""
    from agentops.commands.merge import register

    root = git.find_root(repo)
    with git.locked(root):
        made = _rules(root) + _ledgers(root) + _config(root) + _attributes(root)
        created = list(dict.fromkeys(made + register(root)))  # .gitattributes: both add lines
        _fetch_journal(root)
        sha = None
        if created:
            sha = git.commit(root, paths=created, subject="agentops: init",
                             body="Scaffold the escalation policy and the incident memory.")
    return {"repo": str(root), "created": created, "commit": sha}


def _rules(root: Path) -> list[str]:
    created = []
    source = default_rules()
    for path in sorted(source.rglob("*.yaml")):
        rel = path.relative_to(source)
        target = root / RULES_DIR / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            created.append(f"{RULES_DIR}/{rel.as_posix()}")
    return created


def _ledgers(root: Path) -> list[str]:
    created = []
    for kind, name in FILES.items():
        if not (root / name).exists():
            atomic_write(root / name, fmt.render_empty_file(kind))  # type: ignore[arg-type]
            created.append(name)
    return created


def _config(root: Path) -> list[str]:
    if (root / CONFIG_PATH).exists():
        return []
    atomic_write(root / CONFIG_PATH, DEFAULT_CONFIG)
    return [CONFIG_PATH]


def _fetch_journal(root: Path) -> None:
    """Make ``git fetch``/``pull`` bring the remote's journal (refs/agentops/journal) too, so
    that thresholds count what other clones recorded. Only when the remote exists."""
    from agentops.config import load_config
    from agentops.store import oplog

    remote = load_config(root).remote
    if git.remote_url(root, remote) is None:
        return
    key = f"remote.{remote}.fetch"
    current = git.run(root, "config", "--local", "--get-all", key, check=False).split("\n")
    if oplog.fetch_refspec(remote) not in current:
        git.run(root, "config", "--local", "--add", key, oplog.fetch_refspec(remote))
ATTRIBUTES_MARK = "# agentops: LF line endings for the ledger, whatever core.autocrlf says"


def _attributes(root: Path) -> list[str]:
    """Pin ``eol=lf`` for everything agentops parses: a ``core.autocrlf=true`` clone would
    otherwise check the ledger out with CRLF, and every later write would fail on it."""
    path = root / ".gitattributes"
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    if ATTRIBUTES_MARK in current:
        return []
    patterns = [*FILES.values(), f"{ARCHIVE_DIR}/*.md", ".agentops/**", f"{RULES_DIR}/**"]
    block = "\n".join([ATTRIBUTES_MARK, *(f"{p} text eol=lf" for p in patterns)]) + "\n"
    prefix = current + ("\n" if current and not current.endswith("\n") else "")
    atomic_write(path, prefix + ("\n" if current else "") + block)
    return [".gitattributes"]


def init_text(result: dict[str, Any]) -> str:
    if not result["created"]:
        return f"{result['repo']}: already initialised, nothing to do"
    lines = [f"initialised {result['repo']} ({str(result['commit'])[:12]}):"]
    lines += [f"  + {path}" for path in result["created"]]
    return "\n".join(lines)
