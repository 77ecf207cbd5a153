"""Problem signatures: what makes two events the same known problem.

A problem type is a fingerprint of what happened: the event type, its reason, the kind of
object it is about, and the message with its variable parts masked (numbers, versions,
hashes, ids, IP addresses, pod-name suffixes, quoted names, paths, URLs, host names, and the
event's own subject names). This is the idea of Sentry's grouping and of log-template miners
such as Drain: ``Failed to pull image "reg/api:1.2": ... 401 Unauthorized`` and the same line
for ``reg/web:3.0`` are one problem; an OOM kill is another. A rule can pin the problem with
its own ``problem:`` template or choose the fields the fingerprint is made of
(``fingerprint: [type, attributes.alertname]``).

The title of a problem reads as the problem: a few common error classes get a label
(``Image pull unauthorized``) followed by the message's last, most specific clause
(``authentication required``); otherwise the masked message itself, shortened.

Pure functions of the event; this module imports nothing but the event record and the
field getters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Final, NamedTuple

from agentops.events import Event, sha256

MAX_TEMPLATE: Final = 240
MAX_TITLE: Final = 90
DEFAULT_FIELDS: Final = ("type", "attributes.reason", "subject.kind", "message")
# attributes whose values are names, masked where the message repeats them
NAME_ATTRIBUTES: Final = ("container", "image", "pod", "service", "task", "job", "deployment",
                          "release", "revision", "version", "dataset", "node", "host")
# where an event without a message keeps its error text (``record attempt --field error=...``)
MESSAGE_ATTRIBUTES: Final = ("error", "details", "summary", "description")
_MIN_PATTERN_LITERAL: Final = 12


@lru_cache(maxsize=1)  # compiled on the first message masked: an event without one
def _masks() -> tuple[tuple[re.Pattern[str], str], ...]:  # never pays for them
    return (
        # quoted names first: whatever is inside the quotes varies
        (re.compile(r'"[^"\n]{1,300}"'), '"<*>"'),
        (re.compile(r"(?<![\w])'[^'\n]{1,300}'(?![\w])"), "'<*>'"),
        (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+"), "<url>"),
        (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
         "<id>"),
        (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?:->(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?)?"),
         "<ip>"),
        (re.compile(r"(?<![\w.<])(?:[A-Za-z]:)?(?:/[\w.@%+~-]+){2,}/?"), "<path>"),
        (re.compile(r"\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?){2,}"
                    r"(?::\d+)?\b"), "<host>"),
        # (the event's own names are masked here: see _NAMES_AT)
        # Deployment pods: name-<template hash>-<5 chars>; Job and DaemonSet pods: name-<5 chars>
        (re.compile(r"\b([a-z][a-z0-9]*(?:-[a-z0-9]+)*?)-[a-z0-9]{8,10}-[a-z0-9]{5}(?![a-z0-9])"),
         r"\1-<*>"),
        (re.compile(r"\b([a-z][a-z0-9]*(?:-[a-z0-9]+)*?)-(?=[a-z]*[0-9])[a-z0-9]{5}(?![a-z0-9])"),
         r"\1-<*>"),
        (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,64}\b"), "<hex>"),
        (re.compile(r"\bv?\d+(?:\.\d+)+(?:[-+][\w.]+)?\b"), "<version>"),
        (re.compile(r"\b\d+(?:\.\d+)?(?:ms|us|ns|[smhd])(?:\d+(?:\.\d+)?(?:ms|[smh]))*\b"),
         "<num>"),
        (re.compile(r"\b\d+(?:\.\d+)?(?:Ki|Mi|Gi|Ti|[KMGT]i?B?)\b"), "<num>"),
        # numbers, except HTTP statuses that name the problem (401 Unauthorized, 503 Service ...)
        (re.compile(r"(?<![\w<])(?![45]\d\d [A-Z])\d+(?![\w>])"), "<num>"),
    )


# a substring each mask needs to match at all (by position in _masks())
_NEEDS: Final = ('"', "'", "://", "-", ".", "/", ".", "-", "-", "", ".", "", "", "")
_NAMES_AT: Final = 7
_DIGITS_FROM: Final = 9  # the hex, version, duration, size and number masks
_MASK_TOKEN_RE: Final = re.compile(r"<(?:\*|url|id|ip|path|host|hex|version|num)>")
_SPACE_RE: Final = re.compile(r"\s+")
_REPEAT_RE: Final = re.compile(r"(<[a-z*]+>)(?:[\s,;:]*\1)+")


class ProblemSignature(NamedTuple):
    """A problem type: its key, a readable title, and what recognises it."""

    key: str
    title: str
    event_type: str
    reason: str | None
    kind: str | None
    template: str
    pattern: str | None  # a regex matching messages of this problem (recall's signature match)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self._asdict().items() if v}


def mask(message: str, *, names: Sequence[str] = ()) -> str:
    """The message as a template: variable parts replaced by ``<*>``-style tokens."""
    return _mask(message, tuple(sorted({n for n in names if len(n) >= 3}, key=len, reverse=True)))


@lru_cache(maxsize=4096)  # a storm repeats its messages; masking is the costly part of an open
def _mask(message: str, names: tuple[str, ...]) -> str:
    text = _SPACE_RE.sub(" ", message).strip()[:4 * MAX_TEMPLATE]
    digits = any(c.isdigit() for c in text)
    for i, (regex, replacement) in enumerate(_masks()):
        if i == _NAMES_AT and names:  # after the structural masks: a name in a URL stays in it
            text = _names_re(names).sub("<*>", text)
        if i >= _DIGITS_FROM and not digits:
            break  # the remaining masks all need a digit
        needs = _NEEDS[i]
        if needs and needs not in text:
            continue  # cheaper than running a regex that cannot match
        text = regex.sub(replacement, text)
    text = _REPEAT_RE.sub(r"\1", text)
    return text[:MAX_TEMPLATE]


@lru_cache(maxsize=1024)
def _names_re(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(rf"(?<![\w<-])(?:{alternatives})(?![\w>-])")


def event_names(event: Event) -> list[str]:
    """The names an event carries (subject, actor, name-like attributes) that vary per case."""
    s = event.subject
    names = [v for v in (s.cluster, s.namespace, s.name, event.actor) if v]
    for attr in NAME_ATTRIBUTES:
        value = event.attributes.get(attr)
        if isinstance(value, str) and value:
            names.append(value)
    return names


def message_of(event: Event) -> str:
    """The event's error text: its message, else an error-like attribute."""
    if event.message.strip():
        return event.message
    for attr in MESSAGE_ATTRIBUTES:
        value = event.attributes.get(attr)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def template_of(event: Event) -> str:
    message = message_of(event)
    return mask(message, names=event_names(event)) if message else ""


