"""The one way the tests run the agentops command line.

``run_cli`` runs it in this process through click's ``CliRunner`` isolation and the real entry
point (``agentops.cli.main``), so the exit codes, the ``error: ...`` lines and the split between
stdout and stderr are exactly what a user's shell sees, without paying for a new interpreter
per call. ``run_process`` and ``start_process`` start a real ``python -m agentops`` for the few
tests where the process itself matters: a kill -9 in the middle of a write, writers racing each
other, a server or a watcher stopped by a signal, an installed wheel.

Both return what ``subprocess.run`` returns (``returncode``, ``stdout``, ``stderr``), so a test
reads the same whichever it uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from click.testing import CliRunner

from agentops.cli import main

# How a test starts agentops as a process (the interpreter running the tests, this checkout).
AGENTOPS = (sys.executable, "-m", "agentops")


class CliResult(NamedTuple):
    """One in-process run: the exit code and what went to stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str


def _argv(args: Sequence[str], repo: Path | None) -> list[str]:
    # --repo goes last, as a user would append it to any command line.
    return [*args, *(("--repo", str(repo)) if repo is not None else ())]


@contextmanager
def _working_directory(cwd: Path | None) -> Iterator[None]:
    if cwd is None:
        yield
        return
    before = os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


def run_cli(
    args: Sequence[str], *, repo: Path | None = None, input: str | bytes | None = None,
    cwd: Path | None = None, env: Mapping[str, str] | None = None,
) -> CliResult:
    """``agentops ARGS [--repo REPO]`` in this process, with ``input`` on stdin."""
    runner = CliRunner()
    with _working_directory(cwd), runner.isolation(input=input, env=env) as (out, err, _):
        try:
            main(_argv(args, repo))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # main always exits; reaching here would be a bug in the entry point
            code = 0
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    return CliResult(code, stdout.decode(), stderr.decode())


def run_process(
    args: Sequence[str], *, repo: Path | None = None, input: str | bytes | None = None,
    cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``agentops ARGS [--repo REPO]`` as a new process, waited for; ``env`` is added to ours."""
    data = input.decode() if isinstance(input, bytes) else input
    return subprocess.run(
        [*AGENTOPS, *_argv(args, repo)], input=data, capture_output=True, text=True, cwd=cwd,
        env={**os.environ, **(env or {})}, timeout=timeout, check=False,
    )


def start_process(
    args: Sequence[str], *, repo: Path | None = None, env: Mapping[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen[Any]:
    """``agentops ARGS [--repo REPO]`` started and left running (the caller stops it)."""
    return subprocess.Popen(
        [*AGENTOPS, *_argv(args, repo)], env={**os.environ, **(env or {})}, **popen)
