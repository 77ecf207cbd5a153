"""Ranked recall over MEMORY, TROUBLESHOOTING and INCIDENTS for an agent about to act.

An agent asks with what it has in hand: an error string, a Kubernetes reason, a resource kind,
a command. The ledger is indexed in SQLite FTS5 and ranked with BM25, because an agent waits
for the answer and parsing ten thousand entries per question would not do. The index lives
under the git directory and is only a cache: it records what it was built from (HEAD and the
size and mtime of the three files) and is rebuilt, into a new file swapped in atomically, when
that changes.

Ranking: a known problem whose signature pattern (the regex TROUBLESHOOTING keeps for the
event message) matches the query comes first: the agent is holding that very error. Then
BM25, where titles and signatures (event type, reason, pattern, tags) weigh more than prose,
and TROUBLESHOOTING and MEMORY entries rank above incidents at equal text relevance (a known
fix or a lesson is what an agent should read first). Superseded and retired lessons are left out
unless asked for. Identifiers like ``CrashLoopBackOff`` are indexed whole and also split at
case changes (``crash loop back off``), so either spelling finds them.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agentops.errors import AgentopsError
from agentops.ledger.model import PLACEHOLDER, Incident, MemoryEntry, TroubleshootingEntry

SCHEMA: Final = "2"
WEIGHTS: Final = (10.0, 6.0, 1.0)  # title, signature, body
BOOST: Final = {"troubleshooting": 1.5, "memory": 1.5, "incident": 1.0}
MAX_QUERY_TERMS: Final = 40
_WORD_RE: Final = re.compile(r"[^\W_]+")
_CAMEL_RE: Final = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOP: Final = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is", "it",
    "its", "no", "not", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will",
    "with",
})
_COLUMNS: Final = ("title", "signature", "body", "id", "kind", "status", "heading", "text",
                   "evidence", "pattern")


class RecallError(AgentopsError):
    """The query has nothing to search for, or this Python's SQLite lacks FTS5."""


@dataclass(frozen=True, slots=True)
class Doc:
    """One entry as indexed: the three weighted fields and what a hit shows."""

    id: str
    kind: str
    status: str
    title: str
    signature: str
    body: str
    text: str
    evidence: tuple[str, ...]
    pattern: str = ""


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    kind: str
    status: str
    title: str
    text: str
    evidence: tuple[str, ...]
    score: float
    signature_match: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "title": self.title,
                "text": self.text, "evidence": list(self.evidence),
                "score": round(self.score, 4), "signature_match": self.signature_match}


# --- documents ---------------------------------------------------------------------------------


def _prose(entry: Incident | TroubleshootingEntry | MemoryEntry, *headings: str,
           labelled: bool = False) -> str:
    parts = []
    for heading in headings:
        body = entry.sections.get(heading, "").strip()
        if body and body != PLACEHOLDER:
            parts.append(f"{heading}: {body}" if labelled else body)
    return "\n\n".join(parts)


def _words(*values: str | None) -> str:
    return " ".join(v for v in values if v)


def troubleshooting_doc(ts: TroubleshootingEntry) -> Doc:
    sig = ts.signature
    return Doc(ts.id, "troubleshooting", "", ts.title,
               _words(sig.event_type, sig.reason, sig.pattern, ts.problem, ts.category),
               _prose(ts, "Symptoms", "Diagnosis", "Workaround", "Fix"),
               _prose(ts, "Workaround", "Fix", labelled=True), ts.incidents, sig.pattern or "")


def memory_doc(mem: MemoryEntry) -> Doc:
    return Doc(mem.id, "memory", mem.status, mem.title, _words(*mem.tags),
               _prose(mem, "Lesson", "Context"), _prose(mem, "Lesson"), mem.evidence)


def incident_doc(inc: Incident) -> Doc:
    related = ((inc.troubleshooting,) if inc.troubleshooting else ()) + inc.memory
    return Doc(inc.id, "incident", inc.status, inc.title,
               _words(inc.rule, inc.dedup_key, inc.category, inc.subject, inc.root_cause_category),
               _prose(inc, "Description", "Impact", "Root Cause", "Resolution", "Lessons Learned",
                      "Related Logs"),
               _prose(inc, "Root Cause", "Resolution", labelled=True), related)


def documents(*, incidents: Iterable[Incident], troubleshooting: Iterable[TroubleshootingEntry],
              memories: Iterable[MemoryEntry]) -> Iterator[Doc]:
    yield from (troubleshooting_doc(t) for t in troubleshooting)
    yield from (memory_doc(m) for m in memories)
    yield from (incident_doc(i) for i in incidents)


# --- tokens ------------------------------------------------------------------------------------


def camel_parts(word: str) -> list[str]:
    """``ImagePullBackOff`` -> Image, Pull, Back, Off; ``OOMKilled`` -> OOM, Killed."""
    return _CAMEL_RE.findall(word)


def expand(text: str) -> str:
    """The text plus the case-change splits of its identifiers, as extra words."""
    extra = [" ".join(parts) for word in set(_WORD_RE.findall(text))
             if len(parts := camel_parts(word)) > 1]
    return text if not extra else text + "\n" + " ".join(sorted(extra))


