"""Push agentops commits; when another writer got there first, rebuild our work on its tip.

Several clones (agents, replicas, people) write to one remote. On a rejected push nothing local
is thrown away. The local commits the remote lacks are of two kinds:

- **operations** (commits agentops made, marked ``Agentops-Batch:``, and legacy ones marked
  ``Agentops-Event:``): their operations are read back from the journal and run again on the
  remote's tip through the pipeline, so ids are allocated afresh and every entry is rendered
  from the state the remote actually has;
- **everything else** (a person's edits, merges): carried over with ``git cherry-pick``, so the
  ledger merge driver merges it entry by entry.

Both happen in a temporary work tree on the remote's tip, in the order the commits were made.
Only when all of it succeeded does the local branch move (``reset --keep``, which refuses to
touch uncommitted changes); a conflict aborts with exit 1 and leaves the branch, the work tree
and the journal exactly as they were. Retries are bounded, with exponential backoff and jitter.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from agentops import git
from agentops.config import Config
from agentops.errors import AgentopsError
from agentops.events import Event, event_from_dict, parse_time
from agentops.fsutil import write_note
from agentops.store import oplog, snapshot


class _Replayed(Protocol):
    """What push needs of the pipeline's outcome (push sits below the pipeline)."""

    @property
    def event_id(self) -> str: ...


Outcome = TypeVar("Outcome", bound=_Replayed)

BATCH_TRAILER = "Agentops-Batch"
EVENT_TRAILER = "Agentops-Event"
UPSTREAM = "refs/agentops/upstream/"
REPLAY_JOURNAL = "refs/agentops/replay/journal"
# Operations other than events are implemented by their commands; the replay finds them by the
# first word of the operation's name. A table of names (not imports) keeps the layers: this
# module never imports a command, it asks for one by name only when it has one to redo.
OPERATION_MODULES = {"incident": "agentops.commands.incident", "stats": "agentops.commands.stats"}

# (scratch work tree, events, when they were accepted) -> their outcomes there
ReplayEvents = Callable[[Path, Sequence[Event], datetime], list[Outcome]]


class PushConflictError(AgentopsError):
    """A local commit cannot be carried onto the remote's tip without a conflict."""


class Pending(NamedTuple):
    """One unpushed journal record and the batch (commit) it was made in."""

    record: dict[str, Any]
    batch: str | None

    @property
    def key(self) -> str:
        return str(self.record["key"])


def push_with_replay(repo: Path, config: Config,
                     replay: ReplayEvents[Outcome]) -> dict[str, Outcome]:
    """Push HEAD's branch and the journal; when rejected, fetch, rebuild on the remote tips,
    retry. Returns the outcomes of events that were replayed (their ids may have changed)."""
    branch = git.current_branch(repo)
    if branch is None:
        raise AgentopsError("push: HEAD is detached; check out a branch to push agentops commits")
    remote, where = config.remote, f"{config.remote}/{branch}"
    replayed: dict[str, Outcome] = {}
    atomic = True
    for attempt in range(config.push_retries + 1):
        refs = [f"refs/heads/{branch}", *([oplog.REF] if oplog.tip(repo, oplog.REF) else [])]
        result = git.push_refs(repo, remote, refs, atomic=atomic and len(refs) > 1)
        if (result.status is git.PushStatus.FAILED and atomic
                and "does not support --atomic" in result.detail):
            atomic = False  # the remote cannot take both at once: push them one by one
            result = git.push_refs(repo, remote, refs, atomic=False)
        if result.ok:
            _push_snapshot(repo, remote)
            return replayed
        if result.status is not git.PushStatus.REJECTED:
            raise AgentopsError(f"push to {where} failed:\n{result.detail}")
        tip, remote_journal = _fetch(repo, remote, branch)
        local, local_journal = git.rev_parse(repo, "HEAD"), oplog.tip(repo, oplog.REF)
        new, journal_tip, outcomes = rebuild_on(
            repo, local=local, onto=tip, local_journal=local_journal,
            remote_journal=remote_journal, replay=replay, where=where)
        replayed.update(outcomes)
        # branch first: a journal that got ahead of the branch would answer retries with
        # incidents the branch does not have
        git.reset_keep(repo, new)
        oplog.set_ref(repo, oplog.REF, journal_tip, local_journal)
        # exponential backoff with full jitter spreads out writers racing for the same remote
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise AgentopsError(
        f"push to {where} was rejected {config.push_retries + 1} times; the commits are kept "
        "locally and will be pushed by the next agentops write")


def _push_snapshot(repo: Path, remote: str) -> None:
    """The journal state's snapshot, after the journal it describes, when it changed since
    it was last pushed: forced (a cache, never merged: the newest replaces the remote's), and
    best effort (a clone without it reads the whole journal)."""
    tip = oplog.tip(repo, snapshot.REF)
    marker = git.common_dir(repo) / "agentops" / "snapshot-pushed"
    if not tip or (marker.exists() and marker.read_text().strip() == tip):
        return
    journal_tip = oplog.tip(repo, oplog.REF)
    if not journal_tip or not snapshot.fits(repo, tip, journal_tip):
        # made before a replay rewrote the journal on the remote's: it can never fit again,
        # and it must not replace the remote's snapshot
        oplog.set_ref(repo, snapshot.REF, None, tip)
        return
    if git.push_refs(repo, remote, [snapshot.REF], atomic=False, force=True).ok:
        write_note(marker, tip)


