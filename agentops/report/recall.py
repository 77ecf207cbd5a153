"""Ranked recall over MEMORY, TROUBLESHOOTING and INCIDENTS for an agent about to act.

An agent asks with what it has in hand: an error string, a Kubernetes reason, a resource kind,
a command, or a symptom in its own words. The ledger is indexed in SQLite FTS5 and ranked with
BM25, because an agent waits for the answer and parsing ten thousand entries per question would
not do. The index lives under the git directory and is only a cache: it records what it was
built from (HEAD and the size and mtime of the three files) and is rebuilt, into a new file
swapped in atomically, when that changes.

What lexical search alone lacks is added at index time:
- stemming (the FTS5 ``porter`` tokenizer): "restarting" finds "restarted", "pulls" "pull";
- field weights: the title, the error text (symptoms, the messages an entry was made from), the
  signature (event type, reason, tags), the actionable text (fix, workaround, lesson) and the
  rest of the prose weigh in that order;
- enrichment (:mod:`agentops.report.enrichment`): an entry whose reason or error text belongs to
  a known error class is also indexed with that class's documented meaning, so a described
  symptom finds the error that has that meaning, and a quoted error finds the class's entries.

Ranking: a known problem whose signature pattern (the regex TROUBLESHOOTING keeps for the
event message) matches the query comes first: the agent is holding that very error. Then BM25
times a kind boost: TROUBLESHOOTING entries and lessons people wrote rank above incidents at
equal text relevance, lessons the tool generated from a rule's template in between. Superseded
and retired lessons are left out unless asked for. Identifiers like ``CrashLoopBackOff`` are
indexed whole and also split at case changes (``crash loop back off``). Each hit carries its
actionable text, its evidence, and why it matched (the fields and words, the signature, the
error classes).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agentops.errors import AgentopsError
from agentops.ledger.memory import GENERATED_TAG
from agentops.ledger.model import PLACEHOLDER, Incident, MemoryEntry, TroubleshootingEntry
from agentops.report import enrichment

SCHEMA: Final = "4"  # 4: incidents as the tool opened them are left to their problem
FIELDS: Final = ("title", "error", "signature", "action", "body", "meaning")
WEIGHTS: Final = (8.0, 4.0, 4.0, 3.0, 1.5, 1.0)
BOOST: Final = {"troubleshooting": 1.5, "memory": 1.5, "generated": 1.2, "incident": 1.0}
MAX_QUERY_TERMS: Final = 40
_WORD_RE: Final = re.compile(r"[^\W_]+")
_CAMEL_RE: Final = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOP: Final = frozenset({
    "a", "about", "after", "all", "an", "and", "any", "are", "as", "at", "be", "because",
    "been", "but", "by", "can", "do", "does", "for", "from", "had", "has", "have", "how", "i",
    "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our",
    "so", "some", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "to", "us", "was", "we", "were", "what", "when", "which", "while", "who", "why", "will",
    "with", "you", "your",
})
_STORED: Final = ("id", "kind", "status", "heading", "text", "evidence", "pattern", "boost",
                  "actions", "classes")
_COLUMNS: Final = (*FIELDS, *_STORED)
_MARK_RE: Final = re.compile("\x01(.*?)\x02")


class RecallError(AgentopsError):
    """The query has nothing to search for, or this Python's SQLite lacks FTS5."""


@dataclass(frozen=True, slots=True)
class Doc:
    """One entry as indexed: the weighted fields and what a hit shows."""

    id: str
    kind: str
    status: str
    title: str
    error: str
    signature: str
    action: str
    body: str
    text: str
    evidence: tuple[str, ...]
    pattern: str = ""
    boost: float = 1.0
    actions: dict[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


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
    actions: dict[str, str] = field(default_factory=dict)
    why: tuple[str, ...] = ()
    # the error classes (ids) the query quotes that this entry belongs to: the query holds an
    # error of the entry's kind (the semantic re-ranker keeps such a first candidate first)
    classes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "title": self.title,
                "text": self.text, "actions": dict(self.actions),
                "evidence": list(self.evidence), "score": round(self.score, 4),
                "signature_match": self.signature_match, "why": list(self.why)}


# --- documents ---------------------------------------------------------------------------------


