"""``agentops mcp --http``: the SDK's streamable HTTP client against the loopback server."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp_client import call, initialised

from agentops.commands import mcp_tools
from agentops.mcp_server.http import make_server


@pytest.fixture
def url(git_repo: Path) -> Iterator[str]:
    server = make_server(initialised(git_repo), mcp_tools, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    server.shutdown()
    server.server_close()


def test_sdk_client_records_and_lists_over_http(url: str) -> None:
    async def scenario() -> tuple[list[str], object]:
        async with Client(url) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            await call(client, "record_event", type="deletion", environment="production",
                       fields={"resource": "Secret/db", "namespace": "prod"}, key="d1")
            return names, await call(client, "list_incidents")

    names, listed = asyncio.run(scenario())
    assert "record_event" in names
    assert listed["count"] == 1  # type: ignore[index]


def test_foreign_origin_is_refused(url: str) -> None:
    request = urllib.request.Request(url, data=b"{}", headers={"Origin": "http://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403
