"""What an agent waits for: ``agentops record`` as a new process, against a named floor.

(a) median wall time of ``agentops record`` vs the floor: a process that imports click and
    yaml, makes the same kind of file change and runs ``git commit`` (ratio printed);
(b) the same with 10,000 incidents already in INCIDENTS.md, as a ratio to the empty case;
(c) 8 concurrent processes x 25 records: wall time, records/s, errors, entries lost or
    duplicated.

    python bench/record.py [--runs 15] [--incidents 10000] [--skip-concurrent]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENTOPS = [sys.executable, "-m", "agentops"]
FLOOR = r"""
import sys, subprocess, click, yaml
path = sys.argv[1] + "/INCIDENTS.md"
with open(path, "a") as fh:
    fh.write("\n<!-- floor %s -->\n" % sys.argv[2])
subprocess.run(["git", "-C", sys.argv[1], "commit", "-q", "--only", "-m", "floor", "--",
                "INCIDENTS.md"], check=True)
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(base: Path, name: str) -> Path:
    repo = base / name
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "user.email", "bench@example.com")
    subprocess.run([*AGENTOPS, "init", "--repo", str(repo)], check=True, capture_output=True)
    return repo


def record(repo: Path, n: int) -> float:
    start = time.perf_counter()
    subprocess.run([*AGENTOPS, "record", "deletion", "-f", f"resource=Pod/bench-{n}",
                    "-f", "namespace=prod", "--key", f"bench-{n}", "--repo", str(repo)],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def floor(repo: Path, n: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, str(repo), str(n)], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def median_of(fn, repo: Path, runs: int, offset: int) -> float:  # type: ignore[no-untyped-def]
    fn(repo, offset - 1)  # warm-up: page cache, and the state cache after a rebuild
    return statistics.median(fn(repo, offset + i) for i in range(runs))


def interleaved(floor_repo: Path, repo: Path, runs: int) -> tuple[float, float]:
    """Floor and record run alternately, so that a busy neighbour slows both alike."""
    floor(floor_repo, 999)
    record(repo, 999)
    floors, records = [], []
    for i in range(runs):
        floors.append(floor(floor_repo, 1000 + i))
        records.append(record(repo, 1000 + i))
    return statistics.median(floors), statistics.median(records)


def journal_keys(repo: Path) -> list[str]:
    """The keys on the journal ref (refs/agentops/journal), read with git."""
    def show(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout

    return [json.loads(line)["key"]
            for name in show("ls-tree", "--name-only", "refs/agentops/journal").split()
            for line in show("show", f"refs/agentops/journal:{name}").splitlines()]


def seed_incidents(repo: Path, count: int) -> None:
    """Write ``count`` resolved incidents straight into INCIDENTS.md and commit once."""
    from agentops.ledger import format as fmt
    from agentops.ledger.model import Incident, template_sections
    from agentops.store.writer import stable_uid

    text = (repo / "INCIDENTS.md").read_text()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    entries = []
    for i in range(count):
        when = start + timedelta(minutes=30 * i)
        day = when.date().isoformat()
        inc = Incident(
            id=f"INC-{day}-{i % 48 + 1:03d}", uid=stable_uid("seed", str(i)),
            title=f"Seeded incident {i}", status="Resolved", severity="LOW",
            category="CLUSTER_FAILURE", rule="seed", dedup_key=f"seed/{i}", detected=when,
            resolved=when + timedelta(minutes=5), sections=template_sections("incident"),
        )
        entries.append(fmt.render_incident(inc))
    begin = "<!-- agentops:entries:begin -->\n"
    pos = text.index(begin) + len(begin)
    text = text[:pos] + "\n" + "\n".join(reversed(entries)) + text[pos:]
    (repo / "INCIDENTS.md").write_text(text)
    git(repo, "commit", "-q", "-m", "seed incidents", "--", "INCIDENTS.md")


def concurrent(base: Path, workers: int, per: int) -> dict[str, float]:
    repo = make_repo(base, "concurrent")

    def work(w: int) -> int:
        errors = 0
        for i in range(per):
            out = subprocess.run(
                [*AGENTOPS, "record", "deletion", "-f", f"resource=Pod/c{w}-{i}",
                 "-f", "namespace=prod", "--key", f"c{w}-{i}", "--repo", str(repo)],
                capture_output=True)
            errors += out.returncode != 0
        return errors

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        errors = sum(pool.map(work, range(workers)))
    wall = time.perf_counter() - start
    keys = journal_keys(repo)
    from agentops.store.entries import incident_files

    ids = [i for path in incident_files(repo) for i in re.findall(
        r"^<!-- agentops:incident (INC-\S+) ", path.read_text(), re.MULTILINE)]
    expected = {f"c{w}-{i}" for w in range(workers) for i in range(per)}
    return {"wall": wall, "records": workers * per, "errors": errors,
            "lost": len(expected - set(keys)), "duplicated": len(keys) - len(set(keys)),
            "incidents": len(ids), "duplicate_ids": len(ids) - len(set(ids))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--skip-concurrent", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    # An installed package has its bytecode compiled; make the source tree behave the same.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "agentops")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        empty = make_repo(base, "empty")
        floor_repo = make_repo(base, "floor")
        t_floor, t_empty = interleaved(floor_repo, empty, args.runs)
        print(f"(a) floor (python -c 'import click, yaml' + file change + git commit): "
              f"{t_floor * 1000:.1f} ms median of {args.runs}, run alternately with record")
        print(f"    agentops record, empty ledger:                     {t_empty * 1000:.1f} ms"
              f"   ratio to floor {t_empty / t_floor:.2f}")
        big = make_repo(base, "big")
        seed_incidents(big, args.incidents)
        size = (big / "INCIDENTS.md").stat().st_size
        t_big = median_of(record, big, args.runs, 1000)
        kept = (big / "INCIDENTS.md").stat().st_size
        archives = len(list((big / "incidents").glob("*.md")))
        print(f"(b) agentops record, {args.incidents:,} incidents seeded into INCIDENTS.md "
              f"({size / 1e6:.1f} MB): {t_big * 1000:.1f} ms   "
              f"ratio to empty {t_big / t_empty:.2f}")
        print(f"    (the first record moved all but the newest into {archives} archive files; "
              f"INCIDENTS.md is now {kept / 1e3:.0f} kB)")
        if not args.skip_concurrent:
            c = concurrent(base, 8, 25)
            print(f"(c) 8 processes x 25 records: {c['wall']:.1f} s wall, "
                  f"{c['records'] / c['wall']:.1f} records/s, errors {c['errors']:.0f}, "
                  f"lost {c['lost']:.0f}, duplicated {c['duplicated']:.0f}, "
                  f"incidents {c['incidents']:.0f} (duplicate ids {c['duplicate_ids']:.0f})")


if __name__ == "__main__":
    main()
