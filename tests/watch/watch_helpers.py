"""Shared pieces of the watcher tests: a managed repo, a counting pipeline sink, a watcher
running on a thread against the fake API server, and readers of what got committed."""

from __future__ import annotations

import copy
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from conftest import fixture_path
from k8s_apiserver import FakeApiServer
from kubernetes import config

from agentops.commands.init import init
from agentops.commands.watch import production_globs
from agentops.events import Event
from agentops.paths import rules_dir
from agentops.pipeline import Outcome, process
from agentops.policy.loader import load_policy
from agentops.watch.batcher import Stats
from agentops.watch.checkpoint import Checkpoint
from agentops.watch.resources import Placement
from agentops.watch.runner import Options, run

Obj = dict[str, Any]
_META = re.compile(r"<!-- agentops:incident (\S+) [^\n]*-->\n.*?```yaml\n(.*?)```", re.DOTALL)


def managed_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    init(path)
    return path


@dataclass
class CountingSink:
    """``pipeline.process`` on a real repository, remembering every call."""

    repo: Path
    calls: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    crash_after: int | None = None  # raise after this many committed calls (a "kill")

    def __call__(self, events: Sequence[Event]) -> Sequence[Outcome]:
        out = process(self.repo, events, actor="agentops-watch")
        self.calls.append(len(events))
        self.outcomes.extend(out)
        if self.crash_after is not None and len(self.calls) >= self.crash_after:
            raise Crash("killed after the commit, before the checkpoint")
        return out


class Crash(BaseException):
    """Simulates SIGKILL between commit and checkpoint (not caught by the batcher)."""


def placement(repo: Path, selector: str | None = None) -> Placement:
    policy = load_policy([rules_dir(repo)], base=repo)
    return Placement(production_globs(policy), selector)


@dataclass
class Watcher:
    """``runner.run`` on a thread; ``stop()`` returns its stats (or raises what it raised)."""

    thread: threading.Thread
    stop_flag: threading.Event
    result: dict[str, Any]

    def stop(self, timeout: float = 20.0) -> Stats:
        self.stop_flag.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "watcher did not stop"
        if "error" in self.result:
            raise self.result["error"]
        stats: Stats = self.result["stats"]
        return stats


def start_watcher(api: FakeApiServer, repo: Path, sink: Any, *, tmp: Path,
                  selector: str | None = None, window: float = 0.1,
                  kinds: tuple[str, ...] | None = None, **options: Any) -> Watcher:
    kubeconfig = api.kubeconfig(tmp / "kubeconfig")
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    stop = threading.Event()
    result: dict[str, Any] = {}
    opts = Options(window=window, watch_timeout=5, cluster="test",
                   **({"kinds": kinds} if kinds else {}), **options)

    def target() -> None:
        try:
            result["stats"] = run(
                api_client=api_client, sink=sink, placement=placement(repo, selector),
                checkpoint=Checkpoint.for_repo(repo, cluster=api.url), options=opts, stop=stop)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return Watcher(thread, stop, result)


@contextmanager
def watching(api: FakeApiServer, repo: Path, sink: Any, *, tmp: Path,
             **kwargs: Any) -> Iterator[Watcher]:
    watcher = start_watcher(api, repo, sink, tmp=tmp, **kwargs)
    try:
        yield watcher
    finally:
        if watcher.thread.is_alive():
            watcher.stop_flag.set()
            watcher.thread.join(20)


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def wait_streams(api: FakeApiServer, *plurals: str) -> None:
    for plural in plurals:
        api.wait_for_watch(plural, timeout=15)


def wait_checkpointed(repo: Path, api: FakeApiServer, *streams: str) -> None:
    """Until this watcher's streams have listed (their checkpoint holds a version)."""
    def done() -> bool:
        checkpoint = Checkpoint.for_repo(repo, cluster=api.url)
        return all(checkpoint.state(stream).rv is not None for stream in streams)

    wait_until(done)


def incidents(repo: Path) -> dict[str, Obj]:
    """The metadata block of every incident in INCIDENTS.md, by id."""
    text = (repo / "INCIDENTS.md").read_text()
    return {m[1]: yaml.safe_load(m[2]) for m in _META.finditer(text)}


def commits(repo: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), "log", "--format=%s"], check=True,
                         capture_output=True, text=True).stdout
    return out.splitlines()


def fixture(*parts: str, namespace: str | None = None) -> Obj:
    doc: Obj = yaml.safe_load(fixture_path(*parts).read_text())
    if namespace:
        doc["metadata"]["namespace"] = namespace
    for key in ("resourceVersion", "uid"):
        doc["metadata"].pop(key, None)
    return doc


def pod(name: str, namespace: str, *, waiting: str | None = None, restarts: int = 0,
        ready: bool = True, owned: bool = False) -> Obj:
    state: Obj = {"waiting": {"reason": waiting, "message": "back-off"}} if waiting else {
        "running": {"startedAt": "2026-11-24T08:00:00Z"}}
    last: Obj = {"terminated": {"reason": "Error", "exitCode": 1,
                                "finishedAt": "2026-11-24T08:00:00Z"}} if restarts else {}
    meta: Obj = {"name": name, "namespace": namespace}
    if owned:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                    "uid": "rs-uid", "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "app:1"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "image": "app:1", "ready": ready and not waiting,
                "restartCount": restarts, "state": state, "lastState": last}],
                "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                "lastTransitionTime": "2026-11-24T08:00:00Z"}]}}


def deployment(name: str, namespace: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "a:1"}]}}},
            "status": {"replicas": 1, "availableReplicas": 1, "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}}


def warning(name: str, namespace: str, *, pod_name: str, count: int, reason: str = "BackOff",
            uid: str | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": reason,
            "metadata": {"name": name, "namespace": namespace, **({"uid": uid} if uid else {})},
            "involvedObject": {"kind": "Pod", "namespace": namespace, "name": pod_name,
                               "uid": f"uid-{pod_name}"},
            "message": "Back-off restarting failed container", "count": count,
            "firstTimestamp": "2026-11-24T08:00:00Z", "lastTimestamp": "2026-11-24T08:05:00Z",
            "source": {"component": "kubelet"}}


def bumped(obj: Obj, **changes: Any) -> Obj:
    out = copy.deepcopy(obj)
    out.update(changes)
    return out
