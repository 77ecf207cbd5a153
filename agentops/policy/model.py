"""The compiled escalation policy: triggers, silences, environments, severities and SLAs.

Everything here is built once by ``policy.loader`` and then only read. Matchers are closures,
templates are closures, and triggers are indexed by event type. The records are typed
NamedTuples rather than frozen dataclasses: just as immutable, and about six times cheaper to
define, which matters because every ``agentops record`` process imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from agentops.events import Event
from agentops.policy.matchers import Predicate, getter
from agentops.vocabulary import KINDS, severity_of_word

if TYPE_CHECKING:
    from agentops.policy.notifications import Notifications

WRITES = KINDS  # what a trigger can write: one entry of each ledger kind
_FIELD_RE = re.compile(r"\{([^{}]+)\}")

Template = Callable[[Event], str]


def compile_template(text: str, *, eager: bool = False, style: str = "key") -> Template:
    """``"deploy/{subject.namespace}/{subject.name}"`` -> a function of the event.

    Keys (``style="key"``) render a missing value as ``-`` so they stay stable and readable,
    and then append the event's identity (:func:`identity`): a key with an empty part would
    otherwise collapse every event lacking that field into one incident. ``"plain"`` (problem
    types) only writes the ``-``. ``"prose"`` (titles, lessons) drops a missing value with the
    ``/`` or ``: `` that joined it, and a value that repeats the one before it, so a title
    reads as a sentence ("Deployment of api failed", never "Deployment of -/api", never
    "X: X"). Templates run for every matching event, so each is compiled on first use
    (lazily: policy loading stays cheap for the one-event ``record``).
    """
    if eager:
        return _compile_template(text, style=style)
    compiled: list[Template] = []

    def render(event: Event) -> str:
        if not compiled:
            compiled.append(_compile_template(text, style=style))
        return compiled[0](event)

    return render


def _compile_template(text: str, *, style: str = "key") -> Template:
    literals: list[str] = []
    getters: list[Callable[[Event], Any]] = []
    pos = 0
    for m in _FIELD_RE.finditer(text):
        literals.append(text[pos:m.start()])
        getters.append(getter(m.group(1).strip()))
        pos = m.end()
    literals.append(text[pos:])
    if not getters:
        constant = text
        return lambda e: constant
    if style == "prose":
        return lambda e: _prose(literals, [g(e) for g in getters])
    keyed = style == "key"
    head, pairs = literals[0], tuple(zip(getters, literals[1:], strict=True))

    def key(event: Event) -> str:
        out, missing = head, False
        for get, literal in pairs:
            value = get(event)
            if value is None or value == "":
                missing = True
                out += "-" + literal
            else:
                out += (value if type(value) is str else str(value)) + literal
        return _with_identity(out, event) if missing and keyed else out

    return key


def identity(event: Event) -> str:
    """What the event is about, as stably as the source can say: ``attributes.identity``
    (an Alertmanager fingerprint, a workflow on a branch), else its subject; "" if neither."""
    given = event.attributes.get("identity")
    if given:
        return str(given)
    return "/".join(p for p in event.subject if p)


def _with_identity(key: str, event: Event) -> str:
    ident = identity(event)
    return f"{key}@{ident}" if ident and ident not in key else key


def _prose(literals: list[str], values: list[Any]) -> str:
    out, previous = literals[0], None
    for value, literal in zip(values, literals[1:], strict=True):
        text = "" if value is None else (value if type(value) is str else str(value)).strip()
        if text and text != previous:
            out += text + literal
            previous = text
        elif literal.startswith("/"):  # "{namespace}/{name}" without a namespace
            out += literal[1:]
        elif out.endswith("/"):  # ... or without a name
            out = out[:-1] + literal
        elif not literal.strip() and out.rstrip().endswith((":", " -", ",")):
            out = out.rstrip().rstrip(":-,") + literal  # "X: {message}" with nothing to add
        else:
            out += ("" if text else "unknown") + literal
    return " ".join(out.split())


def template_fields(text: str) -> list[str]:
    return [m.group(1).strip() for m in _FIELD_RE.finditer(text)]


class Threshold(NamedTuple):
    times: int  # "count" in YAML; NamedTuple reserves the name
    within: timedelta
    group_by: tuple[str, ...]
    group: Callable[[Event], tuple[Any, ...]]
    reset_types: frozenset[str]
    reset_match: Predicate


class Aggregate(NamedTuple):
    value: Callable[[Event], Any]
    function: str
    within: timedelta
    group: Callable[[Event], tuple[Any, ...]]
    below: float | None
    above: float | None
    min_samples: int
    spec: Mapping[str, Any]


class Resolve(NamedTuple):
    types: frozenset[str]
    match: Predicate
    spec: Any


class SeverityRule(NamedTuple):
    """A fixed severity, or one read from an event field.

    A value read from the event goes through the trigger's own ``map``, then the policy's
    ``severity_aliases`` and the built-in table (:data:`agentops.vocabulary.SEVERITY_WORDS`),
    all case-insensitive; ``None`` means the sender called it informational: no incident.
    """

    default: str
    source: Callable[[Event], Any] | None = None
    mapping: Mapping[str, str | None] = MappingProxyType({})
    aliases: Mapping[str, str | None] = MappingProxyType({})

    def of(self, event: Event) -> str | None:
        if self.source is None:
            return self.default
        value = self.source(event)
        if value is None or value == "":
            return self.default
        word = str(value).strip().lower()
        if word in self.mapping:
            return self.mapping[word]
        known, severity = severity_of_word(word, self.aliases)
        return severity if known else self.default


class Trigger(NamedTuple):
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
    problem: Template | None  # the rule pins the problem key; None: the event's fingerprint
    lesson: Template | None
    write: frozenset[str]
    review: bool | None
    runbook: str | None
    file: str
    path: str  # key path in its file, e.g. triggers[3]
    tests: tuple[tuple[str, Callable[[Any], bool]], ...] = ()
    residual: Predicate | None = None  # all/any/not blocks and the CEL condition
    fingerprint: tuple[str, ...] = ()  # fields the problem fingerprint is made of (default set)
    outage: bool | None = None  # counts its incidents as downtime (None: by category)


class Silence(NamedTuple):
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


class Environment(NamedTuple):
    name: str
    aliases: frozenset[str]
    namespaces: Predicate  # on the namespace string


class Sla(NamedTuple):
    document_within: timedelta = timedelta(hours=24)
    root_cause_within: timedelta = timedelta(hours=24)
    review_within: timedelta = timedelta(hours=48)
    review_severities: frozenset[str] = frozenset({"HIGH", "CRITICAL"})
    availability_target: float = 0.999
    mttr: Mapping[str, timedelta] = MappingProxyType({
        "CRITICAL": timedelta(minutes=10), "HIGH": timedelta(minutes=30),
        "MEDIUM": timedelta(hours=2), "LOW": timedelta(hours=8),
    })
    requirements: Mapping[str, bool] = MappingProxyType({})
    # Downtime counts only outages: incidents of these categories, or of a rule marked
    # `outage: true`, or with downtime minutes given (see agentops.report.stats.is_outage).
    outage_categories: frozenset[str] = frozenset({"CLUSTER_FAILURE"})
    outage_rules: Mapping[str, bool] = MappingProxyType({})
    # Post-mortems (postmortems/<ID>.md) for review_severities: written within this long of
    # resolution, from this template; marked Reviewed within review_within after that.
    postmortem_within: timedelta = timedelta(hours=48)
    postmortem_template: str = "seeds"
    # What `agentops report --public` leaves out.
    report_internal: frozenset[str] = frozenset({"actors", "events", "links"})


DEFAULT_SUBJECT_KEYS = ("subject.namespace", "subject.kind", "subject.name")


_GETTERS: dict[str, Callable[[Event], Any]] = {}


def _cached_getter(path: str) -> Callable[[Event], Any]:
    found = _GETTERS.get(path)
    if found is None:
        found = _GETTERS[path] = getter(path)
    return found


class Correlation(NamedTuple):
    """Events about one subject from different sources join the incident open for it.

    ``keys`` name the subject (all must have a value for an event to correlate); ``window`` is
    how long after the incident last heard of the subject another source still joins it
    (zero turns correlation off).
    """

    window: timedelta = timedelta(minutes=30)
    keys: tuple[str, ...] = DEFAULT_SUBJECT_KEYS
    required: tuple[str, ...] = ("subject.kind", "subject.name")

    def key(self, event: Event) -> str | None:
        """The subject key of an event, or None when it names no subject well enough."""
        if not self.window:
            return None
        return self._join([(path, _cached_getter(path)(event)) for path in self.keys])

    @property
    def by_subject(self) -> bool:
        """Whether the key is made of the event's subject fields only (the default)."""
        return all(p.startswith("subject.") for p in self.keys)

    def subject_key(self, subject: Mapping[str, Any]) -> str | None:
        """:meth:`key` from an event's subject alone (a journal line's ``subject`` object),
        when :attr:`by_subject`."""
        if not self.window:
            return None
        return self._join([(path, subject.get(path[8:])) for path in self.keys])

    def _join(self, values: list[tuple[str, Any]]) -> str | None:
        out = []
        for path, value in values:
            if (value is None or value == "") and path in self.required:
                return None
            out.append("" if value is None else str(value))
        return "/".join(out)


