"""Start the MCP server on stdio, or on streamable HTTP when asked; the ``agentops mcp`` body.

The repository is resolved once, before the first message, so a server started in the wrong
place fails at once with the CLI's message instead of on every tool call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agentops.paths import find_repo

if TYPE_CHECKING:
    from agentops.mcp_server.protocol import ToolBox


def serve(*, repo: Path | None, tools: ToolBox, http: bool = False, host: str = "127.0.0.1",
          port: int = 8765) -> None:
    """Serve until stdin closes (stdio) or the process is interrupted (HTTP)."""
    root = find_repo(repo)
    if http:
        from agentops.mcp_server.http import serve_http

        serve_http(root, tools, host=host, port=port)
        return
    from agentops.mcp_server.protocol import serve_stdio

    serve_stdio(root, tools)
