"""The YAML side of reading the policy: a loader with YAML 1.2 booleans, a structure check
before anything is built, and the line of a key path for error messages.

Kept apart from :mod:`agentops.policy.yamldoc` so that only a parse-cache miss or an error
imports the YAML library: a warm ``record`` reads its rules from the cache.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


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
