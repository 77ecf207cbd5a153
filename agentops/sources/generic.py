"""Generic webhook bodies: agentops' own Event JSON, for pipelines that build events themselves.

The body is one event object, a JSON list of them, or JSON lines (one event per line), each
validated by :func:`agentops.events.event_from_dict`, the same check ``record --input`` uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, event_from_dict


def parse(
    doc: Any, *, headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> list[Event]:
    """Events from an object, a list, or raw text holding JSON or JSON lines."""
    if isinstance(doc, bytes):
        doc = _decode(doc)
    if isinstance(doc, str):
        return _from_text(doc, now=now)
    if isinstance(doc, Mapping):
        return [event_from_dict(doc, now=now)]
    if isinstance(doc, list):
        return [_item(item, f"[{index}]", now=now) for index, item in enumerate(doc)]
    raise InvalidEventError(f"body: expected an event object or a list, got {type(doc).__name__}")


def _from_text(text: str, *, now: datetime | None) -> list[Event]:
    if not text.strip():
        raise InvalidEventError("body: empty")
    try:
        return parse(json.loads(text), now=now)
    except json.JSONDecodeError:
        pass  # not one JSON document: try JSON lines
    events: list[Event] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidEventError(f"line {number}: not valid JSON ({exc.msg})") from None
        events.append(_item(data, f"line {number}", now=now))
    return events


def _item(data: Any, where: str, *, now: datetime | None) -> Event:
    try:
        return event_from_dict(data, now=now)
    except InvalidEventError as exc:
        raise InvalidEventError(f"{where}: {exc}") from None


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEventError(f"body: not UTF-8 ({exc.reason} at byte {exc.start})") from None
