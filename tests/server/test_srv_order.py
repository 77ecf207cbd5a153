"""``agentops serve`` keeps the order of event time, however deliveries arrive or batch."""

from __future__ import annotations

from pathlib import Path

from srv_helpers import ServeProcess, journal_records, make_managed_repo, wait_for

TOKEN = "order-token-0123456789"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"


def test_resolution_delivered_before_its_firing_leaves_nothing_open(tmp_path: Path) -> None:
    repo = make_managed_repo(tmp_path / "ops")
    serve = ServeProcess(repo, env={"AGENTOPS_ALERTMANAGER_TOKEN": TOKEN})
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        for name in ("alertmonitor-ICMP-3alerts-no-fingerprint-resolved.json",
                     "alertmonitor-ICMP-3alerts-no-fingerprint-firing.json"):
            posted = serve.client.post("/hooks/alertmanager", (FIXTURES / name).read_bytes(),
                                       headers=headers)
            assert posted.status in (200, 202), posted.body
        wait_for(lambda: len(journal_records(repo)) == 6, timeout=60, what="six events journaled")
    finally:
        assert serve.stop() == 0, serve.stderr
    records = journal_records(repo)
    assert [r["event"]["type"] for r in records] == ["alert.resolved"] * 3 + ["alert.firing"] * 3
    assert all(r["outcome"]["incidents"] == [] for r in records)
    late = [d for r in records for d in r["decisions"] if d["action"] == "late"]
    assert len(late) == 3
    assert "<!-- agentops:incident " not in (repo / "INCIDENTS.md").read_text()
