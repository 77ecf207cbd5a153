"""The stdio protocol layer in-process: framing, errors, and stdout kept clean."""

from __future__ import annotations

import io
import json
from pathlib import Path

from agentops.commands import mcp_tools
from agentops.mcp_server.protocol import Dispatcher, serve_lines


def exchange(*lines: bytes) -> list[dict[str, object]]:
    out = io.BytesIO()
    serve_lines(Dispatcher(Path("."), mcp_tools), list(lines), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_notifications_get_no_answer_and_requests_one_each() -> None:
    replies = exchange(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
                       b'{"jsonrpc":"2.0","id":7,"method":"ping"}\n')
    assert replies == [{"jsonrpc": "2.0", "id": 7, "result": {}}]


def test_unknown_method_and_bad_json_are_protocol_errors() -> None:
    replies = exchange(b'{"jsonrpc":"2.0","id":1,"method":"server/discover"}\n', b"{nope\n")
    assert [r["error"]["code"] for r in replies] == [-32601, -32700]  # type: ignore[index]


def test_initialize_echoes_a_known_version_and_offers_the_newest_otherwise() -> None:
    asks = [b'{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":"%s"}}\n'
            % (n, v.encode()) for n, v in enumerate(["2025-03-26", "1999-01-01"])]
    versions = [r["result"]["protocolVersion"] for r in exchange(*asks)]  # type: ignore[index]
    assert versions == ["2025-03-26", "2025-11-25"]


def test_unknown_tool_is_invalid_params() -> None:
    reply = exchange(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm"}}\n')
    assert reply[0]["error"] == {"code": -32602, "message": "unknown tool: rm"}
