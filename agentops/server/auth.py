"""Who may post to ``/hooks/{source}``: per-source secrets, checked in constant time.

Each sender authenticates the way it can: GitHub and Flux (``generic-hmac``) sign the body with
HMAC, Alertmanager, Argo CD and generic pipelines send a bearer token (Flux may do either).
Secrets come from ``AGENTOPS_<SOURCE>_TOKEN`` / ``AGENTOPS_<SOURCE>_HMAC_SECRET`` or their
``*_FILE`` variants (Kubernetes secrets mounted as files), never from a file inside the managed
repository: anything there would be committed and pushed. A source without a secret is refused
unless the operator explicitly passes ``--insecure-no-auth``.

Checking is split in two so that a bearer token is verified before the body is read, and an
HMAC signature after (it covers the body).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentops.errors import AgentopsError
from agentops.sources import SOURCES, flux, github, header
from agentops.vocabulary import HOOK_SOURCES, Scheme

SCHEMES: Mapping[str, tuple[Scheme, ...]] = {s.name: s.schemes for s in HOOK_SOURCES.values()}
VARIABLE_SUFFIX: dict[Scheme, str] = {"bearer": "TOKEN", "hmac": "HMAC_SECRET"}


@dataclass(frozen=True)
class Credential:
    scheme: Scheme
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class AuthPolicy:
    """The configured credentials per source; every configured credential must match."""

    credentials: Mapping[str, tuple[Credential, ...]]
    insecure: bool = False

    def configured(self, source: str) -> bool:
        return bool(self.credentials.get(source))

    def check_headers(self, source: str, headers: Mapping[str, str]) -> bool:
        """Before the body is read: bearer tokens, and whether the source may post at all."""
        creds = self.credentials.get(source, ())
        if not creds:
            return self.insecure
        return all(_bearer_ok(headers, c.secret) for c in creds if c.scheme == "bearer")

    def check_body(self, source: str, headers: Mapping[str, str], body: bytes) -> bool:
        """After the body is read: HMAC signatures over it."""
        return all(
            _signature_ok(source, headers, body, c.secret)
            for c in self.credentials.get(source, ()) if c.scheme == "hmac"
        )


def variable(source: str, scheme: Scheme) -> str:
    return f"AGENTOPS_{source.upper()}_{VARIABLE_SUFFIX[scheme]}"


def load_auth(env: Mapping[str, str], *, repo: Path, insecure: bool = False) -> AuthPolicy:
    """Read every source's secrets from ``env``; AgentopsError names the bad variable."""
    credentials: dict[str, tuple[Credential, ...]] = {}
    for source in SOURCES:
        found = []
        for scheme in ("bearer", "hmac"):
            secret = _secret(env, variable(source, scheme), repo=repo)
            if secret is None:
                continue
            if scheme not in SCHEMES[source]:
                raise AgentopsError(
                    f"{variable(source, scheme)}: {source} cannot authenticate with {scheme}; "
                    f"use {' or '.join(variable(source, s) for s in SCHEMES[source])}"
                )
            found.append(Credential(scheme, secret))
        credentials[source] = tuple(found)
    return AuthPolicy(credentials, insecure=insecure)


def _secret(env: Mapping[str, str], name: str, *, repo: Path) -> bytes | None:
    value, path = env.get(name), env.get(name + "_FILE")
    if value and path:
        raise AgentopsError(f"{name} and {name}_FILE are both set; set only one")
    if path:
        return _read_secret_file(Path(path), name=name + "_FILE", repo=repo)
    if value is not None and not value.strip():
        raise AgentopsError(f"{name}: empty secret")
    return value.strip().encode() if value else None


def _read_secret_file(path: Path, *, name: str, repo: Path) -> bytes:
    resolved = path.expanduser().resolve()
    if resolved.is_relative_to(repo.resolve()):
        raise AgentopsError(
            f"{name}={path}: secret files must live outside the managed repository "
            "(everything in it is committed); mount the secret elsewhere"
        )
    try:
        secret = resolved.read_bytes().strip()
    except OSError as exc:
        raise AgentopsError(f"{name}={path}: cannot read the secret ({exc.strerror})") from None
    if not secret:
        raise AgentopsError(f"{name}={path}: the file is empty")
    return secret


def _bearer_ok(headers: Mapping[str, str], secret: bytes) -> bool:
    scheme, _, token = (header(headers, "Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Comparing digests keeps the comparison constant-time even in the token's length.
    given = hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(given, hashlib.sha256(secret).digest())


def _signature_ok(source: str, headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    if source == "github":
        return github.verify_signature(body, header(headers, "X-Hub-Signature-256"), secret)
    return flux.verify_signature(body, header(headers, "X-Signature"), secret)
