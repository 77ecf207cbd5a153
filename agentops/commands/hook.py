"""``agentops hook SOURCE [FILE|-]``: one webhook payload from a pipeline step, committed.

The synchronous sibling of ``serve``: the same adapters, the same pipeline, but no spool: the
commit happens before the command exits, so exit 0 means "recorded" exactly as for ``record``.
In GitHub Actions the payload and its event name are ``$GITHUB_EVENT_PATH`` and
``$GITHUB_EVENT_NAME``; ``--event`` stands in for the ``X-GitHub-Event`` header.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentops.errors import InvalidEventError
from agentops.paths import find_repo
from agentops.sources import parse_payload

if TYPE_CHECKING:
    from agentops.pipeline import Outcome


def hook(
    source: str, payload: bytes, *, repo: Path | None, github_event: str | None = None,
    dry_run: bool = False,
) -> list[Outcome]:
    """Parse ``payload`` as ``source`` would send it and run its events through the pipeline."""
    if source == "github" and not github_event:
        raise InvalidEventError(
            "github: --event is required (the X-GitHub-Event name, e.g. workflow_run; "
            "in GitHub Actions: --event \"$GITHUB_EVENT_NAME\")"
        )
    headers = {"X-GitHub-Event": github_event} if github_event else {}
    root = find_repo(repo)
    events = parse_payload(source, payload, headers=headers)
    if not events:
        return []
    from agentops.pipeline import process

    return list(process(root, events, dry_run=dry_run))


def as_json(outcomes: Sequence[Outcome]) -> Any:
    """A single dict for one event (like ``record``), else the list."""
    dicts = [outcome.to_dict() for outcome in outcomes]
    return dicts[0] if len(dicts) == 1 else dicts


def as_text(outcomes: Sequence[Outcome], *, dry_run: bool = False) -> str:
    """One block per event, exactly as ``record`` prints it."""
    from agentops.commands.record import outcome_text

    if not outcomes:
        return "no events in this payload: nothing recorded"
    return "\n".join(outcome_text(outcome, dry_run=dry_run) for outcome in outcomes)
