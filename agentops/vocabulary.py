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


class RecordType(NamedTuple):
    """``agentops record TYPE``: which field picks the event type, and how."""

    selector: str | None
    outcomes: Mapping[str, str]
    default: str


RECORD_TYPES: Final[Mapping[str, RecordType]] = {
    "deployment": RecordType("status", {
        "failed": "deployment.failed", "failure": "deployment.failed",
        "error": "deployment.failed", "succeeded": "deployment.succeeded",
        "success": "deployment.succeeded"}, "deployment.failed"),
    "deletion": RecordType(None, {}, "resource.deleted"),
    "approval": RecordType("decision", {
        "denied": "approval.denied", "rejected": "approval.denied",
        "approved": "approval.approved", "requested": "approval.requested"}, "approval.denied"),
    "attempt": RecordType("outcome", {
        "failed": "attempt.failed", "failure": "attempt.failed",
        "succeeded": "attempt.succeeded", "success": "attempt.succeeded"}, "attempt.failed"),
    "availability": RecordType(None, {}, "availability.sample"),
    "security": RecordType("verdict", {
        "violation": "security.violation", "fail": "security.violation",
        "deny": "security.violation", "pass": "security.pass"}, "security.violation"),
    "integrity": RecordType(None, {}, "integrity.concern"),
    "event": RecordType("type", {}, ""),
}