def _fetch(repo: Path, remote: str, branch: str) -> tuple[str, str | None]:
    """The remote's branch tip and journal tip (fetched into refs under refs/agentops/)."""
    upstream = f"{UPSTREAM}{branch}"
    tracking = oplog.tracking_ref(remote)
    try:
        git.fetch_refs(repo, remote, [f"+refs/heads/{branch}:{upstream}",
                                      f"+{oplog.REF}*:{tracking}*"])
    except git.GitError as exc:
        if "couldn't find remote ref" in exc.stderr:
            raise AgentopsError(f"push: {remote} has no branch {branch}") from None
        raise
    return git.rev_parse(repo, upstream), oplog.tip(repo, tracking)


def rebuild_on(repo: Path, *, local: str, onto: str, local_journal: str | None,
               remote_journal: str | None, replay: ReplayEvents[Outcome], where: str
               ) -> tuple[str, str | None, dict[str, Outcome]]:
    """New branch and journal tips on top of the remote's, carrying everything the local ones
    have that the remote lacks: (branch tip, journal tip, outcomes of replayed events).

    Raises PushConflictError (nothing changed) when a person's commit cannot be carried.
    """
    commits = git.commits_between(repo, onto, local)
    pending = unpushed(repo, local=local, onto=onto, local_journal=local_journal,
                       remote_journal=remote_journal)
    outcomes: dict[str, Outcome] = {}
    oplog.set_ref(repo, REPLAY_JOURNAL, None, None)  # left over by a run cut short
    oplog.set_ref(repo, REPLAY_JOURNAL, remote_journal, None)
    try:
        with _scratch(repo, onto) as tree:
            for commit in commits:
                covered = _covered(commit)
                if covered:
                    upto = max((n for n, p in enumerate(pending) if _in(p, covered)),
                               default=-1)
                    outcomes.update(_redo(tree, pending[:upto + 1], replay))
                    pending = pending[upto + 1:]
                    continue
                result, detail = git.cherry_pick(tree, commit)
                if result is git.PickResult.CONFLICT:
                    raise PushConflictError(_conflict_message(repo, commit, where, detail))
            outcomes.update(_redo(tree, pending, replay))
            head = git.rev_parse(tree, "HEAD")
        journal_tip = oplog.merge_into(repo, oplog.tip(repo, REPLAY_JOURNAL), local_journal,
                                       subject=f"agentops: journal rebuilt on {where}")
    finally:
        oplog.set_ref(repo, REPLAY_JOURNAL, None, None)
    return head, journal_tip, outcomes


def unpushed(repo: Path, *, local: str, onto: str, local_journal: str | None,
             remote_journal: str | None) -> list[Pending]:
    """Journal records the local side has and the remote lacks (by key), in journal order."""
    remote_keys = oplog.keys(repo, remote_journal, legacy_rev=onto)
    return [Pending(r, r.get("batch")) for r in oplog.read(repo, local_journal or "",
                                                          legacy_rev=local)
            if r.get("key") not in remote_keys]


def _covered(commit: git.Commit) -> set[str]:
    """The batch and event ids an agentops commit was made for (empty: a person's commit)."""
    return {*commit.trailers(BATCH_TRAILER), *commit.trailers(EVENT_TRAILER)}


def _in(pending: Pending, covered: set[str]) -> bool:
    return pending.batch in covered or pending.record.get("id") in covered


def _redo(tree: Path, pending: Sequence[Pending],
          replay: ReplayEvents[Outcome]) -> dict[str, Outcome]:
    """Run the pending records again on ``tree``, batch by batch, in journal order."""
    outcomes: dict[str, Outcome] = {}
    for group in _groups(pending):
        first = group[0].record
        accepted = parse_time(first.get("accepted") or first["event"]["time"])
        if "op" in first:
            for p in group:
                apply_operation(tree, p.record)
            continue
        events = [event_from_dict(p.record["event"]) for p in group]
        for outcome in replay(tree, events, accepted):
            outcomes[outcome.event_id] = outcome
    return outcomes


def _groups(pending: Sequence[Pending]) -> list[list[Pending]]:
    groups: list[list[Pending]] = []
    for p in pending:
        kind = "op" in p.record
        if groups and groups[-1][0].batch == p.batch and p.batch is not None and (
                ("op" in groups[-1][0].record) == kind):
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


def apply_operation(tree: Path, record: dict[str, Any]) -> None:
    """Redo one journaled operation (ack, resolve, stats --write...) in the work tree ``tree``."""
    name = str(record["op"])
    module = OPERATION_MODULES.get(name.split(".", 1)[0])
    if module is None:
        raise AgentopsError(f"journal: unknown operation {name!r} (written by a newer agentops?)")
    importlib.import_module(module).replay_operation(tree, record)


@contextmanager
def _scratch(repo: Path, rev: str) -> Iterator[Path]:
    """A temporary detached work tree of ``rev`` under the git directory, removed afterwards;
    it journals onto REPLAY_JOURNAL (which starts as the remote's journal)."""
    path = git.common_dir(repo) / "agentops" / "replay"
    git.worktree_add(repo, path, rev)
    try:
        admin = Path(git.run(path, "rev-parse", "--absolute-git-dir").strip())
        (admin / oplog.OVERRIDE).write_text(REPLAY_JOURNAL + "\n")
        yield path
    finally:
        git.worktree_remove(repo, path)


def _conflict_message(repo: Path, commit: git.Commit, where: str, detail: str) -> str:
    branch = git.current_branch(repo) or "HEAD"
    remote, _, rbranch = where.partition("/")
    return (
        f"push: your commit {commit.sha[:12]} ({commit.subject}) conflicts with {where}:\n"
        f"{detail.strip()}\n"
        f"Nothing was changed here: {branch} still has all your commits, unpushed. To finish by "
        f"hand: `git pull --rebase {remote} {rbranch}` (the agentops merge driver merges the "
        "ledger entry by entry), resolve the sections git marks, `git rebase --continue`, then "
        "`git push` or run any agentops write.")
