"""The one pipeline every source funnels into: journal, decide, write the ledger, commit.

``process`` takes the repository lock, brings the derived state up to date, runs each event
through the policy engine, applies the decisions to the three ledger files, appends the
journal, and makes one commit for the whole batch. Nothing else writes ledger files or
commits; sources (CLI, webhooks, the cluster watcher) only build events.

Crash safety: before touching the work tree the batch writes a ``pending`` note under the git
directory; the next run finds it and restores those paths from HEAD, so a process killed at any
instant leaves either the old commit or the new one. The note is removed after the commit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from agentops import fsutil, git
from agentops.config import Config, load_config
from agentops.errors import RepoError
from agentops.events import Event, format_time, to_precision, utcnow
from agentops.paths import RULES_DIR
from agentops.policy.engine import (
    IGNORED,
    LATE,
    OPEN,
    RECUR,
    RESOLVE,
    SUPPRESSED,
    Decision,
    decide,
    normalise,
    observe,
)
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy
from agentops.store import journal, oplog
from agentops.store.state import Store
from agentops.store.writer import LedgerWriter
from agentops.vocabulary import LEDGER_FILES

MAX_TRAILERS = 50


class Outcome(NamedTuple):
    """What happened to one event: the JSON an agent gets back from ``record``."""

    event_id: str
    duplicate: bool
    matched: tuple[str, ...]
    incidents: tuple[dict[str, str], ...]
    troubleshooting: tuple[str, ...]
    memory: tuple[str, ...]
    commit: str | None
    suppressed: tuple[str, ...] = ()
    decisions: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id, "matched": list(self.matched),
            "incidents": [dict(i) for i in self.incidents],
            "troubleshooting": list(self.troubleshooting), "memory": list(self.memory),
            "commit": self.commit,
        }

    def stored(self) -> dict[str, Any]:
        out = self.to_dict()
        del out["commit"]
        out["suppressed"] = list(self.suppressed)
        return out


def _outcome_from(stored: dict[str, Any], commit: str | None, *, duplicate: bool) -> Outcome:
    return Outcome(
        event_id=stored["event_id"], duplicate=duplicate, matched=tuple(stored["matched"]),
        incidents=tuple(stored["incidents"]), troubleshooting=tuple(stored["troubleshooting"]),
        memory=tuple(stored["memory"]), suppressed=tuple(stored.get("suppressed", ())),
        commit=commit,
    )


class Context:
    """One locked operation on a repository: policy, config, cache, and the files it edits."""

    def __init__(self, repo: Path, *, now: datetime) -> None:
        self.repo = repo
        self.now = now
        self.config: Config = load_config(repo)
        self.gitdir = git.common_dir(repo)
        self.policy: Policy = load_policy([repo / RULES_DIR], base=repo,
                                          cache=self.gitdir / "agentops" / "rules.pickle")
        self.store = Store(self.gitdir / "agentops" / "state.sqlite")
        self.ledger = LedgerWriter(repo, self.store, redact=self.config.redaction_patterns)
        self.journal_lines: list[bytes] = []
        # names this batch's commit and journal records, so a replay can tell which
        # operations a commit was made for
        self.batch = os.urandom(8).hex()
        self.outbox_lines: list[bytes] = []  # announcements, committed with the batch
        self.trailers: list[tuple[str, str]] = []
        self.summaries: list[str] = []

    @property
    def pending_path(self) -> Path:
        return self.gitdir / "agentops" / "pending"


def process(
    repo: Path, events: Sequence[Event], *, actor: str | None = None, dry_run: bool = False,
    now: datetime | None = None,
) -> list[Outcome]:
    """Run events through the pipeline as one batch and one commit; see the module docstring.

    With ``push.enabled`` in the config the commit is pushed; when the remote moved on, the
    unpushed events are replayed on the new tip (ids renumbered as needed) and pushed again.
    """
    _require_initialised(repo)
    when = to_precision(now or utcnow())
    with git.locked(repo):
        recover(repo)
        outcomes, config = _batch(repo, events, actor=actor, dry_run=dry_run, now=when)
        if config.push and not dry_run:
            replayed = publish(repo, config)
            outcomes = [replayed.get(o.event_id, o) for o in outcomes]
    return outcomes


def publish(repo: Path, config: Config) -> dict[str, Outcome]:
    """Push the branch (under the lock), rebuilding local work on the remote tip when it moved.

    Returns the outcomes of events that had to be replayed there.
    """
    from agentops.push import push_with_replay

    def replay(tree: Path, events: Sequence[Event], accepted: datetime) -> list[Outcome]:
        return _batch(tree, events, actor=_single_actor(events), dry_run=False, now=accepted)[0]

    with git.locked(repo):
        return push_with_replay(repo, config, replay)


def _batch(repo: Path, events: Sequence[Event], *, actor: str | None, dry_run: bool,
           now: datetime) -> tuple[list[Outcome], Config]:
    ctx = Context(repo, now=now)
    try:
        ensure_current(ctx)
        outcomes = [_one(ctx, event) for event in events]
        if dry_run:
            ctx.store.discard()
            return outcomes, ctx.config
        sha = _commit(ctx, outcomes, actor=actor or _single_actor(events))
        return [_with_commit(o, sha) if not o.duplicate else o for o in outcomes], ctx.config
    finally:
        ctx.store.close()


def _require_initialised(repo: Path) -> None:
    missing = [name for name in (*LEDGER_FILES, RULES_DIR) if not (repo / name).exists()]
    if missing:
        raise RepoError(f"{repo} is not an agentops repository (missing {', '.join(missing)}); "
                        "run `agentops init` first")


def _single_actor(events: Sequence[Event]) -> str | None:
    actors = {e.actor for e in events if e.actor}
    return actors.pop() if len(actors) == 1 else None


def _with_commit(outcome: Outcome, sha: str | None) -> Outcome:
    return outcome._replace(commit=sha)


# --- one event ---------------------------------------------------------------------------------


def _one(ctx: Context, raw: Event) -> Outcome:
    event = normalise(ctx.policy, ctx.ledger.redact_event(raw))
    seen = ctx.store.seen.get(event.key)
    if seen is not None:
        return _outcome_from(seen["outcome"], _commit_of(ctx, seen), duplicate=True)
    decisions = decide(ctx.policy, ctx.store.state, event, ctx.now)
    ids, problems, touched = ctx.ledger.apply(event, decisions)
    if ctx.policy.notifications is not None and touched["incidents"]:
        _announce(ctx, touched["incidents"])
    observe(ctx.policy, ctx.store.state, event, decisions, ids=ids, problems=problems)
    outcome = _outcome(event, decisions, touched)
    ctx.store.seen[event.key] = {"event_id": event.id, "outcome": outcome.stored()}
    ctx.journal_lines.append(journal.encode({
        "id": event.id, "key": event.key, "accepted": format_time(ctx.now), "batch": ctx.batch,
        "event": event.to_dict(), "decisions": [d.to_dict() for d in decisions],
        "outcome": outcome.stored(),
    }))
    _note(ctx, event, outcome)
    return outcome


def _announce(ctx: Context, touched: list[tuple[str, str]]) -> None:
    from agentops.notify.outbox import from_pipeline

    assert ctx.policy.notifications is not None
    ctx.outbox_lines += from_pipeline(ctx.ledger.text("incident"), touched,
                                      notifications=ctx.policy.notifications, now=ctx.now)


def _outcome(event: Event, decisions: tuple[Decision, ...],
             touched: dict[str, list[tuple[str, str]]]) -> Outcome:
    matched = tuple(dict.fromkeys(
        d.rule for d in decisions if d.rule and d.action in (OPEN, RECUR, RESOLVE, LATE, SUPPRESSED)
    ))
    return Outcome(
        event_id=event.id, duplicate=False, matched=matched,
        incidents=tuple({"id": i, "action": a} for i, a in touched["incidents"]),
        troubleshooting=tuple(i for i, _ in touched["troubleshooting"]),
        memory=tuple(i for i, _ in touched["memory"]),
        suppressed=tuple(d.silence for d in decisions if d.action == SUPPRESSED and d.silence),
        commit=None, decisions=tuple(d.to_dict() for d in decisions if d.action != IGNORED),
    )


def _note(ctx: Context, event: Event, outcome: Outcome) -> None:
    ctx.trailers.append(("Agentops-Event", event.id))
    for rule in outcome.matched:
        ctx.trailers.append(("Agentops-Rule", rule))
    for inc in outcome.incidents:
        ctx.trailers.append(("Agentops-Incident", inc["id"]))
        ctx.summaries.append(f"{inc['action']} {inc['id']}")
    if not outcome.incidents:
        ctx.summaries.append(f"journal {event.type}")


def _commit_of(ctx: Context, seen: dict[str, Any]) -> str | None:
    sha = seen.get("commit")
    if sha is None:
        sha = git.log_grep(ctx.repo, f"Agentops-Event: {seen['event_id']}")
    return sha


# --- commit ------------------------------------------------------------------------------------


def _commit(ctx: Context, outcomes: list[Outcome], *, actor: str | None) -> str | None:
    if not ctx.journal_lines:
        ctx.store.discard()
        return None
    sha = commit_changes(ctx, subject=_subject(ctx), body=_body(outcomes),
                         trailers=_dedupe(ctx.trailers), actor=actor, save=False)
    _record_commit(ctx, sha)
    ctx.store.save(state_key(ctx.repo))
    return sha


def commit_changes(ctx: Context, *, subject: str, body: str = "",
                   trailers: Sequence[tuple[str, str]] = (), actor: str | None = None,
                   save: bool = True) -> str | None:
    """Write the batch's ledger edits and commit them on the branch (only when a ledger file
    changed), then commit its journal lines onto the journal ref; returns the branch commit.

    A ``pending`` note names the paths and carries the journal lines first, so that a crash
    anywhere in between is settled by the next run (see :func:`recover`); the cache is saved as
    describing the new branch and journal tips.
    """
    ctx.ledger.finish()
    trailers = [*trailers, ("Agentops-Batch", ctx.batch)]
    paths = ctx.ledger.changed_paths()
    if ctx.outbox_lines:
        from agentops.notify.outbox import outbox_path

        paths = [*paths, opath := outbox_path(ctx.now)]
    if not paths and not ctx.journal_lines:
        ctx.store.discard()
        return None
    ref = oplog.ref_name(ctx.repo)
    _begin_pending(ctx, paths, ref=ref, subject=subject)
    sha = None
    if paths:
        ctx.ledger.write_all()
        if ctx.outbox_lines:
            fsutil.append_durable(ctx.repo / opath, b"".join(ctx.outbox_lines))
        sha = git.commit(ctx.repo, paths=paths, subject=subject, body=body, trailers=trailers,
                         author=ctx.config.author(actor))
    if ctx.journal_lines:
        oplog.append(ctx.repo, ctx.journal_lines, when=ctx.now, ref=ref,
                     subject=_journal_subject(subject, ctx.batch, sha))
    if save:
        ctx.store.save(state_key(ctx.repo))
    ctx.pending_path.unlink(missing_ok=True)
    return sha


def _journal_subject(subject: str, batch: str, sha: str | None) -> str:
    # the journal commit names its batch (and the branch commit it goes with, if any)
    return f"{subject} [batch {batch}" + (f", {sha[:12]}]" if sha else "]")


def journal_operation(ctx: Context, name: str, args: dict[str, Any], *, actor: str | None,
                      outcome: dict[str, Any] | None = None, key: str | None = None) -> str:
    """Journal a write that is not an event (ack, resolve, stats --write...) in this batch.

    What was asked, by whom, when, under an idempotency key: enough for a replay on another
    tip to redo it (see :func:`agentops.push.apply_operation`). Returns the key.
    """
    from agentops.events import derive_key

    key = key or derive_key({"op": name, "args": args, "actor": actor,
                             "accepted": format_time(ctx.now), "batch": ctx.batch})
    ctx.journal_lines.append(journal.encode({
        "op": name, "key": key, "accepted": format_time(ctx.now), "actor": actor,
        "args": args, "batch": ctx.batch, "outcome": outcome or {},
    }))
    return key


@contextmanager
def transaction(repo: Path, *, now: datetime | None = None) -> Iterator[Context]:
    """A locked, up-to-date context for commands that edit the ledger directly (the incident
    lifecycle): edit through ``ctx.ledger``, then call :func:`commit_changes` once."""
    _require_initialised(repo)
    with git.locked(repo):
        recover(repo)
        ctx = Context(repo, now=to_precision(now or utcnow()))
        try:
            ensure_current(ctx)
            yield ctx
        finally:
            ctx.store.close()


def _record_commit(ctx: Context, sha: str | None) -> None:
    """Remember which commit carries each new event, so a retry can name it."""
    for line in ctx.journal_lines:
        key = json.loads(line)["key"]
        seen = ctx.store.seen.get(key)
        if seen is not None:
            ctx.store.seen[key] = {**seen, "commit": sha}


def _subject(ctx: Context) -> str:
    items = list(dict.fromkeys(ctx.summaries))
    text = ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
    events = len(ctx.journal_lines)
    prefix = f"agentops: {events} events: " if events > 1 else "agentops: "
    return (prefix + text)[:200]


def _body(outcomes: list[Outcome]) -> str:
    new = [o for o in outcomes if not o.duplicate]
    lines = []
    for o in new[:MAX_TRAILERS]:
        incs = ", ".join(f"{i['action']} {i['id']}" for i in o.incidents) or "no incident"
        lines.append(f"- {o.event_id}: {incs}")
    if len(new) > MAX_TRAILERS:
        lines.append(f"- and {len(new) - MAX_TRAILERS} more events (see the journal)")
    return "\n".join(lines)


def _dedupe(trailers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    unique = list(dict.fromkeys(trailers))
    events = [t for t in unique if t[0] == "Agentops-Event"]
    others = [t for t in unique if t[0] != "Agentops-Event"]
    if len(events) > MAX_TRAILERS:
        omitted = ("Agentops-Events-Omitted", str(len(events) - MAX_TRAILERS))
        events = [*events[:MAX_TRAILERS], omitted]
    return events + others[: MAX_TRAILERS * 2]


# --- crash recovery and the cache ----------------------------------------------------------


def _begin_pending(ctx: Context, paths: list[str], *, ref: str, subject: str) -> None:
    # Written in place: a torn note means we died before touching the work tree, and
    # recover() then just removes it.
    fsutil.write_note(ctx.pending_path, json.dumps({
        "paths": paths, "batch": ctx.batch, "ref": ref, "parent": oplog.tip(ctx.repo, ref),
        "when": format_time(ctx.now), "subject": subject,
        "lines": [line.decode("utf-8") for line in ctx.journal_lines],
    }))


def recover(repo: Path) -> list[str]:
    """Settle a batch that was cut short; returns the ledger paths it restored.

    If its branch commit was made (or it needed none), the journal lines are committed now:
    the batch happened. Otherwise its paths are restored from HEAD: it did not.
    """
    pending = git.common_dir(repo) / "agentops" / "pending"
    try:
        note = json.loads(pending.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        pending.unlink(missing_ok=True)
        return []
    if isinstance(note, list):  # a note written by an older version: paths only
        note = {"paths": note}
    paths = list(note.get("paths", []))
    committed = bool(note.get("batch")) and (not paths or _head_has_batch(repo, note["batch"]))
    if committed:
        ref = note.get("ref") or oplog.REF
        if oplog.tip(repo, ref) == note.get("parent") and note.get("lines"):
            from agentops.events import parse_time

            oplog.append(repo, [(line + "\n" if not line.endswith("\n") else line).encode()
                                for line in note["lines"]],
                         when=parse_time(note["when"]), ref=ref, parent=note.get("parent"),
                         subject=f"{note.get('subject', 'agentops')} [recovered]")
        pending.unlink(missing_ok=True)
        return []
    _restore(repo, paths)
    pending.unlink(missing_ok=True)
    return paths


def _head_has_batch(repo: Path, batch: str) -> bool:
    message = git.run(repo, "log", "-1", "--format=%B", "HEAD", check=False)
    return f"Agentops-Batch: {batch}" in message


def _restore(repo: Path, paths: list[str]) -> None:
    if not paths:
        return
    tracked = set(git.run(repo, "ls-tree", "-r", "--name-only", "HEAD", "--", *paths,
                          check=False).split("\n")) - {""}
    if tracked:
        git.run(repo, "checkout", "-q", "HEAD", "--", *sorted(tracked))
    for path in paths:
        if path not in tracked:
            (repo / path).unlink(missing_ok=True)
        target = repo / path
        for temp in target.parent.glob(f".{target.name}.*.tmp"):
            temp.unlink(missing_ok=True)  # an atomic write cut short
    git.run(repo, "reset", "-q", "--", *paths, check=False)


def state_key(repo: Path) -> str:
    """What the cache describes: the branch tip and the journal tip."""
    return f"{git.read_head(repo) or ''}+{oplog.tip(repo) or ''}"


def ensure_current(ctx: Context) -> None:
    """Rebuild the cache from the journal and the ledger unless it describes both tips.

    A journal fetched from the remote (``git pull``) is merged into ours first, so that what
    other clones recorded counts here too.
    """
    oplog.absorb(ctx.repo, ctx.config.remote)
    key = state_key(ctx.repo)
    if ctx.store.is_current(key):
        return
    from agentops.store.rebuild import rebuild

    rebuild(ctx.repo, ctx.store, ctx.policy)
    ctx.store.save(key)
