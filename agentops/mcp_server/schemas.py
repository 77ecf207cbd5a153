"""The tools' input schemas, built from the schemas the rest of agentops already publishes.

``record_event`` embeds ``EVENT_SCHEMA`` itself (the same one ``agentops schema event``
prints), and the incident tools take their enums from the ledger model, so a new status or
record type reaches MCP clients without an edit here. Schemas are built on ``tools/list``,
not at import, to keep the server's start-up to the standard library.
"""

from __future__ import annotations

from typing import Any, Final

RECORD_ONLY: Final = frozenset({"type", "fields", "message", "key", "time", "environment"})
RESOLVE_ONLY: Final = frozenset({"root_cause", "resolution", "lessons", "root_cause_category"})
_TIME: Final = {"type": "string", "description": "ISO 8601 (UTC if no offset); default now."}
_ID: Final = {"type": "string", "minLength": 1,
              "description": "Incident id, e.g. INC-2026-11-24-001."}
_ACTOR: Final = {"type": "string", "minLength": 1,
                 "description": "Who acts: the timeline row and the commit author."}

RECORD_EVENT_DOC: Final = (
    "Record one automation outcome (what `agentops record` does) and get the decision back: "
    "the event id, matched rules, incidents opened or updated, troubleshooting and memory "
    "entries, and the commit. Give either `event` (an Event object) or `type` with `fields`. "
    "The same `key` never records twice, so retries are safe.")
RECALL_DOC: Final = (
    "Ranked entries from MEMORY, TROUBLESHOOTING and INCIDENTS matching an error string, a "
    "Kubernetes reason, a resource or a command: read this before acting.")
LIST_DOC: Final = "List incidents, newest first, filtered by status, severity and start time."
SHOW_DOC: Final = "One incident as structured data plus its markdown entry (`markdown`)."
UPDATE_DOC: Final = (
    "Work an incident: `ack` (sets acknowledged), `update` (status change and/or a note on "
    "the timeline), or `resolve` (with root cause, resolution and lessons: lessons become "
    "MEMORY entries, a new problem type a TROUBLESHOOTING entry). Impact fields "
    "(affected_services, affected_users, downtime_minutes, user_impact, scope, "
    "detection_method) go with any action. One commit each.")
FOLLOWUP_DOC: Final = "Add a follow-up action with an owner and a due date to an incident."
CHECK_DOC: Final = (
    "The post-incident requirements and SLAs: what is overdue (ok is false when anything "
    "is), as `agentops check` reports for CI.")


def _object(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}


def event_schema() -> dict[str, Any]:
    """``EVENT_SCHEMA`` without its document-level keys, to embed as a property."""
    from agentops.events import EVENT_SCHEMA

    return {k: v for k, v in EVENT_SCHEMA.items() if k not in ("$schema", "$id")}


