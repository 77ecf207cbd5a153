"""``agentops postmortem ID``: write, refresh and move through review an incident's post-mortem.

One locked operation through the pipeline (``pipeline.transaction``): the document
``postmortems/<ID>.md`` and the incident's timeline row go into one commit. The first run
renders the policy's template (``postmortem.template``) pre-filled from the incident; later
runs only re-render the derived regions (:mod:`agentops.report.postmortem`), so what people
wrote stays byte for byte. ``--status`` moves the review Draft -> In review -> Reviewed and
records the reviewers; In review schedules the incident's review and Reviewed marks it done
(when they are not set yet), so ``check`` sees one review, not two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentops import fsutil
from agentops.commands.incident import load_entry
from agentops.events import format_time
from agentops.ledger import format as fmt
from agentops.ledger.safety import escape_inline
from agentops.paths import find_repo
from agentops.pipeline import commit_changes, transaction
from agentops.report import postmortem as pm


def postmortem(repo: Path | None, inc_id: str, *, status: str | None = None,
               reviewers: Sequence[str] = (), template: str | None = None,
               actor: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Write or refresh the post-mortem; {"id", "path", "action", "status", "commit", ...}."""
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    wanted = pm.normalize_status(status) if status else None
    if template is not None and template not in pm.TEMPLATES:
        raise pm.PostmortemError(f"--template: {template!r} is not one of "
                                 f"{', '.join(pm.TEMPLATES)}")
    with transaction(find_repo(repo), now=when) as ctx:
        inc, entry = load_entry(ctx, inc_id)
        rel = pm.path_of(inc_id)
        path = ctx.repo / rel
        old = fsutil.read_text(path) if path.exists() else None
        if old is None:
            meta = pm.Meta(inc_id, template or ctx.policy.sla.postmortem_template, written=when)
            rows = [f"Post-mortem written: {rel} ({meta.template} template)"]
        else:
            meta = pm.parse(old, where=rel).meta
            if template is not None and template != meta.template:
                raise pm.PostmortemError(f"{rel} was written from the {meta.template} template; "
                                         "delete it first to start again from another")
            rows = []
        names = [escape_inline(r.strip().lstrip("@")) for r in reviewers if r.strip("@ ")]
        meta = replace(meta, reviewers=tuple(dict.fromkeys([*meta.reviewers, *names])))
        fields: dict[str, Any] = {}
        if wanted is not None and wanted != meta.status:
            meta, fields, row = _move(inc, meta, wanted, when)
            rows.append(row)
        elif names and old is not None:
            rows.append(f"Post-mortem reviewers: {', '.join('@' + n for n in names)}")
        new_entry = fmt.update_fields(entry, **fields) if fields else entry
        for row in rows:
            new_entry = fmt.append_timeline(new_entry, when, escape_inline(row))
        if new_entry != entry:
            ctx.ledger.replace("incident", inc_id, new_entry)
        current = fmt.parse_incident(new_entry)
        text = pm.render(current, meta) if old is None else pm.refresh(old, current, meta)
        if text != old:
            ctx.ledger.set_file(rel, text)
        changed = text != old or new_entry != entry
        action = "written" if old is None else "refreshed" if changed else "unchanged"
        sha = commit_changes(ctx, subject=f"agentops: postmortem {inc_id} ({action}, "
                             f"{meta.status})", trailers=[("Agentops-Incident", inc_id)],
                             actor=actor.lstrip("@") if actor else None)
    return {"id": inc_id, "path": rel, "action": action,
            "status": meta.status, "template": meta.template, "reviewers": list(meta.reviewers),
            "fields": {k: format_time(v) for k, v in fields.items()}, "commit": sha}


def _move(inc: Any, meta: pm.Meta, wanted: str,
          when: datetime) -> tuple[pm.Meta, dict[str, Any], str]:
    """The review moves: forward one or more steps, or back from Reviewed to In review."""
    if wanted != "Draft" and not meta.reviewers:
        raise pm.PostmortemError(f"{inc.id}: --status {wanted} needs a reviewer "
                                 "(--reviewer @name)")
    if wanted == "Draft" and meta.status != "Draft":
        raise pm.PostmortemError(f"{inc.id}: the post-mortem is {meta.status}; it can go back "
                                 "to In review, not to Draft")
    who = ", ".join("@" + r for r in meta.reviewers)
    fields: dict[str, Any] = {}
    if wanted == "In review":
        if inc.review_scheduled is None and inc.review_done is None:
            fields["review_scheduled"] = when
        return replace(meta, status=wanted, in_review=meta.in_review or when), fields, (
            f"Post-mortem in review ({who})")
    if inc.resolved is None:
        raise pm.PostmortemError(f"{inc.id}: still {inc.status}; resolve it before the "
                                 "post-mortem is Reviewed")
    if inc.review_done is None:
        fields["review_done"] = max(when, inc.resolved)
    return (replace(meta, status=wanted, in_review=meta.in_review or when, reviewed=when),
            fields, f"Post-mortem reviewed by {who}")


def as_text(result: dict[str, Any]) -> str:
    commit = f" in {result['commit'][:12]}" if result["commit"] else ""
    who = ", ".join("@" + r for r in result["reviewers"]) or "none yet"
    return (f"{result['path']}: {result['action']} ({result['status']}, {result['template']} "
            f"template, reviewers {who}){commit}")
