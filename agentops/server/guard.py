"""Connection limits for ``serve``: slow or idle clients are dropped before they starve others.

uvicorn times out idle keep-alive connections but not a client that opens a connection and
then sends its headers (or body) byte by byte, or never: each such connection holds a file
descriptor for good, and once the process runs out of descriptors every valid sender is refused
and ``accept()`` fails in a loop. So:

- **a header deadline**: from the moment a connection opens (or finishes a response) until the
  app receives the next request's headers, at most ``header_timeout`` seconds; then 408 and
  close. The body has its own deadline in the app (``read_body``).
- **a cap on connections**, kept below the descriptor limit: when a new connection would exceed
  it, the *oldest connection still sending* (its headers or its body) is closed — a slow
  client, never a request being processed; only when every connection is busy in the app is
  the newcomer refused with 503. A fast sender therefore always gets through.
- **rate-limited logs**: the same message at most a few times per interval, then one summary
  line, so a flood cannot fill the disk with tracebacks.

The guard wraps the uvicorn protocol class (for connection open/close) and the ASGI app (to
learn when a connection's request has reached the app and when its response is done); both
run on the event loop thread, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("agentops.serve")
READ_TIMEOUT = 15.0  # seconds for a request's headers, and again for its body
RESERVED_FDS = 64  # descriptors kept for the spool, the committer's child, logs, git
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
         b"Content-Length: 0\r\n\r\n")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def default_cap() -> int:
    """Connections allowed at once: the descriptor limit minus a reserve, at most 1024."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(8, min(1024, soft - RESERVED_FDS))


@dataclass
class _Conn:
    transport: asyncio.Transport
    opened: float
    in_app: bool = False
    reading: bool = False  # in the app, but still receiving the body: a slow sender
    timer: asyncio.TimerHandle | None = None


@dataclass
class ConnectionGuard:
    """Open connections, oldest first, with their header deadlines."""

    cap: int = field(default_factory=default_cap)
    header_timeout: float = READ_TIMEOUT
    on_drop: Callable[[str], None] = lambda reason: None
    pending: int = 0  # accepted by the socket, connection_made not yet run
    _conns: dict[Any, _Conn] = field(default_factory=dict)  # protocol -> state, oldest first
    _by_peer: dict[tuple[str, int], Any] = field(default_factory=dict)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def opened(self, protocol: Any, transport: asyncio.Transport) -> bool:
        """Register a new connection; False when it was refused (then it is being closed)."""
        self.pending = max(0, self.pending - 1)
        if len(self._conns) >= self.cap and not self._evict_slowest():
            self.on_drop("overload")
            _limited_warning("connection refused: %d connections open, all busy", self.cap)
            transport.write(_BUSY)
            transport.close()
            return False
        conn = _Conn(transport, time.monotonic())
        self._conns[protocol] = conn
        peer = _peer(transport.get_extra_info("peername"))
        if peer is not None:
            self._by_peer[peer] = protocol
        self._arm(protocol, conn)
        return True

    def closed(self, protocol: Any) -> None:
        conn = self._conns.pop(protocol, None)
        if conn is None:
            return
        if conn.timer is not None:
            conn.timer.cancel()
        peer = _peer(conn.transport.get_extra_info("peername"))
        if peer is not None and self._by_peer.get(peer) is protocol:
            del self._by_peer[peer]

    def request_started(self, client: Any, *, has_body: bool) -> None:
        """The app has the request's headers: the header deadline is met."""
        conn = self._lookup(client)
        if conn is not None:
            conn.in_app, conn.reading = True, has_body
            if conn.timer is not None:
                conn.timer.cancel()
                conn.timer = None

    def body_received(self, client: Any) -> None:
        """The whole body is in: from now on the request is work in progress, never evicted."""
        conn = self._lookup(client)
        if conn is not None:
            conn.reading = False

    def request_finished(self, client: Any) -> None:
        """The response is sent: the next request's headers have a new deadline."""
        protocol = self._by_peer.get(_peer(client) or ("", -1))
        conn = self._conns.get(protocol)
        if conn is not None:
            conn.in_app = conn.reading = False
            self._arm(protocol, conn)

    def _lookup(self, client: Any) -> _Conn | None:
        return self._conns.get(self._by_peer.get(_peer(client) or ("", -1)))

    def _arm(self, protocol: Any, conn: _Conn) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
        loop = asyncio.get_running_loop()
        conn.timer = loop.call_later(self.header_timeout, self._expire, protocol)

    def _expire(self, protocol: Any) -> None:
        conn = self._conns.get(protocol)
        if conn is None or conn.in_app:
            return
        self.on_drop("timeout")
        _limited_warning("closed a connection that sent no complete request in %gs",
                         self.header_timeout)
        self._drop(conn)

    def _evict_slowest(self) -> bool:
        for conn in self._conns.values():  # oldest first
            if (not conn.in_app or conn.reading) and not conn.transport.is_closing():
                self.on_drop("overload")
                _limited_warning("closed the oldest idle connection to admit a new one "
                                 "(%d open)", len(self._conns))
                self._drop(conn)
                return True
        return False

    def _drop(self, conn: _Conn) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        if not conn.transport.is_closing():
            conn.transport.write(_TIMEOUT)
            conn.transport.close()
        conn.in_app, conn.reading = True, False  # closing: never picked again


