"""Notifications: what the outbox costs ``record``, and how fast the sender empties it.

(a) ``agentops record`` opening a CRITICAL incident, in a repository whose policy routes it to
    Slack vs. the same repository without channels or routes (the named baseline), measured
    alternately so that machine load hits both alike; median wall times and their ratio
    (the budget is 1.1x);
(b) messages/s through the outbox: N CRITICAL incidents ingested in one batch (N outbox
    lines), then ``agentops notify flush`` against a loopback receiver that checks each body
    the way Slack does; wall time of the flush and messages/s, and that each arrived once.

    python bench/notify.py [--runs 15] [--messages 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from notify_receiver import Receiver  # noqa: E402

AGENTOPS = [sys.executable, "-m", "agentops"]
ROUTES = """\
channels:
  incidents:
    kind: slack
    url: {env: SLACK_URL}
routes:
  - name: p0-p1
    to: [incidents]
    severities: [P0, P1]
    transitions: [opened, acknowledged, resolved]
    mention: "@here"
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(base: Path, name: str, *, routes: bool) -> Path:
    repo = base / name
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "user.email", "bench@example.com")
    subprocess.run([*AGENTOPS, "init", "--repo", str(repo)], check=True, capture_output=True)
    if routes:
        (repo / "rules" / "notifications.yaml").write_text(ROUTES)
        git(repo, "add", "rules")
        git(repo, "commit", "-q", "-m", "routes")
    return repo


def record(repo: Path, n: int) -> float:
    start = time.perf_counter()
    subprocess.run([*AGENTOPS, "record", "integrity", "-f", f"dataset=d{n}", "-f", "check=rows",
                    "--key", f"bench-{n}", "--repo", str(repo)], check=True, capture_output=True)
    return time.perf_counter() - start


def overhead(base: Path, runs: int) -> None:
    plain = make_repo(base, "plain", routes=False)
    routed = make_repo(base, "routed", routes=True)
    for n in range(2):  # warm the caches of both (rules pickle, state)
        record(plain, 1000 + n)
        record(routed, 1000 + n)
    times: dict[str, list[float]] = {"none": [], "routed": []}
    for n in range(runs):
        order = [("none", plain), ("routed", routed)]
        for label, repo in order if n % 2 == 0 else order[::-1]:
            times[label].append(record(repo, n))
    queued = sum(1 for p in (routed / ".agentops" / "outbox").glob("*.jsonl")
                 for _ in p.read_text().splitlines())
    none, routed_ms = (statistics.median(times[k]) * 1000 for k in ("none", "routed"))
    best_none, best_routed = (min(times[k]) * 1000 for k in ("none", "routed"))
    paired = statistics.median(r / n for r, n in zip(times["routed"], times["none"]))
    print(f"(a) record opening a CRITICAL incident, {runs} runs each, alternating")
    print(f"    no notifications (baseline): median {none:.1f} ms, best {best_none:.1f} ms")
    print(f"    Slack route configured:      median {routed_ms:.1f} ms, best {best_routed:.1f} ms "
          f"({queued} messages queued in the outbox)")
    print(f"    ratio routed / baseline: medians {routed_ms / none:.3f}x, "
          f"best {best_routed / best_none:.3f}x, median of paired runs {paired:.3f}x "
          "(budget 1.10x)")


def throughput(base: Path, count: int) -> None:
    repo = make_repo(base, "flush", routes=True)
    lines = "".join(json.dumps({"type": "integrity.concern", "key": f"m{n}",
                                "attributes": {"dataset": f"d{n}", "check": "rows"}}) + "\n"
                    for n in range(count))
    subprocess.run([*AGENTOPS, "ingest", "-", "--repo", str(repo)], input=lines, text=True,
                   check=True, capture_output=True)
    receiver = Receiver()
    env = {**os.environ, "SLACK_URL": f"{receiver.base}/slack/T0/B0/X"}
    try:
        start = time.perf_counter()
        out = subprocess.run([*AGENTOPS, "notify", "flush", "--format", "json", "--repo",
                              str(repo)], env=env, check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    finally:
        receiver.down()
    sent = json.loads(out.stdout)["sent"]
    dupes = sum(n - 1 for n in Counter(receiver.keys()).values())
    print(f"(b) notify flush of {count} queued messages to a loopback Slack receiver")
    print(f"    {sent} sent, {len(receiver.accepted)} accepted, {dupes} duplicates, "
          f"{elapsed:.2f} s wall (process start included): {sent / elapsed:.0f} messages/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    # An installed package has its bytecode compiled; make the source tree behave the same
    # (without it every new module is compiled from source on every `record`).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "agentops")], check=True)
    with tempfile.TemporaryDirectory(prefix="agentops-bench-notify-") as tmp:
        overhead(Path(tmp), args.runs)
        throughput(Path(tmp), args.messages)


if __name__ == "__main__":
    main()
