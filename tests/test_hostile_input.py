"""Hostile values through ``agentops record``: refused with exit 1 (never 3), or written so
that no renderer is fooled and ``agentops lint`` stays clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def agentops(repo: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentops", *args, "--repo", str(repo)],
                          input=stdin, capture_output=True, text=True, check=False, timeout=120)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "ops"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.org")
    assert agentops(path, "init").returncode == 0
    return path


REFUSED_JSON = {
    "actor_at": '{"type": "x.y", "actor": "@"}',
    "actor_nul": '{"type": "x.y", "actor": "bot\\u0000"}',
    "actor_newline": '{"type": "x.y", "actor": "a\\nAgentops-Event: forged"}',
    "lone_surrogate_message": '{"type": "x.y", "message": "\\ud800"}',
    "lone_surrogate_key_name": '{"type": "x.y", "attributes": {"\\udc00": 1}}',
    "infinity": '{"type": "x.y", "attributes": {"ratio": 1e999}}',
    "nan": '{"type": "x.y", "attributes": {"ratio": NaN}}',
}


@pytest.mark.parametrize("name", sorted(REFUSED_JSON))
def test_record_input_refuses_what_cannot_be_committed_with_exit_1(repo: Path, name: str) -> None:
    head = git(repo, "rev-parse", "HEAD")
    out = agentops(repo, "record", "-", "--input", "-", stdin=REFUSED_JSON[name])
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith("error: event.")
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("args", [
    ["--actor", "@"], ["--actor", "<>"], ["--actor", "ana\u202egro"], ["-f", "ratio=1e999"],
    ["-f", "ratio=nan"],
])
def test_record_fields_refuse_bad_actor_and_non_finite_numbers(repo: Path,
                                                               args: list[str]) -> None:
    out = agentops(repo, "record", "availability", *args)
    assert out.returncode == 1, out.stderr
    assert "internal error" not in out.stderr


def test_backticks_in_a_field_cannot_open_a_code_fence(repo: Path) -> None:
    out = agentops(repo, "record", "approval", "-f", "decision=denied", "-f", "action=deploy",
                   "-f", "approver=```", "-e", "production")
    assert out.returncode == 0, out.stderr
    lint = agentops(repo, "lint")
    assert lint.returncode == 0, lint.stdout
    # and the next entries stay visible: a second lesson is parsed as its own entry
    again = agentops(repo, "record", "approval", "-f", "decision=denied", "-f", "action=drop",
                     "-f", "approver=~~~", "-e", "production", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["memory"]
    assert agentops(repo, "lint").returncode == 0
    memory = (repo / "MEMORY.md").read_text()
    assert "\n```" not in memory.replace("\n```yaml\n", "\n").replace("\n```\n", "\n")


def test_html_links_and_invisible_characters_do_not_survive_into_the_ledger(repo: Path) -> None:
    message = ("<img src=x onerror=alert(1)> [click](javascript:alert(1)) "
               "admin\u202etxt.exe zero\u200bwidth \x85 end")
    out = agentops(repo, "record", "deployment", "-f", "status=failed", "-f", "service=api",
                   "-e", "production", "-m", message)
    assert out.returncode == 0, out.stderr
    text = (repo / "INCIDENTS.md").read_text()
    assert "<img" not in text.replace("\\<img", "")
    assert "](javascript:" not in text
    for char in ("\u202e", "\u200b", "\x85"):
        assert char not in text
    assert agentops(repo, "lint").returncode == 0
