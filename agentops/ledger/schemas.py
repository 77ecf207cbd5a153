"""JSON Schemas of the three entry types, and the JSON form they describe.

``incident show --format json``, ``recall`` and external tools exchange entries as JSON; the
schemas are the contract (and the documentation of each key), ``entry_to_dict`` the one place
that produces it. Durations appear in the JSON as seconds, computed, never stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from agentops.events import format_time
from agentops.ledger.model import Entry, Incident, Signature
from agentops.vocabulary import CATEGORIES, MEMORY_STATUSES, SEVERITIES, STATUSES

_BASE: Final = "https://agentops.dev/schemas/"
_TIME: Final = {"type": ["string", "null"], "format": "date-time"}
_OSTR: Final = {"type": ["string", "null"]}
_IDS: Final = {"type": "array", "items": {"type": "string"}}
_UID: Final = {"type": "string", "minLength": 1, "description": "Stable unique id (ULID)."}
_SECTIONS: Final = {
    "type": "object", "additionalProperties": {"type": "string"},
    "description": "Prose by heading, in file order; unknown human sections included.",
}
_DURATION: Final = {"type": ["number", "null"], "description": "Seconds, computed from times."}


def _schema(name: str, title: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_BASE}{name}.json", "title": title, "type": "object",
        "required": required, "additionalProperties": False, "properties": props,
    }


INCIDENT_SCHEMA: Final = _schema("incident", "agentops incident", {
    "id": {"type": "string", "pattern": r"^INC-\d{4}-\d{2}-\d{2}-\d{3,}$"},
    "uid": _UID,
    "title": {"type": "string"},
    "status": {"enum": list(STATUSES)},
    "severity": {"enum": list(SEVERITIES)},
    "category": {"enum": list(CATEGORIES)},
    "rule": _OSTR, "dedup_key": _OSTR,
    "occurrences": {"type": "integer", "minimum": 0},
    "events": _IDS, "environment": _OSTR,
    "subject": {**_OSTR, "description": "namespace/Kind/name, e.g. prod/Deployment/api"},
    "impact_started": _TIME, "detected": _TIME, "acknowledged": _TIME, "mitigated": _TIME,
    "resolved": _TIME, "review_required": {"type": "boolean"}, "review_scheduled": _TIME,
    "review_done": _TIME,
    "troubleshooting": {"type": ["string", "null"], "pattern": r"^TS-\d{4,}$"},
    "memory": _IDS, "root_cause_category": _OSTR,
    "affected_services": {**_IDS, "description": "Services the incident took down or degraded."},
    "affected_users": {"type": ["integer", "null"], "minimum": 0},
    "downtime_minutes": {"type": ["integer", "null"], "minimum": 0, "description":
                         "Given by a person: overrides the downtime computed from the times."},
    "user_impact": _OSTR, "scope": _OSTR,
    "detection_method": {**_OSTR, "description": "alert, monitoring, agent, customer report..."},
    "sections": _SECTIONS,
    "timeline": {"type": "array", "items": {
        "type": "object", "required": ["time", "text"], "additionalProperties": False,
        "properties": {"time": {"type": "string", "format": "date-time"},
                       "text": {"type": "string"}}}},
    "followups": {"type": "array", "items": {
        "type": "object", "required": ["done", "text"], "additionalProperties": False,
        "properties": {"done": {"type": "boolean"}, "text": {"type": "string"},
                       "owner": _OSTR, "due": {"type": ["string", "null"], "format": "date"}}}},
    "time_to_acknowledge": _DURATION, "time_to_mitigate": _DURATION,
    "time_to_resolve": _DURATION, "impact_duration": _DURATION,
}, ["id", "uid", "title", "status", "severity", "category"])

TROUBLESHOOTING_SCHEMA: Final = _schema("troubleshooting", "agentops troubleshooting entry", {
    "id": {"type": "string", "pattern": r"^TS-\d{4,}$"},
    "uid": _UID,
    "title": {"type": "string"},
    "category": {"enum": list(CATEGORIES)},
    "problem": {**_OSTR, "description": "The policy's key for this problem type."},
    "signature": {
        "type": "object", "required": ["event_type"], "additionalProperties": False,
        "properties": {"event_type": {"type": "string"}, "reason": _OSTR,
                       "pattern": {**_OSTR, "format": "regex"}},
    },
    "occurrences": {"type": "integer", "minimum": 0},
    "first_seen": _TIME, "last_seen": _TIME, "incidents": _IDS, "sections": _SECTIONS,
}, ["id", "uid", "title", "category", "signature"])

MEMORY_SCHEMA: Final = _schema("memory", "agentops memory entry", {
    "id": {"type": "string", "pattern": r"^MEM-\d{4,}$"},
    "uid": _UID,
    "title": {"type": "string", "description": "The lesson in one line."},
    "status": {"enum": list(MEMORY_STATUSES)},
    "seen": {"type": "integer", "minimum": 0},
    "first_seen": _TIME, "last_validated": _TIME, "evidence": _IDS, "tags": _IDS,
    "superseded_by": {"type": ["string", "null"], "pattern": r"^MEM-\d{4,}$"},
    "sections": _SECTIONS,
}, ["id", "uid", "title", "status"])

SCHEMAS: Final = {"incident": INCIDENT_SCHEMA, "troubleshooting": TROUBLESHOOTING_SCHEMA,
                  "memory": MEMORY_SCHEMA}


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Signature):
        return value._asdict()
    if hasattr(value, "_asdict"):  # TimelineRow, FollowUp
        return {k: _json(v) for k, v in value._asdict().items()}
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if hasattr(value, "items"):
        return {k: _json(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """The JSON form of an entry, valid against its schema."""
    names = entry._fields + (_INCIDENT_DERIVED if isinstance(entry, Incident) else ())
    return {name: _json(getattr(entry, name)) for name in names}


_INCIDENT_DERIVED: Final = ("timeline", "followups", "time_to_acknowledge", "time_to_mitigate",
                            "time_to_resolve", "impact_duration")

