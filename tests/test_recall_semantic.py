"""``agentops recall --semantic``: a symptom told in other words finds its known problem.

The ledger is built with the CLI, as an agent would build it (failed deployments, incidents
resolved with a root cause and a fix). The tests that run the model need the ``semantic`` extra,
which the ``test`` extra includes (CI installs it); the others run without it.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli
from report_helpers import agentops_json, git, init
from test_signatures import OOM, deploy_failed, pull

import agentops.report

CERT = ('Get "https://billing.internal:8443/v1/invoices": tls: failed to verify certificate: '
        'x509: certificate has expired or is not yet valid: current time 2026-11-30T10:00:00Z '
        'is after 2026-11-29T23:59:59Z')


def needs_the_extra() -> None:
    """Skips unless the extra and the model's packages are installed (CI installs both)."""
    for module in ("numpy", "tokenizers"):
        pytest.importorskip(module, reason="the 'semantic' extra is not installed")
    from agentops.report import semantic

    try:
        semantic.archive_parts()
    except semantic.ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def repo(git_repo: Path) -> Path:
    init(git_repo)
    outcomes = [deploy_failed(git_repo, "api", pull("registry.example.com/payments/api:v2.3.1")),
                deploy_failed(git_repo, "worker", OOM.format(name="worker")),
                deploy_failed(git_repo, "web", CERT)]
    resolutions = [
        ("The regcred pull secret still held the robot token rotated on Monday.",
         "Recreate the regcred secret from the current robot token, then restart the rollout."),
        ("The worker's batch size grew and its heap passed the container's limit.",
         "Raise the worker's memory limit to 1Gi and cap the batch size."),
        ("cert-manager could not renew the billing certificate: its issuer was deleted.",
         "Recreate the issuer, renew the certificate and restart the web pods."),
    ]
    for outcome, (cause, fix) in zip(outcomes, resolutions, strict=True):
        incidents = outcome["incidents"]
        assert isinstance(incidents, list)
        agentops_json(git_repo, "incident", "resolve", str(incidents[0]["id"]),
                      "--root-cause", cause, "--resolution", fix)
    return git_repo


def first(repo: Path, query: str, *args: str) -> dict[str, object]:
    hits = agentops_json(repo, "recall", query, *args)["hits"]
    assert hits, query
    return hits[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("query", "expect"), [
    ("the cluster is not allowed to download our container image from the private registry",
     "TS-0001"),
    ("the worker process ran out of RAM and the kernel killed it", "TS-0002"),
    ("calls to the billing service fail because its TLS cert is no longer valid", "TS-0003"),
])
def test_a_described_symptom_ranks_its_troubleshooting_entry_first(
        repo: Path, query: str, expect: str) -> None:
    needs_the_extra()
    hit = first(repo, query, "--semantic")
    assert hit["id"] == expect
    assert hit["kind"] == "troubleshooting"
    assert "Fix: From INC-" in str(hit["text"])
    why = hit["why"]
    assert isinstance(why, list) and why[-1].startswith("meaning close to the query (cosine ")


