"""Error classes with their documented meaning, so that recall understands a described symptom.

The ledger holds error text (``0/8 nodes are available: 8 Insufficient nvidia.com/gpu``); an
agent may ask in other words (no node has a free GPU). ``agentops/data/enrichment.yaml`` lists
Kubernetes reasons and common error classes (databases, cloud APIs, TLS, DNS, CI tools) with the
meaning their upstream documentation gives, and a source for each. At index time an entry whose
reason or error text belongs to a class is indexed with that meaning and a class token; a query
that itself quotes an error of the class carries the same token. Loaded only by ``recall``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import NamedTuple

TOKEN_PREFIX = "zcls"


class ErrorClass(NamedTuple):
    id: str
    reasons: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    meaning: str
    source: str

    @property
    def token(self) -> str:
        """One word standing for the class in the index (letters only: FTS5 splits on ``-``)."""
        return TOKEN_PREFIX + re.sub(r"[^a-z0-9]", "", self.id.lower())


@cache
def classes() -> tuple[ErrorClass, ...]:
    import yaml

    # the package is installed as files (pip, editable or wheel): importlib.resources would
    # cost 30 ms of a cold ``recall`` to find the same path
    text = (Path(__file__).resolve().parents[1] / "data" / "enrichment.yaml").read_text("utf-8")
    return tuple(
        ErrorClass(c["id"], frozenset(c.get("reasons", ())),
                   tuple(re.compile(p, re.I) for p in c.get("patterns", ())),
                   " ".join(str(c["meaning"]).split()), str(c["source"]))
        for c in yaml.load(text, Loader=yaml.CSafeLoader)["classes"])


def classify(text: str, reasons: Iterable[str] = ()) -> list[ErrorClass]:
    """The classes an error text (or one of the Kubernetes reasons) belongs to."""
    given = {r for r in reasons if r}
    if not _any_pattern().search(text):  # most texts match none: one search, not a hundred
        return [c for c in classes() if c.reasons & given] if given else []
    return [c for c in classes()
            if c.reasons & given or any(p.search(text) for p in c.patterns)]


@cache
def _any_pattern() -> re.Pattern[str]:
    """Every class's patterns in one alternation: it matches when any of them does."""
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for c in classes() for p in c.patterns),
                          re.I)
    except re.error:  # a pattern that cannot be combined (inline flags): no shortcut
        return re.compile("")
