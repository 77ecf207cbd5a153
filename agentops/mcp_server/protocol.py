"""MCP over stdio with the standard library: newline-delimited JSON-RPC 2.0.

The server answers the handshake-era protocol (``initialize``, 2024-11-05 .. 2025-11-25):
``tools/*``, ``resources/*`` and ``ping``. Anything else is "method not found", which is also
what tells a newer client probing ``server/discover`` to fall back to ``initialize``. Requests
are handled one at a time: the pipeline serialises writes under its lock anyway, and an agent
waits for each answer before it acts.

Only the protocol may write to the real stdout. ``serve_stdio`` moves it to a private file
descriptor and points descriptor 1 at stderr, so a stray ``print`` or a child process that
inherits stdout can never corrupt the stream.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from agentops import __version__
from agentops.errors import AgentopsError
from agentops.mcp_server.rpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)

PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
INSTRUCTIONS = (
    "agentops is this repository's incident memory. Before acting, `recall` what is known; "
    "report every outcome with `record_event` (give an idempotency `key` when retrying); "
    "work incidents with `list_incidents`, `show_incident`, `update_incident` and "
    "`add_followup`; `check` lists what is overdue. Every write is a git commit."
)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ToolBox(Protocol):
    """The tools a server offers. The protocol knows how to call them, not what they do: the
    commands layer supplies them (``agentops.commands.mcp_tools``), as ``cli.py`` supplies the
    click commands."""

    @property
    def TOOLS(self) -> Mapping[str, Any]: ...  # noqa: N802 - the module constant's name

    def list_tools(self) -> dict[str, Any]: ...

    def call_tool(self, name: str, arguments: Any, *, repo: Path) -> Mapping[str, Any]: ...


class Dispatcher:
    """Maps MCP methods to handlers over one repository; transport-independent."""

    def __init__(self, repo: Path, tools: ToolBox) -> None:
        self.repo = repo
        self.tools = tools
        self.methods: dict[str, Handler] = {
            "initialize": initialize, "ping": lambda _: {},
            "tools/list": lambda _: tools.list_tools(),
            "tools/call": self._call_tool,
            "resources/list": lambda p: _resources().list_resources(self.repo, p),
            "resources/templates/list": lambda _: _resources().list_templates(),
            "resources/read": lambda p: _resources().read_resource(self.repo, p),
            "logging/setLevel": lambda _: {},
        }

    def handle(self, message: Any) -> dict[str, Any] | None:
        """One incoming message -> the response to send, or None for a notification."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return _error(None, INVALID_REQUEST, "expected a JSON-RPC 2.0 object")
        if "method" not in message:
            return None  # a response to a request we never make
        if "id" not in message:
            return None  # notifications: initialized, cancelled, roots changed
        return self._answer(message["id"], message["method"], message.get("params"))

    def _answer(self, rid: Any, method: Any, params: Any) -> dict[str, Any]:
        handler = self.methods.get(method) if isinstance(method, str) else None
        if handler is None:
            return _error(rid, METHOD_NOT_FOUND, f"method not found: {method}")
        if params is not None and not isinstance(params, dict):
            return _error(rid, INVALID_PARAMS, "params must be an object")
        try:
            return {"jsonrpc": "2.0", "id": rid, "result": handler(params or {})}
        except RpcError as exc:
            return _error(rid, exc.code, str(exc))
        except AgentopsError as exc:  # e.g. reading a resource in an uninitialised repo
            return _error(rid, INVALID_PARAMS, f"error: {exc}")

    def _call_tool(self, params: dict[str, Any]) -> dict[str, Any]:
        name, arguments = params.get("name"), params.get("arguments", {})
        if not isinstance(name, str) or name not in self.tools.TOOLS:
            raise RpcError(INVALID_PARAMS, f"unknown tool: {name}")
        return dict(self.tools.call_tool(name, arguments, repo=self.repo))


def initialize(params: dict[str, Any]) -> dict[str, Any]:
    """The handshake: echo the client's version when we speak it, else offer our newest."""
    asked = params.get("protocolVersion")
    version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[-1]
    return {
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": False},
                         "resources": {"subscribe": False, "listChanged": False}},
        "serverInfo": {"name": "agentops", "version": __version__},
        "instructions": INSTRUCTIONS,
    }


def _error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def _resources() -> Any:
    from agentops.mcp_server import resources

    return resources


# --- the stdio transport -----------------------------------------------------------------------


def serve_lines(dispatcher: Dispatcher, lines: Iterable[bytes], out: IO[bytes]) -> None:
    """Answer each line until the input ends; the client closing stdin is the shutdown."""
    for line in lines:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            reply: dict[str, Any] | None = _error(None, PARSE_ERROR, "invalid JSON")
        else:
            reply = guarded(dispatcher, message)
        if reply is not None:
            out.write(json.dumps(reply, separators=(",", ":"), default=str).encode() + b"\n")
            out.flush()


def guarded(dispatcher: Dispatcher, message: Any) -> dict[str, Any] | None:
    """Answer one message; a bug in one request becomes an error answer, not a dead session."""
    try:
        return dispatcher.handle(message)
    except Exception as exc:  # noqa: BLE001 - the one place that turns surprises into answers
        traceback.print_exc(file=sys.stderr)
        rid = message.get("id") if isinstance(message, dict) else None
        return _error(rid, INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")


def serve_stdio(repo: Path, tools: ToolBox) -> None:
    """Serve on this process's stdin/stdout until stdin closes."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with out:
        serve_lines(Dispatcher(repo, tools), sys.stdin.buffer, out)
