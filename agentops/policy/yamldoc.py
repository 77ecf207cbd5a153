"""Reading the policy's YAML: a loader with YAML 1.2 booleans, and locations for errors.

Errors in rules are reported as ``file:line: key.path: message``. The line is found only when
there is an error (by composing the node tree again), so a valid policy loads through the C
parser alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from agentops.errors import InvalidRulesError


class RulesLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The C loader, with YAML 1.2 booleans: ``on``/``off``/``yes``/``no`` stay strings."""


RulesLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

RulesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)



MAX_NODES = 100_000  # YAML nodes once aliases are expanded: far above any real policy
MAX_DEPTH = 64  # nesting levels: deep enough for any match block, far from Python's recursion


class StructureError(yaml.MarkedYAMLError):
    """A document too big once its aliases are expanded, or nested too deep."""


def check_structure(text: str) -> None:
    """Refuse alias bombs and absurd nesting before anything builds or walks the document.

    Aliases share one node, so the composed tree stays small however many times an anchor is
    used; its *expanded* size is summed here per node (each counted once, memoised), which is
    linear in the text. Raises :class:`StructureError` pointing at the offending node.
    """
    root = yaml.compose(text, Loader=RulesLoader)
    if root is None:
        return
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > MAX_NODES:
                raise StructureError(None, None, f"more than {MAX_NODES} values once its aliases "
                                     "are expanded (an alias bomb?)", node.start_mark)
            if depth[key] > MAX_DEPTH:
                raise StructureError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                     node.start_mark)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise StructureError(None, None, "an alias refers to the node that contains it",
                                 node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


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
    line = line_of(text, err.path)
    where = f"{label}:{line}" if line else label
    return f"{where}: {err.path}: {err.message}"



def line_of(text: str, path: str) -> int | None:
    """The 1-based line of a key path like ``triggers[2].threshold.within`` in YAML text."""
    try:
        node: Any = yaml.compose(text, Loader=RulesLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if node is None:
            break
        if part.startswith("[") and isinstance(node, yaml.SequenceNode):
            idx = int(part[1:-1])
            node = node.value[idx] if idx < len(node.value) else None
        elif isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
            continue
        else:
            break
        if node is not None:
            line = node.start_mark.line + 1
    return line


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
