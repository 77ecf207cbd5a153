"""The click command line: each command maps its options to one call and nothing more.

Only click is imported at start-up; each command imports what it needs when it runs, so
``agentops record`` never pays for the HTTP stack, the Kubernetes client or CEL. Errors become
messages and exit codes here and only here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from agentops import __version__
from agentops.cli_options import (
    complete_field,
    complete_record_type,
    emit,
    format_option,
    repo_option,
)
from agentops.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    EXIT_USER,
    AgentopsError,
)

F = TypeVar("F", bound=Callable[..., Any])


def _version(ctx: click.Context, value: bool) -> None:
    # click.version_option would import locale (and importlib.metadata) on every start-up
    if value and not ctx.resilient_parsing:
        click.echo(f"agentops, version {__version__}")
        ctx.exit()


class LazyGroup(click.Group):
    """The top-level group: ``record`` is defined here, the other commands are imported from
    ``agentops.cli_commands`` only when asked for (by name, or for completion). ``--help``
    lists them by section from :data:`COMMANDS` without importing any."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        from agentops import cli_commands

        command: click.Command = getattr(cli_commands, cmd_name.replace("-", "_"))
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for section in SECTIONS:
            rows = [(name, summary) for name, (where, summary) in COMMANDS.items()
                    if where == section]
            with formatter.section(section):
                formatter.write_dl(rows)


SECTIONS = ("Record and ingest", "Sources", "Incidents", "Reports", "Policy", "Maintenance")
# name -> (section of --help, one-line summary). The summary is what `agentops --help` shows;
# each command's own --help says the rest, with examples.
COMMANDS: dict[str, tuple[str, str]] = {
    "record": ("Record and ingest", "Record one automation outcome; print the decision."),
    "ingest": ("Record and ingest", "Record a batch: JSON lines or kubectl get events -o json."),
    "schema": ("Record and ingest", "Print the JSON Schema of an event or a record type."),
    "hook": ("Sources", "Record one webhook payload from a pipeline step."),
    "serve": ("Sources", "Receive webhooks over HTTP, authenticated."),
    "watch": ("Sources", "Watch a Kubernetes cluster and record its failures."),
    "mcp": ("Sources", "Serve the Model Context Protocol for agents."),
    "incident": ("Incidents", "List, show, ack, update, resolve; follow-ups and reviews."),
    "notify": ("Incidents", "Send queued announcements to Slack, Teams and webhooks."),
    "stats": ("Reports", "MTTA/MTTR, downtime and uptime, by category and cause."),
    "check": ("Reports", "Post-incident requirements and SLAs; exit 1 when overdue."),
    "recall": ("Reports", "What the ledgers know about an error, resource or command."),
    "postmortem": ("Reports", "Write or move the postmortem document of an incident."),
    "report": ("Reports", "Render a static status site: incidents, uptime, MTTR."),
    "rules": ("Policy", "Validate, test and explain the escalation policy."),
    "init": ("Maintenance", "Scaffold a repository: rules and the three ledgers."),
    "lint": ("Maintenance", "Check the ledgers, journal and rules; exit 1 on problems."),
    "demo": ("Maintenance", "Replay a realistic scenario into a fresh repository."),
    "merge-driver": ("Maintenance", "The git merge driver for the ledger (git runs it)."),
}


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, _param, value: _version(ctx, value),
              help="Show the version and exit.")
def cli() -> None:
    """Git-native incident memory for autonomous operations agents.

    Events from agents, pipelines and the cluster go through one policy engine and become
    reviewed-quality entries in INCIDENTS.md, TROUBLESHOOTING.md and MEMORY.md, committed with git.
    """


# --- the command agents wait for ----------------------------------------------------------

@cli.command("record")
@click.argument("rtype", metavar="[TYPE]", required=False, shell_complete=complete_record_type)
@click.option("--field", "-f", "fields", multiple=True, metavar="KEY=VALUE",
              shell_complete=complete_field,
              help="A field of the record (repeatable), e.g. -f status=failed -f service=api.")
@click.option("--message", "-m", default="", help="What happened, in words.")
@click.option("--key", default=None, help="Idempotency key: the same key never records twice.")
@click.option("--time", "when", default=None,
              help="When it happened, ISO 8601 with a zone (2026-11-24T08:30:00Z; default now).")
@click.option("--assume-utc", is_flag=True, help="Read times without a zone as UTC.")
@click.option("--actor", default=None, help="The agent or person acting (commit author).")
@click.option("--environment", "-e", default=None,
              help="e.g. production, staging: one the policy knows (rules/ environments:).")
