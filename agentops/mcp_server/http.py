"""MCP's streamable HTTP transport on loopback, stateless, with the standard library.

``POST /mcp`` carries one JSON-RPC message and gets its answer as ``application/json`` (or
202 for a notification); the server never streams or pushes, so ``GET`` is 405 as the
transport allows. The same :class:`Dispatcher` as stdio answers, so both transports give the
same results. Requests are served one at a time (the pipeline serialises writes anyway). An
``Origin`` header naming another host is refused: that is how a web page would try to reach
a server on localhost (DNS rebinding).
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentops.mcp_server.protocol import Dispatcher, ToolBox, guarded
from agentops.mcp_server.rpc import PARSE_ERROR

PATH = "/mcp"
MAX_BODY = 4 * 1024 * 1024
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class Handler(BaseHTTPRequestHandler):
    """One request: route, check, dispatch, answer."""

    dispatcher: Dispatcher
    server_version = "agentops-mcp"

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        if not self._allowed():
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._reply(413 if length else 400, None)
            return
        try:
            message = json.loads(self.rfile.read(length))
        except ValueError:
            self._reply(400, {"jsonrpc": "2.0", "id": None,
                              "error": {"code": PARSE_ERROR, "message": "invalid JSON"}})
            return
        reply = guarded(self.dispatcher, message)
        self._reply(202 if reply is None else 200, reply)

    def do_GET(self) -> None:  # noqa: N802
        if self._allowed():
            self._reply(405, None, allow="POST")

    def do_DELETE(self) -> None:  # noqa: N802 - no sessions to end
        if self._allowed():
            self._reply(405, None, allow="POST")

    def _allowed(self) -> bool:
        if urlsplit(self.path).path != PATH:
            self._reply(404, None)
            return False
        origin = self.headers.get("Origin")
        if origin and urlsplit(origin).hostname not in LOCAL_HOSTS:
            self._reply(403, None)
            return False
        return True

    def _reply(self, status: int, body: Any, *, allow: str | None = None) -> None:
        data = b"" if body is None else json.dumps(body, default=str).encode()
        self.send_response(status)
        if allow:
            self.send_header("Allow", allow)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
        sys.stderr.write(f"agentops mcp: {format % args}\n")


def make_server(repo: Path, tools: ToolBox, *, host: str, port: int) -> HTTPServer:
    """A bound server (port 0 picks a free one: read ``server_address``)."""
    handler = type("BoundHandler", (Handler,), {"dispatcher": Dispatcher(repo, tools)})
    return HTTPServer((host, port), handler)


def serve_http(repo: Path, tools: ToolBox, *, host: str, port: int) -> None:
    """Serve until interrupted; the address goes to stderr for whoever started us."""
    server = make_server(repo, tools, host=host, port=port)
    bound_host, bound_port = server.server_address[:2]
    sys.stderr.write(f"agentops mcp: streamable HTTP on http://{bound_host!s}:{bound_port}"
                     f"{PATH}\n")
    sys.stderr.flush()
    with server:
        server.serve_forever()
