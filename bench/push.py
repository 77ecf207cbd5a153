"""What the push path adds to ``agentops record``, against named baselines.

(a) ``record`` with push disabled (the local path: ledger commit + journal ref);
(b) ``record`` with push enabled to a bare remote nobody else writes (one atomic push of the
    branch and the journal): ratio to (a);
(c) the same when another clone pushed before every record, so every push is rejected and the
    record is rebuilt on the remote tip (fetch, scratch work tree, replay, push): ratio to (a);
(d) with ``--baseline REV``: (b) and (c) for the agentops of commit REV (today's path before
    this change, e.g. ``main``), run from a ``git archive`` of REV in a temporary directory.

    python bench/push.py [--runs 9] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


class Setup:
    """A seed repository, its bare remote and two clones, for one agentops source tree."""

    def __init__(self, base: Path, source: Path, *, push: bool) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(source)}
        seed = base / "seed"
        seed.mkdir(parents=True)
        git(seed, "init", "-q", "-b", "main")
        git(seed, "config", "user.name", "bench")
        git(seed, "config", "user.email", "bench@example.com")
        (seed / "README.md").write_text("# ops\n")
        git(seed, "add", "README.md")
        git(seed, "commit", "-qm", "initial")
        self.agentops(seed, "init")
        if push:
            config = seed / ".agentops" / "config.yaml"
            config.write_text(config.read_text().replace("enabled: false", "enabled: true"))
            git(seed, "commit", "-qam", "enable push")
        self.remote = base / "remote.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(self.remote)],
                       check=True)
        self.a, self.b = base / "a", base / "b"
        for clone in (self.a, self.b):
            subprocess.run(["git", "clone", "-q", str(self.remote), str(clone)], check=True)
            git(clone, "config", "user.name", "bench")
            git(clone, "config", "user.email", "bench@example.com")
            self.agentops(clone, "init")

    def agentops(self, repo: Path, *args: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "agentops", *args, "--repo", str(repo)],
                       check=True, capture_output=True, env=self.env)
        return time.perf_counter() - start

    def record(self, repo: Path, key: str) -> float:
        return self.agentops(repo, "record", "deletion", "-f", f"resource=Pod/{key}", "-f",
                             "namespace=prod", "--key", key)


def measure(base: Path, source: Path, runs: int) -> dict[str, float]:
    local = Setup(base / "local", source, push=False)
    pushing = Setup(base / "push", source, push=True)
    local.record(local.a, "warm")
    pushing.record(pushing.a, "warm")
    t_local, t_push, t_race = [], [], []
    for i in range(runs):
        t_local.append(local.record(local.a, f"l{i}"))
        t_push.append(pushing.record(pushing.a, f"p{i}"))
        pushing.record(pushing.b, f"other{i}")  # the remote moves on: A's next push is rejected
        t_race.append(pushing.record(pushing.a, f"r{i}"))
        pushing.record(pushing.b, f"catch-up{i}")  # B rebuilds on A's tip, off the clock
    return {"local": statistics.median(t_local), "push": statistics.median(t_push),
            "race": statistics.median(t_race)}


def report(label: str, figures: dict[str, float], base: float) -> None:
    print(f"{label}: push disabled {figures['local'] * 1000:.1f} ms; push, uncontended "
          f"{figures['push'] * 1000:.1f} ms ({figures['push'] / base:.2f}x); push rejected and "
          f"rebuilt {figures['race'] * 1000:.1f} ms ({figures['race'] / base:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline", default=None, help="a commit to compare with")
    args = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ours = measure(base / "ours", ROOT, args.runs)
        report("this tree (medians; ratios to push disabled here)", ours, ours["local"])
        if args.baseline:
            tree = base / "baseline-src"
            tree.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            theirs = measure(base / "theirs", tree, args.runs)
            report(f"{args.baseline} (ratios to push disabled here)", theirs, ours["local"])
            print(f"new push path / {args.baseline}'s: uncontended "
                  f"{ours['push'] / theirs['push']:.2f}x, rejected and rebuilt "
                  f"{ours['race'] / theirs['race']:.2f}x")


if __name__ == "__main__":
    main()
