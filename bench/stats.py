"""The read side at scale: ``stats``, ``check`` and ``recall`` over 10,000 incidents.

Seeds a repository with N incidents (plus troubleshooting entries and lessons they link to)
rendered by the ledger and written in one go, lets one ``record`` move all but the newest
into their archive files (as in a real repository of that size), then times:

(a) ``agentops stats`` and ``agentops check`` as processes: cold (no parsed-entries cache
    under .git) and warm (median of --runs), against ``agentops --version`` as the floor;
    after one more incident is recorded (only that entry is parsed again);
(b) ``agentops recall``: the one-off index build, then the median of 20 different queries
    in-process and as processes.

Targets: stats over 10,000 incidents < 2 s; recall < 200 ms.

    python bench/stats.py [--incidents 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENTOPS = [sys.executable, "-m", "agentops"]
SEVERITIES = ("LOW", "MEDIUM", "MEDIUM", "HIGH", "CRITICAL")
CATEGORIES = ("CLUSTER_FAILURE", "DEPLOYMENT_FAILURE", "SECURITY_INCIDENT",
              "PERFORMANCE_DEGRADATION", "DATA_LOSS", "AUTOMATION_FAILURE", "CONFIGURATION_DRIFT")
PROBLEMS = (
    ("ImagePullBackOff on a missing tag", "BackOff", "Back-off pulling image",
     "Pods stuck in ImagePullBackOff", "Roll back to the previous revision."),
    ("CrashLoopBackOff after a config change", "BackOff", "Back-off restarting failed container",
     "Container restarts, exit code 1", "Revert the ConfigMap."),
    ("OOMKilled under load", "OOMKilling", "Memory cgroup out of memory",
     "exit code 137, OOMKilled", "Raise the memory limit."),
    ("Migration lock timeout", None, "lock timeout", "lock timeout during migrate",
     "Stop the batch job holding the lock."),
    ("Certificate expired on ingress", "CertExpired", "certificate has expired",
     "TLS handshake errors", "Renew the certificate with cert-manager."),
)
QUERIES = (
    'Back-off pulling image "registry/api:4.2": not found', "CrashLoopBackOff", "OOMKilled",
    "exit code 137", "lock timeout", "ImagePullBackOff", "certificate has expired",
    "kubectl rollout undo deployment/api", "Deployment", "PersistentVolumeClaim pending",
    "FailedScheduling 0/3 nodes are available", "connection refused 10.0.0.12:5432",
    "migrate task failed 3 times", "NetworkPolicy denied egress", "disk pressure evicted",
    "helm upgrade failed: another operation is in progress", "context deadline exceeded",
    "x509: certificate signed by unknown authority", "too many open files", "readiness probe",
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(base: Path) -> Path:
    repo = base / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "user.email", "bench@example.com")
    subprocess.run([*AGENTOPS, "init", "--repo", str(repo)], check=True, capture_output=True)
    return repo


def _incident(i: int, start: datetime):  # type: ignore[no-untyped-def]
    from agentops.ledger.model import Incident, template_sections
    from agentops.store.writer import stable_uid

    when = start + timedelta(minutes=47 * i)
    sev, problem = SEVERITIES[i % 5], PROBLEMS[i % len(PROBLEMS)]
    resolved = None if i % 97 == 0 else when + timedelta(minutes=5 + i % 90)
    sections = template_sections(
        "incident", Description=f"{problem[3]} on service-{i % 40}: {problem[2]}",
        Impact="Requests failed for a while." if i % 3 else "_To be filled in._",
        Root_Cause=f"{problem[0]}." if resolved else "_To be filled in._",
        Follow_up_Actions=f"- [ ] Add an alert for {problem[1] or 'it'} - @sre - 2025-06-01")
    return Incident(
        id=f"INC-{when.date().isoformat()}-{i % 31 + 1:03d}", uid=stable_uid("bench", str(i)),
        title=f"{problem[0]} on service-{i % 40}", status="Resolved" if resolved else "Identified",
        severity=sev, category=CATEGORIES[i % 7], rule="bench", dedup_key=f"svc/{i % 400}",
        impact_started=when - timedelta(minutes=i % 4), detected=when,
        acknowledged=when + timedelta(minutes=1 + i % 9), resolved=resolved,
        review_required=sev in ("HIGH", "CRITICAL"), troubleshooting=f"TS-{i % 5 + 1:04d}",
        memory=(f"MEM-{i % 300 + 1:04d}",), root_cause_category=("bad-config", "capacity",
                                                                  None)[i % 3],
        sections=sections)


def seed(repo: Path, count: int) -> None:
    """N incidents, 5 troubleshooting entries and 300 lessons, each file written once."""
    from agentops.ledger import format as fmt
    from agentops.ledger.model import MemoryEntry, Signature, TroubleshootingEntry
    from agentops.ledger.model import template_sections as sections

    start = datetime(2025, 1, 1, tzinfo=UTC)
    incidents = [fmt.render_incident(_incident(i, start)) for i in range(count)]
    _fill(repo / "INCIDENTS.md", list(reversed(incidents)))
    ts = [fmt.render_troubleshooting(TroubleshootingEntry(
        id=f"TS-{n + 1:04d}", uid=f"BENCHTS{n:019d}", title=p[0], category="DEPLOYMENT_FAILURE",
        signature=Signature("k8s.warning", p[1], p[2]), first_seen=start, last_seen=start,
        sections=sections("troubleshooting", Symptoms=p[3], Workaround=p[4])))
        for n, p in enumerate(PROBLEMS)]
    _fill(repo / "TROUBLESHOOTING.md", ts)
    lessons = [MemoryEntry(id=f"MEM-{n + 1:04d}", uid=f"BENCHMEM{n:018d}",
                           title=f"Lesson {n}: {PROBLEMS[n % 5][4]}", status=("active",
                           "retired")[n % 10 == 0], first_seen=start, last_validated=start)
               for n in range(300)]
    _fill(repo / "MEMORY.md", [fmt.render_memory(m) for m in lessons])
    text = (repo / "MEMORY.md").read_text()
    (repo / "MEMORY.md").write_text(fmt.set_memory_index(text, lessons))
    git(repo, "commit", "-q", "-am", "seed")


def _fill(path: Path, entries: list[str]) -> None:
    begin = "<!-- agentops:entries:begin -->\n"
    text = path.read_text()
    pos = text.index(begin) + len(begin)
    path.write_text(text[:pos] + "\n" + "\n".join(entries) + text[pos:])


def timed(*args: str, repo: Path | None, ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    where = ["--repo", str(repo)] if repo else []
    out = subprocess.run([*AGENTOPS, *args, *where], capture_output=True)
    elapsed = time.perf_counter() - start
    if out.returncode not in ok:
        raise SystemExit(f"{args}: exit {out.returncode}\n{out.stderr.decode()}")
    return elapsed


def record(repo: Path, resource: str) -> None:
    out = subprocess.run([*AGENTOPS, "record", "deletion", "-f", f"resource={resource}", "-f",
                          "namespace=prod", "--repo", str(repo)], capture_output=True)
    assert out.returncode == 0, out.stderr


def clear_caches(repo: Path) -> None:
    cache = repo / ".git" / "agentops"
    for name in ("entries-incident.pickle", "entries-troubleshooting.pickle",
                 "entries-memory.pickle", "recall.sqlite"):
        (cache / name).unlink(missing_ok=True)


def bench_reports(repo: Path, runs: int) -> None:
    floor = statistics.median(timed("--version", repo=None) for _ in range(runs))
    print(f"process floor (agentops --version): {floor * 1000:7.0f} ms")
    for name, args, ok in (("stats", ("stats",), (0,)), ("stats --format md", ("stats",
                           "--format", "md"), (0,)), ("check", ("check",), (0, 1))):
        clear_caches(repo)
        cold = timed(*args, repo=repo, ok=ok)
        warm = statistics.median(timed(*args, repo=repo, ok=ok) for _ in range(runs))
        print(f"{name:20s} cold {cold * 1000:7.0f} ms   warm {warm * 1000:7.0f} ms   "
              f"(warm/floor {warm / floor:.1f}x)")
    record(repo, "Pod/x")
    after = timed("stats", repo=repo)
    print(f"stats after one more record (one entry parsed again): {after * 1000:7.0f} ms")
    write = timed("stats", "--write", repo=repo)
    print(f"stats --write (compute, write the block, commit): {write * 1000:7.0f} ms")


def bench_recall(repo: Path, runs: int) -> None:
    from agentops.commands import recall as cmd
    from agentops.report import recall

    clear_caches(repo)
    start = time.perf_counter()
    path, rebuilt = cmd.ensure_index(repo)
    build = time.perf_counter() - start
    assert rebuilt
    print(f"recall index build (cold parse of all entries): {build * 1000:7.0f} ms")
    (repo / ".git" / "agentops" / "recall.sqlite").unlink()
    start = time.perf_counter()
    cmd.ensure_index(repo)
    print(f"recall index build (parsed entries cached):     "
          f"{(time.perf_counter() - start) * 1000:7.0f} ms")
    inproc = []
    for q in QUERIES:
        t = time.perf_counter()
        cmd.ensure_index(repo)
        recall.search(path, q, limit=10)
        inproc.append(time.perf_counter() - t)
    procs = [timed("recall", q, repo=repo) for q in QUERIES]
    print(f"recall query, in-process (stamp check + search): median "
          f"{statistics.median(inproc) * 1000:6.1f} ms, max {max(inproc) * 1000:6.1f} ms")
    print(f"recall query, as a process:                      median "
          f"{statistics.median(procs) * 1000:6.1f} ms, max {max(procs) * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "agentops")], check=True)
    base = Path(tempfile.mkdtemp())
    try:
        repo = make_repo(base)
        start = time.perf_counter()
        seed(repo, args.incidents)
        size = (repo / "INCIDENTS.md").stat().st_size / 1e6
        print(f"seeded {args.incidents} incidents ({size:.1f} MB) in "
              f"{time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        record(repo, "Pod/rotate")
        archives = len(list((repo / "incidents").glob("*.md")))
        print(f"first record moved all but the newest incidents into {archives} archive files "
              f"in {time.perf_counter() - start:.1f} s")
        bench_reports(repo, args.runs)
        bench_recall(repo, args.runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