class Policy:
    """The whole compiled policy, plus per-event-type indexes built on first use."""

    __slots__ = (
        "_env_memo",
        "categories",
        "correlation",
        "digest",
        "environments",
        "files",
        "indexes",
        "notifications",
        "silences",
        "sla",
        "triggers",
        "uses_cel",
    )

    def __init__(self, *, triggers: tuple[Trigger, ...], silences: tuple[Silence, ...],
                 environments: tuple[Environment, ...], categories: tuple[str, ...], sla: Sla,
                 files: tuple[str, ...], uses_cel: bool = False,
                 notifications: Notifications | None = None,
                 correlation: Correlation | None = None) -> None:
        self.correlation = correlation or Correlation()
        self.triggers = triggers
        self.notifications = notifications  # channels and routes; None when there are none
        self.silences = silences
        self.environments = environments
        self.categories = categories
        self.sla = sla
        self.files = files
        self.uses_cel = uses_cel
        # what the policy was compiled from (set by the loader): a snapshot of state derived
        # under other rules is not this policy's state
        self.digest = ""
        # per event type, built on first use; read directly on the hot path (no method call)
        self.indexes: dict[str, TypeIndex] = {}
        self._env_memo: dict[tuple[str | None, str | None], str | None] = {}

    def index_for(self, event_type: str) -> TypeIndex:
        """Everything the engine needs for one event type, built on first use."""
        found = self.indexes.get(event_type)
        if found is None:
            found = TypeIndex(
                tuple(t for t in self.triggers if _listens(t.types, event_type)),
                resolvers=tuple(t for t in self.triggers
                                if t.resolve and _listens(t.resolve.types, event_type)),
                resetters=tuple(t for t in self.triggers
                                if t.threshold and _listens(t.threshold.reset_types, event_type)),
            )
            self.indexes[event_type] = found
        return found

    def environment_of(self, event: Event) -> str | None:
        """The canonical environment: an alias (``prod``) or a production namespace ->
        ``production``; memoised, since agents and the cluster repeat the same few pairs."""
        memo_key = (event.environment, event.subject.namespace)
        env = self._env_memo.get(memo_key, _UNSEEN)
        if env is _UNSEEN:
            env = self._placement(event)
            if len(self._env_memo) < 4096:
                self._env_memo[memo_key] = env
        return env  # type: ignore[no-any-return]

    def _placement(self, event: Event) -> str | None:
        env = event.environment
        for environment in self.environments:
            if env is not None:
                if env.lower() in environment.aliases:
                    return environment.name
            elif event.subject.namespace is not None and environment.namespaces(event):
                return environment.name
        return env

    def triggers_for(self, event_type: str) -> tuple[Trigger, ...]:
        """Triggers listening to a type; unrelated rules cost nothing."""
        return self.index_for(event_type).triggers

    def resolvers_for(self, event_type: str) -> tuple[Trigger, ...]:
        return self.index_for(event_type).resolvers