def signature(event: Event, *, fields: Sequence[str] = (), pinned: str | None = None,
              get: Callable[[str], Callable[[Event], Any]] | None = None,
              fallback: str = "") -> ProblemSignature:
    """The problem signature of an event.

    ``fields`` choose what the fingerprint is made of (default: type, reason, subject kind and
    the message template); ``pinned`` is the rule's own problem key, used as it is; ``get``
    turns a field path into a getter; ``fallback`` is text to title a message-less event with.
    """
    template = template_of(event)
    reason = _text(event.attributes.get("reason"))
    kind = event.subject.kind
    key = problem_key(event, fields=fields, pinned=pinned, get=get, template=template)
    if template or not reason:
        title = readable_title(message_of(event) or fallback, template or mask(fallback),
                               reason=reason, event_type=event.type)
    else:  # a reason says more about the problem than the rule's title about one case
        title = _split_camel(reason)
    return ProblemSignature(key, title, event.type, reason, kind, template, _pattern(template))


def problem_key(event: Event, *, fields: Sequence[str] = (), pinned: str | None = None,
                get: Callable[[str], Callable[[Event], Any]] | None = None,
                template: str | None = None) -> str:
    """Just the key of :func:`signature` (what every opening needs; titles are for new
    problems only)."""
    if pinned:
        return pinned
    if template is None:
        template = template_of(event)
    reason = _text(event.attributes.get("reason"))
    parts = [_part(event, f, template, get) for f in (fields or DEFAULT_FIELDS)]
    digest = sha256("\0".join(parts).encode()).hexdigest()[:12]
    return f"{event.type}/{reason or '-'}/{digest}"


