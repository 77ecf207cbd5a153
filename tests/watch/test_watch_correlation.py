"""Issue 17's acceptance for correlation, end to end: ``agentops watch`` sees a production pod go
into CrashLoopBackOff on the local API server, Alertmanager's KubePodCrashLooping webhook for
that same pod arrives through ``agentops hook alertmanager``, and the user finds one incident
whose timeline names both sources, in either order.

Both are real processes against one managed repository, as a user would run them: the watcher
stays up while the hook writes. The alert is the checked-in Alertmanager payload, unchanged;
the pod is built to match it (namespace pp1, pod dd1-0, container busybox-3jb7u6) and its last
crash is dated next to the alert's ``startsAt`` (2020-02-26T07:05:04Z), because the event time
of a crash-looping pod is when its container last terminated and the correlation window
(30 minutes in the default policy) is measured between event times.

A real cluster also records the kubelet's Warning BackOff Event for such a pod, which the
watcher reads on its events stream: the last test adds it (the checked-in EventList item about
pp1/dd1-0) and still expects one incident.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli, run_process, start_process
from conftest import fixture_path
from k8s_apiserver import FakeApiServer, serve
from watch_helpers import Obj, managed_repo, wait_until

from agentops.ledger import format as fmt
from agentops.ledger.model import Incident

ALERT = fixture_path("alertmanager", "kubesphere-KubePodCrashLooping-firing.json")
NAMESPACE, POD, CONTAINER = "pp1", "dd1-0", "busybox-3jb7u6"  # as the alert's labels name them
BEFORE_ALERT, AFTER_ALERT = "2020-02-26T07:04:00Z", "2020-02-26T07:06:00Z"  # startsAt 07:05:04


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    yield from serve()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A managed repository whose policy counts the alert's namespace pp1 as production."""
    repo = managed_repo(tmp_path / "repo")
    policy = repo / "rules" / "policy.yaml"
    text = policy.read_text()
    assert "namespaces: [prod, " in text
    policy.write_text(text.replace("namespaces: [prod, ", f"namespaces: [{NAMESPACE}, prod, ", 1))
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "pp1 is production"], check=True)
    return repo


def test_fixture_names_the_pod_this_test_builds() -> None:
    labels = json.loads(ALERT.read_text())["alerts"][0]["labels"]
    assert (labels["alertname"], labels["namespace"], labels["pod"], labels["container"]) == (
        "KubePodCrashLooping", NAMESPACE, POD, CONTAINER)
    assert BEFORE_ALERT < alert_starts_at() < AFTER_ALERT


def crashlooping_pod(*, crashed_at: str | None) -> Obj:
    """Pod pp1/dd1-0: running, or (``crashed_at``) in CrashLoopBackOff after its last crash."""
    state: Obj = {"running": {"startedAt": "2020-02-26T06:50:00Z"}}
    last: Obj = {}
    if crashed_at:
        state = {"waiting": {"reason": "CrashLoopBackOff",
                             "message": f"back-off 40s restarting failed container={CONTAINER} "
                                        f"pod={POD}_{NAMESPACE}"}}
        last = {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": crashed_at,
                               "startedAt": "2020-02-26T07:03:58Z"}}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": NAMESPACE,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                          "name": "dd1", "uid": "sts-uid", "controller": True}]},
        "spec": {"containers": [{"name": CONTAINER, "image": "busybox:1.31"}],
                 "nodeName": "node-1"},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": CONTAINER, "image": "busybox:1.31", "ready": not crashed_at,
            "restartCount": 3 if crashed_at else 0, "state": state, "lastState": last}]},
    }


