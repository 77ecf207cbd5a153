"""``agentops record``: one automation outcome, as a typed record or a JSON event."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentops.errors import InvalidEventError
from agentops.events import Event, event_from_dict
from agentops.paths import find_repo
from agentops.pipeline import Outcome, process
from agentops.vocabulary import RECORD_TYPES

SUBJECT_FIELDS = {"cluster": "cluster", "namespace": "namespace", "kind": "kind",
                  "name": "name", "service": "name"}


def parse_fields(pairs: Sequence[str]) -> dict[str, Any]:
    """``k=v`` pairs; numbers and true/false become JSON values, the rest stay strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidEventError(f"--field {pair!r}: expected key=value")
        out[key.strip()] = _scalar(value)
    return out


def _scalar(text: str) -> Any:
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
    actor: str | None, environment: str | None, source: str = "cli",
) -> Event:
    """A record type and its fields -> a validated Event (see ``agentops record --help``)."""
    fields = dict(fields)
    etype = _event_type(rtype, fields)
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
    for name, value in (("key", key), ("time", time), ("actor", actor),
                        ("environment", environment)):
        if value is not None:
            data[name] = value
    return event_from_dict(data)


def _pop_str(fields: dict[str, Any], name: str) -> str | None:
    value = fields.pop(name, None)
    return None if value is None else str(value)


def _event_type(rtype: str, fields: dict[str, Any]) -> str:
    if "." in rtype:
        return rtype
    if rtype not in RECORD_TYPES:
        raise InvalidEventError(
            f"record type {rtype!r}: expected one of {', '.join(RECORD_TYPES)} "
            "or a dotted event type like k8s.warning")
    selector, mapping, default = RECORD_TYPES[rtype]
    if rtype == "event":
        value = fields.pop("type", None)
        if not value:
            raise InvalidEventError("record event: give the event type with --field type=x.y")
        return str(value)
    if selector is None or selector not in fields:
        return default
    value = str(fields[selector]).lower()
    if value not in mapping:
        raise InvalidEventError(f"--field {selector}={value}: expected one of "
                                f"{', '.join(sorted(mapping))}")
    return mapping[value]


def read_event(text: str) -> Event:
    try:
        return event_from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidEventError(f"event: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def record(event: Event, *, repo: Path | None, actor: str | None, dry_run: bool) -> Outcome:
    return process(find_repo(repo), [event], actor=actor, dry_run=dry_run)[0]


def outcome_text(outcome: Outcome) -> str:
    if outcome.duplicate:
        head = f"{outcome.event_id}: already recorded"
    else:
        head = f"{outcome.event_id}: recorded"
    lines = [head + (f" in {outcome.commit[:12]}" if outcome.commit else "")]
    for inc in outcome.incidents:
        lines.append(f"  {inc['action']:<8} {inc['id']}")
    for ts in outcome.troubleshooting:
        lines.append(f"  troubleshooting {ts}")
    for mem in outcome.memory:
        lines.append(f"  memory   {mem}")
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
