"""Render the CLI reference (docs/cli.md) from the click commands themselves.

The reference is generated, never typed: ``python -m agentops.clidoc > docs/cli.md``. A test
fails when a command or option changes without the file being regenerated.
"""

from __future__ import annotations

import inspect

import click

HEADER = """# CLI reference

Generated from the commands by `python -m agentops.clidoc > docs/cli.md`; do not edit by hand
(`tests/test_docs.py` fails when this file and the commands disagree).

Every command that reads or writes a repository takes `--repo PATH` (default: the git work
tree containing the working directory). Exit codes: 0 success, 1 a user-facing error (or
problems found by `check`/`lint`), 2 usage error, 3 internal error (crash log written),
130 interrupted.
"""


def render(group: click.Group) -> str:
    parts = [HEADER]
    for path, command in _walk(group, ["agentops"]):
        parts.append(_command(path, command))
    return "\n".join(parts).rstrip() + "\n"


def _walk(group: click.Group, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out: list[tuple[list[str], click.Command]] = []
    ctx = click.Context(group, info_name=path[-1])
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        out.append(([*path, name], command))
        if isinstance(command, click.Group):
            out.extend(_walk(command, [*path, name]))
    return out


def _command(path: list[str], command: click.Command) -> str:
    ctx = click.Context(command, info_name=" ".join(path))
    lines = [f"## `{' '.join(path)}`", "", "```", command.get_usage(ctx), "```", ""]
    help_text = inspect.cleandoc(command.help or "")
    if help_text:
        lines += [click.unstyle(help_text), ""]
    rows = [_option(p) for p in command.get_params(ctx)
            if isinstance(p, click.Option) and "--help" not in p.opts]
    if rows:
        lines += ["| option | description |", "|---|---|", *rows, ""]
    return "\n".join(lines)


def _option(param: click.Option) -> str:
    names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    if isinstance(param.type, click.Choice):
        names += " " + "\\|".join(str(c) for c in param.type.choices)
    text = (param.help or "").replace("|", "\\|").replace("\n", " ")
    default = param.default
    if isinstance(default, (str, int, float)) and not isinstance(default, bool) and default != "":
        text += f" (default: `{default}`)"
    return f"| {names} | {text} |"


def main() -> None:
    from agentops.cli import cli

    click.echo(render(cli), nl=False)


if __name__ == "__main__":
    main()
