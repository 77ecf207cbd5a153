"""A BackOff storm through ``agentops watch``: 10,000 Warning events for 20 pods.

Runs the real watcher (runner, official client, real pipeline, real git) against the fake API
server from tests/ and prints wall time, commits, incidents and the ratio to the targets
(10,000 events in under 10 s; at most one commit per batch window).

    python bench/watch_storm.py [--events 10000] [--pods 20] [--window 0.5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from k8s_apiserver import FakeApiServer
from kubernetes import config

from agentops.commands.init import init
from agentops.commands.watch import production_globs
from agentops.events import Event
from agentops.paths import rules_dir
from agentops.pipeline import process
from agentops.policy.loader import load_policy
from agentops.watch.checkpoint import Checkpoint
from agentops.watch.resources import Placement
from agentops.watch.runner import Options, run

TARGET_SECONDS = 10.0


def warning(i: int, pods: int) -> dict[str, Any]:
    name = f"web-{i % pods}"
    return {"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "BackOff",
            "metadata": {"name": f"{name}.{i:06d}", "namespace": "prod"},
            "involvedObject": {"kind": "Pod", "namespace": "prod", "name": name,
                               "uid": f"uid-{name}"},
            "message": "Back-off restarting failed container app", "count": 1 + i // pods,
            "firstTimestamp": "2026-11-24T08:00:00Z", "lastTimestamp": "2026-11-24T08:05:00Z",
            "source": {"component": "kubelet"}}


def git_count(repo: Path) -> int:
    out = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], check=True,
                         capture_output=True, text=True).stdout
    return int(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--window", type=float, default=0.5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, FakeApiServer(bookmark_interval=1.0) as api:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "config", "user.name", "bench"], check=True)
        subprocess.run(["git", "-C", str(repo), "config", "user.email", "b@x"], check=True)
        init(repo)
        report(storm(api, repo, Path(tmp), args), args)


def storm(api: FakeApiServer, repo: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    seen: list[int] = []
    done = threading.Event()

    def sink(events: Sequence[Event]) -> Any:
        out = process(repo, events, actor="agentops-watch")
        seen.append(len(events))
        if sum(seen) >= args.events:
            done.set()
        return out

    policy = load_policy([rules_dir(repo)], base=repo)
    api_client = config.new_client_from_config(config_file=str(api.kubeconfig(tmp / "kc")))
    stop, commits_before = threading.Event(), git_count(repo)
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(stats=run(
        api_client=api_client, sink=sink, checkpoint=Checkpoint.for_repo(repo, cluster=api.url),
        placement=Placement(production_globs(policy)), stop=stop,
        options=Options(kinds=("events",), window=args.window, cluster="bench"))))
    runner.start()
    api.wait_for_watch("events", timeout=30)
    started = time.perf_counter()
    for i in range(args.events):
        api.create(warning(i, args.pods))
    written = time.perf_counter() - started
    done.wait(300)
    elapsed = time.perf_counter() - started
    stop.set()
    runner.join()
    incidents = (repo / "INCIDENTS.md").read_text().count("<!-- agentops:incident ")
    return {"elapsed": elapsed, "written": written, "batches": len(seen),
            "commits": git_count(repo) - commits_before, "incidents": incidents,
            "events": sum(seen)}


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    windows = max(1.0, r["elapsed"] / args.window)
    print(f"events through watch: {r['events']} of {args.events} for {args.pods} pods")
    print(f"wall time:            {r['elapsed']:.2f} s (API server writes took {r['written']:.2f}"
          f" s) -> {r['elapsed'] / TARGET_SECONDS:.2f} of the 10 s target")
    print(f"throughput:           {r['events'] / r['elapsed']:.0f} events/s")
    print(f"batches / commits:    {r['batches']} / {r['commits']} "
          f"(window {args.window} s; {r['commits'] / windows:.2f} commits per elapsed window)")
    print(f"incidents written:    {r['incidents']} (at most {args.pods} expected)")


if __name__ == "__main__":
    main()
