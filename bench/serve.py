"""``agentops serve`` under load: N webhook posts from C concurrent clients on loopback.

Reports accepted posts per second, p50/p99 latency to the 202, the group commits the single
committer made, and events lost (accepted but not in the committed journal: must be 0) or
committed twice (must be 0). Baseline: the spool's own write path (write + fsync + rename +
directory fsync) on the same filesystem, which is the floor of every 202.

Every post is an Alertmanager webhook with one firing alert (a new fingerprint each time), so
each one is a real incident, authenticated with a bearer token.

    python bench/serve.py [--posts 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentops.events import make_event
from agentops.server.spool import Spool

TOKEN = "bench-token"
TARGET_RATE, TARGET_P99 = 500.0, 0.050


def alert_body(n: int) -> bytes:
    starts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({
        "version": "4", "status": "firing", "receiver": "agentops", "groupKey": f"{{}}:{n}",
        "alerts": [{
            "status": "firing", "fingerprint": f"{n:016x}", "startsAt": starts,
            "endsAt": "0001-01-01T00:00:00Z",
            "labels": {"alertname": "BenchAlert", "severity": "warning",
                       "namespace": "prod-bench", "pod": f"pod-{n}"},
            "annotations": {"summary": f"bench alert {n}"},
        }],
    }).encode()


def start_server(repo: Path) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "AGENTOPS_ALERTMANAGER_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentops", "serve", "--repo", str(repo), "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    for line in proc.stderr:
        if found := re.search(r"listening on http://[^:]+:(\d+)", line):
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, int(found.group(1))
    raise SystemExit("serve did not start")


def client(port: int, numbers: list[int], latencies: list[float], keys: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for n in numbers:
        body = alert_body(n)
        started = time.perf_counter()
        conn.request("POST", "/hooks/alertmanager", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status == 202:
            keys.append(f"{n:016x}")
    conn.close()


def spool_floor(directory: Path, n: int = 200) -> float:
    spool = Spool(directory)
    event = make_event("bench.floor", source="bench", key="k", attributes={"x": "y" * 400})
    started = time.perf_counter()
    for _ in range(n):
        spool.put("generic", [event], received=0.0)
    spool.close()
    return (time.perf_counter() - started) / n


def metric(port: int, name: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def committed_fingerprints(repo: Path) -> list[str]:
    out = []
    for name in git(repo, "ls-tree", "-r", "--name-only", "HEAD", ".agentops/journal").split():
        for line in git(repo, "show", f"HEAD:{name}").splitlines():
            record = json.loads(line)
            if record["event"]["type"] == "alert.firing":
                out.append(record["event"]["attributes"]["fingerprint"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentops-bench-") as tmp:
        repo = Path(tmp) / "ops"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run([sys.executable, "-m", "agentops", "init", "--repo", str(repo)],
                       check=True, capture_output=True)
        floor = spool_floor(Path(tmp) / "floor")
        commits_before = int(git(repo, "rev-list", "--count", "HEAD"))
        proc, port = start_server(repo)
        latencies: list[float] = []
        accepted: list[str] = []
        shares = [list(range(i, args.posts, args.clients)) for i in range(args.clients)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            for share in shares:
                pool.submit(client, port, share, latencies, accepted)
        elapsed = time.perf_counter() - started
        drain_started = time.perf_counter()
        while metric(port, "agentops_spool_depth") > 0:
            time.sleep(0.05)
        drained = time.perf_counter() - drain_started
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
        commits = int(git(repo, "rev-list", "--count", "HEAD")) - commits_before
        committed = committed_fingerprints(repo)
    lost = len(set(accepted) - set(committed))
    twice = len(committed) - len(set(committed))
    latencies.sort()
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    rate = len(accepted) / elapsed
    print(f"posts: {args.posts} from {args.clients} clients; accepted (202): {len(accepted)}")
    print(f"accepted/s: {rate:,.0f} (target >= {TARGET_RATE:.0f}: {rate / TARGET_RATE:.1f}x)")
    print(f"latency to 202: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms "
          f"(target p99 < {TARGET_P99 * 1000:.0f} ms: {TARGET_P99 / p99:.1f}x headroom)")
    print(f"spool write floor (fsync file + dir): {floor * 1000:.2f} ms; p50 / floor = "
          f"{p50 / floor:.1f}x")
    print(f"group commits: {commits} ({len(accepted) / max(commits, 1):.0f} requests each); "
          f"drained {drained:.2f} s after the last 202; serve exit code {code}")
    print(f"events lost: {lost}; committed twice: {twice}")
    ok = lost == 0 and twice == 0 and code == 0 and len(accepted) == args.posts
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
