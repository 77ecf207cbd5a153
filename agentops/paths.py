"""Where things are: the managed repository, its rules, and the shipped default policy."""

from __future__ import annotations

import os
from pathlib import Path

from agentops.errors import RepoError

RULES_DIR = "rules"
SPOOL_SUBDIR = "agentops/spool"  # under the git common dir: `serve`'s accepted requests
DEAD_LETTER = "failed"  # under the spool: requests the pipeline kept refusing


def find_repo(repo: Path | None, *, required: bool = True) -> Path:
    """``--repo`` or the git work tree containing the working directory (found without git)."""
    if repo is not None:
        if not repo.is_dir():
            raise RepoError(f"--repo {repo}: no such directory")
        return repo.resolve()
    here = Path(os.getcwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    if required:
        raise RepoError(f"not inside a git repository: {here} (use --repo, or run `git init`)")
    return here


def rules_dir(repo: Path | None) -> Path:
    """The repository's rules/, or a clear error naming where it looked."""
    root = find_repo(repo, required=False)
    path = root / RULES_DIR
    if not path.is_dir():
        raise RepoError(f"no {RULES_DIR}/ directory in {root} (run `agentops init` to create one)")
    return path


def default_rules() -> Path:
    """The shipped default policy: packaged as agentops/data/rules, or the source tree's rules/."""
    packaged = Path(__file__).resolve().parent / "data" / "rules"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / RULES_DIR
    if source.is_dir():
        return source
    raise RepoError("the default rules are missing from this installation (reinstall agentops)")
