"""``agentops mcp``: the Model Context Protocol face of the one pipeline.

Agents that speak MCP get the same record / recall / incident lifecycle as the command line,
through the same command functions, so an MCP call is exactly as safe as a CLI call: one
lock, one journal, idempotency keys and redaction. The stdio server (``protocol``) is written
on the standard library alone because importing the ``mcp`` SDK costs half a second and
agents start this process often; the SDK is used only for the optional HTTP transport
(``http``) and by the tests, which drive the stdio server with the SDK's own client.
"""

from __future__ import annotations
