"""``agentops report --out DIR``: the static status and transparency site, written to DIR.

Reads what ``stats`` reads (INCIDENTS.md and its archives, the journal's availability
samples, the policy) plus TROUBLESHOOTING.md for recurring problems and ``postmortems/``;
the pages are laid out by :mod:`agentops.report.site`. DIR is an output, not part of the
ledger: nothing is committed. Pages are replaced atomically one by one, and pages of incidents
no longer in the log (or left out) are not deleted, so DIR can be a checkout of a publishing
branch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentops import fsutil, git
from agentops.commands.stats import incidents_of, load_sla, parse_when, samples_of
from agentops.ledger.model import TroubleshootingEntry
from agentops.paths import find_repo
from agentops.report import site
from agentops.report.postmortem import DIRECTORY
from agentops.store import entries


def report(*, repo: Path | None, out: Path, public: bool = False, now: str | None = None,
           days: int = site.DAYS) -> dict[str, Any]:
    """Write the site; {"out", "pages", "incidents", "open", "uptime", "public"}."""
    root = find_repo(repo)
    when = parse_when(now, where="--now") or datetime.now(UTC)
    incidents = incidents_of(entries.read_ledger(root, "incident"), root)
    problems = [e for e in entries.load_entries(root, "troubleshooting",
                                                gitdir=git.common_dir(root))
                if isinstance(e, TroubleshootingEntry)]
    docs = {p.stem: fsutil.read_text(p) for p in sorted((root / DIRECTORY).glob("INC-*.md"))}
    built = site.build(incidents, sla=load_sla(root), now=when, samples=samples_of(root),
                       problems=problems, postmortems=docs, public=public, days=days)
    fsutil.atomic_write_many({out / rel: text for rel, text in built.pages.items()})
    return {"out": str(out), "pages": len(built.pages), "incidents": built.incidents,
            "open": built.open, "uptime": built.uptime, "public": public,
            "index": str(out / "index.html")}


def as_text(result: dict[str, Any]) -> str:
    kind = "public " if result["public"] else ""
    return (f"wrote {result['pages']} {kind}pages to {result['out']} ({result['incidents']} "
            f"incidents, {result['open']} open, uptime this month {result['uptime']}); "
            f"open {result['index']}")
