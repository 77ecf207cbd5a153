"""Body -> events for the HTTP path, telling "not JSON" (400) from "wrong shape" (422).

The adapters in :mod:`agentops.sources` report both kinds as ``InvalidEventError``; a sender
deserves to know whether its bytes or its fields were wrong. The body is decoded here first
with the limits a hostile client needs (UTF-8, JSON, no NaN, bounded nesting), then handed to
the same :func:`~agentops.sources.parse_payload` that ``agentops hook`` uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

from agentops.events import Event
from agentops.sources import parse_payload

MAX_DEPTH = 64


class MalformedBody(Exception):
    """The body is not UTF-8 JSON (or JSON lines for ``generic``) within the limits."""


def parse_body(source: str, body: bytes, headers: Mapping[str, str]) -> list[Event]:
    """Events from one request; MalformedBody (400) or InvalidEventError (422)."""
    doc = decode(source, body)
    # Objects go in decoded; anything else as bytes, so the adapter names its shape.
    return parse_payload(source, doc if isinstance(doc, Mapping) else body, headers=headers)


def decode(source: str, body: bytes) -> Any:
    """The JSON document, or for ``generic`` the JSON-lines text once each line is checked."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"body: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise MalformedBody("body: empty")
    try:
        return _loads(text, "body")
    except MalformedBody:
        if source != "generic" or "\n" not in text.strip():
            raise
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            _loads(line, f"line {number}")
    return text


def _loads(text: str, where: str) -> Any:
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise MalformedBody(f"{where}: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise MalformedBody(
            f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python will convert
        raise MalformedBody(f"{where}: {exc}") from None
    _check_depth(doc, where)
    return doc


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _check_depth(doc: Any, where: str) -> None:
    level: list[Any] = [doc] if isinstance(doc, (dict, list)) else []
    for _depth in range(MAX_DEPTH + 1):
        level = [
            child for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return
    raise MalformedBody(f"{where}: nested deeper than {MAX_DEPTH} levels")
