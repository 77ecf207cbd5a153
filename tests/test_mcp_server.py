"""``agentops mcp`` driven by the SDK's own client over stdio: the whole agent loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from mcp import Client
from mcp_client import call, call_error, drive, git, initialised
from test_recall_semantic import needs_the_extra

ATTEMPT = {"agent": "agent-9", "task": "migrate", "outcome": "failed", "error": "lock timeout"}
TOOLS = ["record_event", "recall", "list_incidents", "show_incident", "update_incident",
         "add_followup", "check"]


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return initialised(git_repo)


async def three_failures(client: Client) -> list[Any]:
    return [await call(client, "record_event", type="attempt", fields=ATTEMPT, key=f"k{n}",
                       time=f"2026-11-24T08:0{n}:00Z") for n in range(3)]


def test_lists_every_tool_with_the_event_schema(repo: Path) -> None:
    async def scenario(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in drive(repo, scenario)}
    assert list(tools) == TOOLS
    record = tools["record_event"].input_schema
    assert record["properties"]["event"]["title"] == "agentops Event"
    assert record["additionalProperties"] is False
    assert tools["show_incident"].input_schema["required"] == ["id"]


def test_three_failed_attempts_open_an_incident_seen_by_list_and_show(repo: Path) -> None:
    async def scenario(client: Client) -> tuple[Any, Any, Any]:
        outcomes = await three_failures(client)
        listed = await call(client, "list_incidents", status="open")
        shown = await call(client, "show_incident", id=listed["incidents"][0]["id"])
        return outcomes, listed, shown

    outcomes, listed, shown = drive(repo, scenario)
    assert [bool(o["incidents"]) for o in outcomes] == [False, False, True]
    opened = outcomes[2]["incidents"][0]
    assert opened["action"] == "open"
    assert listed["count"] == 1 and listed["incidents"][0]["id"] == opened["id"]
    assert shown["id"] == opened["id"] and shown["category"] == "AUTOMATION_FAILURE"
    assert shown["markdown"].startswith("<!-- agentops:incident ")
    assert git(repo, "rev-parse", "HEAD").strip() == outcomes[2]["commit"]


def test_same_idempotency_key_writes_once(repo: Path) -> None:
    event = {"type": "resource.deleted", "environment": "production", "key": "del-1",
             "subject": {"namespace": "prod", "kind": "Secret", "name": "db"}}

    async def scenario(client: Client) -> tuple[Any, Any]:
        return (await call(client, "record_event", event=event),
                await call(client, "record_event", event=event))

    first, second = drive(repo, scenario)
    assert first == second
    assert git(repo, "log", "--format=%s").count("agentops: open INC-") == 1


def test_resolve_writes_the_lesson_and_recall_finds_it(repo: Path) -> None:
    async def scenario(client: Client) -> tuple[Any, Any, Any]:
        inc = (await three_failures(client))[2]["incidents"][0]["id"]
        await call(client, "update_incident", id=inc, action="ack", time="2026-11-24T08:05:00Z")
        resolved = await call(
            client, "update_incident", id=inc, action="resolve", time="2026-11-24T08:20:00Z",
            root_cause="Schema lock held by a stuck backup job",
            resolution="Killed the backup job and reran the migration",
            lessons="Check for long-running backup locks before migrating")
        hits = await call(client, "recall", query="backup locks migrating")
        return inc, resolved, hits

    inc, resolved, hits = drive(repo, scenario)
    assert (resolved["id"], resolved["status"]) == (inc, "Resolved")
    assert any(h["kind"] == "memory" and "backup" in h["text"].lower() for h in hits["hits"])
    assert "agentops: resolve " + inc in git(repo, "log", "--format=%s")


def test_recall_reranks_by_meaning_when_asked(repo: Path) -> None:
    """``semantic`` is the MCP client's --semantic: the hits say the meaning was weighed."""
    needs_the_extra()

    async def scenario(client: Client) -> tuple[Any, Any]:
        await three_failures(client)
        query = "the schema change keeps failing"
        return (await call(client, "recall", query=query),
                await call(client, "recall", query=query, semantic=True))

    lexical, semantic = drive(repo, scenario)
    assert lexical["hits"] and semantic["hits"]
    assert not any("meaning close to the query" in " ".join(h["why"]) for h in lexical["hits"])
    assert all("meaning close to the query" in " ".join(h["why"]) for h in semantic["hits"])


