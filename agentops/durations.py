"""The one duration grammar: rules (``within: 1h``, ``window: 30m``) and ``--for`` of ``watch``
and ``serve`` read durations the same way."""

from __future__ import annotations

import re

from agentops.errors import AgentopsError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(text: str) -> float | None:
    """Seconds from ``30s``, ``5m``, ``1h30m``, ``500ms``, ``7d`` or plain seconds (``2.5``);
    None for anything else (negative and non-finite numbers included)."""
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        parts = _PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            return None
        return sum(float(n) * _UNITS[u] for n, u in parts)
    return number if 0 <= number < float("inf") else None


def parse_for(text: str, option: str = "--for") -> float:
    """``--for`` and friends: :func:`seconds`, or an error naming the option."""
    value = seconds(text)
    if value is None:
        raise AgentopsError(f"{option}: {text!r} is not a duration like 30s, 5m, 1h")
    return value
