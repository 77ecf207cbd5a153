"""The Starlette app: ``POST /hooks/{source}``, ``/healthz``, ``/readyz``, ``/metrics``.

The request path does only what must happen before "202 Accepted": authenticate, bound and read
the body, parse it with the shared adapters, fsync it into the spool, wake the committer. Git is
never touched here. Every refusal is decided before anything is written, and bad input always
gets a 4xx with the reason; only a failing spool (the disk) answers 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agentops.errors import InvalidEventError
from agentops.server.auth import AuthPolicy
from agentops.server.committer import Committer
from agentops.server.metrics import CONTENT_TYPE, Metrics
from agentops.server.payload import MalformedBody, parse_body
from agentops.server.spool import Spool
from agentops.sources import SOURCES

log = logging.getLogger("agentops.serve")
MAX_BODY = 1024 * 1024


class BodyTooLarge(Exception):
    pass


@dataclass
class Receiver:
    """Everything a request needs; one per server."""

    spool: Spool
    committer: Committer
    auth: AuthPolicy
    metrics: Metrics
    max_body: int = MAX_BODY
    body_timeout: float = 15.0  # seconds for the whole body, however slowly it trickles in
    notify_counts: Callable[[], dict[str, int]] | None = None  # the sender's deliveries

    async def hook(self, request: Request) -> Response:
        source = request.path_params["source"]
        if source not in SOURCES:
            return self._reject("unknown", "unknown_source", 404,
                                f"unknown source {source!r} (valid: {', '.join(SOURCES)})")
        self.metrics.count_received(source)
        headers = dict(request.headers)
        if not self.auth.check_headers(source, headers):
            return self._unauthorized(source)
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await read_body(request, self.max_body)
        except TimeoutError:
            return self._reject(source, "timeout", 408,
                                f"body not received within {self.body_timeout:g}s", close=True)
        except BodyTooLarge:
            return self._reject(source, "too_large", 413,
                                f"body larger than {self.max_body} bytes", close=True)
        except ClientDisconnect:
            return self._reject(source, "malformed", 400, "client disconnected", close=True)
        if not self.auth.check_body(source, headers, body):
            return self._unauthorized(source)
        return await self._accept(source, body, headers)

    async def _accept(self, source: str, body: bytes, headers: dict[str, str]) -> Response:
        try:
            events = parse_body(source, body, headers)
        except MalformedBody as exc:
            return self._reject(source, "malformed", 400, str(exc))
        except InvalidEventError as exc:
            return self._reject(source, "invalid", 422, str(exc))
        name = None
        if events:
            try:
                name = await run_in_threadpool(  # a slow disk must not stall /healthz
                    self.spool.put, source, events, received=time.time())
            except OSError as exc:
                log.error("cannot spool a %s request: %s", source, exc)
                return self._reject(source, "spool_error", 503, "cannot store the event; retry")
            self.committer.notify()
        self.metrics.count_accepted(source, len(events))
        return JSONResponse({"accepted": len(events), "spooled": name}, status_code=202)

    def _unauthorized(self, source: str) -> Response:
        response = self._reject(source, "unauthorized", 401, "missing or invalid credentials",
                                close=True)
        response.headers["WWW-Authenticate"] = 'Bearer realm="agentops"'
        return response

    def _reject(
        self, source: str, reason: str, status: int, message: str, *, close: bool = False
    ) -> Response:
        self.metrics.count_rejected(source, reason)
        response = JSONResponse({"error": message}, status_code=status)
        if close:  # the unread rest of the body must not be taken for the next request
            response.headers["Connection"] = "close"
        return response

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(self, request: Request) -> Response:
        committer = self.committer
        if committer.healthy:
            return PlainTextResponse("ready\n")
        reason = (
            "stopping" if not committer.alive else
            "draining the spool left by the previous run" if not committer.recovered else
            f"commits failing: {committer.last_error}"  # one line, bounded (one_line)
        )
        return PlainTextResponse(f"not ready: {reason}\n", status_code=503)

    async def metrics_text(self, request: Request) -> Response:
        text = await run_in_threadpool(
            lambda: self.metrics.render(
                spool_depth=self.spool.depth(), spool_failed=self.spool.failed_count(),
                notify=self.notify_counts() if self.notify_counts else None))
        return Response(text, media_type=CONTENT_TYPE)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed ``limit`` (header or bytes so far)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(receiver: Receiver) -> Starlette:
    """The ASGI app; its lifespan runs the committer (drain on start, drain on stop)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        receiver.committer.start()
        yield
        await run_in_threadpool(receiver.committer.stop)

    routes = [
        Route("/hooks/{source}", receiver.hook, methods=["POST"]),
        Route("/healthz", receiver.healthz, methods=["GET"]),
        Route("/readyz", receiver.readyz, methods=["GET"]),
        Route("/metrics", receiver.metrics_text, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
