"""Typed records: ``-f key=value`` fields checked and converted against the record-type table.

The table (``agentops.record_types``) says which fields each record type takes; this module
applies it, so that a misspelt field is an error with a did-you-mean instead of a silent
attribute, and a missing required field is an error instead of a default. It also renders the
table as the JSON Schema that ``agentops schema record TYPE`` prints and the MCP
``record_event`` tool embeds: one source for the checks and their description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentops.errors import InvalidEventError
from agentops.vocabulary import RECORD_TYPES, Field, RecordType, fields_of

_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean 'status'?)`` for a close match, else an empty string."""
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def record_type(rtype: str) -> RecordType:
    spec = RECORD_TYPES.get(rtype)
    if spec is None:
        raise InvalidEventError(
            f"record type {rtype!r}: expected one of {', '.join(RECORD_TYPES)} or a dotted "
            f"event type like k8s.warning{did_you_mean(rtype, RECORD_TYPES)}")
    return spec


def check_fields(rtype: str, raw: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event type and the converted fields of a record, or InvalidEventError."""
    spec = record_type(rtype)
    known = fields_of(rtype)
    out: dict[str, Any] = {}
    for name, value in raw.items():
        field = known.get(name)
        if field is None:
            if not spec.open:
                raise InvalidEventError(
                    f"--field {name}: record {rtype} has no field {name!r}"
                    f"{did_you_mean(name, known)}; its fields: {', '.join(known)}")
            out[name] = value
            continue
        out[name] = convert(field, value, where=f"--field {name}")
    missing = [f.name for f in spec.fields if f.required and out.get(f.name) in (None, "")]
    if missing:
        raise InvalidEventError(_missing(rtype, spec, missing[0]))
    if spec.one_of and not any(out.get(name) is not None for name in spec.one_of):
        raise InvalidEventError(
            f"record {rtype}: give {' or '.join(f'--field {n}=...' for n in spec.one_of)}")
    return _event_type(rtype, spec, out), out


def _missing(rtype: str, spec: RecordType, name: str) -> str:
    field = fields_of(rtype)[name]
    example = next(iter(dict.fromkeys(field.allowed.values()))) if field.allowed else "..."
    hint = f" (one of {', '.join(dict.fromkeys(field.allowed.values()))})" if field.allowed else ""
    return (f"record {rtype}: --field {name} is required{hint}, "
            f"e.g. --field {name}={example}")


def _event_type(rtype: str, spec: RecordType, fields: dict[str, Any]) -> str:
    if spec.selector is None:
        return spec.default
    if rtype == "event":
        etype = str(fields.pop("type"))
        if "." not in etype:
            raise InvalidEventError(
                f"--field type={etype}: expected a dotted event type like k8s.warning")
        return etype
    return spec.outcomes[fields[spec.selector]]


def convert(field: Field, value: Any, *, where: str) -> Any:
    """A CLI string or a JSON value as the field's type (canonical value for a choice)."""
    if value is None:
        return None
    if field.type == "number":
        return _number(value, where)
    if field.type == "boolean":
        return _boolean(value, where)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidEventError(f"{where}: expected a string, got {value!r}")
    text = str(value)
    if field.allowed is None:
        return text
    canonical = field.allowed.get(text.strip().lower())
    if canonical is None:
        raise InvalidEventError(
            f"{where}={text}: expected one of {choices(field)}"
            f"{did_you_mean(text.lower(), field.allowed)}")
    return canonical


def choices(field: Field) -> str:
    """``failed, succeeded (or failure, error, ...)``: the canonical values, then aliases."""
    allowed = field.allowed or {}
    canonical = list(dict.fromkeys(allowed.values()))
    aliases = [word for word in allowed if word not in canonical]
    return ", ".join(canonical) + (f" (or {', '.join(aliases)})" if aliases else "")


def _number(value: Any, where: str) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        text = value.strip()
        return float(text) if any(c in text for c in ".eE") else int(text)
    raise InvalidEventError(f"{where}={value}: expected a number")


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "up"):
        return True
    if text in ("false", "no", "0", "down"):
        return False
    raise InvalidEventError(f"{where}={value}: expected true or false")


# --- JSON Schema -------------------------------------------------------------------------------

_JSON_TYPES = {"string": "string", "number": "number", "boolean": "boolean"}


def field_schema(field: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _JSON_TYPES[field.type]}
    if field.allowed is not None:
        out["enum"] = list(field.allowed)
    if field.description:
        out["description"] = field.description
    return out


def fields_schema(rtype: str) -> dict[str, Any]:
    """The ``fields`` object of a record type (what ``--field`` takes) as JSON Schema."""
    spec = record_type(rtype)
    out: dict[str, Any] = {
        "type": "object",
        "properties": {name: field_schema(f) for name, f in fields_of(rtype).items()},
        "required": [f.name for f in spec.fields if f.required],
        "additionalProperties": spec.open,
    }
    if spec.one_of:
        out["anyOf"] = [{"required": [name]} for name in spec.one_of]
    return out


def record_schema(rtype: str) -> dict[str, Any]:
    """The document ``agentops schema record TYPE`` prints."""
    spec = record_type(rtype)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://agentops.dev/schemas/record/{rtype}.json",
        "title": f"agentops record {rtype}",
        "description": f"{spec.summary} The fields of `agentops record {rtype} --field k=v`.",
        **fields_schema(rtype),
    }
