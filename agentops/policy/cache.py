"""Parsed rules documents kept by content hash, so ``record`` skips YAML while rules are unchanged.

The cache lives under the git directory and describes nothing the files do not say: a missing,
corrupt or foreign file is a miss, and deleting it is always safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ParseCache:
    """Parsed YAML documents by the SHA-256 of their text, pickled in one file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.docs: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        if path is not None:
            try:
                import pickle

                with path.open("rb") as fh:
                    self.docs = pickle.load(fh)
            except Exception:
                self.docs = {}

    def load(self, text: str) -> Any:
        from agentops.events import sha256

        digest = sha256(text.encode()).hexdigest()
        self.used.add(digest)
        if digest in self.docs:
            return self.docs[digest]
        import yaml

        from agentops.policy.yamlload import RulesLoader, check_structure

        check_structure(text)  # alias bombs and deep nesting, before building anything
        doc = yaml.load(text, Loader=RulesLoader)
        self.docs[digest] = doc
        self.dirty = True
        return doc

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        import pickle

        from agentops.fsutil import atomic_write

        try:
            docs = {d: self.docs[d] for d in self.used}
            atomic_write(self.path, pickle.dumps(docs, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass

