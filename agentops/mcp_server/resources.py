"""The MCP resources: the MEMORY index, and every ledger entry by its id.

An agent that wants the lessons in its context reads ``agentops://memory/index`` (the index
block at the top of MEMORY.md, as committed), then ``agentops://entry/MEM-0003`` for the ones
it needs. Reading an entry gives its markdown as written and the same entry as JSON data.
These read the files as they stand, without the lock, as ``incident show`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from agentops.mcp_server.rpc import INVALID_PARAMS, RpcError
from agentops.vocabulary import LEDGER_KINDS, Kind

INDEX_URI: Final = "agentops://memory/index"
ENTRY_PREFIX: Final = "agentops://entry/"
RESOURCE_NOT_FOUND: Final = -32002
_PREFIXES: Final[dict[str, Kind]] = {k.id_prefix + "-": k.kind for k in LEDGER_KINDS.values()}


def list_templates() -> dict[str, Any]:
    """The ``resources/templates/list`` result."""
    return {"resourceTemplates": [{
        "uriTemplate": ENTRY_PREFIX + "{id}", "name": "entry",
        "title": "A ledger entry by id",
        "description": "An incident (INC-...), troubleshooting (TS-...) or memory (MEM-...) "
                       "entry: its markdown and its data as JSON.",
        "mimeType": "text/markdown"}]}


def list_resources(repo: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The index, then every entry of the three files in file order."""
    items = [{"uri": INDEX_URI, "name": "memory-index", "title": "MEMORY index",
              "description": "Active lessons for agents, most seen first.",
              "mimeType": "text/markdown"}]
    for kind, raw in _raw_entries(repo):
        items.append({"uri": ENTRY_PREFIX + raw.id, "name": raw.id,
                      "description": f"{kind} entry {raw.id}", "mimeType": "text/markdown"})
    return {"resources": items}


def read_resource(repo: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The index as markdown, or one entry as markdown plus JSON."""
    uri = params.get("uri")
    if uri == INDEX_URI:
        return {"contents": [_text(uri, "text/markdown", _index(repo))]}
    if isinstance(uri, str) and uri.startswith(ENTRY_PREFIX):
        return {"contents": _entry(repo, uri, uri[len(ENTRY_PREFIX):])}
    raise RpcError(INVALID_PARAMS, f"unknown resource: {uri}")


def _index(repo: Path) -> str:
    from agentops.ledger import format as fmt
    from agentops.store.entries import read_ledger

    block = fmt.read_block(read_ledger(repo, "memory"), fmt.INDEX_BEGIN, fmt.INDEX_END)
    return (block or "").strip("\n") + "\n"


def _entry(repo: Path, uri: str, entry_id: str) -> list[dict[str, Any]]:
    from agentops.ledger import format as fmt
    from agentops.ledger.schemas import entry_to_dict
    from agentops.store.entries import read_ledger

    kind = next((k for p, k in _PREFIXES.items() if entry_id.startswith(p)), None)
    raw = fmt.parse_file(kind, read_ledger(repo, kind)).get(entry_id) if kind else None
    if raw is None:
        raise RpcError(RESOURCE_NOT_FOUND, f"resource not found: {uri}")
    data = json.dumps(entry_to_dict(raw.parse()), indent=2, default=str)
    return [_text(uri, "text/markdown", raw.text), _text(uri, "application/json", data)]


def _raw_entries(repo: Path) -> list[tuple[str, Any]]:
    from agentops.ledger import format as fmt
    from agentops.store.entries import read_ledger

    return [(kind, raw) for kind in _PREFIXES.values()
            for raw in fmt.parse_file(kind, read_ledger(repo, kind)).entries]


def _text(uri: str, mime: str, text: str) -> dict[str, Any]:
    return {"uri": uri, "mimeType": mime, "text": text}
