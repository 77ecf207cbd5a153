"""What is watched, and how a stream of raw objects becomes events (with transitions).

The table :data:`KINDS` maps each watched kind to its converter (the pure functions of
:mod:`agentops.sources.kubernetes` and :mod:`agentops.watch.gitops`). A :class:`Tracker` holds
the last object seen per uid for one stream, so that converters see ``(old, new)`` and report
transitions, not every status update. On a re-list it compares the list with what it knew, so
objects modified or deleted while the watch was down are not missed.

Deletions become ``resource.deleted`` only in production namespaces (by the policy's globs or a
namespace label) and only for objects no controller owns: a ReplicaSet deleting its pods during
a rollout is not news. Core Events are forwarded only when their ``type`` is ``Warning``.

Each output :class:`~agentops.watch.batcher.Item` also carries a *memo*: the objects the
checkpoint must remember across a restart (those a deletion would be reported for, and those in
a bad state, whose recovery must still resolve the incident after the watcher restarts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from agentops.events import Event
from agentops.sources import kubernetes as k8s
from agentops.watch import gitops
from agentops.watch.cycle import Change, RawObject

PRODUCTION = "production"
SPEC_KEPT = ("destination", "project", "nodeName")  # read from old objects by converters
Memo = tuple[tuple[str, RawObject | None], ...]


class Convert(Protocol):
    def __call__(
        self, old: RawObject | None, new: RawObject, *, cluster: str | None
    ) -> list[Event]: ...


class Deleted(Protocol):
    def __call__(self, obj: RawObject, *, cluster: str | None) -> list[Event]: ...


class Outbox(Protocol):
    """Where a tracker hands its output (the batcher)."""

    def put(self, item: Item) -> None: ...


@dataclass(frozen=True)
class Item:
    """What one change (or list, or bookmark) of one stream produced."""

    stream: str
    rv: str
    events: tuple[Event, ...] = ()
    memo: Memo = ()


@dataclass(frozen=True)
class Kind:
    """One watched kind: where to list it and how to turn its objects into events."""

    plural: str
    group: str
    version: str
    namespaced: bool
    convert: Convert
    deleted: Deleted | None = None  # None: deletions of this kind are not reported
    tracked: bool = True  # keep old objects (False for core Events: no transitions)


def _warnings(old: RawObject | None, new: RawObject, *, cluster: str | None) -> list[Event]:
    if cast(dict[str, Any], new).get("type") != "Warning":  # a core Event field
        return []
    return k8s.events_from_eventlist(new, cluster=cluster)


def _nothing(old: RawObject | None, new: RawObject, *, cluster: str | None) -> list[Event]:
    return []


def _deletion(obj: RawObject, *, cluster: str | None) -> list[Event]:
    return [k8s.deletion_event(obj, cluster=cluster)]


def _pair(fn: Callable[..., list[Event]]) -> Convert:
    def convert(old: RawObject | None, new: RawObject, *, cluster: str | None) -> list[Event]:
        return fn(old, new, cluster=cluster)

    return convert


KINDS: dict[str, Kind] = {
    "namespaces": Kind("namespaces", "", "v1", False, _nothing, _deletion),
    "events": Kind("events", "", "v1", True, _warnings, tracked=False),
    "pods": Kind("pods", "", "v1", True, _pair(k8s.pod_events), _deletion),
    "deployments": Kind("deployments", "apps", "v1", True, _pair(k8s.deployment_events),
                        _deletion),
    "nodes": Kind("nodes", "", "v1", False, _pair(k8s.node_events)),
    "jobs": Kind("jobs", "batch", "v1", True, _pair(k8s.job_events), _deletion),
    "applications": Kind("applications", "argoproj.io", "v1alpha1", True,
                         gitops.application_events, gitops.application_deleted),
    "kustomizations": Kind("kustomizations", "kustomize.toolkit.fluxcd.io", "v1", True,
                           gitops.flux_events, _deletion),
    "helmreleases": Kind("helmreleases", "helm.toolkit.fluxcd.io", "v2", True,
                         gitops.flux_events, _deletion),
}
CRD_KINDS = ("applications", "kustomizations", "helmreleases")


class Placement:
    """Which namespaces are production: the policy's globs, or a namespace label selector.

    Events in label-selected namespaces are placed in ``production`` explicitly (the policy
    only knows globs). Thread-safe: the namespace stream updates it while others read it.
    """

    def __init__(self, globbed: Callable[[str], bool], selector: str | None = None) -> None:
        self._globbed = globbed
        self._selector = parse_selector(selector) if selector else None
        self._labelled: set[str] = set()
        self._lock = threading.Lock()

    def is_production(self, namespace: str | None) -> bool:
        if not namespace:
            return False
        with self._lock:
            labelled = namespace in self._labelled
        return labelled or self._globbed(namespace)

    def observe_namespace(self, ns: RawObject, *, deleted: bool = False) -> None:
        if self._selector is None:
            return
        meta = ns.get("metadata") or {}
        name, labels = meta.get("name") or "", meta.get("labels") or {}
        with self._lock:
            if not deleted and self._selector(labels):
                self._labelled.add(name)
            else:
                self._labelled.discard(name)

    def place(self, event: Event) -> Event:
        namespace = event.subject.namespace
        if event.subject.kind == "Namespace":
            namespace = event.subject.name
        with self._lock:
            labelled = namespace in self._labelled
        if labelled and event.environment is None:
            return event.with_environment(PRODUCTION)
        return event


def parse_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """Equality-based label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, comma-joined."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for term in (t.strip() for t in text.split(",") if t.strip()):
        tests.append(_label_test(term))
    return lambda labels: all(test(labels) for test in tests)