def _part(event: Event, field: str, template: str,
          get: Callable[[str], Callable[[Event], Any]] | None) -> str:
    if field == "message":
        return template
    if field == "type":
        return event.type
    if field == "attributes.reason":
        return _text(event.attributes.get("reason")) or ""
    if field == "subject.kind":
        return event.subject.kind or ""
    if get is None:
        raise ValueError(f"fingerprint field {field!r} needs a getter")
    return _text(get(field)(event)) or ""


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _pattern(template: str) -> str | None:
    """A regex for messages of this template; None when too little of it is literal."""
    pieces = _MASK_TOKEN_RE.split(template)
    if sum(len(p.strip(" \"':,;()[]{}")) for p in pieces) < _MIN_PATTERN_LITERAL:
        return None
    escaped = [re.sub(r"\\ ", r"\\s+", re.escape(p)) for p in pieces]
    pattern = re.sub(r"(?:\.\+\?){2,}", ".+?", ".+?".join(escaped))
    return pattern.removesuffix(".+?").removeprefix(".+?")


# --- titles ------------------------------------------------------------------------------------

# A few error classes whose raw messages read badly as titles. Each: a label, and regexes that
# must all match the message (case-insensitive).
_CLASSES: Final = (
    ("Image pull unauthorized", (r"pull(ing)? (and unpack )?image|image pull|ErrImagePull",
                                 r"\b401\b|unauthori[sz]ed|authentication required|"
                                 r"authorization failed|pull access denied")),
    ("Image not found", (r"pull(ing)? (and unpack )?image|image pull|ErrImagePull",
                         r"not found|manifest unknown|does not exist")),
    ("Image pull rate limited", (r"toomanyrequests|pull rate limit",)),
    ("Container OOM-killed", (r"OOMKill|out of memory|oom-kill",)),
    ("Container crash-looping", (r"CrashLoopBackOff|back-off restarting failed container",)),
    ("Pods unschedulable", (r"\d+/\d+ nodes are available|FailedScheduling",)),
    ("Probe failing", (r"(readiness|liveness|startup) probe failed",)),
    ("Volume mount failed", (r"MountVolume\.\w+ failed|Unable to attach or mount",)),
    ("Certificate rejected", (r"x509:",)),
    ("Name resolution failed", (r"\blookup \S+ on \S+:|no such host|NXDOMAIN",)),
    ("Deployment stalled", (r"exceeded its progress deadline",)),
)
@lru_cache(maxsize=1)
def _class_res() -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    return tuple((label, tuple(re.compile(r, re.I) for r in rs)) for label, rs in _CLASSES)


def readable_title(message: str, template: str, *, reason: str | None = None,
                   event_type: str = "") -> str:
    """``Image pull unauthorized: authentication required``; never a key."""
    label = next((lbl for lbl, rs in _class_res() if all(r.search(message) for r in rs)), None)
    tail = _last_clause(template)
    if label is not None:
        if tail and tail.casefold() not in label.casefold():
            return _shorten(f"{label}: {tail}")
        return label
    text = _readable(template)
    if text:
        return _shorten(text[0].upper() + text[1:])
    if reason:
        return _split_camel(reason)
    return event_type or "Unknown problem"


def _last_clause(template: str) -> str | None:
    """The message's last ``: ``-separated clause, when it is short and has no masks."""
    clause = template.rsplit(": ", 1)[-1].strip(" .;")
    if not clause or _MASK_TOKEN_RE.search(clause) or len(clause) > 60 or clause == template:
        return None
    return clause


def _readable(template: str) -> str:
    text = _MASK_TOKEN_RE.sub("…", template)
    text = re.sub(r'["\']…["\']', "…", text)
    text = re.sub(r"…(?:[\s,;:()]*…)+", "…", text)
    return text.strip(" .")


def _shorten(text: str) -> str:
    if len(text) <= MAX_TITLE:
        return text
    cut = text[:MAX_TITLE].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + " …"


def _split_camel(word: str) -> str:
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", word)
    return " ".join(parts).capitalize() if len(parts) > 1 else word
