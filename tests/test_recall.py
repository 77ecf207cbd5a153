"""``agentops recall``: ranked entries for an agent holding an error string."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli
from report_helpers import (
    T0,
    add,
    add_archived,
    agentops_json,
    git,
    incident,
    init,
    memory,
    minutes,
    troubleshooting,
)

from agentops.ledger.model import template_sections
from agentops.report import recall

DAY = T0.date().isoformat()
PULL_ERROR = 'Back-off pulling image "registry/api:4.2": not found'


@pytest.fixture
def repo(git_repo: Path) -> Path:
    init(git_repo)
    add(git_repo,
        troubleshooting(1, "ImagePullBackOff on a tag that was never pushed", reason="BackOff",
                        pattern="Back-off pulling image", incidents=(f"INC-{DAY}-001",),
                        Symptoms="Pods stuck in `ImagePullBackOff`.",
                        Workaround="Roll back to the previous revision.",
                        Fix="Check the tag exists in the registry before merging."),
        troubleshooting(2, "CrashLoopBackOff after a config change", reason="BackOff",
                        Symptoms="Container restarts with exit code 137 (OOMKilled).",
                        Workaround="Raise the memory limit."),
        troubleshooting(3, "Migration blocked by a lock timeout", event_type="attempt.failed",
                        Symptoms="`lock timeout` from the database during `migrate`.",
                        Workaround="Stop the batch job holding the lock."),
        memory(1, "Check that an image tag exists before deploying it to prod",
               evidence=(f"INC-{DAY}-001",), tags=("deploy", "images")),
        memory(2, "Restart the registry mirror when image pulls fail", status="retired",
               lesson="Restart the registry mirror when pulling an image fails."),
        incident(1, T0, title="Deployment of api failed in prod", sections=template_sections(
            "incident", Description=f"Rollout failed: {PULL_ERROR}",
            Related_Logs=f"kubelet: {PULL_ERROR}", Root_Cause="The tag was never pushed.")),
        incident(2, T0 + minutes(30), title="api pods crash looping",
                 sections=template_sections("incident", Description="CrashLoopBackOff on api")))
    return git_repo


def ids(repo: Path, query: str, *args: str) -> list[str]:
    return [h["id"] for h in agentops_json(repo, "recall", query, *args)["hits"]]


def test_the_error_text_of_a_known_problem_returns_its_troubleshooting_entry_first(
        repo: Path) -> None:
    hits = agentops_json(repo, "recall", PULL_ERROR)["hits"]
    assert hits[0] == {
        "id": "TS-0001", "kind": "troubleshooting", "status": "",
        "title": "ImagePullBackOff on a tag that was never pushed",
        "text": "Workaround: Roll back to the previous revision.\n\n"
                "Fix: Check the tag exists in the registry before merging.",
        "actions": {"workaround": "Roll back to the previous revision.",
                    "fix": "Check the tag exists in the registry before merging."},
        "evidence": [f"INC-{DAY}-001"], "score": hits[0]["score"], "signature_match": True,
        "why": hits[0]["why"]}
    assert hits[0]["why"][0] == "its signature pattern matches the query"
    assert "error class image-pull-backoff (https://kubernetes.io/docs/concepts/containers/" \
           "images/#imagepullbackoff)" in hits[0]["why"]
    assert hits[0]["score"] > 0
    assert not any(h["signature_match"] for h in hits[1:])
    assert f"INC-{DAY}-001" in [h["id"] for h in hits]
    inc = next(h for h in hits if h["id"] == f"INC-{DAY}-001")
    assert inc["text"] == "Root Cause: The tag was never pushed."


@pytest.mark.parametrize(("query", "first"), [
    ("CrashLoopBackOff", "TS-0002"),
    ("crash loop", "TS-0002"),
    ("ImagePullBackOff", "TS-0001"),
    ("OOMKilled", "TS-0002"),
    ("exit code 137", "TS-0002"),
    ("lock timeout", "TS-0003"),
    ("roll back to the previous revision", "TS-0001"),
])
def test_kubernetes_reasons_and_phrases_match(repo: Path, query: str, first: str) -> None:
    assert ids(repo, query)[0] == first


def test_a_retired_memory_is_excluded_unless_all(repo: Path) -> None:
    query = "restart registry mirror"
    assert "MEM-0002" not in ids(repo, query)
    hits = agentops_json(repo, "recall", query, "--all")["hits"]
    assert hits[0]["id"] == "MEM-0002" and hits[0]["status"] == "retired"
    text = run_cli(["recall", query, "--all"], repo=repo).stdout
    assert text.splitlines()[0].startswith("MEM-0002 (memory [retired], score ")


def test_troubleshooting_and_memory_outrank_incidents_at_equal_relevance(repo: Path) -> None:
    add(repo, memory(3, "Zebra quota exceeded"),
        incident(3, T0 + minutes(60), title="Zebra quota exceeded"))
    assert ids(repo, "zebra quota") == ["MEM-0003", f"INC-{DAY}-003"]


def test_the_index_follows_head_and_edits(repo: Path) -> None:
    assert ids(repo, "certificate expired") == []
    add(repo, troubleshooting(4, "Certificate expired on the ingress"))
    assert ids(repo, "certificate expired") == ["TS-0004"]
    index = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    assert (repo / index / "agentops" / "recall.sqlite").exists() or (
        index / "agentops" / "recall.sqlite").exists()
    # an uncommitted edit is seen too (the files' size and mtime are part of the stamp)
    path = repo / "TROUBLESHOOTING.md"
    path.write_text(path.read_text().replace("Certificate expired", "Certificate revoked"))
    assert ids(repo, "certificate revoked") == ["TS-0004"]


def test_archived_incidents_are_found(repo: Path) -> None:
    assert ids(repo, "etcd leader election") == []
    add_archived(repo, incident(1, T0 - minutes(60 * 24 * 40), title="etcd leader election lost",
                                resolved=T0 - minutes(60 * 24 * 39)))
    assert ids(repo, "etcd leader election") == ["INC-2026-09-23-001"]


def test_limit_and_a_query_without_words(repo: Path) -> None:
    assert len(ids(repo, PULL_ERROR, "--limit", "2")) == 2
    out = run_cli(["recall", "! ?"], repo=repo)
    assert out.returncode == 1 and "has no words to search for" in out.stderr


def test_camel_case_identifiers_are_split_into_extra_words() -> None:
    assert recall.camel_parts("ImagePullBackOff") == ["Image", "Pull", "Back", "Off"]
    assert recall.camel_parts("OOMKilled") == ["OOM", "Killed"]
    assert recall.query_terms("the CrashLoopBackOff of a pod") == [
        "crashloopbackoff", "crash", "loop", "back", "off", "pod"]
    assert recall.fts_query('say "xx" NEAR y*') == '"say" OR "xx" OR "near"'


def test_an_error_class_means_only_what_holds_for_every_error_it_matches() -> None:
    from agentops.report import enrichment

    def ids(text: str) -> list[str]:
        return [c.id for c in enrichment.classify(text)]

    # a CI runner's full disk is not told the database's write-ahead log story
    assert ids("System.IO.IOException: No space left on device : '/data/x.log'") == ["disk-full"]
    assert ids('PANIC: could not write to file "pg_wal/xlogtemp.9": No space left on device') \
        == ["disk-full", "pg-disk-full"]
    for c in enrichment.classes():  # each meaning says where it comes from
        assert c.source.startswith("https://"), c.id
