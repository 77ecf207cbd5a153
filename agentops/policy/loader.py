"""Load ``rules/*.yaml`` into a :class:`Policy`: read the files, merge their sections, compile.

The work is split by concern: :mod:`.yamldoc` reads YAML and locates errors, :mod:`.schema`
checks and compiles each section, :mod:`.cel` compiles CEL conditions, :mod:`.cache` keeps
parsed documents between runs. Every problem is collected and reported as
``file:line: key.path: message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agentops.errors import InvalidRulesError
from agentops.policy.cache import ParseCache
from agentops.policy.model import Policy
from agentops.policy.schema import TOP_KEYS, compile_sections
from agentops.policy.yamldoc import RuleError, format_error, label_of, policy_files, unknown_key


def load_policy(
    paths: Iterable[Path], *, base: Path | None = None, extra: Iterable[tuple[str, str]] = (),
    cache: Path | None = None,
) -> Policy:
    """Read and compile the policy; raise InvalidRulesError listing every problem.

    ``extra`` adds (label, yaml text) documents, e.g. the silences of a ``rules test`` case.
    ``cache`` names a file where parsed documents are kept by content hash, so the hot path
    of ``record`` skips YAML parsing while the rules are unchanged.
    """
    files = policy_files(paths)
    sources = [(label_of(p, base), p.read_text(encoding="utf-8")) for p in files] + list(extra)
    merged: dict[str, list[tuple[str, int, Any, str]]] = {k: [] for k in TOP_KEYS}
    errors: list[str] = []
    texts: dict[str, str] = {}
    parsed = ParseCache(cache)
    for label, text in sources:
        texts[label] = text
        try:
            doc = parsed.load(text)
        except Exception as exc:  # a YAML error; the library is loaded only on a cache miss
            if not _yaml_error(exc):
                raise
            mark = getattr(exc, "problem_mark", None)
            line = f"{mark.line + 1}:" if mark is not None else ""
            errors.append(f"{label}:{line} invalid YAML: {getattr(exc, 'problem', exc)}")
            continue
        _collect(label, doc, merged, errors, texts)
    parsed.save()
    policy = compile_sections(merged, errors, texts, [label for label, _ in sources])
    if errors:
        raise InvalidRulesError("\n".join(errors))
    policy.digest = _digest(sources)
    return policy


def _yaml_error(exc: Exception) -> bool:
    import yaml

    return isinstance(exc, yaml.YAMLError)


def _digest(sources: list[tuple[str, str]]) -> str:
    from agentops.events import sha256

    return str(sha256("".join(f"{len(label)}:{label}{len(text)}:{text}"
                              for label, text in sources).encode()).hexdigest())


def _collect(
    label: str, doc: Any, merged: dict[str, list[tuple[str, int, Any, str]]],
    errors: list[str], texts: dict[str, str],
) -> None:
    if doc is None:
        return
    if not isinstance(doc, Mapping):
        errors.append(f"{label}:1: expected a mapping with keys {', '.join(TOP_KEYS)}")
        return
    for key, value in doc.items():
        if key not in TOP_KEYS:
            err = RuleError(str(key), unknown_key(key, TOP_KEYS))
            errors.append(format_error(label, texts[label], err))
            continue
        items = value if isinstance(value, list) else [value]
        if key in ("triggers", "silences", "maintenance_windows") and not isinstance(value, list):
            errors.append(format_error(label, texts[label], RuleError(key, "expected a list")))
            continue
        for i, item in enumerate(items):
            path = f"{key}[{i}]" if isinstance(value, list) else key
            merged[key].append((label, i, item, path))

