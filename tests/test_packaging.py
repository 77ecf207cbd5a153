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
    (wheel,) = wheels.glob("agentops_ledger-*.whl")
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


def test_every_path_the_dockerfile_copies_exists() -> None:
    copies = [line.split()[1:-1] for line in (ROOT / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ") and "--from=" not in line]
    assert copies, "the Dockerfile copies nothing from the build context"
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source


def test_manifests_use_the_documented_image_tag() -> None:
    from agentops import DISTRIBUTION, __version__

    tag = f"image: {DISTRIBUTION}:{__version__}"
    deployment = (ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text()
    images = [line.strip() for line in deployment.splitlines() if "image:" in line]
    assert images and all(line == tag for line in images), images
    assert f"docker build -t {DISTRIBUTION}:{__version__} ." in (ROOT / "Dockerfile").read_text()
    assert f"docker build -t {DISTRIBUTION}:{__version__} ." in (ROOT / "README.md").read_text()


def test_the_distribution_name_is_used_wherever_people_install_it() -> None:
    from agentops import DISTRIBUTION

    assert f'name = "{DISTRIBUTION}"' in (ROOT / "pyproject.toml").read_text()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
                 *sorted((ROOT / "deploy").rglob("*.y*ml"))]:
        text = path.read_text()
        assert "pip install agentops\n" not in text and "pip install 'agentops[" not in text, path
    workflow = (ROOT / "deploy" / "github-actions" / "agentops-hook.yml").read_text()
    assert f"pip install {DISTRIBUTION}" in workflow