@click.option("--allow-unknown-environment", is_flag=True,
              help="Record an environment the policy does not know, with a warning.")
@click.option("--input", "input_file", type=click.File("r"), default=None,
              help="Read the event as JSON from a file, or - for stdin, instead of TYPE/fields.")
@click.option("--dry-run", is_flag=True, help="Show the decision; write and commit nothing.")
@repo_option
@format_option
def record(rtype: str | None, fields: tuple[str, ...], message: str, key: str | None,
           when: str | None, assume_utc: bool, actor: str | None, environment: str | None,
           allow_unknown_environment: bool, input_file: Any, dry_run: bool, repo: Path | None,
           fmt: str) -> None:
    """Record one automation outcome and print the decision.

    TYPE is deployment (status, environment, service, revision), deletion (resource,
    environment, actor), approval (decision, action, approver), attempt (agent, task, outcome,
    error), availability (ratio or up, window), security (policy, resource, verdict), integrity
    (dataset, check, details), event (type=...), or any dotted event type. `agentops schema
    record TYPE` prints the fields of each; a misspelt or missing field is an error.

    Impact fields become the incident's when the event opens one: affected_services (comma
    list), affected_users, downtime_minutes (overrides the computed downtime), user_impact,
    scope, detection_method; e.g. -f affected_services=api,web -f affected_users=120.

    \b
    Examples:
      agentops record deployment -f status=failed -f service=api -e production
      agentops record attempt -f agent=agent-7 -f task=migrate -f outcome=failed
      agentops record --input examples/event.json
    """
    from agentops.commands import record as cmd

    if input_file is not None:
        if rtype not in (None, "-") or fields:
            raise click.UsageError("--input takes the whole event: give no TYPE or --field")
        event = cmd.read_event(input_file.read(), assume_utc=assume_utc)
    elif rtype is None:
        raise click.UsageError("give a record TYPE (e.g. deployment) or --input FILE")
    else:
        event = cmd.build_event(rtype, fields=cmd.parse_fields(fields), message=message, key=key,
                                time=when, actor=actor, environment=environment,
                                assume_utc=assume_utc, cli_strings=True)
    outcome = cmd.record(event, repo=repo, actor=actor, dry_run=dry_run,
                         allow_unknown_environment=allow_unknown_environment)
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    data = outcome.to_dict() | ({"dry_run": True, "decisions": list(outcome.decisions)}
                                if dry_run else {})
    if outcome.warnings:
        data["warnings"] = list(outcome.warnings)
    emit(fmt, data, cmd.outcome_text(outcome, dry_run=dry_run))


# --- entry point -------------------------------------------------------------------------------

def _crash_log(exc: BaseException) -> Path:
    import traceback

    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = base / "agentops" / f"crash-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"agentops {__version__}\nargv: {sys.argv!r}\n\n" + "".join(
                traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return Path("(could not write crash log)")
    return path


def _operating_error(exc: BaseException) -> str | None:
    """A full disk, a read-only filesystem, a permission error: the environment, not a bug, so
    exit 1 with the path and what to do (fsutil names the path where it writes; this catches
    the rest, e.g. the cache database)."""
    from agentops.errors import STORAGE_ERRNOS, storage_advice

    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}; {storage_advice(exc.errno)}"
    if type(exc).__module__ == "sqlite3" and type(exc).__name__ == "OperationalError":
        text = str(exc)
        errno = (28 if "full" in text else 30 if "readonly" in text or "read-only" in text
                 else 13 if "unable to open" in text else None)
        if errno is not None:
            return f"the agentops cache under .git/agentops: {text}; {storage_advice(errno)}"
    return None


def main(argv: list[str] | None = None) -> None:
    """Console entry point with the documented exit codes."""
    try:
        cli.main(args=argv, prog_name="agentops", standalone_mode=False)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at interpreter exit
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        # click turns a closed stdout pipe (`| head -1`) into exit 1 after wrapping the
        # streams; the reader has what it wanted, which is success
        if type(sys.stdout).__name__ == "_PacifyFlushWrapper":
            sys.exit(0)
        raise
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except AgentopsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader (`| head -1`) has what it wanted; point stdout at /dev/null so that the
        # flush at exit does not fail again and turn this into exit 120
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:
        if (message := _operating_error(exc)) is not None:
            click.echo(f"error: {message}", err=True)
            sys.exit(EXIT_USER)
        log = _crash_log(exc)
        click.echo(f"internal error: {type(exc).__name__}: {exc}\ncrash log: {log}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
