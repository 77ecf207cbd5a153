"""``agentops demo``: replay the bundled scenario into a fresh repository and show the result."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentops.errors import AgentopsError


def run_demo(keep: Path | None, *, progress: Callable[[int, int, str], None]) -> dict[str, Any]:
    """Run every step; returns what was written and where. Raises if a step fails."""
    from agentops import demo

    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise AgentopsError(f"--keep {keep}: directory is not empty; give a new or empty one")
    repo = keep or Path(tempfile.mkdtemp(prefix="agentops-demo-"))
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    demo.prepare(repo)
    steps = demo.steps(start)
    log: list[dict[str, Any]] = []
    for n, step in enumerate(steps, start=1):
        progress(n, len(steps), step.title)
        log.append({"step": step.title, "result": step.run(repo)})
    return {"repo": str(repo), "kept": keep is not None, "steps": log,
            "incidents": _headings(repo), "log": _git(repo, "log", "--oneline"),
            "stats": _stats(repo), "lint": _agentops(repo, "lint").returncode == 0}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def _agentops(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentops", *args, "--repo", str(repo)],
                          capture_output=True, text=True)


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
    out = _agentops(repo, "stats", "--format", "text")
    return out.stdout if out.returncode == 0 else ""


def cleanup(result: dict[str, Any]) -> None:
    if not result["kept"]:
        shutil.rmtree(result["repo"], ignore_errors=True)


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
