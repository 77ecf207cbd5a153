"""The wheel carries the default rules: `agentops demo` works from it outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from cli_helpers import run_process

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_rules_and_runs_the_demo(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("agentops-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "agentops/data/rules/triggers.yaml" in names
    assert any(n.startswith("agentops/data/rules/tests/") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # a real process: it must import agentops from the unpacked wheel, not from this checkout
    out = run_process(["demo", "--format", "json"], cwd=elsewhere, env=env)
    assert out.returncode == 0, out.stderr
    assert '"lint": true' in out.stdout
    where = subprocess.run([sys.executable, "-c", "import agentops; print(agentops.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site))
