"""The compiled escalation policy: triggers, silences, environments, severities and SLAs.

Everything here is built once by ``policy.loader`` and then only read. Matchers are closures,
templates are closures, and triggers are indexed by event type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agentops.events import Event
from agentops.policy.matchers import Predicate, getter

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
SEVERITY_ALIASES = {"P3": "LOW", "P2": "MEDIUM", "P1": "HIGH", "P0": "CRITICAL"}
CATEGORIES = (
    "CLUSTER_FAILURE", "DEPLOYMENT_FAILURE", "SECURITY_INCIDENT", "PERFORMANCE_DEGRADATION",
    "DATA_LOSS", "AUTOMATION_FAILURE", "CONFIGURATION_DRIFT",
)
STATUSES = ("Investigating", "Identified", "Monitoring", "Resolved")
WRITES = ("incident", "troubleshooting", "memory")
_FIELD_RE = re.compile(r"\{([^{}]+)\}")

Template = Callable[[Event], str]


def compile_template(text: str) -> Template:
    """``"deploy/{subject.namespace}/{subject.name}"`` -> a function of the event.

    A missing value renders as ``-`` so keys stay stable and readable.
    """
    parts: list[str | Callable[[Event], Any]] = []
    pos = 0
    for m in _FIELD_RE.finditer(text):
        parts.append(text[pos:m.start()])
        parts.append(getter(m.group(1).strip()))
        pos = m.end()
    parts.append(text[pos:])
    if len(parts) == 1:
        return lambda e: text

    def render(event: Event) -> str:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = part(event)
                out.append("-" if value is None or value == "" else str(value))
        return "".join(out)

    return render


def template_fields(text: str) -> list[str]:
    return [m.group(1).strip() for m in _FIELD_RE.finditer(text)]


@dataclass(frozen=True, slots=True)
class Threshold:
    count: int
    within: timedelta
    group_by: tuple[str, ...]
    group: Callable[[Event], tuple[Any, ...]]
    reset_types: frozenset[str]
    reset_match: Predicate


@dataclass(frozen=True, slots=True)
class Aggregate:
    value: Callable[[Event], Any]
    function: str
    within: timedelta
    group: Callable[[Event], tuple[Any, ...]]
    below: float | None
    above: float | None
    min_samples: int
    spec: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Resolve:
    types: frozenset[str]
    match: Predicate
    spec: Any


@dataclass(frozen=True, slots=True)
class SeverityRule:
    """A fixed severity, or one read from an event field through a mapping."""

    default: str
    source: Callable[[Event], Any] | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)

    def of(self, event: Event) -> str:
        if self.source is None:
            return self.default
        value = self.source(event)
        return self.mapping.get(str(value).lower(), self.default) if value is not None else (
            self.default
        )


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str
    description: str
    types: tuple[str, ...]
    match: Predicate
    match_spec: Any
    when: Predicate | None
    when_source: str | None
    threshold: Threshold | None
    aggregate: Aggregate | None
    dedup_key: Template
    dedup_key_source: str
    dedup_window: timedelta
    resolve: Resolve | None
    severity: SeverityRule
    category: str
    title: Template
    problem: Template
    lesson: Template | None
    write: frozenset[str]
    review: bool | None
    runbook: str | None
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence or a maintenance window: suppresses matching triggers between two times."""

    name: str
    kind: str  # "silence" | "maintenance"
    match: Predicate
    types: frozenset[str]
    triggers: frozenset[str]
    starts: datetime | None
    expires: datetime
    comment: str

    def applies(self, event: Event, trigger: str, now: datetime) -> bool:
        if now >= self.expires or (self.starts is not None and now < self.starts):
            return False
        if self.types and event.type not in self.types:
            return False
        if self.triggers and trigger not in self.triggers:
            return False
        return self.match(event)


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    aliases: frozenset[str]
    namespaces: Predicate  # on the namespace string


@dataclass(frozen=True, slots=True)
class Sla:
    document_within: timedelta = timedelta(hours=24)
    root_cause_within: timedelta = timedelta(hours=24)
    review_within: timedelta = timedelta(hours=48)
    review_severities: frozenset[str] = frozenset({"HIGH", "CRITICAL"})
    availability_target: float = 0.999
    mttr: Mapping[str, timedelta] = field(default_factory=lambda: {
        "CRITICAL": timedelta(minutes=10), "HIGH": timedelta(minutes=30),
        "MEDIUM": timedelta(hours=2), "LOW": timedelta(hours=8),
    })
    requirements: Mapping[str, bool] = field(default_factory=dict)


@dataclass(slots=True)
class Policy:
    triggers: tuple[Trigger, ...]
    silences: tuple[Silence, ...]
    environments: tuple[Environment, ...]
    categories: tuple[str, ...]
    sla: Sla
    files: tuple[str, ...]
    uses_cel: bool = False
    _by_type: dict[str, tuple[Trigger, ...]] = field(default_factory=dict)
    _resolvers: dict[str, tuple[Trigger, ...]] = field(default_factory=dict)
    _resetters: dict[str, tuple[Trigger, ...]] = field(default_factory=dict)

    def trigger(self, name: str) -> Trigger | None:
        return next((t for t in self.triggers if t.name == name), None)

    def triggers_for(self, event_type: str) -> tuple[Trigger, ...]:
        """Triggers listening to a type; memoised so unrelated rules cost nothing."""
        found = self._by_type.get(event_type)
        if found is None:
            found = tuple(t for t in self.triggers if _listens(t.types, event_type))
            self._by_type[event_type] = found
        return found

    def resolvers_for(self, event_type: str) -> tuple[Trigger, ...]:
        found = self._resolvers.get(event_type)
        if found is None:
            found = tuple(
                t for t in self.triggers if t.resolve and _listens(t.resolve.types, event_type)
            )
            self._resolvers[event_type] = found
        return found

    def resetters_for(self, event_type: str) -> tuple[Trigger, ...]:
        found = self._resetters.get(event_type)
        if found is None:
            found = tuple(
                t for t in self.triggers
                if t.threshold and _listens(t.threshold.reset_types, event_type)
            )
            self._resetters[event_type] = found
        return found


def _listens(types: tuple[str, ...] | frozenset[str], event_type: str) -> bool:
    for t in types:
        if t == event_type or t == "*":
            return True
        if t.endswith(".*") and event_type.startswith(t[:-1]):
            return True
    return False
