"""Drive ``agentops mcp`` the way an agent does: the ``mcp`` SDK's client, over stdio, in a
subprocess. Tests write a coroutine taking the connected client and run it with ``drive``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from cli_helpers import AGENTOPS, run_cli
from mcp import Client, StdioServerParameters

T = TypeVar("T")


def server_params(repo: Path) -> StdioServerParameters:
    # The SDK passes only a minimal environment by default; the test's isolated git identity
    # lives in HOME and GIT_CONFIG_GLOBAL, so hand the whole environment over.
    command, *prefix = AGENTOPS
    return StdioServerParameters(command=command, args=[*prefix, "mcp", "--repo", str(repo)],
                                 env=dict(os.environ))


def drive(repo: Path, scenario: Callable[[Client], Awaitable[T]]) -> T:
    """Start the server against ``repo``, connect, run ``scenario``, shut down."""
    async def main() -> T:
        async with Client(server_params(repo), read_timeout_seconds=60) as client:
            return await scenario(client)

    return asyncio.run(main())


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    """Call a tool that must succeed; its JSON text decoded."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    return json.loads(text)


async def call_error(client: Client, tool: str, arguments: Any) -> str:
    """Call a tool that must fail; its error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result
    return str(result.content[0].text)  # type: ignore[union-attr]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def initialised(repo: Path) -> Path:
    done = run_cli(["init"], repo=repo)
    assert done.returncode == 0, done.stderr
    return repo
