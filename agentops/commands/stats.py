"""``agentops stats``: incident figures for people and CI, and the block in INCIDENTS.md.

The figures are computed by :mod:`agentops.report.stats`; this module only reads the ledger
(INCIDENTS.md and its monthly archives), the SLA targets and the time window, and for
``--write`` puts the markdown between the stats markers of INCIDENTS.md in one commit, under
the repository lock, computed from the files as they stand inside the lock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentops import git
from agentops.errors import AgentopsError
from agentops.events import parse_time
from agentops.ledger import format as fmt
from agentops.ledger.model import Incident
from agentops.paths import RULES_DIR, find_repo
from agentops.policy.model import Sla
from agentops.report import stats as report
from agentops.store import entries

RENDER = {"md": report.to_markdown, "text": report.to_text}


def parse_when(value: str | None, *, where: str, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 time, or a day (``2026-11-24``: its start, or its end for ``--until``)."""
    if value is None:
        return None
    when = parse_time(value, where=where)
    is_day = len(value.strip()) == 10
    return when + timedelta(days=1) if is_day and end_of_day else when


def load_sla(root: Path) -> Sla:
    """The SLA section of the repository's policy (the shipped defaults without rules/)."""
    if not (root / RULES_DIR).is_dir():
        return Sla()
    from agentops.policy.loader import load_policy

    cache = git.common_dir(root) / "agentops" / "rules.cache"
    return load_policy([root / RULES_DIR], base=root, cache=cache).sla


def incidents_of(text: str, root: Path, *, prose: bool = True) -> list[Incident]:
    """The incidents of INCIDENTS.md (given as ``text``) and of its archive files; without
    ``prose`` their sections may be left empty (the figures read metadata only)."""
    found = entries.parse_files("incident", [text, *entries.archive_texts(root)],
                                cache=entries.cache_path(git.common_dir(root), "incident"),
                                heads=not prose)
    return [e for e in found if isinstance(e, Incident)]


def problem_titles(root: Path) -> dict[str, str]:
    """TROUBLESHOOTING ids and titles, for the top recurring problems."""
    from agentops.ledger.model import TroubleshootingEntry

    found = entries.load_entries(root, "troubleshooting", gitdir=git.common_dir(root))
    return {e.id: e.title for e in found if isinstance(e, TroubleshootingEntry)}


def samples_of(root: Path) -> list[report.Sample]:
    """The availability samples of the journal, for the months' uptime."""
    from agentops.durations import seconds
    from agentops.store import oplog

    out = []
    for record in oplog.read(root, needle=b'"availability.sample"'):
        event = record.get("event")
        if not isinstance(event, dict) or event.get("type") != "availability.sample":
            continue
        attrs = event.get("attributes") or {}
        subject = event.get("subject") or {}
        try:
            when = parse_time(str(event.get("time")))
        except AgentopsError:
            continue
        span = seconds(str(attrs["window"])) if "window" in attrs else None
        window = timedelta(seconds=span) if span is not None else None
        up, ratio = attrs.get("up"), attrs.get("ratio")
        if isinstance(up, str):
            up = {"true": True, "false": False, "1": True, "0": False}.get(up.lower())
        try:
            ratio = float(ratio) if ratio is not None else None
        except (TypeError, ValueError):
            ratio = None
        name = "/".join(str(subject.get(k, "")) for k in ("cluster", "namespace", "kind", "name"))
        out.append(report.Sample(when, name, up if isinstance(up, bool) else None, ratio,
                                 window))
    return out


def stats(*, repo: Path | None, since: str | None = None, until: str | None = None,
          now: str | None = None, write: bool = False) -> dict[str, Any]:
    """{"stats": Stats, "commit": sha or None}; ``write`` commits the block (when it changed)."""
    root = find_repo(repo)
    window = {"since": parse_when(since, where="--since"),
              "until": parse_when(until, where="--until", end_of_day=True)}
    when = parse_when(now, where="--now") or datetime.now(UTC)
    if window["since"] and window["until"] and window["since"] >= window["until"]:
        raise AgentopsError("stats: --since must be before --until")
    sla = load_sla(root)
    if not write:
        text = entries.read_ledger(root, "incident")
        figures = report.compute(incidents_of(text, root, prose=False), sla=sla, now=when,
                                 samples=samples_of(root), problems=problem_titles(root),
                                 since=window["since"], until=window["until"])
        return {"stats": figures, "commit": None}
    return _write(root, sla, when, window, args={"since": since, "until": until})


_COMPUTED_RE = re.compile(r"; computed \S+ by ")


def _write(root: Path, sla: Sla, now: datetime, window: dict[str, datetime | None], *,
           args: dict[str, Any], key: str | None = None, push: bool = True) -> dict[str, Any]:
    """Render the block and commit it, journaled as the operation ``stats.write`` (so that a
    replay on another tip renders it again from that tip's incidents)."""
    from agentops.pipeline import commit_changes, journal_operation, publish, transaction

    with git.locked(root):
        with transaction(root, now=now) as ctx:
            text = ctx.ledger.text("incident")
            figures = report.compute(incidents_of(text, root, prose=False), sla=sla, now=now,
                                     samples=samples_of(root), problems=problem_titles(root),
                                     since=window["since"], until=window["until"])
            block = report.to_markdown(figures)
            old = fmt.read_block(text, fmt.STATS_BEGIN, fmt.STATS_END)
            # The heading says when the figures were computed; a block whose figures did not
            # change keeps its old time, so an unchanged --write commits nothing.
            same = old is not None and _COMPUTED_RE.sub("", old) == _COMPUTED_RE.sub("", block)
            new = text if same else fmt.set_stats_block(text, block)
            sha = None
            if new != text:
                ctx.ledger.set_text("incident", new)
                journal_operation(ctx, "stats.write", args, actor=None, key=key,
                                  outcome={"total": figures.total})
                sha = commit_changes(ctx, subject=f"agentops: stats ({figures.total} incidents)")
            config = ctx.config
        if sha and push and config.push:
            publish(root, config)
    return {"stats": figures, "commit": sha, "written": True}


def replay_operation(tree: Path, record: dict[str, Any]) -> None:
    """Redo ``stats --write`` on another tip: the same window, that tip's incidents."""
    args = record["args"]
    window = {"since": parse_when(args.get("since"), where="--since"),
              "until": parse_when(args.get("until"), where="--until", end_of_day=True)}
    _write(tree, load_sla(tree), parse_time(record["accepted"]), window, args=args,
           key=record["key"], push=False)


def render(result: dict[str, Any], out: str) -> str:
    """The figures as md, text or JSON (with the commit when --write made one)."""
    if out == "json":
        import json

        data = report.to_json(result["stats"]) | {"commit": result["commit"]}
        return json.dumps(data, indent=2)
    text = RENDER[out](result["stats"])
    if result.get("written") and not result["commit"]:
        return text + "\nnothing to commit: the figures in INCIDENTS.md are unchanged"
    return text + (f"\ncommitted {result['commit'][:12]}" if result["commit"] else "")
