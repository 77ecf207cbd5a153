"""``--for DURATION`` of the long-running commands (``watch``, ``serve``), parsed in one place."""

from __future__ import annotations

import re

from agentops.errors import AgentopsError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_for(text: str, option: str = "--for") -> float:
    """Seconds from ``30s``, ``5m``, ``1h30m``, ``500ms``, ``7d`` or plain seconds (``2.5``)."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise AgentopsError(f"{option}: {text!r} is not a duration like 30s, 5m, 1h")
    return sum(float(n) * _UNITS[u] for n, u in parts)