def _section(entry: Incident | TroubleshootingEntry | MemoryEntry, heading: str) -> str:
    body = entry.sections.get(heading, "").strip()
    return "" if body == PLACEHOLDER else body


def _prose(entry: Incident | TroubleshootingEntry | MemoryEntry, *headings: str,
           labelled: bool = False) -> str:
    parts = []
    for heading in headings:
        body = _section(entry, heading)
        if body:
            parts.append(f"{heading}: {body}" if labelled else body)
    return "\n\n".join(parts)


def _others(entry: Incident | TroubleshootingEntry | MemoryEntry, known: Sequence[str]) -> str:
    return _prose(entry, *(h for h in entry.sections if h not in known))


def _words(*values: str | None) -> str:
    return " ".join(v for v in values if v)


def _actions(entry: Incident | TroubleshootingEntry | MemoryEntry,
             **headings: str) -> dict[str, str]:
    return {name: body for name, heading in headings.items() if (body := _section(entry, heading))}


_TS_KNOWN: Final = ("Symptoms", "Diagnosis", "Workaround", "Fix")


def troubleshooting_doc(ts: TroubleshootingEntry) -> Doc:
    sig = ts.signature
    return Doc(ts.id, "troubleshooting", "", ts.title, error=_prose(ts, "Symptoms"),
               signature=_words(sig.event_type, sig.reason, ts.category),
               action=_prose(ts, "Fix", "Workaround"),
               body=_prose(ts, "Diagnosis") + "\n\n" + _others(ts, _TS_KNOWN),
               text=_prose(ts, "Workaround", "Fix", labelled=True), evidence=ts.incidents,
               pattern=sig.pattern or "", boost=BOOST["troubleshooting"],
               actions=_actions(ts, diagnosis="Diagnosis", workaround="Workaround", fix="Fix"),
               reasons=(sig.reason,) if sig.reason else ())


def memory_doc(mem: MemoryEntry) -> Doc:
    generated = GENERATED_TAG in mem.tags
    return Doc(mem.id, "memory", mem.status, mem.title, error="",
               signature=_words(*(t for t in mem.tags if t != GENERATED_TAG)),
               action=_prose(mem, "Lesson"), body=_others(mem, ("Lesson",)),
               text=_prose(mem, "Lesson"), evidence=mem.evidence,
               boost=BOOST["generated" if generated else "memory"],
               actions={"lesson": mem.title, **_actions(mem, context="Context")})


_INC_KNOWN: Final = ("Description", "Related Logs", "Resolution", "Lessons Learned", "Timeline",
                     "Follow-up Actions")


def incident_doc(inc: Incident) -> Doc:
    related = ((inc.troubleshooting,) if inc.troubleshooting else ()) + inc.memory
    return Doc(inc.id, "incident", inc.status, inc.title,
               error=_prose(inc, "Description", "Related Logs"),
               signature=_words(inc.rule, inc.dedup_key, inc.category, inc.subject,
                                inc.root_cause_category),
               action=_prose(inc, "Resolution", "Lessons Learned"),
               body=_others(inc, _INC_KNOWN),
               text=_prose(inc, "Root Cause", "Resolution", labelled=True), evidence=related,
               boost=BOOST["incident"],
               actions=_actions(inc, root_cause="Root Cause", resolution="Resolution"))


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
    """An FTS5 expression matching any of the query's words (each quoted, so never syntax),
    plus the tokens of the error classes the query quotes."""
    terms = query_terms(query)
    if not terms:
        raise RecallError(f"recall: {query!r} has no words to search for")
    tokens = [c.token for c in enrichment.classify(query)]
    return " OR ".join(f'"{t}"' for t in [*terms, *tokens])


def doc_classes(d: Doc) -> list[enrichment.ErrorClass]:
    """The error classes an entry belongs to: by its reason, its title or its error text."""
    return enrichment.classify("\n".join((d.title, d.error)), d.reasons)


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
        columns = ", ".join(c if c in FIELDS else f"{c} UNINDEXED" for c in _COLUMNS)
        try:
            db.execute(f"CREATE VIRTUAL TABLE docs USING fts5({columns}, "
                       "tokenize = 'porter unicode61 remove_diacritics 2')")
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


