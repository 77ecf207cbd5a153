"""``agentops lint``: every ledger file, the journal and the policy, checked for integrity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentops.errors import InvalidRulesError, LedgerError
from agentops.ledger import format as fmt
from agentops.paths import RULES_DIR, find_repo
from agentops.store import oplog
from agentops.store.entries import incident_files
from agentops.store.journal import lint_journal
from agentops.store.writer import FILES


def lint(*, repo: Path | None) -> dict[str, Any]:
    root = find_repo(repo)
    problems: list[str] = []
    for kind, name in FILES.items():
        path = root / name
        if not path.exists():
            problems.append(f"{name}: missing (run `agentops init`)")
            continue
        try:
            found = fmt.lint(kind, path.read_text(encoding="utf-8"))  # type: ignore[arg-type]
        except LedgerError as exc:
            found = [str(exc)]
        problems += [p if p.startswith(name) else f"{name}: {p}" for p in found]
    for path in incident_files(root)[1:]:
        rel = path.relative_to(root).as_posix()
        found = fmt.lint("incident", path.read_text(encoding="utf-8"))
        problems += [p.replace("INCIDENTS.md", rel, 1) if p.startswith("INCIDENTS.md")
                     else f"{rel}: {p}" for p in found]
    problems += lint_journal(root) + oplog.records_lint(root)
    if (root / RULES_DIR).is_dir():
        from agentops.policy.loader import load_policy

        try:
            load_policy([root / RULES_DIR], base=root)
        except InvalidRulesError as exc:
            problems += str(exc).splitlines()
    return {"repo": str(root), "ok": not problems, "problems": problems}


def lint_text(result: dict[str, Any]) -> str:
    if result["ok"]:
        return "ok: ledger, journal and rules are consistent"
    return "\n".join(result["problems"]) + f"\n{len(result['problems'])} problem(s)"
