"""Checking tool arguments against the tool's input schema, with messages that name the field.

The schemas are small and flat (the event itself is checked by ``event_from_dict``, which
gives the exact messages ``agentops record`` prints), so this handles the keywords they use:
``type``, ``enum``, ``required``, ``additionalProperties: false``, ``minLength``, ``minimum``
and ``items`` one level down. A full JSON Schema validator would cost an import on every
start for no better message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentops.errors import AgentopsError

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


class InvalidArgumentsError(AgentopsError):
    """Tool arguments that do not fit the tool's input schema."""


def check_arguments(tool: str, schema: Mapping[str, Any], arguments: Any, *,
                    deferred: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The arguments as a dict, or InvalidArgumentsError naming the first bad one.

    ``deferred`` arguments are only checked for presence: the handler checks their content
    itself, with the messages the CLI prints for the same mistake.
    """
    if not isinstance(arguments, dict):
        raise InvalidArgumentsError(f"{tool}: arguments must be an object")
    props: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if arguments.get(name) is None:
            raise InvalidArgumentsError(f"{tool}.{name}: required")
    for name, value in arguments.items():
        if name not in props:
            raise InvalidArgumentsError(
                f"{tool}.{name}: unknown argument (allowed: {', '.join(props)})")
        if name not in deferred:
            check_value(f"{tool}.{name}", props[name], value)
    return arguments


def check_value(where: str, schema: Mapping[str, Any], value: Any) -> None:
    """One value against ``type``, ``enum``, ``minLength``, ``minimum`` and ``items``."""
    types = schema.get("type")
    if types is not None and not _is_type(value, [types] if isinstance(types, str) else types):
        raise InvalidArgumentsError(f"{where}: expected {_names(types)}, got {_kind(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise InvalidArgumentsError(
            f"{where}: {value!r} is not one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise InvalidArgumentsError(f"{where}: must not be empty")
    if _is_number(value) and not schema.get("minimum", value) <= value <= schema.get(
            "maximum", value):
        raise InvalidArgumentsError(f"{where}: {value} is not in the range "
                                    f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_value(f"{where}[{i}]", schema["items"], item)


def _is_type(value: Any, types: list[str]) -> bool:
    if isinstance(value, bool):
        return "boolean" in types
    return any(isinstance(value, _JSON_TYPES[t]) for t in types)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _names(types: str | list[str]) -> str:
    return types if isinstance(types, str) else " or ".join(types)


def _kind(value: Any) -> str:
    for name in ("boolean", "null", "string", "integer", "number", "array", "object"):
        if _is_type(value, [name]):
            return name
    return type(value).__name__
