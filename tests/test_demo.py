"""``agentops demo``, the README's first command, started where a user might start it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cli_helpers import run_cli


def test_demo_works_from_a_directory_that_holds_a_folder_named_agentops(tmp_path: Path) -> None:
    # e.g. the parent of a clone: `python -m agentops` started here would import that folder
    here = tmp_path / "src"
    (here / "agentops").mkdir(parents=True)
    (here / "agentops" / "README.md").write_text("a clone of something, not the package\n")
    keep = tmp_path / "demo"

    out = run_cli(["demo", "--keep", str(keep), "--format", "json"], cwd=here)

    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["lint"] is True
    lifecycle = result["steps"][-1]["result"]
    inc = lifecycle[0].split()[1]
    assert lifecycle == [f"ack {inc}", f"update {inc}", f"update {inc}", f"resolve {inc}"]
    # the crash-looping pod's warning and its KubePodCrashLooping alert are one incident
    assert result["stats"].startswith("4 incidents; computed ")
    subjects = subprocess.run(["git", "-C", str(keep), "log", "--format=%s"], check=True,
                              capture_output=True, text=True).stdout.splitlines()
    assert subjects[:4] == [f"agentops: resolve {inc}", f"agentops: update {inc}",
                            f"agentops: update {inc}", f"agentops: ack {inc}"]
    assert subjects[-1] == "agentops: init"
    assert out.stderr.startswith("[1/9] kubectl get events")


def test_demo_refuses_a_keep_directory_that_is_not_empty(tmp_path: Path) -> None:
    keep = tmp_path / "full"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine\n")

    out = run_cli(["demo", "--keep", str(keep)])

    assert out.returncode == 1
    assert out.stderr == (f"error: --keep {keep}: directory is not empty; give a new or empty "
                          "one\n")
    assert [p.name for p in keep.iterdir()] == ["notes.txt"]