def _row(d: Doc) -> tuple[Any, ...]:
    found = doc_classes(d)
    meaning = "\n".join(f"{c.token} {c.meaning}" for c in found)
    classes = json.dumps([[c.id, c.token, c.source] for c in found])
    return (expand(d.title), expand(d.error), expand(d.signature), expand(d.action),
            expand(d.body), meaning, d.id, d.kind, d.status, d.title, d.text,
            json.dumps(list(d.evidence)), d.pattern, d.boost, json.dumps(d.actions), classes)


# superseded and retired lessons are left out unless asked for (the parameter)
ELIGIBLE: Final = "(kind != 'memory' OR status = 'active' OR ?)"
_HIGHLIGHTS: Final = ", ".join(f"highlight(docs, {i}, char(1), char(2))"
                               for i in range(len(FIELDS)))
_SEARCH: Final = f"""
SELECT rowid, id, kind, status, heading, text, evidence, bm25(docs, {', '.join(map(str, WEIGHTS))})
  * boost AS rank, actions, classes, {_HIGHLIGHTS} FROM docs
WHERE docs MATCH ? AND {ELIGIBLE} {{extra}}
ORDER BY rank, CASE kind WHEN 'troubleshooting' THEN 0 WHEN 'memory' THEN 1 ELSE 2 END, id
LIMIT ?
"""


def search(path: Path, query: str, *, limit: int = 10, include_all: bool = False) -> list[Hit]:
    """The best ``limit`` entries for ``query``, known problems whose signature pattern matches
    the query first; the score is -BM25 times the kind's boost."""
    expression = fts_query(query)
    asked = {c.token for c in enrichment.classify(query)}
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
    hits = {r[1]: _hit(r, r[0] in known, asked) for r in rows}
    ranked = sorted(hits.values(), key=lambda h: (not h.signature_match, -h.score))
    return ranked[:limit]


def entries(path: Path, ids: Sequence[str]) -> list[Hit]:
    """The entries of ``ids`` as hits with no lexical score, for a re-ranker that found them by
    other means."""
    if not ids:
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(f"SELECT id, kind, status, heading, text, evidence, actions FROM docs "
                          f"WHERE id IN ({', '.join('?' * len(ids))})", list(ids)).fetchall()
    finally:
        db.close()
    return [Hit(id=r[0], kind=r[1], status=r[2], title=r[3], text=r[4],
                evidence=tuple(json.loads(r[5])), score=0.0, actions=json.loads(r[6]))
            for r in rows]


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


def _hit(row: Sequence[Any], signature_match: bool, asked: set[str]) -> Hit:
    classes: list[list[str]] = json.loads(row[9])  # [id, token, source] per class
    return Hit(id=row[1], kind=row[2], status=row[3], title=row[4], text=row[5],
               evidence=tuple(json.loads(row[6])), score=-float(row[7]),
               signature_match=signature_match, actions=json.loads(row[8]),
               why=_why(row, signature_match, asked, classes),
               classes=tuple(class_id for class_id, token, _ in classes if token in asked))


def _why(row: Sequence[Any], signature_match: bool, asked: set[str],
         classes: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The reasons a hit matched: the signature, the words found per field, the error classes
    (with the documentation their meaning comes from)."""
    out = ["its signature pattern matches the query"] if signature_match else []
    tokens = {token for _, token, _ in classes}
    for name, marked in zip(FIELDS, row[10:], strict=True):
        words = dict.fromkeys(w.lower() for w in _MARK_RE.findall(marked or "")
                              if w.lower() not in tokens)
        if words:
            label = "documented meaning" if name == "meaning" else name
            out.append(f"{label}: {', '.join(list(words)[:8])}")
    for class_id, token, source in classes:
        if token in asked:
            out.append(f"error class {class_id} ({source})")
    return tuple(out)


def to_text(hits: Sequence[Hit]) -> str:
    if not hits:
        return "no matches"
    out = []
    for h in hits:
        status = f" [{h.status}]" if h.status and h.kind == "memory" else ""
        known = ", signature match" if h.signature_match else ""
        out.append(f"{h.id} ({h.kind}{status}{known}, score {h.score:.3g}) {h.title}")
        out += [f"    {line}" for line in h.text.splitlines() if line.strip()]
        if h.evidence:
            out.append(f"    evidence: {', '.join(h.evidence)}")
        if h.why:
            out.append(f"    why: {'; '.join(h.why)}")
    return "\n".join(out)
