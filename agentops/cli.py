"""The click command line: each command maps its options to one call and nothing more.

Only click is imported at start-up; each command imports what it needs when it runs, so
``agentops record`` never pays for the HTTP stack, the Kubernetes client or CEL. Errors become
messages and exit codes here and only here.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from agentops import __version__
from agentops.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, AgentopsError

F = TypeVar("F", bound=Callable[..., Any])


def repo_option(fn: F) -> F:
    return click.option(
        "--repo", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="The managed git repository (default: the one containing the working directory).",
    )(fn)


def format_option(fn: F) -> F:
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
        help="Output format: text for people, json for agents (on stdout).",
    )(fn)


def emit(fmt: str, data: Any, text: str) -> None:
    """JSON to stdout for agents, or the human text."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="agentops")
def cli() -> None:
    """Git-native incident memory for autonomous operations agents.

    Events from agents, pipelines and the cluster go through one policy engine and become
    reviewed-quality entries in INCIDENTS.md, TROUBLESHOOTING.md and MEMORY.md, committed with git.
    """


# --- rules -------------------------------------------------------------------------------------

@cli.group()
def rules() -> None:
    """Validate, test and explain the escalation policy (rules/*.yaml)."""


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

@cli.command("schema")
@click.argument("name", type=click.Choice(["event"]))
def schema(name: str) -> None:
    """Print a JSON Schema (event: the Event every source produces)."""
    from agentops.events import EVENT_SCHEMA

    click.echo(json.dumps(EVENT_SCHEMA, indent=2))


# --- entry point -------------------------------------------------------------------------------

def _crash_log(exc: BaseException) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = base / "agentops" / f"crash-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{os.getpid()}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"agentops {__version__}\nargv: {sys.argv!r}\n\n" + "".join(
                traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return Path("(could not write crash log)")
    return path


def main(argv: list[str] | None = None) -> None:
    """Console entry point with the documented exit codes."""
    try:
        cli.main(args=argv, prog_name="agentops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
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
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the one place that turns surprises into exit 3
        log = _crash_log(exc)
        click.echo(f"internal error: {type(exc).__name__}: {exc}\ncrash log: {log}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
