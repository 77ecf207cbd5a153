"""The MCP tools: each maps its arguments to one command function, as ``cli.py`` does.

This module is the :class:`~agentops.mcp_server.protocol.ToolBox` that ``agentops mcp`` hands
to the protocol layer.

A tool returns what the matching command prints with ``--format json`` (as text, and as
``structuredContent`` when it is an object). Every write goes through the same functions as
the CLI (``commands.record``, ``commands.incident``), so the lock, the journal, idempotency
keys and redaction apply unchanged. An ``AgentopsError`` becomes a tool error whose text is
exactly the CLI's ``error: <message>``; nothing is written when the arguments are bad.

Command modules are imported inside the handlers: listing tools costs no pipeline import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from agentops.errors import AgentopsError
from agentops.mcp_server import schemas
from agentops.mcp_server.arguments import check_arguments

Args = dict[str, Any]


class ToolResult(TypedDict, total=False):
    """The ``tools/call`` result as the protocol spells it."""

    content: list[dict[str, Any]]
    structuredContent: dict[str, Any]
    isError: bool


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool: its description, how to build its input schema, and its handler."""

    description: str
    schema: Callable[[], dict[str, Any]]
    handler: Callable[[Args, Path], Any]
    read_only: bool
    deferred: frozenset[str] = frozenset()


def record_event(args: Args, repo: Path) -> Any:
    from agentops.commands import record as cmd

    event = _event(args)
    dry_run = bool(args.get("dry_run"))
    outcome = cmd.record(event, repo=repo, actor=args.get("actor"), dry_run=dry_run,
                         allow_unknown_environment=bool(args.get("allow_unknown_environment")))
    extra = {"dry_run": True, "decisions": list(outcome.decisions)} if dry_run else {}
    if outcome.warnings:
        extra["warnings"] = list(outcome.warnings)
    return outcome.to_dict() | extra


def _event(args: Args) -> Any:
    from agentops.commands import record as cmd
    from agentops.errors import InvalidEventError

    assume_utc = bool(args.get("assume_utc"))
    if "event" in args:
        extra = sorted(set(args) & schemas.RECORD_ONLY)
        if extra:
            raise InvalidEventError(f"record_event.{extra[0]}: not allowed with event "
                                    "(put it in the event object)")
        return cmd.event_from_json(args["event"], assume_utc=assume_utc)
    if "type" not in args:
        raise InvalidEventError("record_event: give either event (an Event object) "
                                "or type (a record type) with fields")
    return cmd.build_event(
        args["type"], fields=dict(args.get("fields") or {}), message=args.get("message", ""),
        key=args.get("key"), time=args.get("time"), actor=args.get("actor"),
        environment=args.get("environment"), assume_utc=assume_utc)


def recall(args: Args, repo: Path) -> Any:
    from agentops.commands import recall as cmd

    result = cmd.recall(args["query"], repo=repo, limit=args.get("limit", 10),
                        include_all=bool(args.get("include_all")),
                        semantic=args.get("semantic"))
    return cmd.as_json(result)


def list_incidents(args: Args, repo: Path) -> Any:
    from agentops.commands import incident_view as view

    found = view.list_incidents(repo, status=args.get("status"),
                                severity=args.get("severity"), since=args.get("since"))
    return {"count": len(found), "incidents": [view.brief(i) for i in found]}


def show_incident(args: Args, repo: Path) -> Any:
    from agentops.commands import incident_view as view

    return view.show_data(*view.load(repo, args["id"]))


def update_incident(args: Args, repo: Path) -> Any:
    from agentops.commands import incident as cmd

    inc, action = args["id"], args["action"]
    _only_with(args, action)
    common: dict[str, Any] = {
        "time": args.get("time"), "note": args.get("note"), "actor": args.get("actor"),
        "impact": {k: args[k] for k in schemas.IMPACT_PROPERTIES if k in args}}
    if action == "ack":
        return cmd.ack(repo, inc, **common).to_dict()
    if action == "update":
        return cmd.update(repo, inc, status=args["status"], **common).to_dict()
    post: dict[str, Any] = {k: args.get(k) for k in ("root_cause", "resolution", "lessons",
                                                     "root_cause_category")}
    return cmd.resolve(repo, inc, **common, **post).to_dict()


def _only_with(args: Args, action: str) -> None:
    """Refuse arguments the action would silently ignore."""
    from agentops.mcp_server.arguments import InvalidArgumentsError

    if action == "update" and not args.get("status"):
        raise InvalidArgumentsError("update_incident.status: required with action update")
    allowed = {"ack": set(), "update": {"status"}, "resolve": set(schemas.RESOLVE_ONLY)}[action]
    for name in sorted((schemas.RESOLVE_ONLY | {"status"}) - allowed):
        if name in args:
            raise InvalidArgumentsError(
                f"update_incident.{name}: not allowed with action {action}")


def add_followup(args: Args, repo: Path) -> Any:
    from agentops.commands import incident as cmd

    return cmd.followup_add(repo, args["id"], args["text"], owner=args["owner"],
                            due=args["due"], actor=args.get("actor")).to_dict()


def check(args: Args, repo: Path) -> Any:
    from agentops.commands import check as cmd

    return cmd.as_json(cmd.check(repo=repo, now=args.get("now")))


TOOLS: dict[str, Tool] = {
    "record_event": Tool(schemas.RECORD_EVENT_DOC, schemas.record_event, record_event, False,
                         frozenset({"event"})),
    "recall": Tool(schemas.RECALL_DOC, schemas.recall, recall, True),
    "list_incidents": Tool(schemas.LIST_DOC, schemas.list_incidents, list_incidents, True),
    "show_incident": Tool(schemas.SHOW_DOC, schemas.show_incident, show_incident, True),
    "update_incident": Tool(schemas.UPDATE_DOC, schemas.update_incident, update_incident, False),
    "add_followup": Tool(schemas.FOLLOWUP_DOC, schemas.add_followup, add_followup, False),
    "check": Tool(schemas.CHECK_DOC, schemas.check, check, True),
}


def list_tools() -> dict[str, Any]:
    """The ``tools/list`` result."""
    return {"tools": [describe(name, tool) for name, tool in TOOLS.items()]}


def describe(name: str, tool: Tool) -> dict[str, Any]:
    return {"name": name, "description": tool.description, "inputSchema": tool.schema(),
            "annotations": {"readOnlyHint": tool.read_only, "destructiveHint": False,
                            "idempotentHint": tool.read_only, "openWorldHint": False}}


def call_tool(name: str, arguments: Any, *, repo: Path) -> ToolResult:
    """Run one tool; user-facing errors come back as a tool error, never an exception."""
    tool = TOOLS[name]
    try:
        args = check_arguments(name, tool.schema(), arguments, deferred=tool.deferred)
        data = tool.handler(args, repo)
    except AgentopsError as exc:
        return {"content": [{"type": "text", "text": f"error: {exc}"}], "isError": True}
    return success(data)


def success(data: Any) -> ToolResult:
    """The CLI's ``--format json`` text, and the same data as structured content."""
    text = json.dumps(data, indent=2, sort_keys=False, default=str)
    result: ToolResult = {"content": [{"type": "text", "text": text}], "isError": False}
    if isinstance(data, dict):
        result["structuredContent"] = json.loads(text)
    return result
