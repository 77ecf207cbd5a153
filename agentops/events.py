"""The Event record: the one shape every source (CLI, webhook, cluster watch) produces.

An event is a fact that happened: a failed deployment, a denied approval, a warning from the
cluster. It carries an idempotency key, given by the source or derived from its content, so that
the same fact seen twice is recorded once.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from agentops.errors import InvalidEventError


def _builtin_sha256() -> Callable[[bytes], Any]:
    """CPython's built-in SHA-256: importing hashlib loads OpenSSL, 2 ms of every record."""
    for name in ("_sha256", "_sha2"):  # 3.11, then 3.12+
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


_SHA256 = _builtin_sha256()


def sha256(data: bytes) -> Any:
    """A SHA-256 hash object (``hexdigest()``, ``digest()``)."""
    return _SHA256(data)

TYPE_RE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+\Z")
_FRACTION_RE = re.compile(r"(\.\d{6})\d+")
_WRITTEN_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z")
SUBJECT_FIELDS = ("cluster", "namespace", "kind", "name")
TOP_FIELDS = (
    "type", "time", "source", "subject", "environment", "actor", "message", "attributes", "key",
)
MAX_MESSAGE = 64 * 1024
MAX_ACTOR = 200
MAX_NAME = 1024  # source, environment, subject fields, key: identifiers, not prose
# Text that cannot be stored at all: a lone surrogate has no UTF-8 form (the spool, the journal
# and git would all fail on it later, after the event was acknowledged).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Names (actor, source, environment, subject, key) end up in commit authors, trailers and
# one-line markdown: no control characters (C0, DEL, C1) and no invisible format characters
# (zero-width, bidi overrides) that would make `git log` show another name than the real one.
_NAME_BAD_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
    "\ud800-\udfff]")
_NAME_FIELDS = ("source", "environment", "actor")

EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://agentops.dev/schemas/event.json",
    "title": "agentops Event",
    "description": "One fact reported to agentops by an agent, a pipeline or the cluster.",
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {
        "type": {
            "type": "string",
            "pattern": TYPE_RE.pattern.replace("\\Z", "$"),  # ECMA-262 has no \Z
            "description": "Dotted event type, e.g. deployment.failed, k8s.warning.",
        },
        "time": {
            "type": "string",
            "format": "date-time",
            "description": "When it happened (ISO 8601; stored in UTC). Defaults to now.",
        },
        "source": {"type": "string", "minLength": 1, "description": "Who reported it."},
        "subject": {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: {"type": ["string", "null"]} for name in SUBJECT_FIELDS},
        },
        "environment": {"type": ["string", "null"]},
        "actor": {"type": ["string", "null"], "description": "Agent or person that acted."},
        "message": {"type": "string", "maxLength": MAX_MESSAGE},
        "attributes": {"type": "object", "description": "Type-specific fields."},
        "key": {
            "type": "string",
            "minLength": 1,
            "description": "Idempotency key; derived from the content when absent.",
        },
    },
}


class Subject(NamedTuple):
    """What the event is about."""

    cluster: str | None = None
    namespace: str | None = None
    kind: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k in SUBJECT_FIELDS if (v := getattr(self, k)) is not None}


