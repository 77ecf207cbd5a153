"""Run the receiver under uvicorn: bind, serve, stop on a signal or a deadline, drain, exit 0.

uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, which would kill the process
before we report success; handlers installed here first receive that re-raised signal and let
``serve`` return normally once the spool is drained. The socket is bound here (not by uvicorn)
so a busy port is a clean error and ``--port 0`` can announce the port it got.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from agentops import durations, git
from agentops.errors import AgentopsError
from agentops.paths import RULES_DIR, find_repo
from agentops.server.app import MAX_BODY, Receiver, create_app
from agentops.server.auth import load_auth
from agentops.server.committer import WINDOW, Committer, Sink
from agentops.server.guard import (
    READ_TIMEOUT,
    ConnectionGuard,
    GuardedSocket,
    default_cap,
    guarded_app,
    guarded_protocol,
    limit_logs,
)
from agentops.server.metrics import Metrics
from agentops.server.sink import SubprocessSink
from agentops.server.spool import Spool, spool_dir


def parse_for(value: str | None) -> float | None:
    """``--for``: see :func:`agentops.durations.parse_for`; None when not given."""
    return None if value is None else durations.parse_for(value)


def serve(
    *, repo: Path | None, host: str, port: int, duration: str | None = None,
    insecure_no_auth: bool = False, max_body: int = MAX_BODY, window: float = WINDOW,
    sink: Sink | None = None, read_timeout: float = READ_TIMEOUT,
    max_connections: int | None = None,
) -> None:
    """Serve until a signal or ``duration``; everything accepted is committed on the way out."""
    root = git.find_root(find_repo(repo))
    seconds = parse_for(duration)
    auth = load_auth(os.environ, repo=root, insecure=insecure_no_auth)
    _setup_logging()
    if insecure_no_auth:
        log_insecure(auth.credentials)
    spool = Spool(spool_dir(root))
    spool.lock()
    try:
        committer = Committer(spool, sink or SubprocessSink(root), metrics=(metrics := Metrics()),
                              window=window)
        drainer = _drainer(root)
        receiver = Receiver(spool, committer, auth, metrics, max_body=max_body,
                            body_timeout=read_timeout,
                            notify_counts=drainer.counts if drainer else None)
        guard = ConnectionGuard(cap=max_connections or default_cap(), header_timeout=read_timeout,
                                on_drop=lambda reason: metrics.count_rejected("any", reason))
        try:
            _run(guarded_app(create_app(receiver), guard), host=host, port=port,
                 seconds=seconds, root=root, guard=guard)
        finally:
            if drainer is not None:
                drainer.stop()
    finally:
        spool.close()
    if spool.depth():
        raise AgentopsError(
            f"stopped with {spool.depth()} requests still spooled (commits failing: "
            f"{committer.last_error}); they are committed on the next start"
        )


def _drainer(root: Path) -> Any:
    """The notification sender, a thread next to the committer, when the policy has routes."""
    from agentops.policy.loader import load_policy

    try:
        policy = load_policy([root / RULES_DIR], base=root)
    except AgentopsError:
        return None  # the committer reports a broken policy; the sender waits for a restart
    if policy.notifications is None:
        return None
    from agentops.notify.sender import Drainer

    drainer = Drainer(root)
    drainer.start()
    return drainer


def _run(app: Any, *, host: str, port: int, seconds: float | None, root: Path,
         guard: ConnectionGuard) -> None:
    sock = GuardedSocket.wrap(_bind(host, port), guard)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="asyncio", http=guarded_protocol(http_protocol(), guard), lifespan="on",
        log_level="warning", access_log=False, server_header=False, timeout_graceful_shutdown=10,
    )
    limit_logs("uvicorn", "uvicorn.error", "asyncio")  # after uvicorn configured its handlers
    server = uvicorn.Server(config)
    print(f"agentops serve: listening on http://{host}:{bound} for {root}", file=sys.stderr,
          flush=True)
    timer = _stop_after(server, seconds)
    with _signals_end_gracefully():
        server.run(sockets=[sock])
    if timer is not None:
        timer.cancel()
    print("agentops serve: stopped; spool drained", file=sys.stderr, flush=True)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and
    # without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AgentopsError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)  # senders queue from now on, even before uvicorn accepts
    return sock


def http_protocol() -> type[asyncio.Protocol]:
    """uvicorn's fastest HTTP/1.1 protocol class available here (httptools, else h11)."""
    if importlib.util.find_spec("httptools"):
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol


def _stop_after(server: uvicorn.Server, seconds: float | None) -> threading.Timer | None:
    if seconds is None:
        return None
    timer = threading.Timer(seconds, partial(setattr, server, "should_exit", True))
    timer.daemon = True
    timer.start()
    return timer


@contextmanager
def _signals_end_gracefully() -> Iterator[None]:
    def ignore(sig: int, frame: FrameType | None) -> None:
        pass  # uvicorn re-raises the signal it already handled; we have drained, exit 0

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def log_insecure(credentials: Any) -> None:
    open_sources = [s for s, creds in credentials.items() if not creds]
    if open_sources:
        logging.getLogger("agentops.serve").warning(
            "--insecure-no-auth: ANYONE who can reach this port can post to %s",
            ", ".join(f"/hooks/{s}" for s in open_sources),
        )


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="agentops serve: %(levelname)s: %(message)s")
    limit_logs()
