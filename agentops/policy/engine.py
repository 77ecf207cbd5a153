"""The engine: a pure function from (policy, derived state, event, now) to decisions.

``decide`` never mutates; ``observe`` folds an event and its decisions into the state. The split
keeps ``rules explain`` and ``--dry-run`` honest (they call ``decide`` only) and lets the ledger
attach real incident ids before the state learns about an opened incident.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from agentops.events import Event, format_time
from agentops.policy.matchers import getter
from agentops.policy.model import Policy, Trigger
from agentops.policy.signature import ProblemSignature, problem_key, signature

OPEN, RECUR, RESOLVE = "open", "recur", "resolve"
TROUBLESHOOTING, MEMORY = "troubleshooting", "memory"
SUPPRESSED, IGNORED = "suppressed", "ignored"
# An event older than the state already applied for its dedup key: a resolution older than the
# incident's latest event, or a firing older than the resolution that closed it. It changes
# nothing but is written on the incident's timeline.
LATE = "late"
ACTIONS = (OPEN, RECUR, RESOLVE, LATE, TROUBLESHOOTING, MEMORY, SUPPRESSED, IGNORED)


class Decision(NamedTuple):
    """One thing the ledger should do (or the reason it should do nothing)."""

    action: str
    rule: str | None = None
    dedup_key: str | None = None
    incident: str | None = None  # the open incident a recur/resolve applies to
    severity: str | None = None
    category: str | None = None
    title: str | None = None
    problem: str | None = None
    review: bool | None = None
    reason: str = ""
    silence: str | None = None
    hits: int | None = None  # matching events in the threshold window ("count" in JSON)
    signature: ProblemSignature | None = None  # on troubleshooting: what the problem looks like
    events: tuple[str, ...] | None = None  # on open: the earlier events that built it
    correlated: bool | None = None  # on recur: joined by subject from another source

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self._asdict().items() if v is not None and v != ""}
        if "hits" in out:
            out["count"] = out.pop("hits")
        if "signature" in out:
            out["signature"] = self.signature.to_dict()  # type: ignore[union-attr]
        return out


@dataclass(slots=True)
class OpenIncident:
    id: str
    rule: str
    dedup_key: str
    opened: datetime
    last_seen: datetime
    severity: str
    occurrences: int = 1


class Resolution(NamedTuple):
    """The newest resolution applied (or received first) for a dedup key."""

    time: datetime
    incident: str | None  # the incident it resolved; None when none was open yet


@dataclass(slots=True)
class State:
    """Everything the engine needs to remember, derivable from the journal and the ledger."""

    open: MutableMapping[str, OpenIncident] = field(default_factory=dict)
    hits: MutableMapping[tuple[str, tuple[Any, ...]], deque[datetime]] = field(
        default_factory=dict
    )
    samples: MutableMapping[tuple[str, tuple[Any, ...]], deque[tuple[datetime, float]]] = field(
        default_factory=dict
    )
    # problem type -> the TROUBLESHOOTING entry that documents it
    known_problems: MutableMapping[str, str] = field(default_factory=dict)
    # dedup key -> its newest resolution, so that an older firing delivered late stays closed
    resolved: MutableMapping[str, Resolution] = field(default_factory=dict)
    # the ids of the events counted in ``hits``, in the same order
    hit_events: MutableMapping[tuple[str, tuple[Any, ...]], deque[str]] = field(
        default_factory=dict
    )
    # subject key -> the incident last heard of about it (for correlation across sources)
    subjects: MutableMapping[str, SubjectLink] = field(default_factory=dict)


class SubjectLink(NamedTuple):
    """The open incident about a subject: its dedup key, the source that opened it, and when it
    last heard of the subject."""

    dedup_key: str
    source: str
    last_seen: datetime


_NOTHING = (Decision(IGNORED, reason="no trigger listens to this event type"),)


def normalise(policy: Policy, event: Event) -> Event:
    """Canonical environment: an alias (``prod``) or a production namespace -> ``production``."""
    env = policy.environment_of(event)
    return event if env == event.environment else event.with_environment(env)


def unknown_environment(policy: Policy, environment: str | None) -> str | None:
    """Why ``environment`` is not one the policy knows (None when it is, or not given)."""
    if environment is None or not policy.environments:
        return None
    if any(environment.lower() in env.aliases for env in policy.environments):
        return None
    import difflib  # only on the error path

    words = {alias: env.name for env in policy.environments for alias in env.aliases}
    close = difflib.get_close_matches(environment.lower(), list(words), n=1, cutoff=0.6)
    hint = f"did you mean {words[close[0]]!r}? " if close else ""
    known = "; ".join(f"{env.name} ({', '.join(sorted(env.aliases - {env.name}))})"
                      if len(env.aliases) > 1 else env.name for env in policy.environments)
    return (f"environment {environment!r} is not known to the policy: {hint}known: {known} "
            "(add it under environments: in rules/, or pass --allow-unknown-environment)")


def decide(policy: Policy, state: State, event: Event, now: datetime) -> tuple[Decision, ...]:
    """What the policy says about one (normalised) event, given the state before it."""
    index = policy.indexes.get(event.type) or policy.index_for(event.type)
    if index.idle:
        return _NOTHING
    out: list[Decision] = []
    for trig, key_of in index.resolving:
        if trig.resolve.match(event):  # type: ignore[union-attr]  # resolving has a resolve
            key = key_of(event)
            inc = state.open.get(key)
            if inc is None:
                continue
            if event.time < inc.last_seen:
                out.append(Decision(LATE, trig.name, key, inc.id, reason=(
                    f"recovery event older than the incident's latest event "
                    f"({format_time(inc.last_seen)}): not resolving")))
            else:
                out.append(Decision(RESOLVE, trig.name, key, inc.id, reason="recovery event"))
    mask = index.match(event)
    if mask:
        opened: set[str] = set()
        for i, trig in enumerate(index.triggers):
            if mask >> i & 1:
                out.extend(_fire(policy, state, trig, index.keys[i], event, now, opened))
    return tuple(out) if out else _NO_MATCH


_NO_MATCH = (Decision(IGNORED, reason="no trigger matched"),)


def _fire(
    policy: Policy, state: State, trig: Trigger, key_of: Callable[[Event], str], event: Event,
    now: datetime, opened: set[str],
) -> list[Decision]:
    count = None
    if trig.threshold is not None:
        th = trig.threshold
        count = _recent(state.hits.get((trig.name, th.group(event))), event.time - th.within) + 1
        if count < th.times:
            return [Decision(IGNORED, trig.name, reason=f"threshold: {count} of {th.times} "
                                                         f"within {_human(th.within)}", hits=count)]
    if trig.aggregate is not None:
        verdict = _aggregate(state, trig, event)
        if verdict is not None:
            return [Decision(IGNORED, trig.name, reason=verdict)]
    severity = trig.severity.of(event)
    if severity is None:
        return [Decision(IGNORED, trig.name, reason=(
            f"severity {trig.severity.source(event) if trig.severity.source else None!r} "
            "is informational: no incident"))]
    key = key_of(event)
    for silence in policy.silences:
        if silence.applies(event, trig.name, now):
            return [Decision(SUPPRESSED, trig.name, key, silence=silence.name,
                             reason=f"{silence.kind} {silence.name}")]
    inc = state.open.get(key)
    if key in opened or (inc is not None and event.time - inc.last_seen <= trig.dedup_window):
        return [Decision(RECUR, trig.name, key, inc.id if inc else None, hits=count,
                         reason="an incident with this dedup key is open")]
    done = state.resolved.get(key) if inc is None else None
    if done is not None and event.time <= done.time:
        return [Decision(LATE, trig.name, key, done.incident, reason=(
            f"older than the resolution at {format_time(done.time)} already applied: "
            "not reopening"))]
    joined = _correlated(policy, state, event)
    if joined is not None:
        if joined.dedup_key in opened:
            return []
        opened.add(joined.dedup_key)
        return [Decision(RECUR, trig.name, joined.dedup_key, joined.id, hits=count,
                         correlated=True,
                         reason=f"same subject as {joined.id} (opened from another source) "
                                f"within {_human(policy.correlation.window)}")]
    opened.add(key)
    review = trig.review if trig.review is not None else severity in policy.sla.review_severities
    title = trig.title(event)
    problem = _problem_key(trig, event)
    earlier = _earlier_events(state, trig, event) if count is not None else None
    out = [Decision(OPEN, trig.name, key, None, severity, trig.category, title,
                    problem, review, hits=count, events=earlier)]
    if "troubleshooting" in trig.write and problem not in state.known_problems:
        sig = problem_signature(trig, event, title=title)
        out.append(Decision(TROUBLESHOOTING, trig.name, key, category=trig.category,
                            title=sig.title, problem=problem, reason="new problem type",
                            signature=sig))
    if "memory" in trig.write and trig.lesson is not None:
        out.append(Decision(MEMORY, trig.name, key, title=trig.lesson(event)))
    return out


def problem_signature(trig: Trigger, event: Event, *, title: str = "") -> ProblemSignature:
    """The problem an event shows, as the trigger sees it: pinned by its ``problem`` template,
    else the fingerprint of its ``fingerprint`` fields (type, reason, kind, message template)."""
    pinned = trig.problem(event) if trig.problem is not None else None
    return signature(event, fields=trig.fingerprint, pinned=pinned, get=getter, fallback=title)


def _problem_key(trig: Trigger, event: Event) -> str:
    pinned = trig.problem(event) if trig.problem is not None else None
    return problem_key(event, fields=trig.fingerprint, pinned=pinned, get=getter)


def _correlated(policy: Policy, state: State, event: Event) -> OpenIncident | None:
    """The open incident another source opened about this event's subject, if recent."""
    skey = policy.correlation.key(event)
    link = state.subjects.get(skey) if skey is not None else None
    if link is None or link.source == event.source:
        return None
    if event.time - link.last_seen > policy.correlation.window:
        return None
    return state.open.get(link.dedup_key)


