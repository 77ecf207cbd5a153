"""``agentops demo``: a realistic morning of operations, replayed through the real pipeline.

Everything goes through the same code an agent or a webhook uses: ``kubectl get events -o json``
output through the Kubernetes adapter, an Alertmanager webhook body through the Alertmanager
adapter, agent outcomes as ``record`` events, then an incident taken through its lifecycle by
a person with the ``incident`` commands, and finally ``stats`` and ``lint``. The scenario is
data (built here in the real wire shapes); nothing is faked past the point where an event
exists. It needs no cluster and no network.

The commands run in this process, called as functions like ``cli.py`` calls them: starting
``python -m agentops`` again would be slower, and would import whatever folder named
``agentops`` sits in the working directory instead of this package.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentops import git
from agentops.errors import AgentopsError
from agentops.events import Event, format_time, make_event


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    run: Callable[[Path], list[str]]  # returns lines describing what happened


def run_demo(keep: Path | None, *, progress: Callable[[int, int, str], None]) -> dict[str, Any]:
    """Run every step; returns what was written and where. Raises if a step fails."""
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise AgentopsError(f"--keep {keep}: directory is not empty; give a new or empty one")
    repo = keep or Path(tempfile.mkdtemp(prefix="agentops-demo-"))
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    prepare(repo)
    todo = steps(start)
    log: list[dict[str, Any]] = []
    for n, step in enumerate(todo, start=1):
        progress(n, len(todo), step.title)
        log.append({"step": step.title, "result": step.run(repo)})
    return {"repo": str(repo), "kept": keep is not None, "steps": log,
            "incidents": _headings(repo), "log": git.run(repo, "log", "--oneline"),
            "stats": _stats(repo), "lint": _lint_ok(repo)}


def cleanup(result: dict[str, Any]) -> None:
    if not result["kept"]:
        shutil.rmtree(result["repo"], ignore_errors=True)


# --- the scenario ------------------------------------------------------------------------------


def _t(start: datetime, minutes: float) -> str:
    return format_time(start + timedelta(minutes=minutes))


def kubectl_events(start: datetime) -> dict[str, Any]:
    """A ``kubectl get events -A -o json`` document: a crash-looping checkout pod in
    production, a scheduling warning in dev, and the Normal noise around them."""
    def event(n: int, ns: str, pod: str, etype: str, reason: str, message: str,
              count: int, minute: float) -> dict[str, Any]:
        when = _t(start, minute)
        return {
            "apiVersion": "v1", "kind": "Event", "count": count, "type": etype,
            "reason": reason, "message": message, "firstTimestamp": _t(start, 0),
            "lastTimestamp": when, "eventTime": None, "reportingComponent": "",
            "reportingInstance": "", "source": {"component": "kubelet", "host": "node-a"},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod,
                               "namespace": ns, "uid": f"0d1e2f3a-{n:04d}-4b5c-8d9e-00000000000{n}",
                               "fieldPath": "spec.containers{app}"},
            "metadata": {"name": f"{pod}.17f{n:05d}", "namespace": ns,
                         "uid": f"5a6b7c8d-{n:04d}-4e5f-9a0b-1c2d3e4f5a6b",
                         "resourceVersion": str(4100 + n), "creationTimestamp": when},
        }
    items = [
        event(1, "shop-prod", "checkout-7f9c6d-x2kq", "Normal", "Pulled",
              'Container image "registry.local/checkout:2.14.0" already present on machine', 1, 1),
        event(2, "shop-prod", "checkout-7f9c6d-x2kq", "Warning", "BackOff",
              "Back-off restarting failed container app in pod checkout-7f9c6d-x2kq", 1, 2),
        event(3, "shop-prod", "checkout-7f9c6d-x2kq", "Warning", "BackOff",
              "Back-off restarting failed container app in pod checkout-7f9c6d-x2kq", 4, 6),
        event(4, "dev-shop", "checkout-5c8d7b-q9wz", "Warning", "FailedScheduling",
              "0/3 nodes are available: 3 Insufficient memory.", 2, 3),
    ]
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": items}


def alertmanager_body(start: datetime, status: str) -> dict[str, Any]:
    """An Alertmanager v4 webhook body for one KubePodCrashLooping alert."""
    ends = _t(start, 40) if status == "resolved" else "0001-01-01T00:00:00Z"
    alert = {
        "status": status,
        "labels": {"alertname": "KubePodCrashLooping", "severity": "warning",
                   "namespace": "shop-prod", "pod": "checkout-7f9c6d-x2kq",
                   "container": "app", "cluster": "eu-1"},
        "annotations": {"summary": "Pod is crash looping.",
                        "description": "Pod shop-prod/checkout-7f9c6d-x2kq (app) is in "
                                       "waiting state (reason: CrashLoopBackOff)."},
        "startsAt": _t(start, 5), "endsAt": ends,
        "generatorURL": "http://prometheus.local/graph?g0.expr=kube_pod_status",
        "fingerprint": "8c5e2d9f3a1b4c70",
    }
    return {"version": "4", "groupKey": '{}:{alertname="KubePodCrashLooping"}',
            "truncatedAlerts": 0, "status": status, "receiver": "agentops",
            "groupLabels": {"alertname": "KubePodCrashLooping"},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.local", "alerts": [alert]}


def agent_events(start: datetime) -> Iterator[tuple[str, list[Event]]]:
    """What the agents report: a migration failing three times, a denied approval, and a
    deletion in production."""
    for n in range(3):
        yield f"agent-7 runs migrate-orders-db (attempt {n + 1})", [make_event(
            "attempt.failed", time=_t(start, 10 + 4 * n), actor="agent-7", source="cli",
            message="ERROR: canceling statement due to lock timeout (relation orders)",
            attributes={"task": "migrate-orders-db", "error": "lock timeout", "attempt": n + 1},
            key=f"demo-migrate-{n + 1}")]
    yield "agent-2 asks to drop the orders_archive table; @alice denies", [make_event(
        "approval.denied", time=_t(start, 24), actor="agent-2", source="cli",
        message="Request to drop orders_archive denied: still read by the finance export",
        attributes={"action": "drop-table orders_archive", "approver": "@alice"},
        subject={"namespace": "shop-prod", "kind": "Database", "name": "orders"},
        key="demo-approval-1")]
    yield "agent-3 deletes a production Deployment", [make_event(
        "resource.deleted", time=_t(start, 30), actor="agent-3", source="cli",
        message="kubectl delete deployment payments-worker -n payments-prod",
        subject={"namespace": "payments-prod", "kind": "Deployment", "name": "payments-worker"},
        key="demo-delete-1")]


def prepare(repo: Path) -> None:
    """A fresh git repository with a demo identity, initialised for agentops."""
    from agentops.commands.init import init

    repo.mkdir(parents=True, exist_ok=True)
    if not (repo / ".git").exists():
        git.run(repo, "init", "-q")
    git.run(repo, "config", "user.name", "agentops demo")
    git.run(repo, "config", "user.email", "demo@agentops.invalid")
    init(repo)


def _describe(outcomes: list[Any]) -> list[str]:
    lines = []
    for o in outcomes:
        for inc in o.incidents:
            lines.append(f"{inc['action']} {inc['id']}")
        lines += [f"troubleshooting {ts}" for ts in o.troubleshooting]
        lines += [f"memory {mem}" for mem in o.memory]
    return lines or ["no incident (journaled)"]


def steps(start: datetime) -> list[Step]:
    from agentops.pipeline import process
    from agentops.sources import parse_payload
    from agentops.sources.kubernetes import events_from_document

    out = [Step("kubectl get events -A -o json: a crash-looping checkout pod in production",
                lambda repo: _describe(process(repo, events_from_document(kubectl_events(start)))))]
    out.append(Step("Alertmanager: KubePodCrashLooping firing", lambda repo: _describe(process(
        repo, parse_payload("alertmanager", json.dumps(alertmanager_body(start, "firing")))))))
    for title, events in agent_events(start):
        out.append(Step(title, _processing(events)))
    out.append(Step("Alertmanager: KubePodCrashLooping resolved", lambda repo: _describe(process(
        repo, parse_payload("alertmanager", json.dumps(alertmanager_body(start, "resolved")))))))
    out.append(Step("@bob takes the migration incident through ack, update and resolve",
                    lambda repo: _lifecycle(repo, start)))
    return out


def _processing(events: list[Event]) -> Callable[[Path], list[str]]:
    from agentops.pipeline import process

    return lambda repo: _describe(process(repo, events))


def _lifecycle(repo: Path, start: datetime) -> list[str]:
    """A person works the agent-failure incident, as ``agentops incident ...`` would."""
    from agentops.commands import incident as cmd

    inc_id = _incident_for_rule(repo, "agent-repeated-failure")
    if inc_id is None:
        return ["(no agent-failure incident to work)"]
    bob = "@bob"
    calls: list[tuple[str, Callable[[], object]]] = [
        ("ack", lambda: cmd.ack(repo, inc_id, time=_t(start, 22), actor=bob,
                                note="Looking at the orders table locks")),
        ("update", lambda: cmd.update(
            repo, inc_id, status="Identified", time=_t(start, 26), actor=bob,
            note="A long-running analytics query holds a lock on orders")),
        ("update", lambda: cmd.update(
            repo, inc_id, status="Monitoring", time=_t(start, 31), actor=bob,
            note="Query cancelled; migration re-run succeeded")),
        ("resolve", lambda: cmd.resolve(
            repo, inc_id, time=_t(start, 45), actor=bob,
            root_cause="An analytics query held an ACCESS SHARE lock on orders for 40 min.",
            resolution="Cancelled the query; re-ran the migration outside business hours.",
            lessons="Check pg_locks for long-running queries before migrating a hot table")),
    ]
    lines = []
    for action, call in calls:
        try:
            call()
        except AgentopsError as exc:  # shown in the demo's output, as the CLI would print it
            lines.append(f"{action} {inc_id} (failed: error: {exc})")
        else:
            lines.append(f"{action} {inc_id}")
    return lines


def _incident_for_rule(repo: Path, rule: str) -> str | None:
    from agentops.ledger import format as fmt
    from agentops.ledger.model import Incident

    doc = fmt.parse_file("incident", (repo / "INCIDENTS.md").read_text(encoding="utf-8"))
    for entry in doc.parsed():
        if isinstance(entry, Incident) and entry.rule == rule:
            return entry.id
    return None


# --- what it shows -----------------------------------------------------------------------------


def _headings(repo: Path) -> list[str]:
    text = (repo / "INCIDENTS.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("### INC-"):
            summary = lines[i + 2] if i + 2 < len(lines) else ""
            out.append(f"{line[4:]}\n    {summary}")
    return out


def _stats(repo: Path) -> str:
    """What ``agentops stats`` prints (empty if it cannot compute them)."""
    from agentops.commands import stats

    try:
        return stats.render(stats.stats(repo=repo), "text") + "\n"
    except AgentopsError:
        return ""


def _lint_ok(repo: Path) -> bool:
    """Whether ``agentops lint`` passes."""
    from agentops.commands import lint

    try:
        return bool(lint.lint(repo=repo)["ok"])
    except AgentopsError:
        return False


def demo_text(result: dict[str, Any]) -> str:
    parts = ["", "What the agents and pipelines reported, and what agentops did:"]
    for step in result["steps"]:
        parts.append(f"  - {step['step']}: {', '.join(step['result'])}")
    parts += ["", "INCIDENTS.md now holds:"]
    parts += [f"  {h}" for h in result["incidents"]]
    parts += ["", "git log --oneline:"] + [f"  {line}" for line in result["log"].splitlines()]
    if result["stats"]:
        parts += ["", "agentops stats:", result["stats"].rstrip()]
    parts.append("")
    parts.append(f"agentops lint: {'ok' if result['lint'] else 'PROBLEMS'}")
    where = result["repo"]
    if result["kept"]:
        parts.append(f"repository: {where}  (try: cd {where} && agentops recall 'lock timeout')")
    else:
        parts.append(f"repository: {where} (removed; run `agentops demo --keep DIR` to keep it)")
    return "\n".join(parts)
