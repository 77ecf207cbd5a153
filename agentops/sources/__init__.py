"""Source adapters: third-party payloads in, lists of :class:`~agentops.events.Event` out.

Every webhook and cluster object enters agentops through one of these pure functions; none of
them writes a file. :func:`parse_payload` is the one entry point for ``hook`` and ``serve``: it
decodes the body, imports only the adapter it needs (``record`` must stay fast), and prefixes
every error with the source so a rejected webhook says exactly which field was wrong.

The small readers below (``get_str``, ``get_obj``...) are shared by the adapters so that a bad
payload always fails with a path like ``alerts[1].labels: expected an object``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, cast

from agentops.errors import InvalidEventError
from agentops.events import Event, format_time, parse_time
from agentops.vocabulary import HOOK_SOURCES

SOURCES = tuple(HOOK_SOURCES)

Body = bytes | str | Mapping[str, Any]
Parser = Callable[..., list[Event]]


def parse_payload(
    source: str,
    body: bytes | str | Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[Event]:
    """Turn one webhook body from ``source`` into events; raise InvalidEventError if malformed."""
    if source not in SOURCES:
        raise InvalidEventError(
            f"unknown source {source!r} (valid sources: {', '.join(SOURCES)})"
        )
    module = importlib.import_module(f"agentops.sources.{source}")
    parse = cast(Parser, module.parse)
    try:
        doc = body if source == "generic" else load_json(body)
        return parse(doc, headers=dict(headers or {}), now=now)
    except InvalidEventError as exc:
        raise InvalidEventError(f"{source}: {exc}") from None


def load_json(body: Body) -> Any:
    """Decode a JSON body (bytes or text); mappings pass through unchanged."""
    if isinstance(body, Mapping):
        return body
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise InvalidEventError(f"body: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InvalidEventError(
            f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value looked up case-insensitively, as HTTP requires."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return value
    return None


def child(path: str, key: str | int) -> str:
    """Extend a field path: ``child('alerts', 1)`` is ``alerts[1]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def as_obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"{path or 'body'}: expected an object, got {_kind(value)}")
    return value


def get_obj(data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """An optional nested object: missing or null reads as empty."""
    value = data.get(key)
    return {} if value is None else as_obj(value, child(path, key))


def get_list(data: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidEventError(f"{child(path, key)}: expected a list, got {_kind(value)}")
    return value


def get_str(
    data: Mapping[str, Any], key: str, path: str, *, required: bool = False
) -> str | None:
    """An optional string field; numbers are accepted and printed (YAML loves bare numbers)."""
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InvalidEventError(f"{child(path, key)}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float, datetime)):
        raise InvalidEventError(f"{child(path, key)}: expected a string, got {_kind(value)}")
    if isinstance(value, datetime):
        return format_time(parse_time(value))
    return str(value)


def get_int(data: Mapping[str, Any], key: str, path: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEventError(f"{child(path, key)}: expected an integer, got {_kind(value)}")
    return value


def get_time(data: Mapping[str, Any], key: str, path: str) -> str | None:
    """A timestamp field normalised to agentops' UTC ISO form (``None`` when absent)."""
    value = data.get(key)
    if value is None or value == "":
        return None
    return format_time(parse_time(value, where=child(path, key)))


def items(data: Mapping[str, Any], key: str, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each object of a list field, with its path."""
    for index, item in enumerate(get_list(data, key, path)):
        where = child(child(path, key), index)
        yield where, as_obj(item, where)


def str_map(data: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
    """A ``{string: string}`` map such as labels or annotations."""
    out: dict[str, str] = {}
    obj = get_obj(data, key, path)
    for name in obj:
        text = get_str(obj, name, child(path, key))
        out[str(name)] = text if text is not None else ""
    return out


def short_hash(value: Any) -> str:
    """A stable 16-hex-digit digest of JSON-able content, for keys without a natural id."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), type(value).__name__)