def _earlier_events(state: State, trig: Trigger, event: Event) -> tuple[str, ...]:
    """The ids of the earlier events a threshold counted (the failed attempts before this)."""
    th = trig.threshold
    assert th is not None
    group = (trig.name, th.group(event))
    times, ids = state.hits.get(group), state.hit_events.get(group)
    if not times or not ids or len(times) != len(ids):
        return ()
    since = event.time - th.within
    return tuple(i for t, i in zip(times, ids, strict=True) if t > since and i)


def _recent(times: deque[datetime] | None, since: datetime) -> int:
    if not times:
        return 0
    return sum(1 for t in times if t > since) if times[0] <= since else len(times)


def _aggregate(state: State, trig: Trigger, event: Event) -> str | None:
    """None when the aggregate crosses its bound (fire), else the reason it does not."""
    agg = trig.aggregate
    assert agg is not None
    since = event.time - agg.within
    past = state.samples.get((trig.name, agg.group(event)), ())
    values = [v for t, v in past if t > since]
    current = _number(agg.value(event))
    if current is not None:
        values.append(current)
    if len(values) < agg.min_samples:
        return f"aggregate: {len(values)} of {agg.min_samples} samples"
    result = _reduce(agg.function, values)
    if agg.below is not None and result < agg.below:
        return None
    if agg.above is not None and result > agg.above:
        return None
    return f"aggregate: {agg.function} {result:.6g} within bounds"


