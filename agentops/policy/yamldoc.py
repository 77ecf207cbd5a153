"""Errors in the policy's YAML, and the checks every section's builder shares.

Errors in rules are reported as ``file:line: key.path: message``. The line is found only when
there is an error (by composing the node tree again, :func:`agentops.policy.yamlload.line_of`),
so a valid policy loads through the C parser alone; and this module imports no YAML at all:
a ``record`` whose rules are in the parse cache never loads the YAML library (17 ms).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agentops.errors import InvalidRulesError


class RuleError(Exception):
    """One problem at a key path inside one file."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message



def policy_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml`` files (tests/ excluded), sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml")))
        elif p.exists():
            out.append(p)
        else:
            raise InvalidRulesError(f"{p}: no such file or directory")
    return out



def label_of(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            pass
    return str(path)



def unknown_key(key: Any, allowed: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"



def format_error(label: str, text: str, err: RuleError) -> str:
    from agentops.policy.yamlload import line_of

    line = line_of(text, err.path)
    where = f"{label}:{line}" if line else label
    return f"{where}: {err.path}: {err.message}"



def expect_mapping(
    value: Any, path: str, allowed: Iterable[str], required: Iterable[str] = ()
) -> Mapping[str, Any]:
    """``value`` as a mapping with only ``allowed`` keys and every ``required`` one."""
    allowed = tuple(allowed)
    if not isinstance(value, Mapping):
        raise RuleError(path, f"expected a mapping with keys {', '.join(allowed)}")
    for key in value:
        if key not in allowed:
            raise RuleError(f"{path}.{key}", unknown_key(key, allowed))
    for key in required:
        if key not in value:
            raise RuleError(path, f"missing required key {key!r}")
    return value


def expect_str(value: Any, path: str) -> str:
    """``value`` as a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise RuleError(path, f"expected a non-empty string, got {value!r}")
    return value
