"""JSON-RPC 2.0 error codes and the error a handler raises to answer with one.

Apart from the protocol so that the resource handlers can raise it without importing the
dispatcher that imports them.
"""

from __future__ import annotations

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class RpcError(Exception):
    """A JSON-RPC error answer (a protocol problem, not a failed tool call)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
