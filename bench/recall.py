"""Recall quality on a held-out set (default bench/recall_eval.yaml): recall@1 and recall@3.

The corpus of the set becomes TROUBLESHOOTING and MEMORY entries (rendered and parsed back by the
ledger, as a repository would hold them), indexed by ``agentops.report.recall``; each query's
expected entry should come first. Figures are printed for the two halves: queries quoting an
error message and queries describing the symptom in other words.

With ``--semantic`` (needs ``pip install -e '.[semantic]'``) a second row per half measures the
semantic re-ranker (:mod:`agentops.report.semantic`) against the lexical baseline, with the
model's load time and the cost per query of each (the entry vectors are embedded on the first
pass and cached, as ``agentops recall`` caches them; the timed pass reads them from the cache).

    python bench/recall.py [--set PATH] [--show-misses]
                           [--semantic [--weight W] [--depth K] [--whole N]]

A set either holds its corpus or names, as ``corpus: <file>``, the set whose corpus its queries
are asked against (bench/recall_holdout.yaml does: a second set written blind against the same
ledger; so does bench/recall_dev2.yaml, a second development set), resolved relative to the
repository root.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentops.ledger import format as fmt  # noqa: E402
from agentops.ledger.model import (  # noqa: E402
    MemoryEntry,
    Signature,
    TroubleshootingEntry,
    template_sections,
)
from agentops.ledger.safety import escape_block  # noqa: E402
from agentops.report import recall  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)
EVAL = ROOT / "bench" / "recall_eval.yaml"


def ts_entry(item: dict[str, Any]) -> TroubleshootingEntry:
    sections = {"Symptoms": "- First message:\n\n" + escape_block(item["message"])}
    for key, heading in (("diagnosis", "Diagnosis"), ("workaround", "Workaround"),
                         ("fix", "Fix")):
        if item.get(key):
            sections[heading] = escape_block(item[key])
    entry = TroubleshootingEntry(
        id=item["id"], uid=f"EVAL{item['id'][3:]:0>22}", title=item["title"],
        category=item["category"], signature=Signature(item["event_type"], item.get("reason")),
        first_seen=T0, last_seen=T0, sections=template_sections("troubleshooting", **sections))
    return fmt.parse_troubleshooting(fmt.render_troubleshooting(entry))


def memory_entry(item: dict[str, Any]) -> MemoryEntry:
    entry = MemoryEntry(
        id=item["id"], uid=f"EVALM{item['id'][4:]:0>21}", title=item["title"], first_seen=T0,
        last_validated=T0, sections=template_sections("memory", Lesson=item["lesson"]))
    return fmt.parse_memory(fmt.render_memory(entry))


Search = Callable[[Path, str], list[str]]


def measure(name: str, search: Search, index: Path, queries: list[dict[str, Any]],
            show_misses: bool) -> list[str]:
    """Rows "half, queries, recall@1, recall@3, ms/query" for one ranking; misses printed."""
    totals: dict[str, list[int]] = {}
    misses = []
    start = time.perf_counter()
    for q in queries:
        got = search(index, q["q"])
        row = totals.setdefault(q["kind"], [0, 0, 0])
        row[0] += 1
        row[1] += bool(got[:1] == [q["expect"]])
        row[2] += q["expect"] in got
        if got[:1] != [q["expect"]]:
            misses.append((q["kind"], q["expect"], got, q["q"]))
    per_query = (time.perf_counter() - start) * 1000 / len(queries)
    if show_misses:
        for kind, expect, got, text in misses:
            print(f"miss {name:<8} {kind:<10} want {expect} got {got}: {text}")
    return [f"{kind:<12}{name:<10}{n:>8}{at1 / n:>10.2f}{at3 / n:>10.2f}{per_query:>10.1f}"
            for kind, (n, at1, at3) in sorted(totals.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="path", type=Path, default=EVAL,
                        help="query set (YAML); default bench/recall_eval.yaml")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--semantic", action="store_true",
                        help="also measure the semantic re-ranker (the 'semantic' extra)")
    parser.add_argument("--weight", type=float, help="cosine weight in the blend")
    parser.add_argument("--depth", type=int, help="lexical candidates re-ranked")
    parser.add_argument("--whole", type=int,
                        help="largest ledger compared whole with the query (0: never)")
    args = parser.parse_args()
    data = yaml.safe_load(args.path.read_text())
    corpus = data["corpus"]
    if isinstance(corpus, str):  # a held-out set asked against another set's corpus
        corpus = yaml.safe_load((ROOT / corpus).read_text())["corpus"]
    docs = list(recall.documents(
        incidents=[], troubleshooting=[ts_entry(t) for t in corpus["troubleshooting"]],
        memories=[memory_entry(m) for m in corpus["memory"]]))
    queries = data["queries"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "recall.sqlite"
        recall.build(index, docs, stamp="bench")

        def lexical(path: Path, query: str) -> list[str]:
            return [h.id for h in recall.search(path, query, limit=3)]

        rows += measure("lexical", lexical, index, queries, args.show_misses)
        if args.semantic:
            from agentops.report import semantic

            model = semantic.Model.load()
            cache = semantic.cache_path(index)
            options = {k: v for k, v in (("weight", args.weight), ("depth", args.depth),
                                         ("whole", args.whole)) if v is not None}

            def reranked(path: Path, query: str) -> list[str]:
                return [h.id for h in semantic.search(path, query, limit=3, cache=cache,
                                                      m=model, **options)]

            first = time.perf_counter()
            for q in queries:  # embeds and caches the entries, as the first recall would
                reranked(index, q["q"])
            warm = (time.perf_counter() - first) * 1000
            rows += measure("semantic", reranked, index, queries, args.show_misses)
    print(f"recall on {args.path.name}: {len(docs)} entries, {len(queries)} queries")
    print(f"{'half':<12}{'ranking':<10}{'queries':>8}{'recall@1':>10}{'recall@3':>10}"
          f"{'ms/query':>10}")
    print("\n".join(sorted(rows)))
    if args.semantic:
        weight = args.weight if args.weight is not None else semantic.WEIGHT
        depth = args.depth if args.depth is not None else semantic.DEPTH
        whole = args.whole if args.whole is not None else semantic.WHOLE
        print(f"semantic: model {semantic.MODEL_ID}, weight {weight}, depth {depth}, ledgers of "
              f"up to {whole} entries compared whole; "
              f"model load {model.load_seconds * 1000:.0f} ms, first pass (embeds the "
              f"{len(docs)} entries) {warm:.0f} ms")


if __name__ == "__main__":
    main()
