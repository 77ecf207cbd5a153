"""Several clones writing to one bare remote: every event lands once, ids never collide."""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cli_helpers import run_cli, run_process


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          check=True).stdout


def make_clones(tmp_path: Path, git_repo: Path, count: int) -> tuple[Path, list[Path]]:
    init = run_cli(["init"], repo=git_repo)
    assert init.returncode == 0, init.stderr
    config = git_repo / ".agentops" / "config.yaml"
    config.write_text(config.read_text().replace("enabled: false", "enabled: true"))
    git(git_repo, "commit", "-qam", "enable push")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo), str(remote)], check=True)
    clones = []
    for i in range(count):
        clone = tmp_path / f"clone{i}"
        subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
        clones.append(clone)
    return remote, clones


def test_four_clones_pushing_at_once_keep_every_event_once(tmp_path: Path, git_repo: Path) -> None:
    remote, clones = make_clones(tmp_path, git_repo, 4)

    def writer(n: int) -> list[int]:
        codes = []
        for i in range(25):
            # separate processes: the point is clones racing each other to the remote
            out = run_process(["record", "deletion", "-f", f"resource=Pod/c{n}-{i}",
                               "-f", "namespace=prod", "--key", f"c{n}-{i}"], repo=clones[n])
            codes.append(out.returncode)
            assert out.returncode == 0, out.stderr
        return codes

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(writer, range(4)))
    assert all(code == 0 for codes in results for code in codes)
    check = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", str(remote), str(check)], check=True)
    keys = []
    for path in (check / ".agentops" / "journal").glob("*.jsonl"):
        keys += [json.loads(line)["key"] for line in path.read_text().splitlines()]
    assert sorted(keys) == sorted(f"c{n}-{i}" for n in range(4) for i in range(25))
    ids = re.findall(r"^<!-- agentops:incident (INC-\S+) ", (check / "INCIDENTS.md").read_text(),
                     re.MULTILINE)
    assert len(ids) == 100 and len(set(ids)) == 100
    lint = run_cli(["lint"], repo=check)
    assert lint.returncode == 0, lint.stdout