def _label_test(term: str) -> Callable[[dict[str, str]], bool]:
    if "!=" in term:
        key, value = (p.strip() for p in term.split("!=", 1))
        return lambda labels: labels.get(key) != value
    if "=" in term:
        key, value = (p.strip() for p in term.replace("==", "=").split("=", 1))
        return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        return lambda labels: term[1:].strip() not in labels
    return lambda labels: term in labels


@dataclass
class Tracker:
    """The last known objects of one stream, turning raw changes into :class:`Item` s."""

    key: str
    kind: Kind
    outbox: Outbox
    placement: Placement
    cluster: str | None = None
    since_rv: str | None = None
    known: dict[str, RawObject] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    # whether the API server ever answered this stream, and the error of its last attempt
    contacted: threading.Event = field(default_factory=threading.Event)
    last_error: str | None = None
    _memo: set[str] = field(default_factory=set)

    def reached(self, error: str | None) -> None:
        """The outcome of one attempt: None when the server answered."""
        self.last_error = error
        if error is None:
            self.contacted.set()

    def __post_init__(self) -> None:
        self._memo = set(self.known)

    def listed(self, objects: list[RawObject], rv: str) -> None:
        events: list[Event] = []
        memo: list[tuple[str, RawObject | None]] = []
        seen = set()
        for obj in objects:
            seen.add(_uid(obj))
            self._apply(Change("MODIFIED", obj, rv), events, memo)
        for uid in [uid for uid in self.known if uid not in seen]:
            self._apply(Change("DELETED", self.known[uid], rv), events, memo)
        self._emit(rv, events, memo)

    def changed(self, change: Change) -> None:
        events: list[Event] = []
        memo: list[tuple[str, RawObject | None]] = []
        self._apply(change, events, memo)
        self._emit(change.rv, events, memo)

    def bookmark(self, rv: str) -> None:
        self._emit(rv, [], [])

    def _emit(self, rv: str, events: list[Event], memo: list[tuple[str, RawObject | None]]) -> None:
        self.outbox.put(Item(self.key, rv, tuple(events), tuple(memo)))
        self.ready.set()
        self.contacted.set()

    def _apply(self, change: Change, events: list[Event],
               memo: list[tuple[str, RawObject | None]]) -> None:
        obj, uid = change.obj, _uid(change.obj)
        if self.kind.plural == "namespaces":  # labels of the last state count for a deletion
            self.placement.observe_namespace(obj)
        if change.type == "DELETED":
            self.known.pop(uid, None)
            events.extend(self.placement.place(e) for e in self._deletions(obj))
            self._forget(uid, memo)
            if self.kind.plural == "namespaces":
                self.placement.observe_namespace(obj, deleted=True)
            return
        old = self.known.get(uid)
        found = self.kind.convert(old, obj, cluster=self.cluster)
        events.extend(self.placement.place(event) for event in found)
        if self.kind.tracked:
            slim = slim_object(obj)
            self.known[uid] = slim
            self._remember(uid, slim if self._worth_keeping(obj) else None, memo)

    def _deletions(self, obj: RawObject) -> list[Event]:
        if self.kind.deleted is None or _controlled(obj):
            return []
        found = self.kind.deleted(obj, cluster=self.cluster)
        return [event for event in found if self._in_production(event)]

    def _in_production(self, event: Event) -> bool:
        if event.subject.kind == "Namespace":
            return self.placement.is_production(event.subject.name)
        return self.placement.is_production(event.subject.namespace)

    def _worth_keeping(self, obj: RawObject) -> bool:
        """Remembered across restarts: deletable production objects and those in trouble."""
        if self.kind.deleted is not None and not _controlled(obj):
            namespace = (obj.get("metadata") or {}).get("namespace")
            if self.kind.plural == "namespaces":
                namespace = (obj.get("metadata") or {}).get("name")
            if self.placement.is_production(namespace):
                return True
        return bool(self.kind.convert(None, obj, cluster=self.cluster))

    def _remember(self, uid: str, slim: RawObject | None,
                  memo: list[tuple[str, RawObject | None]]) -> None:
        if slim is not None:
            self._memo.add(uid)
            memo.append((uid, slim))
        else:
            self._forget(uid, memo)

    def _forget(self, uid: str, memo: list[tuple[str, RawObject | None]]) -> None:
        if uid in self._memo:
            self._memo.discard(uid)
            memo.append((uid, None))


def slim_object(obj: RawObject) -> RawObject:
    """What converters read of an *old* object: metadata, status and a few spec fields."""
    meta: dict[str, Any] = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    slim: dict[str, Any] = {k: v for k, v in obj.items() if k not in ("spec", "metadata")}
    slim["metadata"] = meta
    spec = {k: v for k, v in (obj.get("spec") or {}).items() if k in SPEC_KEPT}
    if spec:
        slim["spec"] = spec
    return cast(RawObject, slim)


def _controlled(obj: RawObject) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(owner.get("controller") for owner in owners)


def _uid(obj: RawObject) -> str:
    meta = obj.get("metadata") or {}
    return meta.get("uid") or f"{obj.get('kind')}/{meta.get('namespace')}/{meta.get('name')}"


def stream_key(plural: str, namespace: str | None) -> str:
    return f"{plural}@{namespace}" if namespace else plural


def kinds(names: Iterable[str] | None = None) -> list[Kind]:
    wanted: Collection[str] = list(names) if names is not None else list(KINDS)
    return [KINDS[name] for name in wanted]
