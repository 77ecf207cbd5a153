"""``agentops mcp``: the MCP server with this project's tools.

The protocol layer (:mod:`agentops.mcp_server`) speaks JSON-RPC and knows nothing of what a
tool does; the tools map their arguments to command functions (:mod:`.mcp_tools`), so they
live here beside the commands they call, and are handed to the server.
"""

from __future__ import annotations

from pathlib import Path

from agentops.commands import mcp_tools
from agentops.mcp_server.run import serve as run_server


def serve(*, repo: Path | None, http: bool, host: str, port: int) -> None:
    run_server(repo=repo, tools=mcp_tools, http=http, host=host, port=port)
