"""The documentation that is derived from code stays in step with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentops.cli import cli
from agentops.clidoc import render

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_matches_the_commands() -> None:
    expected = render(cli)
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == expected, (
        "docs/cli.md is out of date: run `python -m agentops.clidoc > docs/cli.md`")


def test_every_command_has_help() -> None:
    out = subprocess.run([sys.executable, "-m", "agentops.clidoc"], capture_output=True,
                         text=True, check=True).stdout
    sections = out.split("\n## ")[1:]
    assert sections
    for section in sections:
        name = section.splitlines()[0]
        body = section.split("```", 2)[2].strip()
        assert body, f"{name} has no help text"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert block[0].endswith("agentops demo")
    assert block[1] == "python -m pytest -q"
