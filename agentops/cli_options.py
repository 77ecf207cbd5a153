"""The options every command shares, and how results are printed.

Both ``cli.py`` (which defines ``record``) and ``cli_commands.py`` (everything else, loaded
lazily) use them; keeping them here lets the lazy module import them without importing
``cli.py`` back.
"""

from __future__ import annotations

import json
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


def emit(fmt: str, data: Any, text: str) -> None:
    """JSON to stdout for agents, or the human text."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        click.echo(text)
