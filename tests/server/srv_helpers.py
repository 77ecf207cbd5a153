"""Shared by the serve tests: a receiver on real loopback HTTP, a fake pipeline, real repos."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cli_helpers import run_cli, start_process
from conftest import FIXTURES

from agentops.events import Event
from agentops.server.app import Receiver, create_app
from agentops.server.auth import AuthPolicy, Credential
from agentops.server.committer import Committer
from agentops.server.metrics import Metrics
from agentops.server.spool import Spool

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "am-token-0123456789"
FLUX_SECRET = b"flux-hmac-secret"
GITHUB_SECRET = b"github-hmac-secret"


def fixture_bytes(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()


def strict_auth() -> AuthPolicy:
    """Every source protected: bearer for alertmanager/argocd/generic, HMAC for flux/github."""
    bearer = (Credential("bearer", TOKEN.encode()),)
    return AuthPolicy({
        "alertmanager": bearer, "argocd": bearer, "generic": bearer,
        "flux": (Credential("hmac", FLUX_SECRET),),
        "github": (Credential("hmac", GITHUB_SECRET),),
    })


def signed_headers(source: str, body: bytes) -> dict[str, str]:
    """The headers a legitimate sender of ``source`` would add."""
    if source == "flux":
        return {"X-Signature": "sha256=" + hmac.new(FLUX_SECRET, body, hashlib.sha256).hexdigest()}
    if source == "github":
        digest = hmac.new(GITHUB_SECRET, body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": "sha256=" + digest, "X-GitHub-Event": "workflow_run"}
    return {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class FakePipeline:
    """Stands in for ``pipeline.process``: remembers batches, reports known keys as duplicates."""

    batches: list[list[Event]] = field(default_factory=list)
    fail_with: Exception | None = None
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, events: Sequence[Event]) -> list[Any]:
        if self.fail_with is not None:
            raise self.fail_with
        with self.lock:
            self.batches.append(list(events))
            out = [_FakeOutcome(e.key in self.seen) for e in events]
            self.seen.update(e.key for e in events)
        return out

    @property
    def events(self) -> list[Event]:
        with self.lock:
            return [e for batch in self.batches for e in batch]


@dataclass(frozen=True)
class _FakeOutcome:
    duplicate: bool


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A keep-alive HTTP/1.1 client on loopback (a fresh connection after a close)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=dict(headers or {}))
                raw = self.conn.getresponse()
                out = Response(raw.status, raw.read(), {k.lower(): v for k, v in raw.getheaders()})
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
                continue
            if out.headers.get("connection", "").lower() == "close":
                self.close()
            return out
        raise AssertionError("unreachable")

    def post(self, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("POST", path, body, {"Content-Type": "application/json",
                                                 **(headers or {})})

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Running:
    port: int
    spool: Spool
    receiver: Receiver
    client: Client


@contextmanager
def running_receiver(
    spool_path: Path, sink: Callable[[Sequence[Event]], Sequence[Any]], *,
    auth: AuthPolicy | None = None, max_body: int = 1024 * 1024, window: float = 0.05,
) -> Iterator[Running]:
    """The real app under uvicorn in a thread, on a free loopback port."""
    spool = Spool(spool_path)
    metrics = Metrics()
    committer = Committer(spool, sink, metrics=metrics, window=window, retry_pause=0.1)
    receiver = Receiver(spool, committer, auth or strict_auth(), metrics, max_body=max_body)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # NODELAY
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(receiver), lifespan="on", log_level="warning",
                            loop="asyncio", http="h11", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.01)
    client = Client(sock.getsockname()[1])
    try:
        yield Running(sock.getsockname()[1], spool, receiver, client)
    finally:
        client.close()
        server.should_exit = True
        thread.join(30)
        spool.close()


def wait_for(predicate: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


# --- real repositories and the real `agentops serve` --------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def make_managed_repo(path: Path) -> Path:
    """What ``agentops init --repo PATH`` produces."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    out = run_cli(["init"], repo=path)
    if out.returncode != 0:
        raise AssertionError(f"agentops init failed:\n{out.stdout}\n{out.stderr}")
    return path


def journal_records(repo: Path) -> list[dict[str, Any]]:
    """Every journal record committed (on the journal ref)."""
    from journal_helpers import journal_records as records

    return records(repo)


def commit_count(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").strip())


class ServeProcess:
    """``agentops serve`` as a user runs it, on a port it picks itself."""

    def __init__(self, repo: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.repo = repo
        self.proc = start_process(["serve", "--port", "0", *args], repo=repo, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.port = self._read_port()
        self.client = Client(self.port)
        self._drain = threading.Thread(target=self._collect, daemon=True)
        self._drain.start()

    def _read_port(self) -> int:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "listening on http://" in line:
                return int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1])
        raise AssertionError("serve did not start:\n" + "".join(self.lines))

    def _collect(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def ready(self) -> bool:
        try:
            return Client(self.port).get("/readyz").status == 200
        except OSError:
            return False

    def stop(self, timeout: float = 60) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(timeout)
        self._drain.join(5)
        return code

    def kill(self) -> None:
        self.client.close()
        self.proc.kill()
        self.proc.wait(10)


def have_alertmanager() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