def query_terms(query: str) -> list[str]:
    """The distinct lower-case words of a query and their case-change splits, stop words out."""
    terms: dict[str, None] = {}
    for word in _WORD_RE.findall(query):
        for term in (word, *camel_parts(word)):
            low = term.lower()
            if len(low) > 1 and low not in _STOP:
                terms.setdefault(low)
    return list(terms)[:MAX_QUERY_TERMS]


def fts_query(query: str) -> str:
    """An FTS5 expression matching any of the query's words (each quoted, so never syntax)."""
    terms = query_terms(query)
    if not terms:
        raise RecallError(f"recall: {query!r} has no words to search for")
    return " OR ".join(f'"{t}"' for t in terms)


# --- the index ---------------------------------------------------------------------------------


def stored_stamp(path: Path) -> str | None:
    """What the index at ``path`` was built from, or None when there is no usable index."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'stamp'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return str(row[0]) if row else None


def build(path: Path, docs: Iterable[Doc], *, stamp: str) -> int:
    """Write a fresh index to a new file, then swap it in; returns the number of entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        count = _fill(tmp, docs, stamp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _fill(tmp: Path, docs: Iterable[Doc], stamp: str) -> int:
    db = sqlite3.connect(tmp)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        columns = ", ".join(c if i < 3 else f"{c} UNINDEXED" for i, c in enumerate(_COLUMNS))
        try:
            db.execute(f"CREATE VIRTUAL TABLE docs USING fts5({columns}, "
                       "tokenize = 'unicode61 remove_diacritics 2')")
        except sqlite3.OperationalError as exc:
            raise RecallError(f"recall needs SQLite with FTS5 ({exc})") from None
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        rows = [_row(d) for d in docs]
        db.executemany(f"INSERT INTO docs VALUES ({', '.join('?' * len(_COLUMNS))})", rows)
        db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("stamp", stamp), ("schema", SCHEMA)])
        db.commit()
    finally:
        db.close()
    return len(rows)


def _row(d: Doc) -> tuple[str, ...]:
    return (expand(d.title), expand(d.signature), expand(d.body), d.id, d.kind, d.status,
            d.title, d.text, json.dumps(list(d.evidence)), d.pattern)


_RANK: Final = f"""bm25(docs, {', '.join(map(str, WEIGHTS))}) * (CASE kind
  WHEN 'troubleshooting' THEN {BOOST['troubleshooting']}
  WHEN 'memory' THEN {BOOST['memory']} ELSE {BOOST['incident']} END)"""
_KIND_ORDER: Final = "CASE kind WHEN 'troubleshooting' THEN 0 WHEN 'memory' THEN 1 ELSE 2 END"
_SEARCH: Final = f"""
SELECT rowid, id, kind, status, heading, text, evidence, {_RANK} AS rank FROM docs
WHERE docs MATCH ? AND (kind != 'memory' OR status = 'active' OR ?) {{extra}}
ORDER BY rank, {_KIND_ORDER}, id LIMIT ?
"""


def search(path: Path, query: str, *, limit: int = 10, include_all: bool = False) -> list[Hit]:
    """The best ``limit`` entries for ``query``, known problems whose signature pattern matches
    the query first; the score is -BM25 times the kind's boost."""
    expression = fts_query(query)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        known = signature_matches(db, query)
        rows = db.execute(_SEARCH.format(extra=""), (expression, include_all, limit)).fetchall()
        if known:
            marks = ", ".join("?" * len(known))
            rows += db.execute(_SEARCH.format(extra=f"AND rowid IN ({marks})"),
                               (expression, include_all, *known, len(known))).fetchall()
    finally:
        db.close()
    hits = {r[1]: _hit(r, r[0] in known) for r in rows}
    ranked = sorted(hits.values(), key=lambda h: (not h.signature_match, -h.score))
    return ranked[:limit]


def signature_matches(db: sqlite3.Connection, query: str) -> set[int]:
    """Rows of TROUBLESHOOTING entries whose signature pattern (a regex) matches the query."""
    found = set()
    for rowid, pattern in db.execute(
            "SELECT rowid, pattern FROM docs WHERE kind = 'troubleshooting' AND pattern != ''"):
        try:
            if re.search(pattern, query):
                found.add(int(rowid))
        except re.error:
            continue  # lint reports bad patterns; recall still answers
    return found


def _hit(row: Sequence[Any], signature_match: bool) -> Hit:
    return Hit(id=row[1], kind=row[2], status=row[3], title=row[4], text=row[5],
               evidence=tuple(json.loads(row[6])), score=-float(row[7]),
               signature_match=signature_match)


def to_text(hits: Sequence[Hit]) -> str:
    if not hits:
        return "no matches"
    out = []
    for h in hits:
        status = f" [{h.status}]" if h.status and h.kind == "memory" else ""
        known = ", signature match" if h.signature_match else ""
        out.append(f"{h.id} ({h.kind}{status}{known}, score {h.score:.2f}) {h.title}")
        out += [f"    {line}" for line in h.text.splitlines() if line.strip()]
        if h.evidence:
            out.append(f"    evidence: {', '.join(h.evidence)}")
    return "\n".join(out)
