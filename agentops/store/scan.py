"""Read the engine's view of an incident from its entry text without parsing all of it.

A rebuild in a fresh clone must not parse ten thousand entries (~180 µs each) before the first
``record``: it notes each open incident's dedup key with a regex (:func:`dedup_key`), and the
store reads the rest of one entry (:func:`open_incident`) only when an event asks for that key.
Anything the scan cannot read exactly as the tool writes it is parsed in full.
"""

from __future__ import annotations

import json
import re

from agentops.errors import AgentopsError
from agentops.events import parse_time
from agentops.ledger import format as fmt
from agentops.policy.engine import OpenIncident

_INC_END = "<!-- /agentops:incident "
_META_RE = re.compile(r"^(id|rule|dedup_key|detected|severity|occurrences): (.*)$",
                      re.MULTILINE)
_ROW_TIME_RE = re.compile(r"^\| (\d{4}-\d{2}-\d{2}T[^ |]+) \|", re.MULTILINE)
_KEY_RE = re.compile(r"^dedup_key: (.*)$", re.MULTILINE)


def plain(raw: str) -> str | None:
    """A dedup key's metadata value: as written when plain, else decoded (None if odd)."""
    if raw[:1] not in _SPECIAL and ": " not in raw and " #" not in raw:
        return raw
    try:
        value = _scalar(raw)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


_SPECIAL = frozenset("\"'[{&*!|>%@`#?:-,]}")


def dedup_key(text: str, start: int, stop: int) -> str | None:
    """The dedup key of the entry whose metadata continues at ``start`` (None if it has none)."""
    m = _KEY_RE.search(text, start, stop)
    if m is None:
        return None
    try:
        value = _scalar(m.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def open_incident(entry: str) -> OpenIncident | None:
    """The engine's view of one open incident (None when resolved or without a dedup key),
    from its metadata lines and timeline times; ``entry`` may lack its end marker line."""
    if entry.endswith(" -->\n") and "\n" + _INC_END in entry:
        entry = entry[:entry.rindex("\n" + _INC_END)]
    if re.search(r"^status: Resolved$", entry, re.MULTILINE):
        return None
    meta_start = entry.find("\n```yaml\n")
    meta_end = entry.find("\n```\n", meta_start + 1)
    fields: dict[str, object] = {}
    try:
        for m in _META_RE.finditer(entry, meta_start, meta_end):
            fields[m.group(1)] = _scalar(m.group(2))
        detected = parse_time(str(fields["detected"]))
        times = [detected, *(parse_time(t) for t in _ROW_TIME_RE.findall(entry, meta_end))]
        key, occurrences = fields.get("dedup_key"), fields.get("occurrences") or 1
        if key is None:
            return None
        if not isinstance(key, str) or not isinstance(occurrences, int):
            raise ValueError(key)
        return OpenIncident(id=str(fields["id"]), rule=str(fields.get("rule") or ""),
                            dedup_key=key, opened=detected, last_seen=max(times),
                            severity=str(fields.get("severity")), occurrences=occurrences)
    except (KeyError, ValueError, AgentopsError):
        inc = fmt.parse_incident(_whole(entry))
        if inc.status == "Resolved" or not inc.dedup_key or not inc.detected:
            return None
        return OpenIncident(
            id=inc.id, rule=inc.rule or "", dedup_key=inc.dedup_key, opened=inc.detected,
            last_seen=max([inc.detected, *(r.time for r in inc.timeline)]),
            severity=inc.severity, occurrences=inc.occurrences)


def _whole(entry: str) -> str:
    """The entry text with its end marker (the scan cut just before it)."""
    entry_id = entry.split(" ", 3)[2]
    return f"{entry}\n{_INC_END}{entry_id} -->\n"


def _scalar(raw: str) -> object:
    """A metadata value as the tool writes it; anything else goes to YAML."""
    if raw == "null":
        return None
    if raw.startswith('"') and "\\" not in raw:
        return json.loads(raw)
    if _INT_RE.fullmatch(raw):
        return int(raw)
    if raw[:1] in "\"'[{&*!|>%@`" or ": " in raw or " #" in raw:
        import yaml  # a value a person wrote: the library only then

        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ValueError(raw) from None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError(raw)
        return value
    return raw


_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")
