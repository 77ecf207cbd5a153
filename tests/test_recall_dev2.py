"""The second and third development sets (bench/recall_dev2.yaml, bench/recall_dev3.yaml) are
well formed: their queries are asked against recall_eval.yaml's corpus, and each expects an
entry that corpus has."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["recall_dev2.yaml", "recall_dev3.yaml"])
def test_dev_set_expects_exist_in_the_corpus_it_names(name: str) -> None:
    data = yaml.safe_load((ROOT / "bench" / name).read_text())
    assert data["corpus"] == "bench/recall_eval.yaml"
    corpus = yaml.safe_load((ROOT / data["corpus"]).read_text())["corpus"]
    ids = {e["id"] for part in ("troubleshooting", "memory") for e in corpus[part]}
    queries = data["queries"]
    assert {q["expect"] for q in queries} <= ids
    kinds = Counter(q["kind"] for q in queries)
    assert set(kinds) == {"quoted", "paraphrase"} and kinds["paraphrase"] >= 40
    assert len({q["q"] for q in queries}) == len(queries)  # no query twice