def _reduce(function: str, values: list[float]) -> float:
    if function == "count":
        return float(len(values))
    if function == "sum":
        return sum(values)
    if function == "min":
        return min(values)
    if function == "max":
        return max(values)
    return sum(values) / len(values)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def observe(
    policy: Policy, state: State, event: Event, decisions: Iterable[Decision],
    *, ids: Mapping[str, str] | None = None, problems: Mapping[str, str] | None = None,
) -> None:
    """Fold an event and its decisions into the state.

    ``ids`` maps dedup keys to the incident ids the ledger allocated, ``problems`` maps problem
    types to troubleshooting ids; without them (rules tests, benchmarks) keys stand in for ids.
    """
    index = policy.indexes.get(event.type) or policy.index_for(event.type)
    for trig in index.resetters:
        th = trig.threshold
        if th is not None and th.reset_match(event):
            state.hits.pop((trig.name, th.group(event)), None)
            state.hit_events.pop((trig.name, th.group(event)), None)
    if index.counted:
        mask = index.match(event)
        for i, trig in index.counted:
            if mask >> i & 1:
                _remember(state, trig, event)
    linked = False
    for d in decisions:
        if d.action != IGNORED:
            _apply(state, d, event, ids or {}, problems or {})
            linked = linked or d.action in (OPEN, RECUR)
    if linked and policy.correlation.window:
        link_subject(policy, state, event, decisions)
    remember_resolution(policy, state, event, decisions)


