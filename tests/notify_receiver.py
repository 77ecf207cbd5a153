"""A real HTTP receiver on loopback that accepts what Slack and Teams incoming webhooks accept.

The checks follow the two services' documentation (the example payloads are stored in
``tests/fixtures/notify/`` and must pass them): Slack wants a JSON object with ``text`` (or
``blocks``), at most 100 attachments, blocks of known types within their length limits and a
hex ``color``; it answers ``200 ok`` or ``400 invalid_payload`` / ``no_text``. Teams wants a
``message`` whose attachments are Adaptive Cards (``Action.Submit`` is not supported by
incoming webhooks) and answers ``200 1``. A generic webhook path checks the HMAC signature.

Tests script failures (``script``: statuses to answer before accepting), stop and restart the
listener on the same port (``down``/``up``), and read what was accepted (``accepted``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLACK_BLOCKS = {"section", "header", "context", "actions", "divider", "image", "rich_text"}
TEAMS_ELEMENTS = {"TextBlock", "FactSet", "ColumnSet", "Container", "Image", "RichTextBlock"}
TEAMS_ACTIONS = {"Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"}
_HEX = re.compile(r"^#?[0-9A-Fa-f]{6}$")


class Invalid(Exception):
    pass


def _text_obj(obj: Any, limit: int, kinds: tuple[str, ...] = ("mrkdwn", "plain_text")) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        raise Invalid(f"text object of type {kinds}: {obj!r}")
    text = obj.get("text")
    if not isinstance(text, str) or not text or len(text) > limit:
        raise Invalid(f"text must be 1..{limit} characters")


def check_slack_blocks(blocks: Any) -> None:
    if not isinstance(blocks, list) or len(blocks) > 50:
        raise Invalid("blocks must be a list of at most 50")
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in SLACK_BLOCKS:
            raise Invalid(f"unknown block type {kind!r}")
        if kind == "header":
            _text_obj(block.get("text"), 150, ("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                raise Invalid("a section needs text or fields")
            if "text" in block:
                _text_obj(block["text"], 3000)
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                raise Invalid("at most 10 fields")
            for f in fields:
                _text_obj(f, 2000)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10:
                raise Invalid("context needs 1..10 elements")
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 25:
                raise Invalid("actions needs 1..25 elements")
            for e in elements:
                if e.get("type") == "button":
                    _text_obj(e.get("text"), 75, ("plain_text",))
                    if "url" in e and len(e["url"]) > 3000:
                        raise Invalid("button url too long")


def check_slack(body: Any) -> None:
    if not isinstance(body, dict):
        raise Invalid("invalid_payload")
    if not body.get("text") and not body.get("blocks"):
        raise Invalid("no_text")
    if "blocks" in body:
        check_slack_blocks(body["blocks"])
    attachments = body.get("attachments", [])
    if not isinstance(attachments, list) or len(attachments) > 100:
        raise Invalid("too_many_attachments")
    for a in attachments:
        colour = a.get("color")
        if colour is not None and colour not in ("good", "warning", "danger") and not _HEX.match(
                str(colour)):
            raise Invalid(f"bad color {colour!r}")
        if "blocks" in a:
            check_slack_blocks(a["blocks"])


def check_teams(body: Any) -> None:
    if not isinstance(body, dict) or body.get("type") != "message":
        raise Invalid('"type" must be "message"')
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        raise Invalid("attachments must be a non-empty list")
    for a in attachments:
        if a.get("contentType") != "application/vnd.microsoft.card.adaptive":
            raise Invalid("contentType must be the adaptive card type")
        card = a.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            raise Invalid("content must be an AdaptiveCard")
        if not isinstance(card.get("version"), str) or not isinstance(card.get("body"), list):
            raise Invalid("an AdaptiveCard needs version and body")
        for element in card["body"]:
            if element.get("type") not in TEAMS_ELEMENTS:
                raise Invalid(f"unsupported element {element.get('type')!r}")
            if element["type"] == "TextBlock" and not isinstance(element.get("text"), str):
                raise Invalid("a TextBlock needs text")
            if element["type"] == "FactSet":
                for fact in element.get("facts", []):
                    if not isinstance(fact.get("title"), str) or not isinstance(
                            fact.get("value"), str):
                        raise Invalid("facts need string title and value")
        for action in card.get("actions", []):
            if action.get("type") not in TEAMS_ACTIONS:
                raise Invalid(f"unsupported action {action.get('type')!r}")


class Receiver:
    """Slack at ``/slack/...``, Teams at ``/teams/...``, a signed webhook at ``/hook/...``."""

    def __init__(self, *, secret: str | None = None) -> None:
        self.secret = secret
        self.accepted: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # every request, answered or not
        self.script: list[tuple[int, dict[str, str]]] = []  # answers before accepting
        self.hold_at: int | None = None  # hold the n-th request (1-based) until released
        self.holding = threading.Event()
        self.release = threading.Event()
        self.aborted: list[dict[str, Any]] = []  # held requests whose sender went away
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        handler = _handler(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    def keys(self) -> list[str]:
        with self.lock:
            return [a["headers"].get("Idempotency-Key", "") for a in self.accepted]

    def handle(self, path: str, headers: dict[str, str], raw: bytes, *,
               gone: Any = lambda: False) -> tuple[int, dict[str, str], bytes] | None:
        with self.lock:
            self.requests.append({"path": path, "headers": headers})
            held = self.hold_at is not None and len(self.requests) == self.hold_at
            if self.script and not held:
                status, extra = self.script.pop(0)
                return status, extra, b"scripted failure"
        if held:
            self.holding.set()
            self.release.wait(60)
            if gone():  # like a receiver whose transaction rolls back on a dropped client
                with self.lock:
                    self.aborted.append({"path": path, "headers": headers})
                return None
        try:
            body = json.loads(raw)
            if path.startswith("/slack/"):
                check_slack(body)
                answer = b"ok"
            elif path.startswith("/teams/"):
                check_teams(body)
                answer = b"1"
            else:
                self._check_signature(headers, raw)
                answer = b"{}"
        except (Invalid, ValueError) as exc:
            return 400, {}, str(exc).encode()
        with self.lock:
            self.accepted.append({"path": path, "headers": headers, "body": body})
        return 200, {}, answer

    def _check_signature(self, headers: dict[str, str], raw: bytes) -> None:
        if self.secret is None:
            return
        want = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-Agentops-Signature-256", ""), want):
            raise Invalid("bad signature")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            result = receiver.handle(self.path, dict(self.headers), raw, gone=self._gone)
            if result is None:
                return
            status, extra, answer = result
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def _gone(self) -> bool:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
