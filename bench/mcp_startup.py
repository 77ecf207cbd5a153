"""How long an agent waits for ``agentops mcp``: process start to the ``initialize`` answer.

Agents start MCP servers per session, often per task, so the handshake is on their critical
path. Figures are medians of N runs, each a new process:

  baseline   python -c 'import click, yaml'                 (the floor any agentops command pays)
  mcp        agentops mcp: spawn, send initialize, read the response
  tools      the same, then tools/list (the first thing a client does next)
  sdk        python -c 'import mcp.server.lowlevel, mcp.server.stdio' (why the stdio server
             does not use the SDK: its import alone is over the 300 ms target)

    python bench/mcp_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "bench", "version": "0"}}}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def command() -> list[str]:
    exe = shutil.which("agentops")
    return [exe] if exe else [sys.executable, "-m", "agentops"]


def handshake(repo: Path, *, then_list: bool) -> float:
    """Seconds from spawn to the last expected response line."""
    start = time.perf_counter()
    proc = subprocess.Popen([*command(), "mcp", "--repo", str(repo)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    requests = [INITIALIZE, TOOLS_LIST] if then_list else [INITIALIZE]
    for request in requests:
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        json.loads(proc.stdout.readline())
    elapsed = time.perf_counter() - start
    proc.stdin.close()
    proc.wait(timeout=10)
    return elapsed


def run_python(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def median(fn: object, runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))  # type: ignore[operator]


def make_repo() -> Path:
    repo = Path(tempfile.mkdtemp(prefix="agentops-mcp-bench-"))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*command(), "init", "--repo", str(repo)], check=True, capture_output=True)
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    repo = make_repo()
    try:
        handshake(repo, then_list=True)  # warm the page cache and .pyc files
        base = median(lambda: run_python("import click, yaml"), runs)
        init = median(lambda: handshake(repo, then_list=False), runs)
        tools = median(lambda: handshake(repo, then_list=True), runs)
        sdk = median(lambda: run_python("import mcp.server.lowlevel, mcp.server.stdio"), runs)
    finally:
        shutil.rmtree(repo, ignore_errors=True)
    print(f"median of {runs} runs")
    for label, value in (("baseline (import click, yaml)", base), ("mcp initialize", init),
                         ("mcp initialize + tools/list", tools), ("sdk import only", sdk)):
        print(f"  {label:<30} {value * 1000:7.1f} ms   {value / base:5.2f}x baseline")
    print(f"  target: initialize under 300 ms: {'ok' if init < 0.3 else 'MISSED'}")


if __name__ == "__main__":
    main()
