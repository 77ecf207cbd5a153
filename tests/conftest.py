"""Shared fixtures: every test gets an isolated HOME, a git identity and real repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Real payloads, checked in with their origin in fixtures/README.md: the tests read nothing
# outside the checkout.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where ``recall --semantic`` unpacks its model (440 MB): once a session, not once a HOME;
    a cache the developer set (AGENTOPS_MODEL_CACHE) is used as it is."""
    given = os.environ.get("AGENTOPS_MODEL_CACHE")
    return Path(given) if given else tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                 model_cache: Path) -> None:
    monkeypatch.setenv("AGENTOPS_MODEL_CACHE", str(model_cache))
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Agent\n\temail = agent@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME",
                 "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real, empty git repository with one initial commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README.md").write_text("# ops\n")
    subprocess.run(["git", "-C", str(repo), "add", "README.md"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "initial"], check=True)
    return repo


def fixture_path(*parts: str) -> Path:
    """A file under tests/fixtures (real payloads; origins in tests/fixtures/README.md)."""
    return FIXTURES.joinpath(*parts)
