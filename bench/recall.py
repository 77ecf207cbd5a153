"""Recall quality on a held-out set (default bench/recall_eval.yaml): recall@1 and recall@3.

The corpus of the set becomes TROUBLESHOOTING and MEMORY entries (rendered and parsed back by the
ledger, as a repository would hold them), indexed by ``agentops.report.recall``; each query's
expected entry should come first. Figures are printed for the two halves: queries quoting an
error message and queries describing the symptom in other words.

    python bench/recall.py [--set PATH] [--show-misses]

A set either holds its corpus or names, as ``corpus: <file>``, the set whose corpus its queries
are asked against (bench/recall_holdout.yaml does: a second set written blind against the same
ledger), resolved relative to the repository root.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="path", type=Path, default=EVAL,
                        help="query set (YAML); default bench/recall_eval.yaml")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    data = yaml.safe_load(args.path.read_text())
    corpus = data["corpus"]
    if isinstance(corpus, str):  # a held-out set asked against another set's corpus
        corpus = yaml.safe_load((ROOT / corpus).read_text())["corpus"]
    docs = list(recall.documents(
        incidents=[], troubleshooting=[ts_entry(t) for t in corpus["troubleshooting"]],
        memories=[memory_entry(m) for m in corpus["memory"]]))
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "recall.sqlite"
        recall.build(index, docs, stamp="bench")
        totals: dict[str, list[int]] = {}
        misses = []
        for q in data["queries"]:
            got = [h.id for h in recall.search(index, q["q"], limit=3)]
            row = totals.setdefault(q["kind"], [0, 0, 0])
            row[0] += 1
            row[1] += bool(got[:1] == [q["expect"]])
            row[2] += q["expect"] in got
            if got[:1] != [q["expect"]]:
                misses.append((q["kind"], q["expect"], got, q["q"]))
    print(f"recall on {args.path.name}: {len(docs)} entries, {len(data['queries'])} queries")
    print(f"{'half':<12}{'queries':>8}{'recall@1':>10}{'recall@3':>10}")
    for kind, (n, at1, at3) in sorted(totals.items()):
        print(f"{kind:<12}{n:>8}{at1 / n:>10.2f}{at3 / n:>10.2f}")
    if args.show_misses:
        for kind, expect, got, text in misses:
            print(f"miss {kind:<10} want {expect} got {got}: {text}")


if __name__ == "__main__":
    main()
