"""list_then_watch, one cycle, against the fake API server: every way a cycle ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from k8s_apiserver import FakeApiServer, serve
from kubernetes import client, config
from watch_helpers import pod

from agentops.watch.cycle import (
    Change,
    Gone,
    NotServed,
    RawObject,
    StreamError,
    list_then_watch,
    raw_call,
)
from agentops.watch.loop import Backoff


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


@pytest.fixture
def core(api: FakeApiServer, tmp_path: Path) -> Iterator[client.CoreV1Api]:
    with config.new_client_from_config(
            config_file=str(api.kubeconfig(tmp_path / "kubeconfig"))) as api_client:
        yield client.CoreV1Api(api_client)


class Recorder:
    """The three callbacks, recording what they were given; stops after ``until`` changes."""

    def __init__(self, until: int | None = None) -> None:
        self.lists: list[tuple[list[str], str]] = []
        self.changes: list[tuple[str, str, str]] = []
        self.bookmarks: list[str] = []
        self.stop = threading.Event()
        self.until = until

    def on_list(self, objects: list[RawObject], rv: str) -> None:
        self.lists.append(([o["metadata"]["name"] for o in objects], rv))

    def on_event(self, change: Change) -> None:
        self.changes.append((change.type, change.obj["metadata"]["name"], change.rv))
        if self.until is not None and len(self.changes) >= self.until:
            self.stop.set()

    def on_bookmark(self, rv: str) -> None:
        self.bookmarks.append(rv)

    def cycle(self, call: Any, since_rv: str | None, timeout: int = 5) -> str:
        return list_then_watch(call, resource="pods", since_rv=since_rv, on_list=self.on_list,
                               on_event=self.on_event, on_bookmark=self.on_bookmark,
                               stop=self.stop, timeout_seconds=timeout)


def pods_call(core: client.CoreV1Api, namespace: str = "prod") -> Any:
    return raw_call(partial(core.list_namespaced_pod, namespace))


def in_background(action: Any) -> threading.Thread:
    thread = threading.Thread(target=action)
    thread.start()
    return thread


def test_lists_pages_then_watches_from_the_list_version(
        api: FakeApiServer, core: client.CoreV1Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentops.watch.cycle.PAGE_SIZE", 2)
    for name in ("a", "b", "c"):
        api.create(pod(name, "prod"))
    listed_at = api.resource_version
    recorder = Recorder(until=2)

    def write() -> None:
        api.wait_for_watch("pods")
        meta = api.create(pod("d", "prod"))["metadata"]
        api.update(pod("d", "prod", restarts=1) | {"metadata": meta})

    writer = in_background(write)
    rv = recorder.cycle(pods_call(core), None)
    writer.join()

    assert recorder.lists == [(["a", "b", "c"], listed_at)]
    assert recorder.changes == [("ADDED", "d", "5"), ("MODIFIED", "d", "6")]
    assert rv == "6"
    watch = [r.query for r in api.requests if r.query.get("watch") == "true"]
    assert watch[0]["resourceVersion"] == listed_at
    assert watch[0]["allowWatchBookmarks"] == "true"
    assert len([r for r in api.requests if "watch" not in r.query]) == 2  # two pages


def test_listed_items_carry_kind_and_api_version(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    api.create(pod("a", "prod"))
    seen: list[RawObject] = []
    stop = threading.Event()
    stop.set()

    list_then_watch(pods_call(core), resource="pods", since_rv=None,
                    on_list=lambda objects, rv: seen.extend(objects), on_event=print,
                    on_bookmark=print, stop=stop)

    assert (seen[0]["kind"], seen[0]["apiVersion"]) == ("Pod", "v1")


def test_resumes_from_a_saved_version_without_listing(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    since = api.resource_version
    api.create(pod("made-while-down", "prod"))
    recorder = Recorder(until=1)

    recorder.cycle(pods_call(core), since)

    assert recorder.lists == []
    assert recorder.changes == [("ADDED", "made-while-down", "2")]


def test_bookmarks_advance_the_version(api: FakeApiServer, core: client.CoreV1Api) -> None:
    since = api.resource_version
    api.create(pod("elsewhere", "staging"))  # moves the global version, not this stream
    recorder = Recorder()

    rv = recorder.cycle(pods_call(core), since, timeout=1)

    assert recorder.changes == []
    assert recorder.bookmarks and set(recorder.bookmarks) == {api.resource_version}
    assert rv == api.resource_version


def test_watch_that_times_out_returns_the_last_version(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    recorder = Recorder()

    rv = recorder.cycle(pods_call(core, "quiet"), None, timeout=1)

    assert rv == api.resource_version
    assert recorder.lists == [([], rv)]


def test_in_stream_410_is_gone(api: FakeApiServer, core: client.CoreV1Api) -> None:
    since = api.resource_version
    api.inject_stream_error("pods", 410)

    with pytest.raises(Gone):
        Recorder().cycle(pods_call(core), since)


def test_compacted_version_is_gone(api: FakeApiServer, core: client.CoreV1Api) -> None:
    since = api.resource_version
    api.create(pod("a", "prod"))
    api.compact(api.resource_version)

    with pytest.raises(Gone):
        Recorder().cycle(pods_call(core), since)


def test_list_answered_410_is_gone(api: FakeApiServer, core: client.CoreV1Api) -> None:
    api.fail_next_list("pods", 410)

    with pytest.raises(Gone):
        Recorder().cycle(pods_call(core), None)


def test_list_failure_is_a_stream_error_that_lists_again(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    api.fail_next_list("pods", 500)

    with pytest.raises(StreamError) as failed:
        Recorder().cycle(pods_call(core), None)

    assert failed.value.rv is None


def test_in_stream_error_other_than_410_keeps_the_version(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    since = api.resource_version
    api.inject_stream_error("pods", 500)

    with pytest.raises(StreamError) as failed:
        Recorder().cycle(pods_call(core), since)

    assert failed.value.rv == since


def test_dropped_connection_reports_the_last_version_reached(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    since = api.resource_version
    recorder = Recorder()

    def create_then_drop() -> None:
        api.wait_for_watch("pods")
        api.create(pod("a", "prod"))
        while not recorder.changes:
            threading.Event().wait(0.01)
        api.drop_connections()

    dropper = in_background(create_then_drop)
    with pytest.raises(StreamError) as broken:
        recorder.cycle(pods_call(core), since, timeout=10)
    dropper.join()

    assert broken.value.rv == recorder.changes[-1][2] == "2"


def test_resource_not_installed_is_not_served(tmp_path: Path) -> None:
    with FakeApiServer() as api, config.new_client_from_config(
            config_file=str(api.kubeconfig(tmp_path / "kc"))) as api_client:
        custom = client.CustomObjectsApi(api_client)
        call = raw_call(partial(custom.list_cluster_custom_object, "argoproj.io", "v1alpha1",
                                "applications"))
        with pytest.raises(NotServed):
            Recorder().cycle(call, None)


def test_stop_ends_the_watch_after_the_next_event(
        api: FakeApiServer, core: client.CoreV1Api) -> None:
    recorder = Recorder(until=1)
    since = api.resource_version
    api.create(pod("a", "prod"))
    api.create(pod("b", "prod"))

    rv = recorder.cycle(pods_call(core), since, timeout=30)

    assert [name for _, name, _ in recorder.changes] == ["a"]
    assert rv == "2"


def test_backoff_doubles_to_a_cap_and_resets() -> None:
    backoff = Backoff(first=0.5, cap=2.0)

    delays = [backoff.next() for _ in range(4)]
    backoff.reset()

    assert delays == [0.5, 1.0, 2.0, 2.0]
    assert backoff.next() == 0.5
