"""The second held-out recall set (bench/recall_holdout.yaml) is well formed.

It names the corpus it is asked against instead of holding one, so a renamed or removed corpus
entry would silently turn its queries into misses; this checks every expected id still exists
and the set keeps its shape. It ranks nothing: the set stays held out from recall's tests.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_holdout_expects_exist_in_its_corpus() -> None:
    data = yaml.safe_load((ROOT / "bench" / "recall_holdout.yaml").read_text())
    corpus = yaml.safe_load((ROOT / data["corpus"]).read_text())["corpus"]
    ids = {e["id"] for e in corpus["troubleshooting"]} | {e["id"] for e in corpus["memory"]}
    queries = data["queries"]
    assert [q["expect"] for q in queries if q["expect"] not in ids] == []
    kinds = Counter(q["kind"] for q in queries)
    assert set(kinds) == {"quoted", "paraphrase"}
    assert min(kinds.values()) >= 30
    per_entry = Counter((q["expect"], q["kind"]) for q in queries)
    assert max(per_entry.values()) <= 2
    assert all(isinstance(q["q"], str) and q["q"].strip() for q in queries)