def link_subject(policy: Policy, state: State, event: Event,
                 decisions: Iterable[Decision]) -> None:
    """Remember which open incident heard of the event's subject last (also replayed by the
    rebuild from the journal's decisions)."""
    skey = None
    for d in decisions:
        if d.action not in (OPEN, RECUR) or d.dedup_key is None:
            continue
        skey = skey or policy.correlation.key(event)
        if skey is None:
            return
        link = state.subjects.get(skey)
        if d.action == OPEN or link is None or link.dedup_key != d.dedup_key:
            state.subjects[skey] = SubjectLink(d.dedup_key, event.source, event.time)
        else:
            state.subjects[skey] = link._replace(last_seen=max(link.last_seen, event.time))


def remember_resolution(policy: Policy, state: State, event: Event,
                        decisions: Iterable[Decision] = ()) -> None:
    """Keep the newest recovery event per dedup key, whether or not an incident was open.

    A resolution delivered before its firing (an HA replica lagging, a retry) is kept this
    way, and the older firing that follows does not open an incident.
    """
    index = policy.indexes.get(event.type) or policy.index_for(event.type)
    if not index.resolving:
        return
    resolved = {d.dedup_key: d.incident for d in decisions if d.action == RESOLVE}
    for trig, key_of in index.resolving:
        if trig.resolve.match(event):  # type: ignore[union-attr]  # resolving has a resolve
            key = key_of(event)
            done = state.resolved.get(key)
            if key in resolved or done is None or event.time > done.time:
                incident = resolved.get(key, done.incident if done else None)
                when = max(event.time, done.time) if done else event.time
                state.resolved[key] = Resolution(when, incident)


def _remember(state: State, trig: Trigger, event: Event) -> None:
    if trig.threshold is not None:
        th = trig.threshold
        group = (trig.name, th.group(event))
        times = state.hits.setdefault(group, deque())
        ids = state.hit_events.get(group)
        if ids is None or len(ids) != len(times):  # lost (an older cache): start afresh
            ids = deque([""] * len(times))
        times.append(event.time)
        ids.append(event.id)
        cutoff = event.time - th.within
        while times and times[0] <= cutoff:
            times.popleft()
            ids.popleft()
        state.hit_events[group] = ids
    if trig.aggregate is not None:
        agg = trig.aggregate
        value = _number(agg.value(event))
        if value is not None:
            samples = state.samples.setdefault((trig.name, agg.group(event)), deque())
            samples.append((event.time, value))
            cutoff = event.time - agg.within
            while samples and samples[0][0] <= cutoff:
                samples.popleft()


def _apply(state: State, d: Decision, event: Event, ids: Mapping[str, str],
           problems: Mapping[str, str]) -> None:
    if d.action == OPEN and d.dedup_key is not None:
        state.open[d.dedup_key] = OpenIncident(
            id=ids.get(d.dedup_key, d.dedup_key), rule=d.rule or "", dedup_key=d.dedup_key,
            opened=event.time, last_seen=event.time, severity=d.severity or "MEDIUM",
        )
    elif d.action == RECUR and d.dedup_key is not None:
        inc = state.open.get(d.dedup_key)
        if inc is not None:
            inc.last_seen = max(inc.last_seen, event.time)
            inc.occurrences += 1
            state.open[d.dedup_key] = inc
    elif d.action == RESOLVE and d.dedup_key is not None:
        state.open.pop(d.dedup_key, None)
    elif d.action == TROUBLESHOOTING and d.problem:
        state.known_problems[d.problem] = problems.get(d.problem, "")


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
