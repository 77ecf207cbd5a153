"""The README's tours, run exactly as written: pasted into a shell, they must not fail."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOUR_RE = re.compile(r"<!-- tour -->\n```sh\n(.*?)```", re.DOTALL)


def tours() -> list[str]:
    return TOUR_RE.findall((ROOT / "README.md").read_text())


def test_readme_has_the_agent_pipeline_reviewer_and_policy_tours() -> None:
    found = tours()
    assert len(found) == 4
    assert "agentops record" in found[0] and "agentops hook" in found[1]
    assert "agentops incident" in found[2] and "agentops rules" in found[3]


def test_readme_tours_run_when_pasted(tmp_path: Path) -> None:
    script = "set -euo pipefail\n" + "\n".join(tours())
    env = {**os.environ, "TMPDIR": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    assert "already recorded" in out.stdout
    assert re.search(r"INC-\d{4}-\d{2}-\d{2}-\d{3}: resolve \(Resolved\)", out.stdout)


def test_examples_named_in_the_readme_exist() -> None:
    for name in re.findall(r"\$EXAMPLES/([\w.-]+)", (ROOT / "README.md").read_text()):
        assert (ROOT / "examples" / name).is_file(), name