def test_the_environment_turns_it_on_and_entry_vectors_are_cached(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_the_extra()
    query = "the worker process ran out of RAM and the kernel killed it"
    monkeypatch.setenv("AGENTOPS_RECALL_SEMANTIC", "1")
    assert "meaning close to the query" in str(first(repo, query)["why"])
    lexical = agentops_json(repo, "recall", query, "--lexical", "-n", "30")["hits"]
    assert lexical and not any("meaning close" in str(h["why"]) for h in lexical)
    first(repo, query)
    gitdir = Path(git(repo, "rev-parse", "--absolute-git-dir").strip())
    db = sqlite3.connect(gitdir / "agentops" / "recall-vectors.sqlite")
    try:
        stored = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    finally:
        db.close()
    index = sqlite3.connect(gitdir / "agentops" / "recall.sqlite")
    try:
        entries = index.execute("SELECT count(*) FROM docs").fetchone()[0]
    finally:
        index.close()
    # a ledger this small is compared whole: one vector per entry, kept for the next query
    assert stored == entries > len(lexical)


def test_without_the_extra_the_error_names_it(repo: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers fails
    monkeypatch.delitem(sys.modules, "agentops.report.semantic", raising=False)
    monkeypatch.delattr(agentops.report, "semantic", raising=False)
    out = run_cli(["recall", "--semantic", "image pull"], repo=repo)
    assert out.returncode == 1
    assert "semantic recall needs the 'semantic' extra (tokenizers is missing): " \
           "pip install 'agentops-ledger[semantic]'" in out.stderr


def test_the_default_path_imports_no_model_code(repo: Path) -> None:
    probe = ("import runpy, sys\n"
             f"sys.argv = ['agentops', 'recall', 'image pull', '--repo', {str(repo)!r}]\n"
             "try:\n    runpy.run_module('agentops', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "heavy = ('numpy', 'tokenizers', 'agentops.report.semantic')\n"
             "print(sorted(m for m in sys.modules if m in heavy))\n")
    env = {k: v for k, v in os.environ.items() if k != "AGENTOPS_RECALL_SEMANTIC"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.splitlines()[-1] == "[]"
    assert "TS-0001" in out.stdout


def test_vectors_of_texts_no_entry_has_are_pruned(repo: Path) -> None:
    needs_the_extra()
    from agentops.report import semantic

    query = "the worker process ran out of RAM and the kernel killed it"
    first(repo, query, "--semantic")
    gitdir = Path(git(repo, "rev-parse", "--absolute-git-dir").strip())
    cache = gitdir / "agentops" / "recall-vectors.sqlite"
    db = sqlite3.connect(cache)
    try:
        live = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
        # vectors of old texts of edited entries, as months of edits would leave them
        db.executemany("INSERT INTO vectors VALUES (?, ?)",
                       [(f"old{i}", b"") for i in range(200)])
        db.commit()
        assert semantic.prune(gitdir / "agentops" / "recall.sqlite", cache) == 200
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == live
    finally:
        db.close()


def test_a_symptom_sharing_no_word_with_the_ledger_is_found_by_meaning(repo: Path) -> None:
    needs_the_extra()
    query = "RAM exhausted"  # no entry has either word, nor their stems
    assert agentops_json(repo, "recall", query, "--lexical")["hits"] == []
    hit = first(repo, query, "--semantic")
    assert hit["id"] == "TS-0002"
    why = hit["why"]  # found by meaning alone: no field, word or error class matched
    assert isinstance(why, list) and len(why) == 1
    assert why[0].startswith("meaning close to the query (cosine ")


def test_a_query_about_nothing_in_the_ledger_still_finds_nothing(repo: Path) -> None:
    needs_the_extra()
    query = "quarterly revenue forecast for the finance team"
    assert agentops_json(repo, "recall", query, "--semantic")["hits"] == []
    out = run_cli(["recall", "--semantic", query], repo=repo)
    assert out.returncode == 0 and out.stdout.strip() == "no matches"



HOSTNAME = ('Get "https://grafana.example.org/api/health": tls: failed to verify certificate: '
            'x509: certificate is valid for ingress.local, not grafana.example.org')
UNKNOWN_CA = ('Post "https://vault.internal:8200/v1/auth": tls: failed to verify certificate: '
              'x509: certificate signed by unknown authority')
QUOTED_HOSTNAME = ("tls: failed to verify certificate: x509: certificate is valid for "
                   "*.svc.local, svc.local, not metrics.example.org")


class LeaningModel:
    """A stand-in for the model that finds the expired-certificate entry closest to the query,
    as the real one may for errors of one family, which read alike to it."""

    def __init__(self, query: str) -> None:
        self.query = query

    def embed(self, texts: list[str]) -> object:
        import numpy as np

        rows = []
        for text in texts:
            if text == self.query:
                rows.append([0.9, 0.3, 0.3])  # closest to the expired entry
            else:
                rows.append([float("has expired" in text), float("is valid for" in text),
                             float("unknown authority" in text)])
        vectors = np.array(rows, dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@pytest.mark.parametrize(("query", "expect"), [
    (QUOTED_HOSTNAME, "TS-0002"),  # the error's own entry, first by BM25, stays first
    ("clients reject the certificate of the server", "TS-0001"),  # quotes no error: re-ranked
])
def test_a_quoted_error_keeps_the_entry_lexical_recall_put_first(
        git_repo: Path, query: str, expect: str) -> None:
    needs_the_extra()
    from agentops.report import semantic

    init(git_repo)
    for service, message in (("web", CERT), ("grafana", HOSTNAME), ("vault", UNKNOWN_CA)):
        deploy_failed(git_repo, service, message)
    assert first(git_repo, QUOTED_HOSTNAME, "--lexical")["id"] == "TS-0002"
    index = Path(git(git_repo, "rev-parse", "--absolute-git-dir").strip()) / "agentops" / \
        "recall.sqlite"
    hits = semantic.search(index, query, m=LeaningModel(query))  # type: ignore[arg-type]
    assert hits[0].id == expect
    kept = "kept first: lexical recall's best match, of the error class the query quotes"
    if expect == "TS-0002":
        assert "error class x509-hostname (https://pkg.go.dev/crypto/x509#HostnameError)" \
            in hits[0].why
        assert kept in hits[0].why
    else:
        assert not any(kept in h.why for h in hits)


def test_the_model_computes_what_sentence_transformers_publishes() -> None:
    """The numpy encoder against the reference: sentence-transformers documents these
    similarities for all-mpnet-base-v2 (the example of ``SentenceTransformer``'s docstring,
    sentence_transformers/SentenceTransformer.py)."""
    needs_the_extra()
    from agentops.report import semantic

    vectors = semantic.model().embed(["The weather is lovely today.", "It's so sunny outside!",
                                      "He drove to the stadium."])
    similarities = vectors @ vectors.T
    assert similarities[0, 1:].tolist() == pytest.approx([0.6817, 0.0492], abs=1e-4)
    assert similarities[1, 2] == pytest.approx(0.0421, abs=1e-4)


def test_a_missing_model_package_names_the_command_that_installs_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("numpy", "tokenizers"):  # not the model: this is the message without it
        pytest.importorskip(module, reason="the 'semantic' extra is not installed")
    from agentops.report import semantic

    monkeypatch.setattr(semantic, "MODEL_PARTS",
                        (("agentops-no-such-model-part", "part.zip.001"),))
    with pytest.raises(semantic.ModelError) as caught:
        semantic.Model.load(directory=Path(os.environ["AGENTOPS_MODEL_CACHE"]) / "empty")
    requirements = Path(__file__).resolve().parents[1] / "agentops" / "data" / "semantic" / \
        "model-requirements.txt"
    assert str(caught.value) == (
        "semantic recall: the model package agentops-no-such-model-part is not installed: "
        f"pip install --no-deps --require-hashes -r {requirements}")
    assert requirements.is_file()


def test_a_damaged_cached_file_is_unpacked_again(tmp_path: Path) -> None:
    """The cache is derived from the packages: a file there that is not the upstream one (cut
    short by a full disk, say) is never used, but replaced by the checked file."""
    needs_the_extra()
    from agentops.report import semantic

    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    (tmp_path / "tokenizer.json").write_text("{}")
    notes: list[str] = []
    semantic.Model.load(directory=tmp_path, progress=notes.append)
    assert len(notes) == 1 and notes[0].startswith("agentops: unpacking the semantic model")
    for name, sha in semantic.MODEL_FILES.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == sha


def test_the_model_is_unpacked_once_and_progress_says_so(tmp_path: Path) -> None:
    """A fresh cache directory: the first load unpacks the two files (and says so), the second
    reads them as they are."""
    needs_the_extra()
    from agentops.report import semantic

    notes: list[str] = []
    semantic.Model.load(directory=tmp_path, progress=notes.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "tokenizer.json"]
    assert len(notes) == 1 and notes[0].startswith(
        "agentops: unpacking the semantic model all-mpnet-base-v2 (once, about 440 MB)")
    stamp = (tmp_path / "model.safetensors").stat().st_mtime_ns
    semantic.Model.load(directory=tmp_path, progress=notes.append)
    assert len(notes) == 1 and (tmp_path / "model.safetensors").stat().st_mtime_ns == stamp


def split_archive(tmp_path: Path, files: dict[str, bytes], pieces: int = 3) -> list[Path]:
    """A zip of ``files`` under the model's folder, split in byte ranges as the PyPI packages
    split the real one."""
    import zipfile

    from agentops.report import semantic

    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(f"{semantic.MODEL_ID}/{name}", data)
    data = archive.read_bytes()
    step = len(data) // pieces + 1
    paths = []
    for n in range(pieces):
        paths.append(tmp_path / f"model.zip.00{n + 1}")
        paths[-1].write_bytes(data[n * step:(n + 1) * step])
    return paths


def test_an_archive_that_is_not_upstream_s_is_refused_and_nothing_is_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read across the pieces' boundaries, the archive's files are checked as they are
    unpacked: another file is refused, nothing is left in the cache, and the hint reinstalls
    (pip would keep packages already installed)."""
    needs_the_extra()
    from agentops.report import semantic

    other = random.Random(7).randbytes(100_000)  # incompressible: it spans the three pieces
    parts = split_archive(tmp_path, {"model.safetensors": other, "tokenizer.json": b"{}"})
    monkeypatch.setattr(semantic, "archive_parts", lambda: parts)
    cache = tmp_path / "cache"
    with pytest.raises(semantic.ModelError) as caught:
        semantic.Model.load(directory=cache)
    assert str(caught.value).startswith(
        f"semantic recall: {semantic.MODEL_ID}/model.safetensors in the installed archive is "
        "not the upstream file (sha256 differs); reinstall: pip install --no-deps "
        "--force-reinstall --require-hashes -r ")
    assert list(cache.iterdir()) == []


def test_a_damaged_archive_piece_is_reported_not_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_the_extra()
    from agentops.report import semantic

    parts = split_archive(tmp_path, {"model.safetensors": bytes(range(256)) * 400,
                                     "tokenizer.json": b"{}"})
    middle = bytearray(parts[1].read_bytes())
    middle[len(middle) // 2:len(middle) // 2 + 64] = bytes(64)  # inside the deflate stream
    parts[1].write_bytes(bytes(middle))
    monkeypatch.setattr(semantic, "archive_parts", lambda: parts)
    with pytest.raises(semantic.ModelError,
                       match=r"^semantic recall: the installed model archive is damaged \(.+\); "
                             r"reinstall: pip install --no-deps --force-reinstall "):
        semantic.Model.load(directory=tmp_path / "cache")
