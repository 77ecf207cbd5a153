"""``agentops merge-driver``: the git merge driver for the ledger, and its registration.

git runs the driver for every path ``.gitattributes`` marks ``merge=agentops`` whenever a merge,
rebase, pull, cherry-pick or revert needs a three-way merge of it: ``%O`` (the ancestor), ``%A``
(ours, where the result goes) and ``%B`` (theirs). The merge itself is
:mod:`agentops.ledger.merge`; here the file is read, the kind chosen by its path, and the
line-based fallback (``git merge-file``) wired in. Exit 0 is a clean merge, 1 leaves conflict
markers for git to report as a normal conflict.

``agentops init`` registers it: ``merge.agentops.driver`` in ``.git/config`` (a clone's config is
not cloned, so init must be run again in every clone, which is harmless) and the attribute
lines in ``.gitattributes`` (committed, so every clone has them).
"""

from __future__ import annotations

import shlex
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Final

from agentops import git
from agentops.ledger import merge as lm
from agentops.vocabulary import Kind

DRIVER: Final = "agentops"
ATTRIBUTES: Final = (
    "INCIDENTS.md", "TROUBLESHOOTING.md", "MEMORY.md", "incidents/*.md",
    ".agentops/journal/*.jsonl", ".agentops/outbox/*.jsonl",
)
ATTRIBUTES_HEADER: Final = "# agentops: merge the ledger entry by entry (docs/merging.md)"
KINDS: Final[dict[str, Kind]] = {
    "INCIDENTS.md": "incident", "incidents/*.md": "incident",
    "TROUBLESHOOTING.md": "troubleshooting", "MEMORY.md": "memory",
}


def merge_files(base: Path, ours: Path, theirs: Path, path: str) -> bool:
    """Merge the three versions git hands over into ``ours``; True when clean."""
    texts = [p.read_text(encoding="utf-8") if p.exists() else "" for p in (base, ours, theirs)]
    if fnmatch(path, ".agentops/journal/*.jsonl") or fnmatch(path, ".agentops/outbox/*.jsonl"):
        # append-only JSON lines with a "key": both sides' records, each once
        result, clean = lm.merge_journal(texts[1], texts[2]), True
    else:
        kind = next((k for pattern, k in KINDS.items() if fnmatch(path, pattern)), None)
        if kind is None:
            result, clean = git.merge_file(*texts)
        else:
            merged = lm.merge_ledger(kind, texts[0], texts[1], texts[2], merge3=_merge3)
            result, clean = merged.text, merged.clean
            for old, new in merged.renumbered:
                print(f"agentops: {path}: {old} taken on both sides; the newer entry is now "
                      f"{new}", file=sys.stderr)
    ours.write_text(result, encoding="utf-8")
    return clean


def _merge3(base: str, ours: str, theirs: str) -> tuple[str, bool]:
    return git.merge_file(base, ours, theirs)


# --- registration ----------------------------------------------------------------------------


def driver_command() -> str:
    """The command line git runs, naming this interpreter (so a venv install works too)."""
    return f"{shlex.quote(sys.executable)} -m agentops merge-driver %O %A %B %P"


def register(root: Path) -> list[str]:
    """Set the driver in ``.git/config`` and the attributes; returns files created/changed."""
    if git.get_config(root, f"merge.{DRIVER}.driver") != driver_command():
        git.set_config(root, f"merge.{DRIVER}.name", "agentops ledger merge (entry by entry)")
        git.set_config(root, f"merge.{DRIVER}.driver", driver_command())
    path = root / ".gitattributes"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.split()[0] for line in text.splitlines()
               if line.strip() and not line.startswith("#") and f"merge={DRIVER}" in line}
    missing = [p for p in ATTRIBUTES if p not in present]
    if not missing:
        return []
    if text and not text.endswith("\n"):
        text += "\n"
    if ATTRIBUTES_HEADER not in text:
        text += ATTRIBUTES_HEADER + "\n"
    text += "".join(f"{p} merge={DRIVER}\n" for p in missing)
    from agentops.fsutil import atomic_write

    atomic_write(path, text)
    return [".gitattributes"]
