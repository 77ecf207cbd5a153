"""One HTTP POST to one channel, and what its answer means for the message.

Stdlib ``urllib`` only: a POST of a small JSON body needs no HTTP stack, and the sender must
not add a dependency to the tool. The answer is classified into three verdicts:

- ``sent``: 2xx (and, for Teams, a body that is not its in-band ``HTTP error 429``);
- ``retry``: 429 (after ``Retry-After``, seconds or an HTTP date), 408, 425, 5xx, a refused
  connection, a timeout, a secret not (yet) available;
- ``park``: any other 4xx, or a redirect (never followed): the receiver says the payload or
  the URL is wrong, and repeating it will not change that.

The URL of a webhook is itself a secret (Slack's and Teams' carry their token in the path):
it is read at send time from its environment variable or file, and every error text is
scrubbed of it before it is logged or stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import NamedTuple

from agentops.policy.notifications import Channel, Secret

SENT, RETRY, PARK = "sent", "retry", "park"
USER_AGENT = "agentops-notify/1"


class SecretUnavailable(Exception):
    """An environment variable not set or a file not readable (yet): retried."""


class Verdict(NamedTuple):
    outcome: str  # sent | retry | park
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait


def read_secret(secret: Secret, *, repo: Path) -> str:
    """The value of an env variable or a file outside the repository (never one in git)."""
    if secret.env is not None:
        value = os.environ.get(secret.env, "").strip()
        if not value:
            raise SecretUnavailable(f"environment variable {secret.env} is not set")
        return value
    assert secret.file is not None
    path = Path(secret.file).resolve()
    if path == repo.resolve() or repo.resolve() in path.parents:
        raise SecretUnavailable(f"{secret.file} is inside the repository; keep secrets "
                                "out of git")
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretUnavailable(f"cannot read {secret.file}: {exc.strerror}") from None
    if not value:
        raise SecretUnavailable(f"{secret.file} is empty")
    return value


def signature(key: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body, as GitHub signs its webhooks."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def post(channel: Channel, payload: dict[str, object], *, repo: Path, key: str,
         timeout: float) -> Verdict:
    try:
        url = read_secret(channel.url, repo=repo)
        hmac_key = read_secret(channel.secret, repo=repo) if channel.secret else None
    except SecretUnavailable as exc:
        return Verdict(RETRY, f"channel {channel.name}: {exc}")
    if not url.startswith(("https://", "http://")):
        return Verdict(PARK, f"channel {channel.name}: the URL in "
                             f"{channel.url.describe()} is not http(s)")
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "Idempotency-Key": key, **channel.headers}
    if hmac_key is not None:
        headers["X-Agentops-Signature-256"] = signature(hmac_key, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    verdict = _send(request, timeout=timeout, teams=channel.kind == "teams")
    if verdict.error:
        secrets = [s for s in (url, hmac_key) if s]
        verdict = verdict._replace(error=scrub(verdict.error, secrets))
    return verdict


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured; following it would re-send the body (and
    the signature) somewhere else, or turn the POST into a GET."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _send(request: urllib.request.Request, *, timeout: float, teams: bool) -> Verdict:
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            text = response.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read(512).decode("utf-8", "replace").strip()
        return classify(exc.code, detail, exc.headers.get("Retry-After"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Verdict(RETRY, f"cannot reach the receiver: {reason}")
    if teams and "HTTP error 429" in text:  # Teams connectors answer 200 and say 429 inside
        return Verdict(RETRY, "throttled by Teams (429 in the response body)")
    return Verdict(SENT)


def classify(status: int, detail: str, retry_after: str | None) -> Verdict:
    message = f"HTTP {status}" + (f": {detail[:200]}" if detail else "")
    if status == 429:
        return Verdict(RETRY, message, parse_retry_after(retry_after))
    if status in (408, 425) or status >= 500:
        return Verdict(RETRY, message, parse_retry_after(retry_after))
    if 300 <= status < 400:
        return Verdict(PARK, f"HTTP {status}: the webhook redirects; configure its final URL")
    return Verdict(PARK, message)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After: 120`` or ``Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`` -> seconds."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    import time

    return max(0.0, when - (time.time() if now is None else now))


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<redacted>")
    return text
