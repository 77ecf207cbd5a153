"""A fake kube-apiserver that speaks real LIST+WATCH over HTTP, for tests.

Why it exists: the watcher must be tested against the protocol, not against a mocked client.
This server is what the official ``kubernetes`` client and ``kubectl`` talk to in tests:
discovery, LIST with paging and selectors, chunked WATCH streams with bookmarks, in-stream
``410 Expired`` errors, compaction, optimistic concurrency (409) and abrupt disconnects.
Tests drive it directly (``create``/``update``/``delete``/``compact``/``inject_stream_error``)
and read ``requests`` to see what a client asked for.

Semantics kept deliberately simple (and documented here rather than discovered later):
every LIST serves the current state (a continue token only remembers where to resume and the
resourceVersion of the first page); a watch with a label selector filters on the new object
only (an object leaving the selector is not turned into DELETED); resourceVersions are one
global counter, as with etcd. Stdlib + PyYAML only.
"""

from __future__ import annotations

import base64
import bisect
import copy
import datetime as dt
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, urlsplit

import yaml

Obj = dict[str, Any]

SERVER_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "fake",
    "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0",
    "compiler": "gc", "platform": "linux/amd64",
}
_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
    422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True)
class Resource:
    """One served resource type, as discovery describes it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def discovery(self) -> Obj:
        entry: Obj = {
            "name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
            "kind": self.kind, "verbs": _VERBS,
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


BUILTIN = (
    Resource("", "v1", "pods", "Pod", short_names=("po",), categories=("all",)),
    Resource("", "v1", "events", "Event", short_names=("ev",)),
    Resource("", "v1", "nodes", "Node", namespaced=False, short_names=("no",)),
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",)),
    Resource("", "v1", "services", "Service", short_names=("svc",), categories=("all",)),
    Resource("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Resource("apps", "v1", "deployments", "Deployment", short_names=("deploy",),
             categories=("all",)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",),
             categories=("all",)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), categories=("all",)),
    Resource("batch", "v1", "jobs", "Job", categories=("all",)),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
)
CRDS = (
    Resource("argoproj.io", "v1alpha1", "applications", "Application",
             short_names=("app", "apps")),
    Resource("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization",
             short_names=("ks",)),
    Resource("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease",
             short_names=("hr",)),
)


class ApiError(Exception):
    """An error the server answers with a ``Status`` body (and tests may catch directly)."""

    def __init__(self, code: int, message: str, *, reason: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")

    def status(self) -> Obj:
        return {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }


class Request(NamedTuple):
    """One request the server received: method, path and query (last value per key)."""

    method: str
    path: str
    query: dict[str, str]


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    resource: Resource
    type: str
    obj: Obj


@dataclass(eq=False)
class _Stream:
    """Mutable state of one open watch: how far it has read and whether it must end."""

    resource: Resource
    namespace: str | None
    matches: Callable[[Obj], bool]
    last_rv: int
    sock: socket.socket | None
    error: tuple[int, str] | None = None
    dropped: bool = False
    done: bool = False


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc3339(value: dt.datetime | dt.date) -> str:
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return value.strftime(pattern)


def normalise(value: Any) -> Any:
    """YAML values as the API would serve them: datetimes become RFC 3339 strings."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dt.date):
        return _rfc3339(value)
    return value


# --- selectors ------------------------------------------------------------------------------

