"""One list-then-watch cycle of one resource: the part of watching that tests drive fully.

Why a cycle and not a loop: every hard case (410 Gone, a dropped stream, a restart from a saved
resourceVersion) is a way a cycle *ends*; the forever-loop in :mod:`agentops.watch.loop` only
decides what the next cycle starts from. A cycle lists (paged) when it has no resourceVersion,
then watches from the list's version with bookmarks until the server ends the watch, ``stop``
is set, or an error ends it:

- ``Gone``: the version is too old (HTTP 410 on the list, or an in-stream ``ERROR`` 410; the
  client raises the latter only because ``timeout_seconds`` is always given). List again.
- ``NotServed``: 404 on the first request, e.g. an Argo CD or Flux CRD that is not installed.
- ``StreamError``: anything else; it carries the last resourceVersion reached, to resume from.

Objects are passed on as raw JSON (``raw_object``): the converters read JSON, and skipping the
client's model deserialisation is most of the cost of a storm (see :func:`raw_call`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, cast

from urllib3.exceptions import HTTPError

from agentops.errors import AgentopsError

PAGE_SIZE = 500
WATCH_TIMEOUT = 300  # seconds; a watch the server ends is simply resumed by the loop
# Every call has a connect timeout, so that a thread blocked on an unreachable server returns
# within it and can be told to stop; reads get longer (a list can be big, a watch is long).
CONNECT_TIMEOUT = 1.0
LIST_READ_TIMEOUT = 60.0


class RawMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[dict[str, Any]]
    deletionTimestamp: str


class RawObject(TypedDict, total=False):
    """A Kubernetes object as the API serves it (JSON)."""

    apiVersion: str
    kind: str
    metadata: RawMeta
    spec: dict[str, Any]
    status: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One watch event: ADDED, MODIFIED or DELETED, with the object's resourceVersion."""

    type: str
    obj: RawObject
    rv: str


class ListCall(Protocol):
    """A list function of the kubernetes client (namespace etc. already bound)."""

    def __call__(self, **kwargs: Any) -> Any: ...


class OnList(Protocol):
    def __call__(self, objects: list[RawObject], rv: str) -> None: ...


class OnEvent(Protocol):
    def __call__(self, change: Change) -> None: ...


class OnBookmark(Protocol):
    def __call__(self, rv: str) -> None: ...


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class WatchError(AgentopsError):
    """A cycle ended by the server or the network; the loop decides what comes next."""


class Gone(WatchError):
    """HTTP 410: the resourceVersion is no longer available; list again."""


class NotServed(WatchError):
    """HTTP 404: the resource does not exist on this server (a CRD that is not installed)."""


class StreamError(WatchError):
    """Any other failure; ``rv`` is the last resourceVersion reached (None: list again)."""

    def __init__(self, message: str, rv: str | None) -> None:
        super().__init__(message)
        self.rv = rv


def raw_call(fn: Callable[..., Any]) -> ListCall:
    """Wrap a client list function so that ``Watch.stream`` yields raw JSON only.

    ``Watch`` finds the model to deserialise into from the function's docstring; a wrapper
    without one makes it skip the deserialisation (``deserialize=False`` would also lose the
    ``raw_object`` key that the client's own 410 handling reads).
    """

    def call(**kwargs: Any) -> Any:
        return fn(**kwargs)

    return call


def list_then_watch(
    api_call: ListCall,
    *,
    resource: str,
    since_rv: str | None,
    on_list: OnList,
    on_event: OnEvent,
    on_bookmark: OnBookmark,
    stop: StopFlag,
    timeout_seconds: int = WATCH_TIMEOUT,
) -> str:
    """List (unless ``since_rv``), then watch; returns the last resourceVersion reached."""
    rv = since_rv
    if rv is None:
        objects, rv = list_all(api_call, resource=resource)
        on_list(objects, rv)
    if stop.is_set():
        return rv
    return _watch(api_call, resource=resource, rv=rv, on_event=on_event,
                  on_bookmark=on_bookmark, stop=stop, timeout_seconds=timeout_seconds)


def list_all(api_call: ListCall, *, resource: str) -> tuple[list[RawObject], str]:
    """Every object (paged), each with kind/apiVersion filled in, and the list's version."""
    objects: list[RawObject] = []
    token: str | None = None
    while True:
        page = _list_page(api_call, resource=resource, token=token)
        defaults = {"apiVersion": page.get("apiVersion", ""),
                    "kind": str(page.get("kind", "")).removesuffix("List")}
        objects.extend(cast(RawObject, {**defaults, **item}) for item in page.get("items") or [])
        meta = page.get("metadata") or {}
        token = meta.get("continue")
        if not token:
            return objects, str(meta.get("resourceVersion") or "")


def _list_page(api_call: ListCall, *, resource: str, token: str | None) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException

    kwargs: dict[str, Any] = {"limit": PAGE_SIZE, "_preload_content": False,
                              "_request_timeout": (CONNECT_TIMEOUT, LIST_READ_TIMEOUT)}
    if token:
        kwargs["_continue"] = token
    try:
        response = api_call(**kwargs)
        return cast(dict[str, Any], json.loads(response.data))
    except ApiException as exc:
        raise _classify(exc, resource, rv=None) from exc
    except (HTTPError, OSError, ValueError) as exc:
        raise StreamError(f"{resource}: list failed: {_reason(exc)}", None) from exc


def _watch(
    api_call: ListCall, *, resource: str, rv: str, on_event: OnEvent, on_bookmark: OnBookmark,
    stop: StopFlag, timeout_seconds: int,
) -> str:
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
    try:
        for event in stream.stream(api_call, resource_version=rv, allow_watch_bookmarks=True,
                                   timeout_seconds=timeout_seconds,
                                   _request_timeout=(CONNECT_TIMEOUT, timeout_seconds + 30)):
            rv = _deliver(event, rv, on_event=on_event, on_bookmark=on_bookmark)
            if stop.is_set():
                stream.stop()
    except ApiException as exc:
        raise _classify(exc, resource, rv=rv) from exc
    except (HTTPError, OSError, ValueError) as exc:
        raise StreamError(f"{resource}: watch broke at {rv}: {_reason(exc)}", rv) from exc
    return rv


def _reason(exc: BaseException) -> str:
    """The cause a person can act on, not urllib3's wrapping: ``[Errno 111] Connection
    refused`` rather than ``HTTPSConnectionPool(...): Max retries exceeded ...``."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    for marker in ("Failed to establish a new connection: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.rstrip("')\"")


def _deliver(
    event: Mapping[str, Any], rv: str, *, on_event: OnEvent, on_bookmark: OnBookmark
) -> str:
    obj = cast(RawObject, event["raw_object"])
    new_rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
    if event["type"] == "BOOKMARK":
        on_bookmark(new_rv)
    else:
        on_event(Change(str(event["type"]), obj, new_rv))
    return new_rv


def _classify(exc: Any, resource: str, *, rv: str | None) -> WatchError:
    status = getattr(exc, "status", None)
    if status == 410:
        return Gone(f"{resource}: resourceVersion {rv or '(list)'} is gone: {exc.reason}")
    if status == 404:
        return NotServed(f"{resource}: not served by this cluster")
    return StreamError(f"{resource}: HTTP {status} {exc.reason}", rv)