class GuardedSocket(socket.socket):
    """The listening socket: asyncio accepts up to ``backlog`` connections in one go, before
    any ``connection_made`` runs, which alone can exhaust the descriptors. Past the cap plus
    half the reserve, a connection is accepted and closed at once (it costs no descriptor)."""

    guard: ConnectionGuard

    @classmethod
    def wrap(cls, sock: socket.socket, guard: ConnectionGuard) -> GuardedSocket:
        out = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        out.guard = guard
        return out

    def accept(self) -> tuple[socket.socket, Any]:
        conn, address = super().accept()
        guard = self.guard
        if guard.pending + guard.open_connections >= guard.cap + RESERVED_FDS // 2:
            conn.close()
            guard.on_drop("overload")
            raise BlockingIOError  # asyncio: nothing more to accept in this round
        guard.pending += 1
        return conn, address


def _peer(address: Any) -> tuple[str, int] | None:
    if isinstance(address, (tuple, list)) and len(address) >= 2:
        return (str(address[0]), int(address[1]))
    return None


def guarded_protocol(base: type[asyncio.Protocol], guard: ConnectionGuard) -> type[Any]:
    """``base`` (a uvicorn HTTP protocol class) reporting its connections to ``guard``."""

    class Guarded(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if not guard.opened(self, transport):  # type: ignore[arg-type]
                self._refused = True
                return
            self._refused = False
            super().connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            guard.closed(self)
            if not getattr(self, "_refused", False):
                super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not getattr(self, "_refused", False):
                super().data_received(data)

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def guarded_app(app: App, guard: ConnectionGuard) -> App:
    """The ASGI app, telling ``guard`` when a request reaches it and when its response ends."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        client = scope.get("client")
        guard.request_started(client, has_body=scope.get("method") in ("POST", "PUT", "PATCH"))

        async def tracking_receive() -> Message:
            message = await receive()
            if message.get("type") == "http.request" and not message.get("more_body"):
                guard.body_received(client)
            return message

        async def tracking_send(message: Message) -> None:
            await send(message)
            if message.get("type") == "http.response.body" and not message.get("more_body"):
                guard.request_finished(client)

        await app(scope, tracking_receive, tracking_send)

    return wrapped


# --- rate-limited logging --------------------------------------------------------------------

BURST = 5  # records per message per interval
INTERVAL = 10.0


class RateLimit(logging.Filter):
    """At most ``BURST`` records of one message (logger + format string) per ``INTERVAL``;
    the next one allowed says how many were dropped meanwhile."""

    def __init__(self, *, burst: int = BURST, interval: float = INTERVAL) -> None:
        super().__init__()
        self.burst, self.interval = burst, interval
        self._seen: dict[tuple[str, str], tuple[float, int, int]] = {}  # start, count, dropped

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], OSError):
            # e.g. asyncio's "socket.accept() out of system resource": the reason, no traceback
            record.msg = f"{record.msg} ({record.exc_info[1]})"
            record.exc_info, record.exc_text = None, None
        key = (record.name, str(record.msg))
        now = time.monotonic()
        start, count, dropped = self._seen.get(key, (now, 0, 0))
        if now - start >= self.interval:
            if dropped:
                record.msg = f"{record.msg} [{dropped} similar messages suppressed]"
            start, count, dropped = now, 0, 0
        if count >= self.burst:
            self._seen[key] = (start, count, dropped + 1)
            return False
        self._seen[key] = (start, count + 1, dropped)
        if len(self._seen) > 1000:  # bounded, whatever a hostile client makes us log
            self._seen.pop(next(iter(self._seen)))
        return True


_warn_filter = RateLimit()


def _limited_warning(message: str, *args: Any) -> None:
    record = log.makeRecord(log.name, logging.WARNING, __file__, 0, message, args, None)
    if _warn_filter.filter(record):
        log.handle(record)


def limit_logs(*loggers: str) -> None:
    """Rate-limit every handler of the root logger and of ``loggers`` (uvicorn's own)."""
    targets = [logging.getLogger(), *(logging.getLogger(name) for name in loggers)]
    for logger in targets:
        for handler in logger.handlers:
            if not any(isinstance(f, RateLimit) for f in handler.filters):
                handler.addFilter(RateLimit())