def record_event() -> dict[str, Any]:
    """The record types and their fields come from the table ``agentops schema record``
    prints: each type's ``fields`` schema applies when ``type`` names it."""
    from agentops.records import fields_schema
    from agentops.vocabulary import RECORD_TYPES

    schema = _object({
        "event": event_schema(),
        "type": {"type": "string", "minLength": 1, "description": (
            f"A record type ({', '.join(RECORD_TYPES)}) or a dotted event type; as "
            "`agentops record TYPE`.")},
        "fields": {"type": "object", "description": (
            "The record's fields, as `--field k=v`; which ones each record type takes (and "
            "requires) is in the allOf below, as `agentops schema record TYPE` prints it. "
            "Unknown fields are an error, except for `event` and dotted types."),
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
        "message": {"type": "string", "description": "What happened, in words."},
        "key": {"type": "string", "minLength": 1,
                "description": "Idempotency key: the same key never records twice."},
        "time": {"type": "string", "description": (
            "When it happened (ISO 8601 with a zone, e.g. 2026-11-24T08:30:00Z; default now).")},
        "environment": {"type": "string", "description": "e.g. production, staging."},
        "actor": {"type": "string", "minLength": 1,
                  "description": "The agent or person acting (commit author)."},
        "dry_run": {"type": "boolean", "description": "Show the decision; write nothing."},
        "assume_utc": {"type": "boolean",
                       "description": "Read times without a zone as UTC (else an error)."},
        "allow_unknown_environment": {"type": "boolean", "description": (
            "Record an environment the policy does not know, with a warning (else an error).")},
    })
    schema["allOf"] = [
        {"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
         "then": {"properties": {"fields": fields_schema(name)}}}
        for name in RECORD_TYPES
    ]
    return schema


def recall() -> dict[str, Any]:
    return _object({
        "query": {"type": "string", "minLength": 1,
                  "description": "An error string, reason, resource or command."},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000,
                  "description": "At most this many (default 10)."},
        "include_all": {"type": "boolean",
                        "description": "Include superseded and retired lessons."},
        "semantic": {"type": "boolean",
                     "description": "Re-rank by meaning, for a symptom told in other words "
                                    "(needs the semantic extra and its model's packages; "
                                    "default: lexical unless the server runs with "
                                    "AGENTOPS_RECALL_SEMANTIC=1)."},
    }, ("query",))


def list_incidents() -> dict[str, Any]:
    from agentops.vocabulary import SEVERITIES, SEVERITY_ALIASES, STATUSES

    return _object({
        "status": {"type": "string", "enum": [*STATUSES, "open"],
                   "description": "A status, or open (anything not Resolved)."},
        "severity": {"type": "string", "enum": [*SEVERITIES, *SEVERITY_ALIASES]},
        "since": {"type": "string", "description": "Detected since this day or time (UTC)."},
    })


def show_incident() -> dict[str, Any]:
    return _object({"id": _ID}, ("id",))


def update_incident() -> dict[str, Any]:
    from agentops.vocabulary import STATUSES

    return _object({
        "id": _ID,
        "action": {"type": "string", "enum": ["ack", "update", "resolve"]},
        "status": {"type": "string", "enum": list(STATUSES),
                   "description": "With update: the new status (Resolved -> Investigating "
                                  "reopens)."},
        "note": {"type": "string", "description": "A note for the timeline row."},
        "time": _TIME,
        "actor": _ACTOR,
        "root_cause": {"type": "string", "description": "With resolve: the Root Cause."},
        "resolution": {"type": "string", "description": "With resolve: the Resolution."},
        "lessons": {"type": "string", "description": (
            "With resolve: lessons learned, one per line; each becomes or confirms a MEMORY "
            "entry.")},
        "root_cause_category": {"type": "string", "description": "e.g. bad-config."},
        **IMPACT_PROPERTIES,
    }, ("id", "action"))


# The incident's impact fields, with any action (the same names as `record` fields).
IMPACT_PROPERTIES: Final = {
    "affected_services": {"type": "array", "items": {"type": "string"},
                          "description": "Services affected, e.g. [api, web]."},
    "affected_users": {"type": "integer", "minimum": 0,
                       "description": "How many users were affected."},
    "downtime_minutes": {"type": "integer", "minimum": 0, "description": (
        "Minutes of downtime: overrides the computed downtime; counts as an outage.")},
    "user_impact": {"type": "string", "description": "What users saw, in one line."},
    "scope": {"type": "string", "description": "How far it reached."},
    "detection_method": {"type": "string", "description": "alert, agent, customer report..."},
}


def add_followup() -> dict[str, Any]:
    return _object({
        "id": _ID,
        "text": {"type": "string", "minLength": 1, "description": "The action to take."},
        "owner": {"type": "string", "minLength": 1, "description": "@user or @team."},
        "due": {"type": "string", "description": "YYYY-MM-DD."},
        "actor": _ACTOR,
    }, ("id", "text", "owner", "due"))


def check() -> dict[str, Any]:
    return _object({"now": {"type": "string",
                            "description": "Check as of this time (default now)."}})
