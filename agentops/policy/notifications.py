"""Channels and routes: who hears about which incident transition (``rules/*.yaml``).

The seed's runbooks notify as a matter of course (P0 pages and ``@here``, P1 ``@here``, P2 a
post, stakeholders updated every 30 minutes). This module turns the three policy keys that say
so into frozen records, with the same ``file:line: key.path: message`` errors as the triggers:

    channels:                      # named targets; URLs and secrets never live in git
      incidents:
        kind: slack                # slack | teams | webhook
        url: {env: SLACK_INCIDENTS_URL}          # or {file: /run/secrets/slack-url}
    routes:                        # first to last; every matching route adds its channels
      - name: p0-p1-to-incidents
        to: [incidents]
        severities: [CRITICAL, HIGH]
        environments: [production]                 # optional: any when absent
        transitions: [opened, acknowledged, status_changed, update, resolved]
        every: 30m                 # an update message while the incident stays open
        mention: "@here"
    notify:
      give_up_after: 6h            # then the message is parked (``check``, ``/metrics``)

It is imported by the loader only when a policy uses one of those keys, so a policy without
notifications costs ``record`` nothing. Matching (:meth:`Notifications.targets`) is pure and
shared by the pipeline, the lifecycle commands, ``rules test`` and the sender.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from agentops.durations import seconds
from agentops.policy.yamldoc import RuleError, expect_mapping, expect_str, unknown_key
from agentops.vocabulary import canonical_severity, severity_help

TRANSITIONS = (
    "opened", "acknowledged", "status_changed", "update", "resolved", "followup_overdue",
    "postmortem_due",
)
CHANNEL_KINDS = ("slack", "teams", "webhook")
CHANNEL_KEYS = ("kind", "url", "secret", "mention", "headers")
ROUTE_KEYS = (
    "name", "to", "severities", "categories", "environments", "transitions", "every",
    "mention",
)
SETTING_KEYS = ("give_up_after", "retry_initial", "retry_max", "timeout", "incident_url")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_HEADER_RE = re.compile(r"^[A-Za-z0-9-]+$")


class Secret(NamedTuple):
    """Where a URL or key is read at send time: an environment variable or a file."""

    env: str | None = None
    file: str | None = None

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"


class Channel(NamedTuple):
    name: str
    kind: str
    url: Secret
    secret: Secret | None = None  # webhook: HMAC-SHA256 key for X-Agentops-Signature
    mention: str | None = None
    headers: Mapping[str, str] = MappingProxyType({})


class Route(NamedTuple):
    name: str
    to: tuple[str, ...]
    severities: frozenset[str]  # empty: any
    categories: frozenset[str]
    environments: frozenset[str]
    transitions: frozenset[str]
    every: timedelta | None = None
    mention: str | None = None

    def matches(self, *, transition: str, severity: str, category: str,
                environment: str | None) -> bool:
        return (transition in self.transitions
                and (not self.severities or severity in self.severities)
                and (not self.categories or category in self.categories)
                and (not self.environments or (environment or "") in self.environments))


class Settings(NamedTuple):
    give_up_after: timedelta = timedelta(hours=6)
    retry_initial: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=10)
    timeout: timedelta = timedelta(seconds=10)
    incident_url: str | None = None  # e.g. https://git.example.com/ops/-/blob/main/INCIDENTS.md#{id}


class Target(NamedTuple):
    """One channel a transition goes to, with the mention of the route that chose it."""

    channel: str
    mention: str | None


class Notifications(NamedTuple):
    channels: Mapping[str, Channel]
    routes: tuple[Route, ...]
    settings: Settings

    def targets(self, *, transition: str, severity: str, category: str,
                environment: str | None) -> tuple[Target, ...]:
        """The channels of every matching route, each once (the first route's mention wins)."""
        out: dict[str, Target] = {}
        for route in self.routes:
            if route.matches(transition=transition, severity=severity, category=category,
                             environment=environment):
                for name in route.to:
                    mention = route.mention or self.channels[name].mention
                    out.setdefault(name, Target(name, mention))
        return tuple(out.values())

    def cadence(self, *, severity: str, category: str, environment: str | None
                ) -> timedelta | None:
        """How often an open incident gets an ``update`` message: the shortest ``every``."""
        found = [r.every for r in self.routes if r.every is not None and r.matches(
            transition="update", severity=severity, category=category, environment=environment)]
        return min(found) if found else None


Guard = Callable[[str, Callable[[], None]], None]  # (file label, build step) -> errors kept


def compile_notifications(
    merged: Mapping[str, list[tuple[str, int, Any, str]]], guard: Guard, *,
    categories: Iterable[str], environments: Iterable[str],
) -> Notifications:
    """Build the records from the loader's merged documents; each problem goes to ``guard``."""
    channels: dict[str, Channel] = {}
    declared: dict[str, Any] = {}  # a broken channel still exists for the routes naming it
    for label, _, item, path in merged["channels"]:
        if not isinstance(item, Mapping) or path != "channels":
            guard(label, _fail(path, "expected a mapping of channel name to {kind, url, ...}"))
            continue
        declared.update(item)
        for name, spec in item.items():
            def add(name: Any = name, spec: Any = spec) -> None:
                channels[name] = _channel(name, spec, f"channels.{name}")
            guard(label, add)
    settings = Settings()
    for label, _, item, path in merged["notify"]:
        def one(item: Any = item, path: str = path) -> None:
            nonlocal settings
            settings = _settings(settings, item, path)
        guard(label, one)
    known = _Known(frozenset(declared), frozenset(categories), frozenset(environments))
    routes: list[Route] = []
    names: set[str] = set()
    for label, _, item, path in merged["routes"]:
        def build(item: Any = item, path: str = path) -> None:
            route = _route(item, path, known)
            if route.name in names:
                raise RuleError(f"{path}.name", f"duplicate route name {route.name!r}")
            names.add(route.name)
            routes.append(route)
        guard(label, build)
    return Notifications(MappingProxyType(channels), tuple(routes), settings)


def parse_duration(value: Any, path: str) -> timedelta:
    """The rules' one duration grammar (:mod:`agentops.durations`): ``30s``, ``5m``, ``1h``."""
    secs = seconds(value) if isinstance(value, str) else None
    if secs is None:
        raise RuleError(path, f"{value!r} is not a duration like 30m, 1h, 7d")
    return timedelta(seconds=secs)


def _fail(path: str, message: str) -> Callable[[], None]:
    def fail() -> None:
        raise RuleError(path, message)
    return fail


class _Known(NamedTuple):
    channels: frozenset[str]
    categories: frozenset[str]
    environments: frozenset[str]


def _channel(name: Any, spec: Any, here: str) -> Channel:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RuleError(here, f"{name!r} must be lower-case letters, digits, - _ .")
    spec = expect_mapping(spec, here, CHANNEL_KEYS, ("kind", "url"))
    kind = spec["kind"]
    if kind not in CHANNEL_KINDS:
        raise RuleError(f"{here}.kind", f"{kind!r} is not one of {', '.join(CHANNEL_KINDS)}")
    if "secret" in spec and kind != "webhook":
        raise RuleError(f"{here}.secret", "only a webhook channel signs its body")
    return Channel(
        name=name, kind=kind, url=_secret(spec["url"], f"{here}.url"),
        secret=_secret(spec["secret"], f"{here}.secret") if "secret" in spec else None,
        mention=expect_str(spec["mention"], f"{here}.mention") if "mention" in spec else None,
        headers=MappingProxyType(_headers(spec.get("headers", {}), f"{here}.headers")),
    )


def _secret(value: Any, path: str) -> Secret:
    if isinstance(value, str):
        raise RuleError(path, "a webhook URL or key is a secret and must not be written in "
                        "rules/ (which is in git): give {env: VARIABLE} or {file: /abs/path}")
    spec = expect_mapping(value, path, ("env", "file"))
    if len(spec) != 1:
        raise RuleError(path, "give exactly one of env or file")
    if "env" in spec:
        env = spec["env"]
        if not isinstance(env, str) or not _ENV_RE.match(env):
            raise RuleError(f"{path}.env", f"{env!r} is not an environment variable name")
        return Secret(env=env)
    file = expect_str(spec["file"], f"{path}.file")
    if not file.startswith("/"):
        raise RuleError(f"{path}.file", f"{file!r} must be an absolute path outside the "
                        "repository (a relative path would point into git)")
    return Secret(file=file)


def _headers(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise RuleError(path, "expected a mapping of header name to value")
    for key, text in value.items():
        if not isinstance(key, str) or not _HEADER_RE.match(key):
            raise RuleError(f"{path}.{key}", f"{key!r} is not an HTTP header name")
        if not isinstance(text, str) or "\n" in text or "\r" in text:
            raise RuleError(f"{path}.{key}", "expected a one-line string")
    return dict(value)


def _route(item: Any, path: str, known: _Known) -> Route:
    if "[" not in path:
        raise RuleError(path, "expected a list of routes")
    spec = expect_mapping(item, path, ROUTE_KEYS, ("name", "to", "transitions"))
    name = expect_str(spec["name"], f"{path}.name")
    if not _NAME_RE.match(name):
        raise RuleError(f"{path}.name", f"{name!r} must be lower-case letters, digits, - _ .")
    to = _names(spec["to"], f"{path}.to", known.channels, "channel")
    transitions = _names(spec["transitions"], f"{path}.transitions", TRANSITIONS, "transition")
    every = parse_duration(spec["every"], f"{path}.every") if "every" in spec else None
    if every is not None and (every < timedelta(minutes=1) or "update" not in transitions):
        raise RuleError(f"{path}.every", "an update cadence of at least 1m, for a route whose "
                        "transitions include update")
    return Route(
        name=name, to=to,
        severities=frozenset(_severity(s, f"{path}.severities[{i}]")
                             for i, s in enumerate(_list(spec.get("severities"),
                                                         f"{path}.severities"))),
        categories=frozenset(_names(spec.get("categories", []), f"{path}.categories",
                                    known.categories, "category", empty=True)),
        environments=frozenset(_names(spec.get("environments", []), f"{path}.environments",
                                      known.environments, "environment", empty=True)),
        transitions=frozenset(transitions), every=every,
        mention=expect_str(spec["mention"], f"{path}.mention") if "mention" in spec else None,
    )


def _list(value: Any, path: str) -> list[Any]:
    items = [] if value is None else [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise RuleError(path, "expected a list")
    return items


def _names(value: Any, path: str, allowed: Iterable[str], what: str, *,
           empty: bool = False) -> tuple[str, ...]:
    items = _list(value, path)
    if not items and not empty:
        raise RuleError(path, f"expected at least one {what}")
    choices = sorted(allowed)
    for i, name in enumerate(items):
        if name not in choices:
            message = unknown_key(name, choices).replace("unknown key", f"unknown {what}")
            raise RuleError(f"{path}[{i}]", message)
    return tuple(dict.fromkeys(items))


def _severity(value: Any, path: str) -> str:
    found = canonical_severity(value) if isinstance(value, str) else None
    if found is None:
        raise RuleError(path, f"{value!r} is not a severity: {severity_help()}")
    return found


def _settings(settings: Settings, item: Any, path: str) -> Settings:
    spec = expect_mapping(item, path, SETTING_KEYS)
    changes: dict[str, Any] = {}
    for key in ("give_up_after", "retry_initial", "retry_max", "timeout"):
        if key in spec:
            changes[key] = parse_duration(spec[key], f"{path}.{key}")
            if not changes[key]:
                raise RuleError(f"{path}.{key}", "must be longer than 0s")
    if "incident_url" in spec:
        url = expect_str(spec["incident_url"], f"{path}.incident_url")
        if not url.startswith(("https://", "http://")) or "{id}" not in url:
            raise RuleError(f"{path}.incident_url",
                            "expected an http(s) URL with {id} where the incident id goes")
        changes["incident_url"] = url
    return settings._replace(**changes)


# --- rules test ------------------------------------------------------------------------------


class _Opened(NamedTuple):
    opened: datetime
    severity: str
    category: str
    environment: str | None


class Simulation:
    """The notifications an event sequence produces, for ``rules test`` (no ledger, no clock).

    Opening and resolving decisions become ``opened`` and ``resolved``; between steps, every
    cadence slot an open incident passed becomes one ``update`` (what the sender would make).
    """

    def __init__(self, notifications: Notifications | None) -> None:
        self.notes = notifications
        self.open: dict[str, _Opened] = {}
        self.slots: dict[str, int] = {}

    def step(self, decisions: Iterable[Any], *, environment: str | None,
             now: datetime) -> list[dict[str, Any]]:
        if self.notes is None:
            return []
        out = self._ticks(now)
        for d in decisions:
            key = d.dedup_key or ""
            if d.action == "open" and d.severity and d.category:
                self.open[key] = _Opened(now, d.severity, d.category, environment)
                out += self._sent("opened", self.open[key])
            elif d.action == "resolve" and key in self.open:
                out += self._sent("resolved", self.open.pop(key))
                self.slots.pop(key, None)
        return out

    def _ticks(self, now: datetime) -> list[dict[str, Any]]:
        assert self.notes is not None
        out = []
        for key, inc in self.open.items():
            every = self.notes.cadence(severity=inc.severity, category=inc.category,
                                       environment=inc.environment)
            if every is None:
                continue
            slot = int((now - inc.opened) / every)
            if slot > self.slots.get(key, 0):
                self.slots[key] = slot
                out += self._sent("update", inc)
        return out

    def _sent(self, transition: str, inc: _Opened) -> list[dict[str, Any]]:
        assert self.notes is not None
        return [{"transition": transition, "to": t.channel, "mention": t.mention,
                 "severity": inc.severity}
                for t in self.notes.targets(transition=transition, severity=inc.severity,
                                            category=inc.category, environment=inc.environment)]