_UNSEEN: Any = object()


def _listens(types: tuple[str, ...] | frozenset[str], event_type: str) -> bool:
    for t in types:
        if t == event_type or t == "*":
            return True
        if t.endswith(".*") and event_type.startswith(t[:-1]):
            return True
    return False


_MEMO_LIMIT = 4096


class TypeIndex:
    """All triggers of one event type, matched together.

    Each top-level path condition depends on one value, so per path the index remembers, for
    every value seen, the set (a bit mask) of triggers whose conditions on that path pass. An
    event then costs one dictionary lookup per distinct path instead of one closure call per
    condition per trigger. Residual conditions (all/any/not, CEL) run only for survivors.
    """

    __slots__ = (
        "columns",
        "counted",
        "full",
        "idle",
        "keys",
        "resetters",
        "residual",
        "resolvers",
        "resolving",
        "triggers",
    )

    def __init__(self, triggers: tuple[Trigger, ...], *, resolvers: tuple[Trigger, ...] = (),
                 resetters: tuple[Trigger, ...] = ()) -> None:
        self.triggers = triggers
        self.resolvers = resolvers
        self.resetters = resetters
        # dedup keys compiled for just the triggers of this type (lazily, per type)
        self.keys = tuple(_compile_template(t.dedup_key_source) for t in triggers)
        self.resolving = tuple(
            (t, _compile_template(t.dedup_key_source)) for t in resolvers if t.resolve)
        self.idle = not triggers and not resolvers and not resetters
        self.full = (1 << len(triggers)) - 1
        paths = list(dict.fromkeys(p for t in triggers for p, _ in t.tests))
        self.columns: list[tuple[Callable[[Event], Any], dict[Any, int], list[Any], int]] = []
        for path in paths:
            conds = []
            free = 0
            for i, t in enumerate(triggers):
                tests = [test for p, test in t.tests if p == path]
                if tests:
                    conds.append((1 << i, tests))
                else:
                    free |= 1 << i
            self.columns.append((getter(path), {}, conds, free))
        self.residual = [(1 << i, t.residual) for i, t in enumerate(triggers) if t.residual]
        self.counted = tuple(
            (i, t) for i, t in enumerate(triggers) if t.threshold or t.aggregate
        )

    def match(self, event: Event) -> int:
        """A bit mask of the triggers (by position) whose match block accepts the event."""
        mask = self.full
        for get, memo, conds, free in self.columns:
            value = get(event)
            kind = type(value)
            if kind is str:
                key: Any = value
            elif kind is list or kind is dict:
                key = (kind, _hashable(value))
            else:
                key = (kind, value)
            bits = memo.get(key)
            if bits is None:
                bits = free
                for bit, tests in conds:
                    if all(test(value) for test in tests):
                        bits |= bit
                if len(memo) < _MEMO_LIMIT:
                    memo[key] = bits
            mask &= bits
            if not mask:
                return 0
        for bit, pred in self.residual:
            if mask & bit and not pred(event):
                mask &= ~bit
        return mask


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return value
