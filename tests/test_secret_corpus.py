"""Redaction checked by an independent scanner: the secret corpus goes in through every entry
point (record, hook, serve, incident update --note, MCP), then detect-secrets scans the whole
history and the work tree the tool wrote, and must find nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from cli_helpers import CliResult, run_cli, start_process
from mcp_client import call, drive
from secret_corpus import CORPUS, TEXT

TOKEN = "generic-token-for-the-corpus-test"


def agentops(repo: Path, *args: str, stdin: str | None = None) -> CliResult:
    return run_cli(args, repo=repo, input=stdin)


def ok(out: CliResult) -> str:
    assert out.returncode == 0, out.stderr
    return out.stdout


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def via_serve(repo: Path, body: bytes) -> None:
    proc = start_process(["serve", "--port", "0"], repo=repo,
                         env={"AGENTOPS_GENERIC_TOKEN": TOKEN}, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            if "listening on http://" in line:
                port = int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1])
                break
        assert port is not None, "serve did not start"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/hooks/generic", data=body, method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202
    finally:
        proc.terminate()
        assert proc.wait(60) == 0


def record_everywhere(repo: Path) -> None:
    opened = json.loads(ok(agentops(
        repo, "record", "deployment", "-f", "status=failed", "-e", "production",
        "-f", "service=api", "-f", f"reason={CORPUS[4].value}", "-m", TEXT,
        "--format", "json")))
    inc = opened["incidents"][0]["id"]
    ok(agentops(repo, "record", "ci.log", "-f", f"log={TEXT}", "-f", "namespace=prod",
                "-m", "build log attached"))
    payload = {"type": "pipeline.failed", "message": TEXT, "environment": "production",
               "attributes": {"stderr": TEXT, "lines": TEXT.splitlines()}}
    ok(agentops(repo, "hook", "generic", "-", stdin=json.dumps(payload)))
    via_serve(repo, json.dumps({**payload, "type": "pipeline.errored"}).encode())
    ok(agentops(repo, "incident", "update", inc, "--status", "Identified", "--note", TEXT))

    async def scenario(client: object) -> None:
        await call(client, "record_event", type="agent.failed", message=TEXT,  # type: ignore
                   fields={"output": TEXT})

    drive(repo, scenario)


def scan(path: Path) -> dict[str, list[dict[str, object]]]:
    """detect-secrets over every file under ``path``: its findings by file."""
    out = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--all-files", "."], cwd=path,
        capture_output=True, text=True, check=True, timeout=600)
    results: dict[str, list[dict[str, object]]] = json.loads(out.stdout)["results"]
    return results


def test_corpus_covers_at_least_forty_secrets_of_every_listed_kind() -> None:
    assert len(CORPUS) >= 40
    assert len({s.value for s in CORPUS}) == len(CORPUS)


def test_secret_corpus_through_every_entry_point_leaves_nothing_for_a_scanner(
        git_repo: Path, tmp_path: Path) -> None:
    repo = git_repo
    ok(agentops(repo, "init"))
    record_everywhere(repo)
    history = git(repo, "log", "-p", "--all")
    files = {p: p.read_text(errors="replace") for p in repo.rglob("*")
             if p.is_file() and ".git" not in p.parts}
    # no value anywhere, in the history or in any file of the work tree
    for secret in CORPUS:
        assert secret.value not in history, secret.kind
        for path, text in files.items():
            assert secret.value not in text, (secret.kind, path)
    # each replaced by a marker that says what it was
    for secret in CORPUS:
        assert f"[REDACTED:{secret.kind}]" in history, secret.kind
    assert "[REDACTED:aws-access-key-id]" in (repo / "INCIDENTS.md").read_text()
    # and the independent scanner agrees
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "git-log-p-all.txt").write_text(history)
    for path in files:
        target = dump / "worktree" / path.relative_to(repo)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert scan(dump) == {}


def test_detect_secrets_sees_the_corpus_unredacted(tmp_path: Path) -> None:
    # The scanner is not blind: on the raw corpus it reports findings of many kinds.
    (tmp_path / "raw.txt").write_text(TEXT)
    found = scan(tmp_path)["raw.txt"]
    assert len({f["type"] for f in found}) >= 15