class Watch:
    """``agentops watch`` as a process on the fake API server; ``stop()`` is a SIGTERM."""

    def __init__(self, api: FakeApiServer, repo: Path, tmp: Path) -> None:
        self.proc = start_process(
            ["watch", "--kubeconfig", str(api.kubeconfig(tmp / "kubeconfig")), "--format", "json"],
            repo=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        api.wait_for_watch("pods", timeout=30)

    def stop(self) -> dict[str, Any]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        summary: dict[str, Any] = json.loads(out)
        return summary

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def watch(api: FakeApiServer, repo: Path, tmp_path: Path) -> Iterator[Watch]:
    watcher = Watch(api, repo, tmp_path)
    try:
        yield watcher
    finally:
        watcher.kill()  # only if a failed assertion left it running


def go_into_crashloop(api: FakeApiServer, *, crashed_at: str) -> None:
    created = api.create(crashlooping_pod(crashed_at=None))
    api.update(crashlooping_pod(crashed_at=crashed_at) | {"metadata": created["metadata"]})


def hook_alert(repo: Path) -> Any:
    out = run_process(["hook", "alertmanager", str(ALERT), "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def incidents(repo: Path) -> list[Incident]:
    path = repo / "INCIDENTS.md"
    if not path.exists():
        return []
    text = path.read_text()
    return [e for e in fmt.parse_file("incident", text).parsed() if isinstance(e, Incident)]


def occurrences(repo: Path) -> list[int]:
    return [inc.occurrences for inc in incidents(repo)]


def the_one_incident(repo: Path) -> Incident:
    """What the user reads: one incident, both events counted and listed, lint clean."""
    [inc] = incidents(repo)
    assert inc.occurrences == 2 and len(set(inc.events)) == 2
    lint = run_cli(["lint"], repo=repo)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return inc


def test_watch_warning_then_alert_for_the_same_pod_is_one_incident(
        api: FakeApiServer, repo: Path, watch: Watch) -> None:
    go_into_crashloop(api, crashed_at=BEFORE_ALERT)
    wait_until(lambda: occurrences(repo) == [1], timeout=30)

    hooked = hook_alert(repo)
    summary = watch.stop()

    alert = hooked if isinstance(hooked, dict) else hooked[0]
    inc = the_one_incident(repo)
    assert alert["incidents"] == [{"id": inc.id, "action": "recur"}]
    assert "same subject as" in alert["why_not"][0]["reason"]
    assert alert["event_id"] == inc.events[1]
    assert (summary["incidents_opened"], summary["incidents_updated"]) == (1, 0)
    assert (inc.title, inc.subject) == (f"Pod {NAMESPACE}/{POD}: CrashLoopBackOff",
                                        f"fake/{NAMESPACE}/Pod/{POD}")
    assert [r.text for r in inc.timeline] == [
        "Detected: workload.degraded from kubernetes; opened by rule "
        "production-workload-degraded",
        "Correlated alert.firing from alertmanager (occurrence 2; rule alert-firing): "
        f"Pod {NAMESPACE}/{POD} ({CONTAINER}) is restarting 1.07 times / 5 minutes."]

def test_alert_then_watch_warning_for_the_same_pod_is_one_incident(
        api: FakeApiServer, repo: Path, watch: Watch) -> None:
    hooked = hook_alert(repo)
    alert = hooked if isinstance(hooked, dict) else hooked[0]
    assert occurrences(repo) == [1]
    go_into_crashloop(api, crashed_at=AFTER_ALERT)
    wait_until(lambda: occurrences(repo) != [1], timeout=30)
    summary = watch.stop()

    inc = the_one_incident(repo)
    assert alert["incidents"] == [{"id": inc.id, "action": "open"}]
    assert alert["event_id"] == inc.events[0]
    assert (summary["incidents_opened"], summary["incidents_updated"]) == (0, 1)
    rows = [r.text for r in inc.timeline]
    assert len(rows) == 2
    assert rows[0].startswith("Detected: alert.firing from alertmanager;")
    assert rows[1].startswith(  # a timeline row keeps the start of a long message
        "Correlated workload.degraded from kubernetes (occurrence 2; rule "
        f"production-workload-degraded): container {CONTAINER} of pod {NAMESPACE}/{POD} is "
        "CrashLoopBackOff: back-off")


def kubelet_backoff_warning() -> Obj:
    """The kubelet's Warning BackOff Event for pp1/dd1-0 (the checked-in fixture's one item),
    which a real cluster records next to the pod's CrashLoopBackOff status."""
    doc = json.loads(fixture_path("kubernetes", "eventlist-BackOff-pod-dd1-0.json").read_text())
    [item] = doc["items"]
    for key in ("resourceVersion", "uid"):  # the API server assigns them
        item["metadata"].pop(key, None)
    assert (item["involvedObject"]["namespace"], item["involvedObject"]["name"]) == (
        NAMESPACE, POD)
    assert item["lastTimestamp"] < alert_starts_at()
    event: Obj = {"apiVersion": "v1", "kind": "Event", **item}
    return event


def alert_starts_at() -> str:
    starts: str = json.loads(ALERT.read_text())["alerts"][0]["startsAt"]
    return starts


def test_pod_status_kubelet_warning_and_alert_for_one_pod_are_one_incident(
        api: FakeApiServer, repo: Path, watch: Watch) -> None:
    """What a real cluster shows the watcher about a crash-looping pod is two signals from one
    source: the pod's status (CrashLoopBackOff) and the kubelet's BackOff warning Event. They
    arrive on two watch streams in either order; with the alert they are still one incident."""
    api.wait_for_watch("events", timeout=30)
    go_into_crashloop(api, crashed_at=BEFORE_ALERT)
    api.create(kubelet_backoff_warning())
    wait_until(lambda: sum(occurrences(repo)) == 2, timeout=30)
    hook_alert(repo)
    summary = watch.stop()

    assert len(incidents(repo)) == 1, [(i.title, i.rule) for i in incidents(repo)]
    [inc] = incidents(repo)
    assert inc.occurrences == 3 and len(set(inc.events)) == 3
    assert summary["incidents_opened"] == 1
    assert inc.title in (f"Pod {NAMESPACE}/{POD}: CrashLoopBackOff",  # whichever stream came first
                         f"Pod {NAMESPACE}/{POD}: BackOff")
    rows = [r.text for r in inc.timeline]
    assert len(rows) == 3
    assert rows[0].startswith(("Detected: workload.degraded from kubernetes;",
                               "Detected: k8s.warning from kubernetes;"))
    assert rows[1].startswith("Recurred (occurrence 2) from kubernetes: ")
    assert rows[2].startswith("Correlated alert.firing from alertmanager (occurrence 3; ")
    lint = run_cli(["lint"], repo=repo)
    assert lint.returncode == 0, lint.stdout + lint.stderr
