"""``agentops record``: one automation outcome, as a typed record or a JSON event."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, event_from_dict, format_time
from agentops.paths import find_repo
from agentops.pipeline import Outcome, process
from agentops.records import check_fields
from agentops.vocabulary import SUBJECT_FIELDS, fields_of

# A clock a little ahead of ours is normal; an event further in the future is a typo (a
# 2099 date opened INC-2099-01-01-001, which nothing could update afterwards).
FUTURE_SKEW = timedelta(minutes=5)


def parse_fields(pairs: Sequence[str]) -> dict[str, str]:
    """``k=v`` pairs, values as typed; ``build_event`` converts them by the field's type."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidEventError(f"--field {pair!r}: expected key=value")
        out[key.strip()] = value
    return out


def _scalar(text: Any) -> Any:
    """A free-form ``-f`` value: numbers and true/false become JSON values."""
    if not isinstance(text, str):
        return text
    if text in ("true", "false"):
        return text == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def build_event(
    rtype: str, *, fields: dict[str, Any], message: str, key: str | None, time: str | None,
    actor: str | None, environment: str | None, source: str = "cli", assume_utc: bool = False,
    cli_strings: bool = False, now: datetime | None = None,
) -> Event:
    """A record type and its fields -> a validated Event (see ``agentops record --help``).

    ``cli_strings``: the values are ``-f`` text, so free-form ones (of ``event`` and of
    dotted types) are read as numbers and booleans where they look like one.
    """
    if "." in rtype:
        etype, fields = rtype, dict(fields)
        known: set[str] = set()
    else:
        etype, fields = check_fields(rtype, fields)
        known = set(fields_of(rtype))
    if cli_strings:
        fields = {k: v if k in known else _scalar(v) for k, v in fields.items()}
    subject: dict[str, str] = {}
    for name, target in SUBJECT_FIELDS.items():
        if name in fields:
            subject.setdefault(target, str(fields.pop(name)))
    if "resource" in fields:
        kind, _, name = str(fields.pop("resource")).rpartition("/")
        subject.setdefault("name", name)
        if kind:
            subject.setdefault("kind", kind)
    actor = actor or _pop_str(fields, "actor") or _pop_str(fields, "agent")
    environment = environment or _pop_str(fields, "environment")
    # The impact fields become the incident's (affected_users=120): refuse bad values now,
    # before the event is accepted, rather than leave them out of the incident.
    from agentops.ledger.incidents import impact_values

    impact_values(fields, where="--field", clean=str)
    data: dict[str, Any] = {"type": etype, "source": source, "subject": subject,
                            "attributes": fields, "message": message}
    for name, value in (("key", key), ("actor", actor), ("environment", environment)):
        if value is not None:
            data[name] = value
    if time is not None:
        data["time"] = check_time(time, where="--time", assume_utc=assume_utc)
    return check_event(event_from_dict(data, now=now), now=now)


def check_time(value: Any, *, where: str, assume_utc: bool) -> Any:
    """Refuse a time without a zone (unless ``assume_utc``): 08:30 where?"""
    if isinstance(value, str) and not assume_utc and _naive(value):
        raise InvalidEventError(
            f"{where}: {value!r} has no time zone; add Z for UTC (e.g. "
            f"{value.strip()}{'T00:00:00' if 'T' not in value else ''}Z) or an offset like "
            "+02:00, or pass --assume-utc")
    return value


_NANOS_RE = re.compile(r"(\.\d{6})\d+")  # fromisoformat stops at microseconds


def _naive(text: str) -> bool:
    text = _NANOS_RE.sub(r"\1", text.strip())
    if text.endswith(("Z", "z")):
        return False
    try:
        return datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        return False  # not a time at all: event_from_dict says so


def check_event(event: Event, *, now: datetime | None = None) -> Event:
    """Refuse an event dated in the future (beyond a small clock skew)."""
    current = now or datetime.now(UTC)
    if event.time > current + FUTURE_SKEW:
        raise InvalidEventError(
            f"time: {format_time(event.time)} is in the future (now {format_time(current)}); "
            "give the time it happened, or leave --time out for now")
    return event


def _pop_str(fields: dict[str, Any], name: str) -> str | None:
    value = fields.pop(name, None)
    return None if value is None else str(value)


def read_event(text: str, *, assume_utc: bool = False) -> Event:
    """An Event from JSON (``record --input``), checked as a typed record is."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEventError(f"event: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return event_from_json(data, assume_utc=assume_utc)


def event_from_json(data: Any, *, assume_utc: bool = False) -> Event:
    if isinstance(data, dict) and data.get("time") is not None:
        check_time(data["time"], where="event.time", assume_utc=assume_utc)
    return check_event(event_from_dict(data))


def record(event: Event, *, repo: Path | None, actor: str | None, dry_run: bool,
           allow_unknown_environment: bool = False) -> Outcome:
    return process(find_repo(repo), [event], actor=actor, dry_run=dry_run,
                   environments="warn" if allow_unknown_environment else "strict")[0]


def outcome_text(outcome: Outcome, *, dry_run: bool = False) -> str:
    if outcome.duplicate:
        head = f"{outcome.event_id}: already recorded"
    elif dry_run:
        head = f"{outcome.event_id}: would record (dry run; nothing written)"
    else:
        head = f"{outcome.event_id}: recorded"
    lines = [head + (f" in {outcome.commit[:12]}" if outcome.commit else "")]
    would = "would " if dry_run and not outcome.duplicate else ""
    for inc in outcome.incidents:
        lines.append(f"  {would}{inc['action']:<8} {inc['id']}")
    for ts in outcome.troubleshooting:
        lines.append(f"  {would}troubleshooting {ts}")
    for mem in outcome.memory:
        lines.append(f"  {would}memory   {mem}")
    if not any(i["action"] == "open" for i in outcome.incidents):
        if not outcome.incidents:
            lines.append("  no incident" + (f" (matched: {', '.join(outcome.matched)})"
                                            if outcome.matched else ""))
        lines += why_not_lines(outcome.why_not)
    return "\n".join(lines)


def why_not_lines(why: Sequence[dict[str, Any]], indent: str = "  ") -> list[str]:
    """``why no incident opened:`` and one line per trigger that listened."""
    if not why:
        return []
    lines = [f"{indent}why no incident opened:"]
    for w in why:
        lines.append(f"{indent}  {w['trigger'] + ': ' if w.get('trigger') else ''}{w['reason']}")
    return lines
