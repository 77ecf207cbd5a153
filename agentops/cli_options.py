"""The options every command shares, and how results are printed.

Both ``cli.py`` (which defines ``record``) and ``cli_commands.py`` (everything else, loaded
lazily) use them; keeping them here lets the lazy module import them without importing
``cli.py`` back.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class _RepoPath(click.ParamType):  # type: ignore[type-arg]
    """A directory argument; ``click.Path`` would import ``locale`` on every start-up."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.exists() and not path.is_dir():
            self.fail(f"{value!r} is a file, not a directory", param, ctx)
        return path


def repo_option(fn: F) -> F:
    return click.option(
        "--repo", type=_RepoPath(), default=None, metavar="DIRECTORY",
        help="The managed git repository (default: the one containing the working directory).",
    )(fn)


def format_option(fn: F) -> F:
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
        help="Output format: text for people, json for agents (on stdout).",
    )(fn)


def emit(fmt: str, data: Any, text: str | Callable[[], str]) -> None:
    """JSON to stdout for agents, or the human text. Either may be given as a function, so
    only the one printed is built (thousands of findings after an alert storm). JSON is
    indented on a terminal and on one line when piped (as ``gh`` does): the indenting encoder
    is pure Python, five times slower than the compact one."""
    if fmt == "json":
        indent = 2 if sys.stdout.isatty() else None
        value = data() if callable(data) else data
        click.echo(json.dumps(value, indent=indent, sort_keys=False, default=str))
    else:
        click.echo(text() if callable(text) else text)


C = TypeVar("C", bound=click.Command)


def examples(*lines: str) -> Callable[[C], C]:
    """Append an ``Examples:`` block (kept as typed) to a command's help."""
    def add(command: C) -> C:
        block = "\n".join(f"  {line}" for line in lines)
        command.help = f"{(command.help or '').rstrip()}\n\n\b\nExamples:\n{block}"
        return command
    return add


# --- shell completion: cheap, never fails (a completion that raises prints a traceback) ------

def _choices(words: Any, incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(w) for w in words if str(w).lower().startswith(incomplete.lower())]


def complete_incident_id(ctx: click.Context, _param: click.Parameter,
                         incomplete: str) -> list[Any]:
    """Incident ids from the INCIDENTS.md of ``--repo`` (or the one above the working dir)."""
    import re

    from agentops.vocabulary import LEDGER_KINDS

    name = LEDGER_KINDS["incident"].file_name
    start = Path(ctx.params.get("repo") or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / name).is_file():
            try:
                text = (folder / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return []
            ids = dict.fromkeys(re.findall(r"\bINC-\d{4}-\d{2}-\d{2}-\d{3,}\b", text))
            return _choices(sorted(ids, reverse=True), incomplete)
    return []


def complete_record_type(_ctx: click.Context, _param: click.Parameter,
                         incomplete: str) -> list[Any]:
    from agentops.vocabulary import RECORD_TYPES

    return _choices(RECORD_TYPES, incomplete)


def complete_field(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """``-f`` completes the fields of the record type given before it (``status=``...)."""
    from agentops.vocabulary import RECORD_TYPES, fields_of

    # While "-f" still waits for its value, click leaves TYPE among the unparsed args.
    rtype = ctx.params.get("rtype") or next((a for a in ctx.args if a in RECORD_TYPES), None)
    if not isinstance(rtype, str) or rtype not in RECORD_TYPES:
        return []
    name, sep, _ = incomplete.partition("=")
    field = fields_of(rtype).get(name)
    if sep and field is not None and field.allowed:
        return _choices([f"{name}={v}" for v in dict.fromkeys(field.allowed.values())],
                        incomplete)
    return _choices([f"{n}=" for n in fields_of(rtype)], incomplete)


def complete_status(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    from agentops.vocabulary import STATUSES

    return _choices([*STATUSES, "open"], incomplete)


def complete_severity(_ctx: click.Context, _param: click.Parameter,
                      incomplete: str) -> list[Any]:
    from agentops.vocabulary import SEVERITIES

    return _choices(SEVERITIES, incomplete)


def incident_id_argument(fn: F) -> F:
    return click.argument("inc_id", metavar="ID", shell_complete=complete_incident_id)(fn)


class IdFirstGroup(click.Group):
    """``followup ID add ...`` as documented, and ``followup add ID ...`` as people type it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (len(args) >= 2 and args[0] in self.commands and args[1] not in self.commands
                and not args[1].startswith("-")):
            args = [args[1], args[0], *args[2:]]
        return super().parse_args(ctx, args)
