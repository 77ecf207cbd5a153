"""Parsed rules documents kept by content hash, so ``record`` skips YAML while rules are unchanged.

The cache lives under the git directory and describes nothing the files do not say: a missing,
corrupt or foreign file is a miss, and deleting it is always safe.
"""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any


class ParseCache:
    """Parsed YAML documents by the SHA-256 of their text, in one file: marshalled (built in,
    read in microseconds, no module to import on ``record``'s path), or pickled when a
    document holds what marshal cannot (a YAML timestamp becomes a datetime)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.docs: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        if path is not None:
            try:
                data = path.read_bytes()
                if data[:1] == b"M":
                    self.docs = marshal.loads(data[1:])
                elif data[:1] == b"P":
                    import pickle

                    self.docs = pickle.loads(data[1:])
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
        from agentops.fsutil import atomic_write

        docs = {d: self.docs[d] for d in self.used}
        try:
            data = b"M" + marshal.dumps(docs)
        except ValueError:  # an object marshal does not know
            import pickle

            data = b"P" + pickle.dumps(docs, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            atomic_write(self.path, data)
        except OSError:
            pass

