"""``agentops check``: the post-incident requirements and SLAs, for CI and pre-commit.

Reads the incidents and the policy's ``sla`` and ``requirements``, and lists what is overdue
(:mod:`agentops.report.check`); the command exits 1 when anything is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentops.commands.stats import incidents_of, load_sla, parse_when
from agentops.errors import AgentopsError
from agentops.events import format_time
from agentops.paths import DEAD_LETTER, SPOOL_SUBDIR, find_repo
from agentops.report import check as report
from agentops.report.postmortem import Postmortem
from agentops.store import entries


def check(*, repo: Path | None, now: str | None = None) -> dict[str, Any]:
    """{"ok", "now", "findings": [Finding...]}."""
    root = find_repo(repo)
    when = parse_when(now, where="--now") or datetime.now(UTC)
    incidents = incidents_of(entries.read_ledger(root, "incident"), root)
    findings = report.check(incidents, sla=load_sla(root), now=when,
                            postmortems=postmortems_of(root))
    from agentops.commands.notify import parked_findings

    findings += parked_findings(root)
    findings += dead_letters(root)
    return {"ok": not findings, "now": when, "findings": findings}


def postmortems_of(root: Path) -> dict[str, Postmortem]:
    """The post-mortems under postmortems/, by incident id (a broken one is an error)."""
    from agentops import fsutil
    from agentops.report.postmortem import DIRECTORY, parse

    out = {}
    for path in sorted((root / DIRECTORY).glob("INC-*.md")):
        doc = parse(fsutil.read_text(path), where=f"{DIRECTORY}/{path.name}")
        out[doc.meta.incident] = doc
    return out


def dead_letters(root: Path) -> list[report.Finding]:
    """Requests ``serve`` accepted but the pipeline kept refusing: nothing is lost, but a person
    must look (fix the cause, then move the file back into the spool to retry it)."""
    from agentops import git

    try:
        folder = git.common_dir(root) / SPOOL_SUBDIR / DEAD_LETTER
        names = sorted(p for p in folder.iterdir() if p.suffix == ".json")
    except (OSError, AgentopsError):
        return []
    out = []
    for path in names:
        try:
            reason = path.with_suffix(".error").read_text(encoding="utf-8").strip()
        except OSError:
            reason = "no reason recorded"
        first = reason.splitlines()[0] if reason else "no reason recorded"
        out.append(report.Finding(
            incident=path.name, requirement="dead_letter",
            message=f"`serve` could not commit this request ({first}); fix the cause, then "
                    f"move {path} back to {folder.parent}/ to retry it", deadline=None))
    return out


def as_json(result: dict[str, Any]) -> dict[str, Any]:
    return {"ok": result["ok"], "now": format_time(result["now"]),
            "findings": [f.to_json() for f in result["findings"]]}


def as_text(result: dict[str, Any]) -> str:
    return report.to_text(result["findings"])