def test_followup_and_check(repo: Path) -> None:
    async def scenario(client: Client) -> tuple[Any, Any]:
        inc = (await three_failures(client))[2]["incidents"][0]["id"]
        added = await call(client, "add_followup", id=inc, text="Alert on stuck backups",
                           owner="@dba", due="2026-12-01")
        return added, await call(client, "check", now="2026-12-24T00:00:00Z")

    added, checked = drive(repo, scenario)
    assert (added["action"], added["followup"]) == ("followup", 1)
    assert checked["ok"] is False and checked["findings"]


def test_update_incident_sets_impact_fields(repo: Path) -> None:
    async def scenario(client: Client) -> Any:
        inc = (await three_failures(client))[2]["incidents"][0]["id"]
        await call(client, "update_incident", id=inc, action="ack", affected_users=40,
                   affected_services=["migrator", "api"], user_impact="Migrations stalled",
                   time="2026-11-24T08:05:00Z")
        return await call(client, "show_incident", id=inc)

    shown = drive(repo, scenario)
    assert (shown["affected_users"], shown["affected_services"], shown["user_impact"]) == (
        40, ["migrator", "api"], "Migrations stalled")


MALFORMED: list[tuple[str, Any, str]] = [
    ("record_event", {"event": {"type": "Deployment Failed"}},
     "error: event.type: 'Deployment Failed' is not a dotted lower-case type like "
     "deployment.failed"),
    ("record_event", {"type": "attempt", "fields": {"outcome": "maybe"}},
     "error: --field outcome=maybe: expected one of failed, succeeded (or failure, error, "
     "fail, success, ok)"),
    ("record_event", {"type": "nonsense"},
     "error: record type 'nonsense': expected one of deployment, deletion, approval, attempt, "
     "availability, security, integrity, event or a dotted event type like k8s.warning"),
    ("record_event", {"type": "attempt", "colour": "red"},
     "error: record_event.colour: unknown argument (allowed: event, type, fields, message, "
     "key, time, environment, actor, dry_run, assume_utc, allow_unknown_environment)"),
    ("record_event", {"type": 7}, "error: record_event.type: expected string, got integer"),
    ("record_event", {}, "error: record_event: give either event (an Event object) or type "
     "(a record type) with fields"),
    ("show_incident", {}, "error: show_incident.id: required"),
    ("show_incident", {"id": "INC-2026-01-01-001"},
     "error: INC-2026-01-01-001 not found in INCIDENTS.md or its archive"),
    ("update_incident", {"id": "INC-2026-01-01-001", "action": "close"},
     "error: update_incident.action: 'close' is not one of ack, update, resolve"),
    ("update_incident", {"id": "INC-2026-01-01-001", "action": "ack", "lessons": "x"},
     "error: update_incident.lessons: not allowed with action ack"),
    ("recall", {"query": "x", "limit": 0}, "error: recall.limit: 0 is not in the range 1..1000"),
]


@pytest.mark.parametrize(("tool", "arguments", "message"), MALFORMED)
def test_malformed_arguments_are_a_tool_error_and_write_nothing(
        repo: Path, tool: str, arguments: Any, message: str) -> None:
    head = git(repo, "rev-parse", "HEAD")

    async def scenario(client: Client) -> str:
        return await call_error(client, tool, arguments)

    assert drive(repo, scenario) == message
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


def test_tool_error_text_is_what_the_cli_prints(repo: Path) -> None:
    cli = run_cli(["record", "attempt", "-f", "outcome=maybe"], repo=repo)

    async def scenario(client: Client) -> str:
        return await call_error(client, "record_event",
                                {"type": "attempt", "fields": {"outcome": "maybe"}})

    assert (cli.returncode, cli.stderr.strip()) == (1, drive(repo, scenario))


def test_resources_are_the_memory_index_and_each_entry(repo: Path) -> None:
    async def scenario(client: Client) -> tuple[list[str], Any, Any]:
        await three_failures(client)
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        index = await client.read_resource("agentops://memory/index")
        mem = next(u for u in uris if "MEM-" in u)
        return uris, index, await client.read_resource(mem)

    uris, index, entry = drive(repo, scenario)
    assert uris[0] == "agentops://memory/index"
    assert {u.split("/")[-1][:3] for u in uris[1:]} == {"INC", "TS-", "MEM"}
    assert "MEM-0001" in index.contents[0].text
    assert [c.mime_type for c in entry.contents] == ["text/markdown", "application/json"]
    assert entry.contents[0].text.startswith("<!-- agentops:memory MEM-0001 ")
