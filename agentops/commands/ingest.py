"""``agentops ingest``: a batch of events (JSON lines) or Kubernetes documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event
from agentops.paths import find_repo
from agentops.pipeline import Outcome, process

CHUNK = 1000


def parse_input(text: str) -> list[Event]:
    """A Kubernetes document (EventList, PodList, audit event...) or JSON lines of events."""
    stripped = text.strip()
    if not stripped:
        raise InvalidEventError("input: empty (expected JSON lines of events or a JSON document)")
    doc: Any = None
    try:
        doc = json.loads(stripped)
    except json.JSONDecodeError:
        pass
    if isinstance(doc, dict) and ("kind" in doc or "auditID" in doc) and "type" not in doc:
        from agentops.sources.kubernetes import events_from_document

        return events_from_document(doc)
    from agentops.sources.generic import parse

    return parse(stripped.encode("utf-8"), headers={})


def ingest(events: list[Event], *, repo: Path | None,
           progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """One commit per chunk of events, so a huge input shows progress and never loses work."""
    root = find_repo(repo)
    outcomes: list[Outcome] = []
    for start in range(0, len(events), CHUNK):
        outcomes += process(root, events[start:start + CHUNK])
        if progress is not None:
            progress(len(outcomes), len(events))
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    actions: dict[str, int] = {}
    for o in outcomes:
        for inc in o.incidents:
            actions[inc["action"]] = actions.get(inc["action"], 0) + 1
    commits = sorted({o.commit for o in outcomes if o.commit})
    return {
        "events": len(outcomes), "duplicates": sum(o.duplicate for o in outcomes),
        "incidents": actions, "commits": commits,
        "outcomes": [o.to_dict() for o in outcomes],
    }


MAX_WHY_LINES = 50  # events explained in the text output; JSON explains every one


def summary_text(result: dict[str, Any]) -> str:
    from agentops.commands.record import why_not_lines

    actions = ", ".join(f"{n} {a}" for a, n in sorted(result["incidents"].items())) or "none"
    lines = [f"{result['events']} events ({result['duplicates']} already recorded); "
             f"incidents: {actions}; {len(result['commits'])} commit(s)"]
    quiet = [o for o in result["outcomes"] if o.get("why_not")]
    for o in quiet[:MAX_WHY_LINES]:
        lines.append(f"  {o['event_id']}: no incident opened")
        lines += [line.replace("why no incident opened:", "why:", 1)
                  for line in why_not_lines(o["why_not"], "    ")]
    if len(quiet) > MAX_WHY_LINES:
        lines.append(f"  and {len(quiet) - MAX_WHY_LINES} more events that opened nothing "
                     "(--format json explains each)")
    return "\n".join(lines)
