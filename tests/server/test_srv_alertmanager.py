"""The real Alertmanager (Debian's prometheus-alertmanager) pointed at ``agentops serve``.

Alerts posted to Alertmanager's own API arrive grouped as its webhook and become incidents;
the same alerts posted again with ``endsAt`` in the past resolve them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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

from agentops.sources.alertmanager import fingerprint_of

BINARY = have_alertmanager()
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed")
TOKEN = "alertmanager-token"
CONFIG = """\
route:
  receiver: agentops
  group_by: [alertname, namespace]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: agentops
    webhook_configs:
      - url: http://127.0.0.1:{port}/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Path, Client, ServeProcess]]:
    repo = make_managed_repo(tmp_path / "ops")
    token_file = tmp_path / "secrets" / "token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN + "\n")
    serve = ServeProcess(repo, env={"AGENTOPS_ALERTMANAGER_TOKEN_FILE": str(token_file)})
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(port=serve.port, token_file=token_file))
    am_port = free_port()
    am = subprocess.Popen(
        [str(BINARY), f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    client = Client(am_port)
    try:
        wait_for(lambda: _up(client), what="Alertmanager to start")
        yield repo, client, serve
    finally:
        client.close()
        am.terminate()
        am.wait(20)
        assert serve.stop() == 0, serve.stderr


def _up(client: Client) -> bool:
    try:
        return client.get("/-/ready").status == 200
    except OSError:
        return False


def alerts(starts: datetime, ends: datetime | None) -> bytes:
    out: list[dict[str, Any]] = []
    for pod in ("api-7d9f-1", "api-7d9f-2"):
        alert: dict[str, Any] = {
            "labels": {"alertname": "KubePodCrashLooping", "severity": "critical",
                       "namespace": "prod-shop", "pod": pod},
            "annotations": {"summary": f"Pod prod-shop/{pod} is crash looping"},
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "generatorURL": "http://prometheus.invalid/graph",
        }
        if ends is not None:
            alert["endsAt"] = ends.isoformat().replace("+00:00", "Z")
        out.append(alert)
    return json.dumps(out).encode()


def incident_actions(repo: Path) -> dict[str, list[str]]:
    actions: dict[str, list[str]] = {}
    for record in journal_records(repo):
        for incident in record["outcome"]["incidents"]:
            actions.setdefault(incident["id"], []).append(incident["action"])
    return actions


def test_firing_alerts_open_incidents_and_resolving_them_resolves_them(
    stack: tuple[Path, Client, ServeProcess]
) -> None:
    repo, alertmanager, serve = stack
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    posted = alertmanager.post("/api/v2/alerts", alerts(starts, None))
    assert posted.status == 200, posted.body
    wait_for(lambda: len(incident_actions(repo)) == 2, timeout=30, what="two incidents")
    records = journal_records(repo)
    assert {r["event"]["type"] for r in records} == {"alert.firing"}
    # Both alerts came in one grouped webhook, so one group commit holds them.
    assert {r["event"]["attributes"]["group_key"] for r in records} == {
        records[0]["event"]["attributes"]["group_key"]}
    incidents = (repo / "INCIDENTS.md").read_text()
    assert "KubePodCrashLooping: Pod prod-shop/api-7d9f-1 is crash looping" in incidents

    ended = datetime.now(UTC) - timedelta(seconds=5)
    assert alertmanager.post("/api/v2/alerts", alerts(starts, ended)).status == 200
    wait_for(lambda: all(len(a) == 2 for a in incident_actions(repo).values()), timeout=30,
             what="both incidents resolved")
    for actions in incident_actions(repo).values():
        assert actions[0] == "open" and actions[-1] == "resolve", actions
    metrics = serve.client.get("/metrics").body.decode()
    assert "agentops_hook_requests_rejected_total{" not in metrics


def test_fingerprint_computed_for_senders_without_one_is_the_one_alertmanager_sends(
    stack: tuple[Path, Client, ServeProcess]
) -> None:
    repo, alertmanager, _serve = stack
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    assert alertmanager.post("/api/v2/alerts", alerts(starts, None)).status == 200
    wait_for(lambda: len(journal_records(repo)) == 2, timeout=30, what="two alerts journaled")
    for record in journal_records(repo):
        attributes = record["event"]["attributes"]
        assert "fingerprint_computed" not in attributes  # Alertmanager 0.25 sent it
        assert fingerprint_of(attributes["labels"]) == attributes["fingerprint"]
