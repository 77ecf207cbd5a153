"""The ledger merge driver: `git merge`, `rebase` and `cherry-pick` of branches that both
wrote the ledger merge entry by entry, with real git running the driver `agentops init` set."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

AGENTOPS = [sys.executable, "-m", "agentops"]


def agentops(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENTOPS, *args, "--repo", str(repo)], capture_output=True,
                          text=True)


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=check)


def record(repo: Path, name: str) -> str:
    out = agentops(repo, "record", "deletion", "-f", f"resource=Pod/{name}", "-f",
                   "namespace=prod", "--key", name, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["incidents"][0]["id"]  # type: ignore[no-any-return]


def ids(repo: Path) -> list[str]:
    return re.findall(r"^<!-- agentops:incident (INC-\S+) ", (repo / "INCIDENTS.md").read_text(),
                      re.MULTILINE)


def lint_ok(repo: Path) -> None:
    out = agentops(repo, "lint")
    assert out.returncode == 0, out.stdout + out.stderr


def fill(repo: Path, inc_id: str, section: str, text: str, message: str) -> None:
    path = repo / "INCIDENTS.md"
    doc = path.read_text()
    start = doc.index(f"<!-- agentops:incident {inc_id} ")
    at = doc.index(f"#### {section}\n", start) + len(f"#### {section}\n")
    end = doc.index("\n#### ", at)
    path.write_text(doc[:at] + f"\n{text}\n" + doc[end:])
    git(repo, "commit", "-qam", message)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    assert agentops(git_repo, "init").returncode == 0
    return git_repo


def branches_adding_three_each(repo: Path) -> str:
    shared = record(repo, "shared")
    git(repo, "checkout", "-qb", "side")
    for n in range(3):
        record(repo, f"side-{n}")
    git(repo, "checkout", "-q", "main")
    for n in range(3):
        record(repo, f"main-{n}")
    return shared


def test_init_registers_the_driver_and_the_attributes(repo: Path) -> None:
    driver = git(repo, "config", "merge.agentops.driver").stdout
    assert "merge-driver %O %A %B %P" in driver
    attributes = (repo / ".gitattributes").read_text()
    assert "INCIDENTS.md merge=agentops" in attributes
    assert git(repo, "check-attr", "merge", "MEMORY.md").stdout.strip().endswith("agentops")
    assert git(repo, "status", "--porcelain").stdout == ""  # committed by init


def test_init_in_a_fresh_clone_adds_the_driver(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert git(clone, "config", "merge.agentops.driver", check=False).returncode == 1
    out = agentops(clone, "init")
    assert out.returncode == 0, out.stderr
    assert "merge-driver" in git(clone, "config", "merge.agentops.driver").stdout
    assert git(clone, "status", "--porcelain").stdout == ""


def test_merge_of_two_branches_adding_incidents_keeps_all_seven(repo: Path) -> None:
    branches_adding_three_each(repo)
    merge = git(repo, "merge", "--no-edit", "side", check=False)
    assert merge.returncode == 0, merge.stdout + merge.stderr
    found = ids(repo)
    assert len(found) == 7 and len(set(found)) == 7
    text = (repo / "INCIDENTS.md").read_text()
    for name in ["shared", *(f"side-{n}" for n in range(3)), *(f"main-{n}" for n in range(3))]:
        assert f"Pod/{name}" in text
    assert "<<<<<<<" not in text
    lint_ok(repo)
    # the merged ledger is one the tool keeps writing to
    assert record(repo, "after") not in found
    lint_ok(repo)


def test_rebase_and_cherry_pick_merge_entry_by_entry(repo: Path) -> None:
    branches_adding_three_each(repo)
    main_tip = git(repo, "rev-parse", "main").stdout.strip()
    git(repo, "checkout", "-qb", "picked", main_tip)
    pick = git(repo, "cherry-pick", "side", check=False)
    assert pick.returncode == 0, pick.stdout + pick.stderr
    assert len(set(ids(repo))) == len(ids(repo)) == 5
    lint_ok(repo)
    git(repo, "checkout", "-q", "side")
    rebase = git(repo, "rebase", "main", check=False)
    assert rebase.returncode == 0, rebase.stdout + rebase.stderr
    found = ids(repo)
    assert len(found) == 7 and len(set(found)) == 7
    lint_ok(repo)


def test_edits_of_different_sections_of_one_entry_merge_cleanly(repo: Path) -> None:
    inc = record(repo, "shared")
    git(repo, "checkout", "-qb", "side")
    fill(repo, inc, "Impact", "Checkout was down for 4 minutes.", "impact")
    git(repo, "checkout", "-q", "main")
    fill(repo, inc, "Root Cause", "A stale node selector.", "root cause")
    assert agentops(repo, "incident", "ack", inc, "--note", "looking").returncode == 0
    merge = git(repo, "merge", "--no-edit", "side", check=False)
    assert merge.returncode == 0, merge.stdout + merge.stderr
    text = (repo / "INCIDENTS.md").read_text()
    assert "Checkout was down for 4 minutes." in text and "A stale node selector." in text
    assert "Acknowledged" in text
    lint_ok(repo)


def test_same_section_edited_on_both_sides_conflicts_in_that_section_only(repo: Path) -> None:
    inc = record(repo, "shared")
    git(repo, "checkout", "-qb", "side")
    fill(repo, inc, "Root Cause", "Bob: the registry was down.", "bob")
    record(repo, "side-new")
    git(repo, "checkout", "-q", "main")
    fill(repo, inc, "Root Cause", "Alice: a bad config push.", "alice")
    record(repo, "main-new")
    merge = git(repo, "merge", "--no-edit", "side", check=False)
    assert merge.returncode == 1
    assert "CONFLICT (content): Merge conflict in INCIDENTS.md" in merge.stdout
    text = (repo / "INCIDENTS.md").read_text()
    assert text.count("<<<<<<<") == 1
    root = text.index("#### Root Cause", text.index(f"<!-- agentops:incident {inc} "))
    assert root < text.index("<<<<<<<") < text.index(">>>>>>>") < text.index("#### Resolution",
                                                                             root)
    assert "Pod/side-new" in text and "Pod/main-new" in text  # the rest merged
