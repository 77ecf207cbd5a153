"""Slow and silent clients on loopback never starve a fast sender, and never flood the log.

The real ``agentops serve`` process, with a short read timeout and (in one test) a lowered file
descriptor limit. Every wait is bounded; nothing asserts on speed.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from srv_helpers import Client, journal_records, make_managed_repo, wait_for

TOKEN = "generic-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


class Serve:
    """``agentops serve`` with extra options and an optional descriptor limit."""

    def __init__(self, repo: Path, *args: str, nofile: int | None = None) -> None:
        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentops", "serve", "--repo", str(repo), "--port", "0",
             *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**__import__("os").environ, "AGENTOPS_GENERIC_TOKEN": TOKEN},
            preexec_fn=limit)
        self.lines: list[str] = []
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "listening on http://" in line:
                self.port = int(line.rsplit(":", 1)[1].split()[0])
                break
        else:
            raise AssertionError("serve did not start:\n" + "".join(self.lines))
        self._drain = threading.Thread(target=self._collect, daemon=True)
        self._drain.start()

    def _collect(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(60)
        self._drain.join(5)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def body(key: str) -> bytes:
    return json.dumps({"type": "attempt.failed", "source": "bench", "key": key,
                       "attributes": {"agent": "a1", "task": key}}).encode()


@contextmanager
def slow_clients(port: int, count: int, *,
                 body_phase: bool = False) -> Iterator[list[socket.socket]]:
    """``count`` connections that send a request head (or, with ``body_phase``, a body) one
    byte at a time and never finish."""
    socks: list[socket.socket] = []
    stop = threading.Event()
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            continue  # refused or reset: the server is protecting itself, which is fine
        head = (b"POST /hooks/generic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + TOKEN.encode() + b"\r\nContent-Length: 1000\r\n")
        try:
            sock.sendall(head + (b"\r\n{" if body_phase else b"X-Slow: "))
        except OSError:
            pass
        socks.append(sock)

    def trickle() -> None:
        while not stop.wait(0.3):
            for sock in socks:
                try:
                    sock.send(b"a")
                except OSError:
                    pass

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield socks
    finally:
        stop.set()
        thread.join(5)
        for sock in socks:
            sock.close()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return data == b"" or data.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize("body_phase", [False, True], ids=["headers", "body"])
def test_slow_headers_and_bodies_are_cut_off_and_fast_posts_still_commit(
        tmp_path: Path, body_phase: bool) -> None:
    repo = make_managed_repo(tmp_path / "ops")
    serve = Serve(repo, "--read-timeout", "1", "--max-connections", "20")
    try:
        client = Client(serve.port)
        wait_for(lambda: client.get("/readyz").status == 200, what="ready")
        with slow_clients(serve.port, 40, body_phase=body_phase) as socks:
            for i in range(5):
                fast = Client(serve.port)
                assert fast.post("/hooks/generic", body(f"fast-{i}"), AUTH).status == 202
                fast.close()
            assert closed_by_server(socks[-1], within=20), "a slow client was never cut off"
        wait_for(lambda: len(journal_records(repo)) >= 5, timeout=60, what="commits")
        metrics = Client(serve.port).get("/metrics").body.decode()
        assert 'reason="timeout"' in metrics or 'reason="overload"' in metrics
    finally:
        assert serve.stop() == 0, serve.stderr
    keys = {r["key"] for r in journal_records(repo)}
    assert {f"fast-{i}" for i in range(5)} <= keys


def test_a_low_descriptor_limit_and_many_silent_clients_neither_starve_nor_flood(
        tmp_path: Path) -> None:
    repo = make_managed_repo(tmp_path / "ops")
    serve = Serve(repo, "--read-timeout", "5", nofile=128)  # cap: 128 - 64 = 64 connections
    try:
        client = Client(serve.port)
        wait_for(lambda: client.get("/readyz").status == 200, what="ready")
        with slow_clients(serve.port, 300):
            for i in range(5):
                fast = Client(serve.port)
                assert fast.post("/hooks/generic", body(f"fast-{i}"), AUTH).status == 202
                fast.close()
            time.sleep(1)
        wait_for(lambda: len(journal_records(repo)) >= 5, timeout=60, what="commits")
    finally:
        assert serve.stop() == 0, serve.stderr
    log = serve.stderr
    assert "Traceback" not in log
    assert len(log) < 20_000, f"{len(log)} bytes of log:\n{log[:3000]}"
