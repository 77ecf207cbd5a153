"""The words agentops shares with its users, defined once.

Severities, statuses and categories appear in rules, ledger entries, CLI choices, MCP schemas
and reports; the ledger kinds and their ids in the files, the lint and the derived state; the
hook sources in ``hook``, ``serve`` and its authentication; the record types in ``record`` and
the MCP ``record_event`` tool. Every one of those places derives its list from here, so adding a
word is one edit. The module imports nothing from agentops and costs nothing to import: every
``agentops record`` process loads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal, NamedTuple, TypeAlias

SEVERITIES: Final = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
SEVERITY_ALIASES: Final[Mapping[str, str]] = {
    "P3": "LOW", "P2": "MEDIUM", "P1": "HIGH", "P0": "CRITICAL",
}
STATUSES: Final = ("Investigating", "Identified", "Monitoring", "Resolved")
CATEGORIES: Final = (
    "CLUSTER_FAILURE", "DEPLOYMENT_FAILURE", "SECURITY_INCIDENT", "PERFORMANCE_DEGRADATION",
    "DATA_LOSS", "AUTOMATION_FAILURE", "CONFIGURATION_DRIFT",
)
MEMORY_STATUSES: Final = ("active", "superseded", "retired")

# How senders spell severities (Alertmanager labels, Grafana, PagerDuty-style P-levels,
# syslog words), matched case-insensitively. ``None`` means "informational: no incident".
# Rules may override any word under ``severity_aliases:`` (docs/rules.md); this is the one
# built-in table every severity read from an event goes through.
SEVERITY_WORDS: Final[Mapping[str, str | None]] = {
    **{alias.lower(): severity for alias, severity in SEVERITY_ALIASES.items()},
    **{severity.lower(): severity for severity in SEVERITIES},
    "info": None, "informational": None, "none": None, "debug": None, "notice": None,
    "ok": None,
    "warning": "LOW", "warn": "LOW", "minor": "LOW", "p4": "LOW",
    "moderate": "MEDIUM",
    "error": "HIGH", "err": "HIGH", "major": "HIGH",
    "crit": "CRITICAL", "page": "CRITICAL", "fatal": "CRITICAL", "emergency": "CRITICAL",
    "alert": "CRITICAL", "disaster": "CRITICAL",
}


def severity_of_word(
    value: object, overrides: Mapping[str, str | None] | None = None
) -> tuple[bool, str | None]:
    """``(known, severity)`` for a sender's word: ``Warning`` -> ``(True, "LOW")``.

    ``overrides`` (lower-case keys, from the rules) win over the built-in table; an unknown
    word gives ``(False, None)`` so the caller can fall back to its default.
    """
    if value is None or isinstance(value, bool):
        return False, None
    word = str(value).strip().lower()
    if overrides and word in overrides:
        return True, overrides[word]
    if word in SEVERITY_WORDS:
        return True, SEVERITY_WORDS[word]
    return False, None


def canonical_severity(value: str) -> str | None:
    """``p1`` -> ``HIGH``; a canonical name passes through; anything else is None."""
    upper = value.strip().upper()
    upper = SEVERITY_ALIASES.get(upper, upper)
    return upper if upper in SEVERITIES else None


def severity_help() -> str:
    """How the accepted severities read in an error message or a ``--help`` line."""
    aliases = sorted(SEVERITY_ALIASES, reverse=True)
    return f"{', '.join(SEVERITIES)} (or {aliases[0]}..{aliases[-1]})"


# -- ledger kinds -------------------------------------------------------------------------------

Kind: TypeAlias = Literal["incident", "troubleshooting", "memory"]


class LedgerKind(NamedTuple):
    """One ledger file: its kind, file name and the ids a person can say."""

    kind: Kind
    file_name: str
    id_prefix: str
    id_pattern: re.Pattern[str]


LEDGER_KINDS: Final[Mapping[str, LedgerKind]] = {
    "incident": LedgerKind(
        "incident", "INCIDENTS.md", "INC", re.compile(r"^INC-(\d{4}-\d{2}-\d{2})-(\d{3,})\Z")),
    "troubleshooting": LedgerKind(
        "troubleshooting", "TROUBLESHOOTING.md", "TS", re.compile(r"^TS-(\d{4,})\Z")),
    "memory": LedgerKind("memory", "MEMORY.md", "MEM", re.compile(r"^MEM-(\d{4,})\Z")),
}
KINDS: Final[tuple[Kind, ...]] = tuple(k.kind for k in LEDGER_KINDS.values())
LEDGER_FILES: Final = tuple(k.file_name for k in LEDGER_KINDS.values())


# -- hook sources -------------------------------------------------------------------------------

Scheme: TypeAlias = Literal["bearer", "hmac"]


class HookSource(NamedTuple):
    """A webhook sender: its name in ``/hooks/{name}`` and how it can authenticate."""

    name: str
    schemes: tuple[Scheme, ...]


HOOK_SOURCES: Final[Mapping[str, HookSource]] = {
    s.name: s for s in (
        HookSource("alertmanager", ("bearer",)),
        HookSource("flux", ("hmac", "bearer")),
        HookSource("argocd", ("bearer",)),
        HookSource("github", ("hmac",)),
        HookSource("generic", ("bearer",)),
    )
}


# -- record types -------------------------------------------------------------------------------
# ``agentops record TYPE``: which fields each type takes, typed. A typo in a field name or a
# missing ``status`` used to become a false incident (a missing status defaulted to failed;
# unknown fields were kept as attributes). The checks (``agentops.records``), the JSON Schema
# of ``agentops schema record TYPE``, the MCP ``record_event`` tool and shell completion all
# read this table.

FieldType: TypeAlias = Literal["string", "number", "boolean"]


class Field(NamedTuple):
    """One field of a record: ``-f name=value``."""

    name: str
    type: FieldType = "string"
    required: bool = False
    # value -> canonical value; the keys are what a user may type (case-insensitive)
    allowed: Mapping[str, str] | None = None
    description: str = ""


class RecordType(NamedTuple):
    """``agentops record TYPE``: its fields, and which of them picks the event type."""

    selector: str | None
    outcomes: Mapping[str, str]  # canonical selector value -> event type
    default: str  # the event type when there is no selector
    fields: tuple[Field, ...]
    one_of: tuple[str, ...] = ()  # at least one of these fields must be given
    open: bool = False  # other fields are allowed (the generic ``event``)
    summary: str = ""


# The impact fields of an incident: settable by `record --field`, the lifecycle commands and
# the MCP tools; the first is a list, the next two whole numbers, the rest one-line text.
IMPACT_FIELDS: Final = ("affected_services", "affected_users", "downtime_minutes",
                        "user_impact", "scope", "detection_method")

# Fields every record type accepts: where it happened, who acted, and the impact.
COMMON_FIELDS: Final = (
    Field("environment", description="e.g. production, staging (as -e)."),
    Field("cluster", description="The cluster."),
    Field("namespace", description="The namespace."),
    Field("kind", description="The kind of the subject, e.g. Deployment."),
    Field("name", description="The name of the subject."),
    Field("actor", description="The agent or person acting (as --actor)."),
    Field("affected_services", description="Impact: the services affected, comma-separated."),
    Field("affected_users", "number", description="Impact: how many users were affected."),
    Field("downtime_minutes", "number",
          description="Impact: minutes of downtime (overrides the computed downtime)."),
    Field("user_impact", description="Impact: what users saw."),
    Field("scope", description="Impact: how far it reached."),
    Field("detection_method", description="Impact: how it was detected."),
)
# Fields that name the subject of the event rather than one of its attributes.
SUBJECT_FIELDS: Final[Mapping[str, str]] = {
    "cluster": "cluster", "namespace": "namespace", "kind": "kind", "name": "name",
    "service": "name",
}

_FAILED = {"failed": "failed", "failure": "failed", "error": "failed", "fail": "failed"}
_SUCCEEDED = {"succeeded": "succeeded", "success": "succeeded", "ok": "succeeded"}

RECORD_TYPES: Final[Mapping[str, RecordType]] = {
    "deployment": RecordType(
        "status", {"failed": "deployment.failed", "succeeded": "deployment.succeeded"}, "",
        (Field("status", required=True, allowed=_FAILED | _SUCCEEDED,
               description="How the deployment ended."),
         Field("service", description="What was deployed (the subject's name)."),
         Field("revision", description="The version, tag or commit deployed."),
         Field("reason", description="Why it failed, e.g. ImagePullBackOff.")),
        summary="A deployment finished (failed or succeeded)."),
    "deletion": RecordType(
        None, {}, "resource.deleted",
        (Field("resource", required=True, description="What was deleted, as Kind/name."),),
        summary="A resource was deleted."),
    "approval": RecordType(
        "decision", {"denied": "approval.denied", "approved": "approval.approved",
                     "requested": "approval.requested"}, "",
        (Field("decision", required=True, allowed={
            "denied": "denied", "rejected": "denied", "approved": "approved",
            "requested": "requested"}, description="What the approver decided."),
         Field("action", description="What approval was asked for."),
         Field("approver", description="Who decided.")),
        summary="A human approval was requested, denied or given."),
    "attempt": RecordType(
        "outcome", {"failed": "attempt.failed", "succeeded": "attempt.succeeded"}, "",
        (Field("outcome", required=True, allowed=_FAILED | _SUCCEEDED,
               description="How the attempt ended."),
         Field("task", required=True, description="The task the agent attempted."),
         Field("agent", description="The agent (the event's actor)."),
         Field("error", description="The error it failed with.")),
        summary="An agent attempted a task."),
    "availability": RecordType(
        None, {}, "availability.sample",
        (Field("ratio", "number", description="Measured availability, 0..1."),
         Field("up", "boolean", description="An up/down sample."),
         Field("window", description="The window measured, e.g. 30d.")),
        one_of=("ratio", "up"), summary="An availability measurement or up/down sample."),
    "security": RecordType(
        "verdict", {"violation": "security.violation", "pass": "security.pass"}, "",
        (Field("verdict", required=True, allowed={
            "violation": "violation", "fail": "violation", "deny": "violation",
            "pass": "pass"}, description="What the policy check said."),
         Field("policy", required=True, description="The policy checked."),
         Field("resource", description="What was checked, as Kind/name.")),
        summary="A security policy check."),
    "integrity": RecordType(
        None, {}, "integrity.concern",
        (Field("dataset", required=True, description="The dataset concerned."),
         Field("check", required=True, description="The check that raised it."),
         Field("details", description="What was found.")),
        summary="A data-integrity concern."),
    "event": RecordType(
        "type", {}, "",
        (Field("type", required=True, description="The dotted event type, e.g. k8s.warning."),),
        open=True, summary="Any event type, with free-form fields."),
}


def fields_of(rtype: str) -> Mapping[str, Field]:
    """Every field a record type accepts, by name (its own, then the common ones)."""
    spec = RECORD_TYPES[rtype]
    return {f.name: f for f in (*spec.fields, *COMMON_FIELDS)}