_SET_TERM = re.compile(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside ``(...)``."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return [t.strip() for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    if m := _SET_TERM.fullmatch(term):
        key, op, values = m[1], m[2], {v.strip() for v in m[3].split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (part.strip() for part in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if re.fullmatch(r"!\s*[\w./-]+", term):
        return lambda labels: term[1:].strip() not in labels
    if re.fullmatch(r"[\w./-]+", term):
        return lambda labels: term in labels
    raise ApiError(400, f"unable to parse requirement: {term!r}")


def _field_value(obj: Obj, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_term(term: str) -> Callable[[Obj], bool]:
    for op in ("!=", "==", "="):
        if op in term:
            path, value = (part.strip() for part in term.split(op, 1))
            if op == "!=":
                return lambda obj: _field_value(obj, path) != value
            return lambda obj: _field_value(obj, path) == value
    raise ApiError(400, f"invalid field selector: {term!r}")


def selector(labels: str = "", fields: str = "") -> Callable[[Obj], bool]:
    """A predicate for ``labelSelector`` (equality and set based) and ``fieldSelector``
    (``=``, ``==``, ``!=`` on any dotted path, e.g. metadata.name, spec.nodeName)."""
    label_tests = [_label_term(t) for t in _split_terms(labels)]
    field_tests = [_field_term(t) for t in _split_terms(fields)]

    def matches(obj: Obj) -> bool:
        obj_labels = obj.get("metadata", {}).get("labels") or {}
        return all(t(obj_labels) for t in label_tests) and all(t(obj) for t in field_tests)

    return matches


# --- the store -----------------------------------------------------------------------------


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return (meta.get("namespace") or "", meta["name"])


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


class Store:
    """Objects per resource, one global resourceVersion, and the event history watches read."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = tuple(resources)
        self._cond = threading.Condition()
        self._objects: dict[Resource, dict[tuple[str, str], Obj]] = {
            r: {} for r in self.resources
        }
        self._history: list[WatchEvent] = []
        self._rv = 1
        self._compacted = 0
        self._streams: set[_Stream] = set()
        self._pending_stream_errors: dict[Resource, int] = {}
        self._pending_list_errors: dict[Resource, list[int]] = {}
        self._closed = False

    # lookups

    def resolve(self, name: str) -> Resource:
        """A resource by plural, singular, kind, short name or ``plural.group``."""
        wanted = name.lower()
        for res in self.resources:
            names = {res.plural, res.singular, f"{res.plural}.{res.group}", *res.short_names}
            if wanted in names:
                return res
        raise KeyError(f"resource {name!r} is not served by this fake apiserver")

    def resource_for(self, obj: Obj) -> Resource:
        group = obj.get("apiVersion", "").rpartition("/")[0]
        for res in self.resources:
            if res.kind == obj.get("kind") and res.group == group:
                return res
        raise KeyError(f"{obj.get('apiVersion')} {obj.get('kind')} is not served")

    @property
    def resource_version(self) -> str:
        with self._cond:
            return str(self._rv)

    # writes

    def _record(self, res: Resource, kind: str, obj: Obj) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._history.append(WatchEvent(self._rv, res, kind, copy.deepcopy(obj)))
        self._cond.notify_all()
        return copy.deepcopy(obj)

    def _prepare(self, res: Resource, obj: Obj, namespace: str | None) -> Obj:
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise ApiError(422, f"{res.kind} is invalid: metadata.name: Required value")
        if res.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        return obj

    def create(self, obj: Obj, *, resource: Resource | None = None,
               namespace: str | None = None) -> Obj:
        res = resource or self.resource_for(obj)
        obj = self._prepare(res, obj, namespace)
        meta = obj["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339())
        with self._cond:
            if _key(obj) in self._objects[res]:
                raise ApiError(409, f'{res.plural} "{meta["name"]}" already exists',
                               reason="AlreadyExists")
            self._objects[res][_key(obj)] = obj
            return self._record(res, "ADDED", obj)

    def update(self, obj: Obj, *, resource: Resource | None = None,
               namespace: str | None = None, check_version: bool = False) -> Obj:
        """Replace an object. With ``check_version`` (as for PUT) a stale
        metadata.resourceVersion is a 409 Conflict, like the real server."""
        res = resource or self.resource_for(obj)
        obj = self._prepare(res, obj, namespace)
        meta = obj["metadata"]
        with self._cond:
            current = self._objects[res].get(_key(obj))
            if current is None:
                raise ApiError(404, f'{res.plural} "{meta["name"]}" not found')
            wanted = meta.get("resourceVersion")
            if check_version and wanted and wanted != current["metadata"]["resourceVersion"]:
                raise ApiError(409, f'Operation cannot be fulfilled on {res.plural}.'
                               f'{res.group} "{meta["name"]}": the object has been modified; '
                               "please apply your changes to the latest version and try again")
            meta["uid"] = current["metadata"]["uid"]
            meta["creationTimestamp"] = current["metadata"]["creationTimestamp"]
            self._objects[res][_key(obj)] = obj
            return self._record(res, "MODIFIED", obj)

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj) -> Obj:
        with self._cond:
            current = self.get(res, namespace, name)
            merged = _merge_patch(current, patch)
            return self.update(merged, resource=res, namespace=namespace, check_version=True)

    def delete(self, res: Resource, namespace: str | None, name: str) -> Obj:
        with self._cond:
            obj = self._objects[res].pop((namespace or "", name), None)
            if obj is None:
                raise ApiError(404, f'{res.plural} "{name}" not found')
            return self._record(res, "DELETED", obj)

    def compact(self, rv: int) -> None:
        with self._cond:
            if rv > self._rv:
                raise ValueError(f"cannot compact at {rv}: current resourceVersion is {self._rv}")
            self._compacted = max(self._compacted, rv)
            cut = bisect.bisect_right(self._history, self._compacted, key=lambda e: e.rv)
            del self._history[:cut]

    # reads

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj:
        with self._cond:
            obj = self._objects[res].get((namespace or "", name))
            if obj is None:
                raise ApiError(404, f'{res.plural} "{name}" not found')
            return copy.deepcopy(obj)

    def fail_next_list(self, res: Resource, code: int) -> None:
        with self._cond:
            self._pending_list_errors.setdefault(res, []).append(code)

    def list_objects(self, res: Resource, namespace: str | None, *, matches: Callable[[Obj], bool],
             limit: int = 0, token: str = "") -> Obj:
        with self._cond:
            pending = self._pending_list_errors.get(res)
            if pending:
                code = pending.pop(0)
                raise ApiError(code, f"too old resource version: 1 ({self._rv})"
                               if code == 410 else f"injected failure listing {res.plural}")
            list_rv, after = self._decode_continue(token) if token else (self._rv, None)
            items = sorted(
                (o for k, o in self._objects[res].items()
                 if (namespace is None or k[0] == namespace) and (after is None or k > after)
                 and matches(o)),
                key=_key,
            )
            meta: Obj = {"resourceVersion": str(list_rv)}
            if limit and len(items) > limit:
                items, rest = items[:limit], len(items) - limit
                meta["continue"] = _encode_continue(list_rv, _key(items[-1]))
                meta["remainingItemCount"] = rest
            return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                    "items": copy.deepcopy(items)}

    def _decode_continue(self, token: str) -> tuple[int, tuple[str, str]]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            rv, after = int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
        except (ValueError, KeyError, TypeError, IndexError) as err:
            raise ApiError(400, f"continue key is not valid: {err}") from err
        if rv < self._compacted:
            raise ApiError(410, "The provided continue parameter is too old to display a "
                           "consistent list result. You can start a new list without the "
                           "continue parameter.")
        return rv, after

    # watches

    def open_stream(self, res: Resource, namespace: str | None, *, rv: str,
                    matches: Callable[[Obj], bool], sock: socket.socket | None,
                    ) -> tuple[_Stream, list[Obj]]:
        """Register a watch; returns it with the synthetic ADDED events for rv "0"/absent."""
        with self._cond:
            stream = _Stream(res, namespace, matches, self._rv, sock)
            initial: list[Obj] = []
            if rv in ("", "0"):
                initial = [{"type": "ADDED", "object": copy.deepcopy(o)}
                           for o in sorted(self._objects[res].values(), key=_key)
                           if self._visible(stream, o)]
            elif int(rv) < self._compacted:
                stream.last_rv = int(rv)
                stream.error = (410, f"too old resource version: {rv} ({self._compacted})")
            else:
                stream.last_rv = int(rv)
            if (code := self._pending_stream_errors.pop(res, None)) is not None:
                stream.error = (code, f"too old resource version: {stream.last_rv} ({self._rv})")
            self._streams.add(stream)
            self._cond.notify_all()
            return stream, initial

    def close_stream(self, stream: _Stream) -> None:
        with self._cond:
            self._streams.discard(stream)
            self._cond.notify_all()

    def _visible(self, stream: _Stream, obj: Obj) -> bool:
        ns = obj["metadata"].get("namespace")
        return (stream.namespace is None or ns == stream.namespace) and stream.matches(obj)

    def wait_events(self, stream: _Stream, timeout: float) -> list[Obj]:
        """Watch events for ``stream`` after its position, waiting up to ``timeout``.

        An ERROR event ends the stream (``done``); so do ``drop_streams`` and ``close``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed or stream.dropped:
                    stream.done = True
                    return []
                if stream.error:
                    stream.done = True
                    code, message = stream.error
                    return [{"type": "ERROR", "object": ApiError(code, message).status()}]
                start = bisect.bisect_right(self._history, stream.last_rv, key=lambda e: e.rv)
                events = [{"type": e.type, "object": copy.deepcopy(e.obj)}
                          for e in self._history[start:]
                          if e.resource == stream.resource and self._visible(stream, e.obj)]
                stream.last_rv = max(stream.last_rv, self._rv)
                remaining = deadline - time.monotonic()
                if events or remaining <= 0:
                    return events
                self._cond.wait(remaining)

    def inject_stream_error(self, res: Resource, code: int) -> None:
        with self._cond:
            live = [s for s in self._streams if s.resource == res and not s.done]
            for stream in live:
                stream.error = (code, f"too old resource version: {stream.last_rv} ({self._rv})")
            if not live:
                self._pending_stream_errors[res] = code
            self._cond.notify_all()

    def drop_streams(self) -> int:
        with self._cond:
            streams = [s for s in self._streams if not s.done]
            for stream in streams:
                stream.dropped = True
                _shutdown(stream.sock)
            self._cond.notify_all()
            return len(streams)

    def wait_for_streams(self, res: Resource, count: int, timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(
                lambda: sum(s.resource == res and not s.done for s in self._streams) >= count,
                timeout,
            ):
                raise TimeoutError(f"fewer than {count} watches of {res.plural} after {timeout}s")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def _encode_continue(rv: int, after: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": after}).encode()).decode()


def _shutdown(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# --- server-side printing (kubectl's Accept: as=Table) --------------------------------------


def _age(obj: Obj) -> str:
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = dt.datetime.fromisoformat(stamp)
    seconds = int((dt.datetime.now(dt.UTC) - created).total_seconds())
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= size):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _pod_status(pod: Obj) -> str:
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state", {})
        for detail in (state.get("waiting"), state.get("terminated")):
            if detail and detail.get("reason"):
                reason = detail["reason"]
    return str(reason)


def _pod_ready(pod: Obj) -> str:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or statuses)
    return f"{sum(bool(cs.get('ready')) for cs in statuses)}/{total}"


def _node_status(node: Obj) -> str:
    conditions = node.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    text = "Ready" if ready else "NotReady"
    return text + (",SchedulingDisabled" if node.get("spec", {}).get("unschedulable") else "")


def _node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    labels = node.get("metadata", {}).get("labels") or {}
    roles = sorted(k[len(prefix):] for k in labels if k.startswith(prefix))
    return ",".join(roles) or "<none>"


Column = tuple[str, Callable[[Obj], Any]]
_NAME: Column = ("Name", lambda o: o["metadata"]["name"])
_AGE: Column = ("Age", _age)
_COLUMNS: dict[str, list[Column]] = {
    "pods": [_NAME, ("Ready", _pod_ready), ("Status", _pod_status),
             ("Restarts", lambda o: sum(c.get("restartCount", 0) for c in
                                        o.get("status", {}).get("containerStatuses") or [])),
             _AGE],
    "nodes": [_NAME, ("Status", _node_status), ("Roles", _node_roles), _AGE,
              ("Version", lambda o: o.get("status", {}).get("nodeInfo", {})
               .get("kubeletVersion", ""))],
    "events": [("Last Seen", lambda o: o.get("lastTimestamp") or o.get("eventTime") or ""),
               ("Type", lambda o: o.get("type", "")), ("Reason", lambda o: o.get("reason", "")),
               ("Object", lambda o: "{}/{}".format(o.get("involvedObject", {}).get("kind", "")
                                                   .lower(),
                                                   o.get("involvedObject", {}).get("name", ""))),
               ("Message", lambda o: o.get("message", ""))],
    "deployments": [_NAME, ("Ready", lambda o: "{}/{}".format(
                        o.get("status", {}).get("readyReplicas", 0),
                        o.get("spec", {}).get("replicas", 1))),
                    ("Up-to-date", lambda o: o.get("status", {}).get("updatedReplicas", 0)),
                    ("Available", lambda o: o.get("status", {}).get("availableReplicas", 0)),
                    _AGE],
    "namespaces": [_NAME, ("Status", lambda o: o.get("status", {}).get("phase", "Active")),
                   _AGE],
}


def as_table(res: Resource, listing: Obj) -> Obj:
    """A meta.k8s.io/v1 Table for a list, with PartialObjectMetadata row objects."""
    columns = _COLUMNS.get(res.plural, [_NAME, _AGE])
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listing["metadata"],
        "columnDefinitions": [
            {"name": name, "type": "string", "format": "name" if name == "Name" else "",
             "description": name, "priority": 0} for name, _ in columns
        ],
        "rows": [
            {"cells": [fn(item) for _, fn in columns],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": item["metadata"]}}
            for item in listing["items"]
        ],
    }


# --- HTTP ----------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeApiServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, delayed ACKs cost 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        self.server.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        fake = self.server.fake
        fake._requests.append(Request(method, url.path, query))
        try:
            if fake.token and self.headers.get("Authorization") != f"Bearer {fake.token}":
                raise ApiError(401, "Unauthorized")
            self._route(method, url.path.rstrip("/") or "/", query)
        except ApiError as err:
            self._send_json(err.code, err.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_json(self, code: int, body: Obj | list[Any]) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Obj:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as err:
            raise ApiError(400, f"invalid JSON body: {err}") from err
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def _route(self, method: str, path: str, query: dict[str, str]) -> None:
        fake = self.server.fake
        if path in ("/healthz", "/livez", "/readyz"):
            self._send_text("ok")
        elif path == "/version":
            self._send_json(200, SERVER_VERSION)
        elif path == "/api":
            self._send_json(200, fake.api_versions())
        elif path == "/apis":
            self._send_json(200, fake.api_groups())
        elif (parts := path.strip("/").split("/"))[0] == "apis" and len(parts) == 2:
            self._send_json(200, fake.api_group(parts[1]))
        elif parts[0] in ("api", "apis") and len(parts) >= 2:
            self._resource_route(method, parts, query)
        else:
            raise ApiError(404, "the server could not find the requested resource")

    def _send_text(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _resource_route(self, method: str, parts: list[str], query: dict[str, str]) -> None:
        fake = self.server.fake
        group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (
            parts[1], parts[2], parts[3:])
        if not rest:
            self._send_json(200, fake.resource_list(group, version))
            return
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        res = fake.lookup(group, version, rest[0])
        if namespace is not None and not res.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        self._resource_verb(method, res, namespace, name, query)

    def _resource_verb(self, method: str, res: Resource, namespace: str | None,
                       name: str | None, query: dict[str, str]) -> None:
        store = self.server.fake.store
        if method == "GET" and name is None:
            if query.get("watch") in ("1", "true", "True"):
                self._watch(res, namespace, query)
            else:
                self._list(res, namespace, query)
        elif method == "GET" and name:
            self._send_json(200, store.get(res, namespace, name))
        elif method == "POST" and name is None:
            self._send_json(201, store.create(self._body(), resource=res, namespace=namespace))
        elif method == "PUT" and name:
            body = self._body()
            body.setdefault("metadata", {})["name"] = name
            self._send_json(200, store.update(body, resource=res, namespace=namespace,
                                              check_version=True))
        elif method == "PATCH" and name:
            if "json-patch" in self.headers.get("Content-Type", ""):
                raise ApiError(415, "only merge patches are supported by the fake apiserver")
            self._send_json(200, store.patch(res, namespace, name, self._body()))
        elif method == "DELETE" and name:
            gone = store.delete(res, namespace, name)
            self._send_json(200, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": res.plural, "uid": gone["metadata"]["uid"]},
            })
        else:
            raise ApiError(405, f"{method} is not supported here")

    def _list(self, res: Resource, namespace: str | None, query: dict[str, str]) -> None:
        fake = self.server.fake
        listing = fake.store.list_objects(
            res, namespace,
            matches=selector(query.get("labelSelector", ""), query.get("fieldSelector", "")),
            limit=int(_number(query, "limit")), token=query.get("continue", ""),
        )
        self._send_json(200, as_table(res, listing) if self._wants_table() else listing)

    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept", "")
        return self.server.fake.tables and "as=Table" in accept and "g=meta.k8s.io" in accept

    def _watch(self, res: Resource, namespace: str | None, query: dict[str, str]) -> None:
        fake = self.server.fake
        rv = query.get("resourceVersion", "")
        if rv and not rv.isdigit():
            raise ApiError(400, f"invalid resource version: {rv!r}")
        matches = selector(query.get("labelSelector", ""), query.get("fieldSelector", ""))
        timeout = _number(query, "timeoutSeconds") or fake.default_watch_timeout
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true", "True")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # Registered only once the headers are out, so wait_for_watch means "streaming".
        stream, initial = fake.store.open_stream(res, namespace, rv=rv, matches=matches,
                                                 sock=self.connection)
        try:
            table = self._wants_table()
            events = self._watch_events(stream, initial, deadline=time.monotonic() + timeout,
                                        bookmarks=bookmarks)
            for event in events:
                if table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    event = {"type": event["type"], "object": as_table(res, {
                        "metadata": {"resourceVersion": str(stream.last_rv)},
                        "items": [event["object"]]})}
                self._chunk(json.dumps(event, separators=(",", ":")).encode() + b"\n")
            if stream.dropped:
                self.close_connection = True
                _shutdown(self.connection)
            else:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            fake.store.close_stream(stream)

    def _watch_events(self, stream: _Stream, initial: list[Obj], *, deadline: float,
                      bookmarks: bool) -> Iterator[Obj]:
        fake = self.server.fake
        next_bookmark = time.monotonic() + fake.bookmark_interval if bookmarks else float("inf")
        yield from initial
        while not stream.done:
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= next_bookmark:
                next_bookmark = now + fake.bookmark_interval
                yield {"type": "BOOKMARK", "object": {
                    "kind": stream.resource.kind, "apiVersion": stream.resource.api_version,
                    "metadata": {"resourceVersion": str(stream.last_rv)}}}
            yield from fake.store.wait_events(stream, min(deadline, next_bookmark) - now)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _number(query: dict[str, str], key: str) -> float:
    try:
        value = float(query.get(key) or 0)
    except ValueError as err:
        raise ApiError(400, f"{key}: {query[key]!r} is not a number") from err
    if value < 0:
        raise ApiError(400, f"{key}: must not be negative")
    return value


# --- the public face -----------------------------------------------------------------------


@dataclass
class FakeApiServer:
    """A local kube-apiserver for tests; use ``with FakeApiServer() as api:``.

    ``crds``: True serves the Argo CD and Flux CRDs below, or name some of them by plural or
    group (``crds=["applications"]``). ``tables``: answer kubectl's ``as=Table`` requests
    with server-side Tables (False makes kubectl fall back to its own NAME/AGE printing).
    ``token``: a bearer token every request must carry (401 otherwise). Off by default
    because kubectl (client-go) never sends a token to a plain-http server.
    """

    crds: bool | Iterable[str] = False
    bookmark_interval: float = 0.2
    default_watch_timeout: float = 30.0
    tables: bool = True
    token: str | None = None
    store: Store = field(init=False)
    _requests: list[Request] = field(init=False, default_factory=list)
    _connections: set[socket.socket] = field(init=False, default_factory=set)
    _httpd: _HTTPServer | None = field(init=False, default=None)
    _thread: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        wanted = (set() if self.crds is False else None if self.crds is True
                  else {c.lower() for c in self.crds})
        crds = [c for c in CRDS if wanted is None or {c.plural, c.group} & wanted]
        self.store = Store([*BUILTIN, *crds])

    # lifecycle

    def start(self) -> Self:
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.store.close()
        self._httpd.shutdown()
        self._httpd.server_close()
        for conn in list(self._connections):
            _shutdown(conn)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake apiserver is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def kubeconfig(self, path: Path) -> Path:
        """Write a kubeconfig (context "fake", token user) for the kubernetes client and kubectl."""
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": self.token or "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # driving the store from tests

    def create(self, obj: Obj) -> Obj:
        return self.store.create(normalise(obj))

    def update(self, obj: Obj) -> Obj:
        """Replace an object unconditionally (tests drive state; PUT checks versions)."""
        return self.store.update(normalise(obj))

    def delete(self, kind_or_resource: str, namespace: str | None, name: str) -> Obj:
        res = self.store.resolve(kind_or_resource)
        return self.store.delete(res, namespace if res.namespaced else None, name)

    def get(self, kind_or_resource: str, namespace: str | None, name: str) -> Obj:
        res = self.store.resolve(kind_or_resource)
        return self.store.get(res, namespace if res.namespaced else None, name)

    def compact(self, rv: int | str) -> None:
        """Forget history up to ``rv``: a watch from an older resourceVersion gets 410."""
        self.store.compact(int(rv))

    def inject_stream_error(self, resource: str, code: int = 410) -> None:
        """End the open watches of ``resource`` (or, if none, the next one) with an in-stream
        ERROR event carrying a Status with ``code`` (410: reason Expired)."""
        self.store.inject_stream_error(self.store.resolve(resource), code)

    def fail_next_list(self, resource: str, code: int = 410) -> None:
        """The next LIST of ``resource`` answers HTTP ``code`` with a Status body."""
        self.store.fail_next_list(self.store.resolve(resource), code)

    def drop_connections(self) -> int:
        """Cut every open watch stream without the final chunk; returns how many."""
        return self.store.drop_streams()

    def wait_for_watch(self, resource: str, count: int = 1, timeout: float = 5.0) -> None:
        """Block until ``count`` watches of ``resource`` are open (so a test may write)."""
        self.store.wait_for_streams(self.store.resolve(resource), count, timeout)

    @property
    def resource_version(self) -> str:
        return self.store.resource_version

    @property
    def requests(self) -> list[Request]:
        return list(self._requests)

    def load_fixture(self, path: Path | str) -> list[Obj]:
        """Store the objects of a YAML or JSON file: one object, several YAML documents, or a
        ``List``/``*List`` with items. Returns the stored objects (with new resourceVersions)."""
        text = Path(path).read_text()
        docs = list(yaml.safe_load_all(text)) if str(path).endswith((".yaml", ".yml")) else [
            json.loads(text)]
        return [self.create(obj) for doc in docs if doc for obj in _items(normalise(doc))]

    # discovery documents

    def lookup(self, group: str, version: str, plural: str) -> Resource:
        for res in self.store.resources:
            if (res.group, res.version, res.plural) == (group, version, plural):
                return res
        raise ApiError(404, "the server could not find the requested resource")

    def resource_list(self, group: str, version: str) -> Obj:
        served = [r for r in self.store.resources if (r.group, r.version) == (group, version)]
        if not served:
            raise ApiError(404, "the server could not find the requested resource")
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": served[0].api_version,
                "resources": [r.discovery() for r in served]}

    def api_versions(self) -> Obj:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": self.url.removeprefix("http://")}]}

    def api_group(self, group: str) -> Obj:
        for entry in self.api_groups()["groups"]:
            if entry["name"] == group:
                return {"kind": "APIGroup", "apiVersion": "v1", **entry}
        raise ApiError(404, "the server could not find the requested resource")

    def api_groups(self) -> Obj:
        groups: dict[str, str] = {}
        for res in self.store.resources:
            if res.group:
                groups.setdefault(res.group, res.version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
             "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
            for g, v in groups.items()]}


def _items(doc: Obj) -> list[Obj]:
    kind = str(doc.get("kind", ""))
    if kind == "List" or (kind.endswith("List") and "items" in doc):
        item_kind = kind.removesuffix("List")
        defaults = {"apiVersion": doc.get("apiVersion", "v1"), "kind": item_kind}
        return [{**defaults, **item} if item_kind else item for item in doc.get("items") or []]
    return [doc]


def serve(**options: Any) -> Iterator[FakeApiServer]:
    """Body of a pytest fixture: ``yield from serve(crds=True)`` starts and stops a server."""
    with FakeApiServer(**options) as server:
        yield server
