"""``.agentops/config.yaml``: identity, redaction patterns and push settings of a repository.

Small and read on every command, so it is parsed with the C loader and validated by hand; a
missing file means the defaults. The pipeline keeps the parsed document under the git directory
by the text's SHA-256, so that a ``record`` does not import the YAML library (17 ms, a sixth
of a ``record``) while the file is unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from agentops.errors import RepoError

CONFIG_PATH = ".agentops/config.yaml"

DEFAULT_CONFIG = """\
# agentops configuration for this repository. `agentops init` wrote it; edit freely.

# Who commits. Authors are the acting agent or person (--actor, or the event's actor).
identity:
  name: agentops
  email: agentops@localhost
  # Agents without an email of their own become "<actor> <actor@EMAIL_DOMAIN>".
  email_domain: agents.invalid

# Extra regular expressions whose matches are replaced by [REDACTED:custom] before anything
# is written or committed (tokens, passwords, keys and kubeconfig data are always redacted).
redaction:
  patterns: []

# Push every agentops commit; on a non-fast-forward, fetch, replay this batch on the new
# tip (renumbering ids taken meanwhile) and push again.
push:
  enabled: false
  remote: origin
  retries: 50
"""


class Config(NamedTuple):
    name: str = "agentops"
    email: str = "agentops@localhost"
    email_domain: str = "agents.invalid"
    redaction_patterns: tuple[str, ...] = ()
    push: bool = False
    remote: str = "origin"
    push_retries: int = 50
    allow_detached_head: bool = False
    extra: Mapping[str, Any] = MappingProxyType({})

    def author(self, actor: str | None) -> str | None:
        """``Name <email>`` for an actor, or None to let git use the configured identity."""
        if not actor:
            return None
        # Never a malformed author line, whatever the actor says (intake refuses the worst).
        name = re.sub(r"[<>\x00-\x1f\x7f-\x9f]", "", actor).strip() or "agent"
        local = name.split("@")[0].strip()
        if "@" in name and " " not in name and local:
            return f"{local} <{name}>"
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "agent"
        return f"{name} <{slug}@{self.email_domain}>"


def load_config(repo: Path, *, memo: Path | None = None) -> Config:
    """The repository's config; ``memo``: a file where the parsed document is kept."""
    path = repo / CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    return _parse(_document(text, memo))


def _document(text: str, memo: Path | None) -> Any:
    from agentops.events import sha256

    key = sha256(text.encode()).hexdigest()
    try:
        saved = json.loads(memo.read_text()) if memo is not None else None
        if isinstance(saved, dict) and saved.get("sha256") == key:
            return saved.get("doc")
    except (OSError, ValueError):
        pass  # only a memo
    import yaml

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise RepoError(f"{CONFIG_PATH}{where}: invalid YAML: {exc}") from None
    if memo is not None:
        try:
            encoded = json.dumps({"sha256": key, "doc": doc})
            if json.loads(encoded)["doc"] == doc:  # only a document JSON keeps as it is
                from agentops.fsutil import atomic_write

                atomic_write(memo, encoded.encode())
        except (TypeError, ValueError, OSError):
            pass
    return doc


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name) or {}
    if not isinstance(value, dict):
        raise RepoError(f"{CONFIG_PATH}: {name}: expected a mapping")
    return value


def _parse(doc: Any) -> Config:
    if not isinstance(doc, dict):
        raise RepoError(f"{CONFIG_PATH}: expected a mapping")
    identity = _section(doc, "identity")
    redaction = _section(doc, "redaction")
    push = _section(doc, "push")
    git_section = _section(doc, "git")
    detached = git_section.get("allow_detached_head", False)
    if not isinstance(detached, bool):
        raise RepoError(f"{CONFIG_PATH}: git.allow_detached_head: expected true or false")
    patterns = redaction.get("patterns") or []
    if not isinstance(patterns, list):
        raise RepoError(f"{CONFIG_PATH}: redaction.patterns: expected a list of regexes")
    for i, pattern in enumerate(patterns):
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise RepoError(
                f"{CONFIG_PATH}: redaction.patterns[{i}]: invalid regex: {exc}") from None
    return Config(
        name=str(identity.get("name", "agentops")),
        email=str(identity.get("email", "agentops@localhost")),
        email_domain=str(identity.get("email_domain", "agents.invalid")),
        redaction_patterns=tuple(str(p) for p in patterns),
        push=bool(push.get("enabled", False)), remote=str(push.get("remote", "origin")),
        push_retries=int(push.get("retries", 50)), allow_detached_head=detached, extra=doc,
    )
