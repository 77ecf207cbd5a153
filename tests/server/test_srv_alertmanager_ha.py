"""A real Alertmanager HA pair (two clustered prometheus-alertmanager 0.25) feeding ``serve``.

Prometheus sends every alert to every Alertmanager; with the peer timeout at zero both replicas
notify, as a partitioned pair does. agentops must still record each alert once, open one
incident per alert and resolve exactly those.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from srv_helpers import (
    Client,
    ServeProcess,
    free_port,
    have_alertmanager,
    journal_records,
    make_managed_repo,
    wait_for,
)
from test_srv_alertmanager import CONFIG, TOKEN, alerts, incident_actions

BINARY = have_alertmanager()
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Path, list[Client], ServeProcess]]:
    repo = make_managed_repo(tmp_path / "ops")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    serve = ServeProcess(repo, env={"AGENTOPS_ALERTMANAGER_TOKEN_FILE": str(token_file)})
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(port=serve.port, token_file=token_file))
    gossip = [free_port(), free_port()]
    procs, clients = [], []
    for n in range(2):
        web = free_port()
        args = [str(BINARY), f"--config.file={config}", f"--storage.path={tmp_path / f'am{n}'}",
                f"--web.listen-address=127.0.0.1:{web}",
                f"--cluster.listen-address=127.0.0.1:{gossip[n]}",
                f"--cluster.peer=127.0.0.1:{gossip[1 - n]}", "--cluster.peer-timeout=0s",
                "--cluster.settle-timeout=1s", "--log.level=warn"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        clients.append(Client(web))
    try:
        for client in clients:
            wait_for(lambda c=client: _ready(c), timeout=30, what="Alertmanager to start")
        yield repo, clients, serve
    finally:
        for client, proc in zip(clients, procs, strict=True):
            client.close()
            proc.terminate()
            proc.wait(20)
        assert serve.stop() == 0, serve.stderr


def _ready(client: Client) -> bool:
    try:
        return client.get("/-/ready").status == 200
    except OSError:
        return False


def test_ha_pair_notifying_twice_opens_and_resolves_each_alert_once(
    pair: tuple[Path, list[Client], ServeProcess],
) -> None:
    repo, replicas, serve = pair
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    for replica in replicas:
        assert replica.post("/api/v2/alerts", alerts(starts, None)).status == 200
    wait_for(lambda: len(incident_actions(repo)) == 2, timeout=30, what="two incidents")
    # Both replicas delivered the group: four alert events accepted, two recorded.
    wait_for(lambda: _metric(serve, "agentops_hook_events_accepted_total") >= 4, timeout=30,
             what="both replicas' notifications")
    wait_for(lambda: _metric(serve, "agentops_events_committed_total") >= 4, timeout=30,
             what="both notifications through the pipeline")
    assert [r["event"]["type"] for r in journal_records(repo)] == ["alert.firing"] * 2

    ended = datetime.now(UTC) - timedelta(seconds=5)
    for replica in replicas:
        assert replica.post("/api/v2/alerts", alerts(starts, ended)).status == 200
    wait_for(lambda: all(a[-1] == "resolve" for a in incident_actions(repo).values()),
             timeout=30, what="both incidents resolved")
    assert sorted(incident_actions(repo).values()) == [["open", "resolve"], ["open", "resolve"]]
    keys = [r["key"] for r in journal_records(repo)]
    assert len(keys) == len(set(keys)) == 4  # two alerts, firing and resolved, each once


def _metric(serve: ServeProcess, name: str) -> float:
    """The sum of a counter's samples on serve's /metrics."""
    total = 0.0
    for line in serve.client.get("/metrics").body.decode().splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total