class Event(NamedTuple):
    """One normalised fact. Build it with :func:`make_event` or :func:`event_from_dict`.

    A NamedTuple, not a frozen dataclass: as immutable and as fast to read, but cheap to
    define and to copy, which the start-up of ``record`` and the engine's hot path both feel.
    """

    type: str
    time: datetime
    source: str
    subject: Subject
    environment: str | None
    actor: str | None
    message: str
    attributes: Mapping[str, Any]
    key: str
    id: str = ""  # derived from the key

    def with_environment(self, environment: str | None) -> Event:
        """A copy placed in another environment (the hot path of normalisation)."""
        return _new_event(Event, (*self[:4], environment, *self[5:]))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "time": format_time(self.time)}
        out["source"] = self.source
        subject = self.subject.to_dict()
        if subject:
            out["subject"] = subject
        for name in ("environment", "actor"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.message:
            out["message"] = self.message
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        out["key"] = self.key
        return out


_new_event = tuple.__new__


def to_precision(value: datetime) -> datetime:
    """``value`` cut to the one precision every recorded time keeps: milliseconds.

    One precision everywhere, so that two times taken a moment apart compare the way they
    read: an ack taken right after a detection can never sort before it because one of them
    was rounded to seconds and the other kept microseconds.
    """
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def utcnow() -> datetime:
    """The current time in UTC at the recorded precision (milliseconds)."""
    return to_precision(datetime.now(UTC))


def format_time(value: datetime) -> str:
    """UTC, ISO 8601, ``Z`` suffix, milliseconds (omitted when they are zero, as people type).
    """
    value = to_precision(value.astimezone(UTC))
    spec = "seconds" if value.microsecond == 0 else "milliseconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_time(value: Any, *, where: str = "time") -> datetime:
    """Parse ISO 8601 (any offset, nanoseconds allowed) or epoch seconds into aware UTC."""
    if type(value) is str and _WRITTEN_TIME_RE.fullmatch(value):
        # what format_time writes (every time in the ledger): already UTC and milliseconds
        with contextlib.suppress(ValueError):  # 2026-02-30: the general path says why
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return to_precision(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return to_precision(datetime.fromtimestamp(value, tz=UTC))
        except (OverflowError, ValueError, OSError):
            raise InvalidEventError(f"{where}: {value!r} is not a time in range") from None
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{where}: expected an ISO 8601 time, got {value!r}")
    text = _FRACTION_RE.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEventError(
            f"{where}: {value!r} is not an ISO 8601 time like 2026-11-24T08:30:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return to_precision(parsed.astimezone(UTC))
    except OverflowError:
        raise InvalidEventError(f"{where}: {value!r} is not a time in range") from None


def derive_key(content: Mapping[str, Any]) -> str:
    """A content hash: the same fact reported twice gets the same key."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    digest: str = sha256(canonical.encode()).hexdigest()
    return "sha256:" + digest[:32]


def event_id(key: str) -> str:
    """The stable, short id of an event, derived from its idempotency key."""
    digest: str = sha256(key.encode()).hexdigest()
    return "ev-" + digest[:16]


def make_event(
    type: str,
    *,
    time: datetime | str | None = None,
    source: str = "cli",
    subject: Subject | Mapping[str, Any] | None = None,
    environment: str | None = None,
    actor: str | None = None,
    message: str = "",
    attributes: Mapping[str, Any] | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Build a validated event; the single constructor every source goes through."""
    data: dict[str, Any] = {"type": type, "source": source, "message": message}
    data["time"] = time if time is not None else (now or utcnow())
    if subject is not None:
        data["subject"] = subject.to_dict() if isinstance(subject, Subject) else dict(subject)
    data["environment"] = environment
    data["actor"] = actor
    data["attributes"] = dict(attributes or {})
    if key is not None:
        data["key"] = key
    return event_from_dict(data)


def event_from_dict(data: Any, *, now: datetime | None = None) -> Event:
    """Validate a JSON object against the Event schema; errors name the offending field."""
    if not isinstance(data, Mapping):
        raise InvalidEventError(f"event: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        raise InvalidEventError(
            f"event.{unknown[0]}: unknown field (allowed: {', '.join(TOP_FIELDS)})"
        )
    etype = data.get("type")
    if not isinstance(etype, str) or not TYPE_RE.match(etype):
        raise InvalidEventError(
            f"event.type: {etype!r} is not a dotted lower-case type like deployment.failed"
        )
    raw_time = data.get("time")
    when = parse_time(raw_time if raw_time is not None else (now or utcnow()),
                      where="event.time")
    subject = _subject(data.get("subject"))
    source = _text(data, "source", required=True) or "unknown"
    environment = _text(data, "environment")
    actor = _text(data, "actor")
    check_actor(actor)
    message = _text(data, "message", default="") or ""
    if len(message) > MAX_MESSAGE:
        raise InvalidEventError(f"event.message: longer than {MAX_MESSAGE} characters")
    attributes = data.get("attributes")
    attributes = {} if attributes is None else attributes
    if not isinstance(attributes, Mapping):
        raise InvalidEventError("event.attributes: expected an object")
    _check_json(attributes, "event.attributes")
    content = {
        "type": etype, "time": format_time(when), "source": source,
        "subject": subject.to_dict(), "environment": environment, "actor": actor,
        "message": message, "attributes": attributes,
    }
    key = data.get("key")
    if key is None:
        key = derive_key(content)
    elif not isinstance(key, str) or not key.strip():
        raise InvalidEventError("event.key: expected a non-empty string")
    else:
        check_text(key, "event.key", name=True)
        if len(key) > MAX_NAME:
            raise InvalidEventError(f"event.key: longer than {MAX_NAME} characters")
    return Event(
        type=etype, time=when, source=source, subject=subject, environment=environment,
        actor=actor, message=message, attributes=dict(attributes), key=key, id=event_id(key),
    )


def event_from_journal(data: Mapping[str, Any], event_id: str) -> Event:
    """An event as :meth:`Event.to_dict` wrote it into the journal, rebuilt without validating
    it again: a fresh clone's rebuild replays ten thousand of them, and
    :func:`event_from_dict` costs eight times more. A record of any other shape raises
    TypeError, KeyError, ValueError or InvalidEventError; callers skip it."""
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise TypeError("event.attributes")
    return Event(type=str(data["type"]), time=parse_time(data["time"]), source=str(data["source"]),
                 subject=Subject(**(data.get("subject") or {})),
                 environment=data.get("environment"), actor=data.get("actor"),
                 message=str(data.get("message") or ""), attributes=dict(attributes),
                 key=str(data["key"]), id=event_id)


def _text(
    data: Mapping[str, Any], name: str, *, default: str | None = None, required: bool = False
) -> str | None:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidEventError(f"event.{name}: expected a string, got {type(value).__name__}")
    if required and not value:
        raise InvalidEventError(f"event.{name}: must not be empty")
    check_text(value, f"event.{name}", name=name in _NAME_FIELDS)
    if name in _NAME_FIELDS and len(value) > MAX_NAME:
        raise InvalidEventError(f"event.{name}: longer than {MAX_NAME} characters")
    return value


def check_text(value: str, where: str, *, name: bool = False) -> None:
    """Refuse text that cannot be stored (lone surrogates) or, for names, that carries control
    characters (a NUL or newline in an actor would break the commit author line)."""
    bad = (_NAME_BAD_RE if name else _SURROGATE_RE).search(value)
    if bad is not None:
        char = bad.group(0)
        what = ("a lone surrogate" if "\ud800" <= char <= "\udfff" else
                "a control character" if char < "\xa0" else "an invisible format character")
        raise InvalidEventError(
            f"{where}: contains {what} ({char!r} at offset {bad.start()})")


def check_actor(value: str | None, where: str = "event.actor") -> None:
    """An actor must make a commit author: a printable name with at least one letter or digit."""
    if value is None:
        return
    check_text(value, where, name=True)
    if len(value) > MAX_ACTOR:
        raise InvalidEventError(f"{where}: longer than {MAX_ACTOR} characters")
    if not any(ch.isalnum() for ch in value):
        raise InvalidEventError(
            f"{where}: {value!r} names nobody (expected a name like deploy-bot or ana@example.org)")


def _subject(value: Any) -> Subject:
    if value is None:
        return Subject()
    if not isinstance(value, Mapping):
        raise InvalidEventError(
            "event.subject: expected an object with cluster/namespace/kind/name")
    for name, item in value.items():
        if name not in SUBJECT_FIELDS:
            raise InvalidEventError(
                f"event.subject.{name}: unknown field (allowed: {', '.join(SUBJECT_FIELDS)})"
            )
        if item is not None and not isinstance(item, str):
            raise InvalidEventError(f"event.subject.{name}: expected a string")
        if item is not None:
            check_text(item, f"event.subject.{name}", name=True)
            if len(item) > MAX_NAME:
                raise InvalidEventError(f"event.subject.{name}: longer than {MAX_NAME} characters")
    return Subject(**{k: value.get(k) for k in SUBJECT_FIELDS})


def _check_json(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidEventError(f"{where}: keys must be strings")
            check_text(k, f"{where}: key {k!r}")
            _check_json(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]")
    elif isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, float):
        if not math.isfinite(value):  # 1e999 parses as inf; the journal would say Infinity
            raise InvalidEventError(f"{where}: {value!r} is not a finite number")
    elif not (value is None or isinstance(value, (int, bool))):
        raise InvalidEventError(f"{where}: {type(value).__name__} is not a JSON value")


def lookup(event: Event, path: str) -> Any:
    """Read a dotted path (``subject.namespace``, ``attributes.outcome``) from an event."""
    head, _, rest = path.partition(".")
    if head == "subject":
        return getattr(event.subject, rest, None) if rest in SUBJECT_FIELDS else None
    if head == "attributes":
        value: Any = event.attributes
        for part in rest.split(".") if rest else ():
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value
    if head == "time" and not rest:
        return format_time(event.time)
    if head in TOP_FIELDS and not rest:
        return getattr(event, head)
    if head == "id" and not rest:
        return event.id
    return None
