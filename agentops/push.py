"""Push agentops commits, replaying them on the remote's tip when another writer got there first.

Several clones (agents on different machines) write to one remote. A rejected push is not
merged: ``merge=union`` on markdown would interleave entries and collide ids. Instead the
unpushed events are read back from the local journal, the branch is moved to the remote tip,
and the events go through the pipeline again there, so ids are allocated afresh and every entry
is rendered from the state the remote actually has. Retries are bounded.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from agentops import git
from agentops.config import Config
from agentops.errors import AgentopsError
from agentops.events import Event, event_from_dict
from agentops.store.journal import JOURNAL_DIR


class _Replayed(Protocol):
    """What push needs of the pipeline's outcome (push sits below the pipeline)."""

    @property
    def event_id(self) -> str: ...


OutcomeT = TypeVar("OutcomeT", bound=_Replayed)


def push_with_replay(
    repo: Path, config: Config, replay: Callable[[Sequence[Event]], list[OutcomeT]],
) -> dict[str, OutcomeT]:
    """Push HEAD's branch; on non-fast-forward, fetch, replay, retry. Returns replayed outcomes."""
    branch = git.current_branch(repo)
    if branch is None:
        raise AgentopsError("push: HEAD is detached; check out a branch to push agentops commits")
    replayed: dict[str, OutcomeT] = {}
    for attempt in range(config.push_retries + 1):
        result = git.push(repo, config.remote, branch)
        if result.ok:
            return replayed
        if result.status is not git.PushStatus.REJECTED:
            raise AgentopsError(f"push to {config.remote}/{branch} failed:\n{result.detail}")
        tip = git.fetch(repo, config.remote, branch)
        if tip is None:
            raise AgentopsError(f"push: {config.remote} has no branch {branch}")
        events = unpushed_events(repo, tip)
        git.reset_hard(repo, tip)
        for outcome in replay(events):
            replayed[outcome.event_id] = outcome
        # exponential backoff with jitter spreads out writers racing for the same remote
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise AgentopsError(
        f"push to {config.remote}/{branch} was rejected {config.push_retries + 1} times; the "
        "commits are kept locally and will be replayed by the next agentops write")


def unpushed_events(repo: Path, tip: str) -> list[Event]:
    """Events journaled locally (HEAD) that the remote tip does not have, in journal order."""
    remote_keys = set()
    listing = git.run(repo, "ls-tree", "--name-only", tip, f"{JOURNAL_DIR}/", check=False)
    for name in listing.split():
        data = git.show_file(repo, tip, name) or b""
        remote_keys |= {json.loads(line)["key"] for line in data.splitlines() if line.strip()}
    events = []
    for path in sorted((repo / JOURNAL_DIR).glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if record["key"] not in remote_keys:
                events.append(event_from_dict(record["event"]))
    return events
