"""The one pipeline every source funnels into: journal, decide, write the ledger, commit.

``process`` takes the repository lock, brings the derived state up to date, runs each event
through the policy engine, applies the decisions to the three ledger files, appends the
journal, and makes one commit for the whole batch. Nothing else writes ledger files or
commits; sources (CLI, webhooks, the cluster watcher) only build events.

Crash safety: before touching the work tree the batch writes a ``pending`` note under the git
directory of *this* work tree (``git rev-parse --git-dir``: a batch cut short in one worktree
must never be "recovered" in another, over someone's uncommitted edit there); the next run
finds it and restores those paths from HEAD, so a process killed at any instant leaves either
the old commit or the new one. The note is removed after the commit. A commit that fails while
we are alive (a pre-commit hook, signing, a full disk) puts the files back as they were before
the batch and unstages them, then raises: nothing half-written remains.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from agentops import fsutil, git
from agentops.config import Config, load_config
from agentops.errors import AgentopsError, InvalidEventError, RepoError
from agentops.events import Event, check_actor, format_time, to_precision, utcnow
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
    unknown_environment,
)
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy
from agentops.store import journal, oplog, snapshot
from agentops.store.state import Store
from agentops.store.writer import LedgerWriter
from agentops.vocabulary import LEDGER_FILES

MAX_TRAILERS = 50
# A batch commits at least every CHUNK_SECONDS of work (or CHUNK_EVENTS events), then lets go
# of the repository lock for a moment, so a concurrent ``record`` waits seconds, not minutes.
# AGENTOPS_CHUNK_EVENTS lowers the count (the tests use it to make several chunks).
CHUNK_SECONDS = 2.0
CHUNK_EVENTS = int(os.environ.get("AGENTOPS_CHUNK_EVENTS") or 5000)
CHUNK_PAUSE = 0.15


class CommitFailed(AgentopsError):
    """git refused the commit (a hook, signing, the disk); the work tree was put back."""


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
    warnings: tuple[str, ...] = ()
    # when nothing opened: per trigger that listened, why not (see policy.explain)
    why_not: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {
            "event_id": self.event_id, "matched": list(self.matched),
            "incidents": [dict(i) for i in self.incidents],
            "troubleshooting": list(self.troubleshooting), "memory": list(self.memory),
            "commit": self.commit,
        }
        if self.why_not:
            out["why_not"] = [dict(w) for w in self.why_not]
        return out

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
        commit=commit, why_not=tuple(stored.get("why_not", ())),
    )


class Context:
    """One locked operation on a repository: policy, config, cache, and the files it edits."""

    def __init__(self, repo: Path, *, now: datetime) -> None:
        self.repo = repo
        self.now = now
        self.gitdir = git.common_dir(repo)
        self.config: Config = load_config(repo, memo=self.gitdir / "agentops" / "config.json")
        self.policy: Policy = load_policy([repo / RULES_DIR], base=repo,
                                          cache=self.gitdir / "agentops" / "rules.cache")
        self.store = Store(self.gitdir / "agentops" / "state.sqlite", root=repo)
        self.ledger = LedgerWriter(repo, self.store, redact=self.config.redaction_patterns)
        self.journal_lines: list[bytes] = []
        # names this batch's commit and journal records, so a replay can tell which
        # operations a commit was made for
        # a word, not bare hex: secret scanners take a quoted 16-digit hex string for a key
        self.batch = "b-" + os.urandom(8).hex()
        self.outbox_lines: list[bytes] = []  # announcements, committed with the batch
        self.trailers: list[tuple[str, str]] = []
        self.summaries: list[str] = []
        # False for a chunk of a big batch that more chunks follow: the last one snapshots
        self.final = True

    @property
    def pending_path(self) -> Path:
        return pending_path(self.repo)


def pending_path(repo: Path) -> Path:
    """The recovery note of this work tree (per worktree: its own git dir, not the common one)."""
    return git.git_dir(repo) / "agentops" / "pending"


def process(
    repo: Path, events: Sequence[Event], *, actor: str | None = None, dry_run: bool = False,
    now: datetime | None = None, environments: str = "any",
) -> list[Outcome]:
    """Run events through the pipeline as one batch and one commit; see the module docstring.

    ``environments``: what to do with an environment the policy does not know: ``any``
    (record it as given), ``warn`` (record it, with a warning in the outcome) or ``strict``
    (InvalidEventError before anything is written). Sources people type into use strict.

    With ``push.enabled`` in the config the commit is pushed; when the remote moved on, the
    unpushed events are replayed on the new tip (ids renumbered as needed) and pushed again.
    """
    _require_initialised(repo)
    check_actor(actor, "--actor")
    when = to_precision(now or utcnow())
    outcomes: list[Outcome] = []
    rest = list(events)
    while True:  # one chunk per lock: a big batch never makes a concurrent record wait long
        with git.locked(repo):
            recover(repo)
            limit = None if dry_run else time.monotonic() + CHUNK_SECONDS
            done, config = _batch(repo, rest, actor=actor, dry_run=dry_run, now=when,
                                  until=limit, environments=environments)
            if config.push and not dry_run:
                replayed = publish(repo, config)
                done = [replayed.get(o.event_id, o) for o in done]
        outcomes += done
        rest = rest[len(done):]
        if not rest:
            return outcomes
        time.sleep(CHUNK_PAUSE)  # the lock is polled: leave a waiting writer room to take it


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
           now: datetime, until: float | None = None,
           environments: str = "any") -> tuple[list[Outcome], Config]:
    """A prefix of ``events`` as one commit: all of them, or (with ``until``, a monotonic
    deadline) as many as fit before it, at least one and at most ``CHUNK_EVENTS``."""
    ctx = Context(repo, now=now)
    try:
        warnings = _check_environments(ctx.policy, events, environments)
        ensure_current(ctx)
        outcomes = []
        for event in events:
            outcomes.append(_one(ctx, event))
            if until is not None and (len(outcomes) >= CHUNK_EVENTS
                                      or time.monotonic() >= until):
                break
        ctx.final = len(outcomes) == len(events)
        if warnings:
            outcomes = [o._replace(warnings=warnings.get(i, ())) for i, o in enumerate(outcomes)]
        if dry_run:
            ctx.store.discard()
            return outcomes, ctx.config
        sha = _commit(ctx, outcomes, actor=actor or _single_actor(events))
        return [_with_commit(o, sha) if not o.duplicate else o for o in outcomes], ctx.config
    finally:
        ctx.store.close()


def _check_environments(policy: Policy, events: Sequence[Event],
                        mode: str) -> dict[int, tuple[str, ...]]:
    if mode == "any":
        return {}
    out: dict[int, tuple[str, ...]] = {}
    for i, event in enumerate(events):
        problem = unknown_environment(policy, event.environment)
        if problem is None:
            continue
        if mode == "strict":
            raise InvalidEventError(problem)
        out[i] = (problem.split(" (add it")[0] + "; recorded as given",)
    return out


def _require_initialised(repo: Path) -> None:
    missing = [name for name in (*LEDGER_FILES, RULES_DIR) if not (repo / name).exists()]
    if missing:
        raise RepoError(f"{repo} is not an agentops repository (missing {', '.join(missing)}); "
                        "run `agentops init` first")
    fsutil.refuse_symlinks(repo, (*LEDGER_FILES, journal.JOURNAL_DIR))
    # the push replay's scratch work tree is detached on purpose: its commits become the branch
    replay = oplog.ref_name(repo) != oplog.REF
    if not replay and git.is_detached(repo) and not load_config(repo).allow_detached_head:
        raise RepoError(
            f"{repo}: HEAD is detached, so a commit here would belong to no branch and be easy "
            "to lose. Check out a branch (git switch BRANCH), or set git.allow_detached_head: "
            "true in .agentops/config.yaml")


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
    if not any(d.action == OPEN for d in decisions):
        from agentops.policy.explain import why_nothing_opened

        why = why_nothing_opened(ctx.policy, event, decisions, incidents=ids)
        outcome = outcome._replace(why_not=tuple(w.to_dict() for w in why))
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
    _save(ctx)
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
    check_actor(actor, "--actor")  # the lifecycle commands come here directly
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
    fsutil.refuse_symlinks(ctx.repo, paths)
    before = _snapshot(ctx.repo, paths)
    _begin_pending(ctx, paths, ref=ref, subject=subject)
    sha = None
    try:
        if paths:
            ctx.ledger.write_all()
            if ctx.outbox_lines:
                fsutil.append_durable(ctx.repo / opath, b"".join(ctx.outbox_lines))
            sha = git.commit(ctx.repo, paths=paths, subject=subject, body=body,
                             trailers=trailers, author=ctx.config.author(actor))
    except BaseException as exc:
        ctx.store.discard()
        restored = _restore(ctx.repo, paths, before)
        if restored and isinstance(exc, git.GitError):
            raise CommitFailed(
                f"git commit failed, so nothing was recorded; the ledger and journal are back "
                f"as they were ({', '.join(paths)}). Fix the cause and retry.\n{exc}") from exc
        raise
    if ctx.journal_lines:
        # after the branch commit: a journal ahead of the branch would answer a retry with an
        # incident the branch does not have (recover() completes this step after a crash)
        oplog.append(ctx.repo, ctx.journal_lines, when=ctx.now, ref=ref,
                     subject=_journal_subject(subject, ctx.batch, sha))
    if save:
        _save(ctx)
    ctx.pending_path.unlink(missing_ok=True)
    return sha


def _save(ctx: Context) -> None:
    """Save the cache as describing both tips; every ``snapshot.EVERY`` journal lines, also
    commit its journal tables as the snapshot a fresh clone starts from (at the end of a big
    batch, not after each of its chunks: each snapshot costs as much as the state is big)."""
    snapshot.count_appended(ctx.store, len(ctx.journal_lines))
    snapshot.note_latest(ctx.store, format_time(ctx.now))
    ctx.store.save(state_key(ctx.repo))
    if ctx.final and snapshot.due(ctx.repo, ctx.store):
        from agentops.store.rebuild import incident_file_states

        try:
            incident_file_states(ctx.repo, ctx.store)  # what the files say now goes with it
            snapshot.write(ctx.repo, ctx.store, ctx.policy)
        except (git.GitError, OSError, sqlite3.Error):
            return  # only a cache: the next batch tries again
        ctx.store.save(state_key(ctx.repo))


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
    from agentops.ledger.safety import redact_obj

    key = key or derive_key({"op": name, "args": args, "actor": actor,
                             "accepted": format_time(ctx.now), "batch": ctx.batch})
    # What a person typed (a note, a root cause) is committed too: redacted like the ledger,
    # so a replay redoes exactly what the ledger shows.
    ctx.journal_lines.append(journal.encode({
        "op": name, "key": key, "accepted": format_time(ctx.now), "actor": actor,
        "args": redact_obj(args, ctx.ledger.patterns), "batch": ctx.batch,
        "outcome": redact_obj(outcome or {}, ctx.ledger.patterns),
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
    # recover() then just removes it. It names its writer (pid and start time) for lint, and
    # carries the batch's journal lines, so that recover() can finish a batch whose branch
    # commit was made.
    fsutil.write_note(ctx.pending_path, json.dumps({
        "paths": paths, "pid": git.process_identity(os.getpid()), "batch": ctx.batch,
        "ref": ref, "parent": oplog.tip(ctx.repo, ref), "when": format_time(ctx.now),
        "subject": subject, "lines": [line.decode("utf-8") for line in ctx.journal_lines],
    }))


_Snapshot = dict[str, "bytes | int | None"]


def _snapshot(repo: Path, paths: Sequence[str]) -> _Snapshot:
    """What the batch is about to change: each ledger file's bytes, the length of the journal
    and the outbox (``.jsonl``, only appended to), None for a file that does not exist yet."""
    out: _Snapshot = {}
    for path in paths:
        target = repo / path
        try:
            out[path] = (target.stat().st_size if path.endswith(".jsonl")  # append-only
                         else target.read_bytes())
        except FileNotFoundError:
            out[path] = None
    return out


def _restore(repo: Path, paths: Sequence[str], before: _Snapshot) -> bool:
    """Put ``paths`` back as they were before a failed batch and unstage them. False when that
    failed too (the pending note then stays, and the next command restores from HEAD)."""
    try:
        for path in paths:
            target, old = repo / path, before.get(path)
            if old is None:
                target.unlink(missing_ok=True)
            elif isinstance(old, int):
                with target.open("r+b") as fh:
                    fh.truncate(old)
            else:
                fsutil.atomic_write(target, old)
        git.run(repo, "reset", "-q", "--", *paths, check=False)
        pending_path(repo).unlink(missing_ok=True)
    except (OSError, git.GitError):
        return False
    return True


def pending_note(repo: Path) -> dict[str, Any] | None:
    """The recovery note a batch cut short left in this work tree, or None (for ``lint``)."""
    try:
        doc = json.loads(pending_path(repo).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(doc, list):  # the note of earlier versions: just the paths
        doc = {"paths": doc, "pid": None}
    return doc if isinstance(doc, dict) and isinstance(doc.get("paths"), list) else None


def recover(repo: Path) -> list[str]:
    """Settle a batch that was cut short; returns the ledger paths it restored from HEAD.

    If its branch commit was made (or it needed none), the journal lines are committed now:
    the batch happened. Otherwise its paths are restored from HEAD: it did not. Runs first in
    every writing command, under the repository lock: a stale ``index.lock`` left by a killed
    git is removed before anything else touches the index.
    """
    git.clear_stale_index_lock(repo)
    pending = pending_path(repo)
    note = pending_note(repo)
    if note is None:
        pending.unlink(missing_ok=True)
        return []
    paths = [str(p) for p in note["paths"]]
    batch = note.get("batch")
    if isinstance(batch, str) and (not paths or _head_has_batch(repo, batch)):
        _finish_journal(repo, note)
        pending.unlink(missing_ok=True)
        return []
    if not paths:
        pending.unlink(missing_ok=True)
        return []
    who = f" by pid {str(note['pid']).split(':')[0]}" if note.get("pid") else ""
    print(f"agentops: warning: restoring {', '.join(paths)} from HEAD: a batch started{who} "
          "was cut short before its commit", file=sys.stderr)
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
    pending.unlink(missing_ok=True)
    return list(paths)


def _head_has_batch(repo: Path, batch: str) -> bool:
    message = git.run(repo, "log", "-1", "--format=%B", "HEAD", check=False)
    return f"Agentops-Batch: {batch}" in message


def _finish_journal(repo: Path, note: dict[str, Any]) -> None:
    """Commit the journal lines of a batch that got as far as its branch commit."""
    ref = str(note.get("ref") or oplog.REF)
    lines = note.get("lines") or []
    if not lines or oplog.tip(repo, ref) != note.get("parent"):
        return  # nothing to journal, or it was journaled before the crash
    from agentops.events import parse_time

    oplog.append(repo, [(line if line.endswith("\n") else line + "\n").encode()
                        for line in lines],
                 when=parse_time(note["when"]), ref=ref, parent=note.get("parent"),
                 subject=f"{note.get('subject', 'agentops')} [recovered]")


def state_key(repo: Path) -> str:
    """What the cache describes: the branch tip and the journal tip."""
    return f"{git.read_head(repo) or ''}+{oplog.tip(repo) or ''}"


def ensure_current(ctx: Context) -> None:
    """Rebuild the cache from the journal and the ledger unless it describes both tips.

    A journal fetched from the remote (``git pull``) is merged into ours first, so that what
    other clones recorded counts here too.
    """
    oplog.fetch_if_missing(ctx.repo, ctx.config.remote)
    oplog.absorb(ctx.repo, ctx.config.remote)
    key = state_key(ctx.repo)
    if ctx.store.is_current(key):
        return
    from agentops.store.rebuild import rebuild

    rebuild(ctx.repo, ctx.store, ctx.policy)
    ctx.store.save(key)
