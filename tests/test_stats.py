"""``agentops stats``: hand-computed MTTA/MTTR, downtime as a union, uptime, --write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from report_helpers import (
    T0,
    add,
    add_archived,
    agentops_json,
    git,
    incident,
    init,
    iso,
    minutes,
)

from agentops.ledger.format import STATS_BEGIN, STATS_END
from agentops.ledger.model import Incident
from agentops.policy.model import Sla
from agentops.report import stats


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return init(git_repo)


def severity(data: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(s for s in data["severities"] if s["severity"] == name)  # type: ignore[no-any-return]


def test_backdated_incidents_give_hand_computed_mtta_and_mttr(repo: Path) -> None:
    # detected 09:00, acknowledged +7m, resolved +25m; detected 10:00, ack +3m, resolved +45m
    add(repo,
        incident(1, T0, severity="HIGH", acknowledged=T0 + minutes(7),
                 resolved=T0 + minutes(25)),
        incident(2, T0 + minutes(60), severity="HIGH", acknowledged=T0 + minutes(63),
                 resolved=T0 + minutes(105)))
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=1)))
    high = severity(data, "HIGH")
    assert high["count"] == 2
    assert high["mtta"] == {"n": 2, "mean_s": 300.0, "p50_s": 180.0, "p90_s": 420.0}
    assert high["mttr"] == {"n": 2, "mean_s": 2100.0, "p50_s": 1500.0, "p90_s": 2700.0}
    assert (high["mttr_target_s"], high["within_target"], high["within_target_share"]) == (
        1800.0, 1, 0.5)
    assert severity(data, "CRITICAL")["mttr"] == {"n": 0, "mean_s": None, "p50_s": None,
                                                  "p90_s": None}


def test_recorded_incident_with_time_has_its_mttr_from_the_ledger(repo: Path) -> None:
    out = run_cli(["record", "deletion", "-f", "resource=Deployment/checkout", "-e",
                   "production", "-f", "namespace=prod", "--time", iso(T0)], repo=repo)
    assert out.returncode == 0, out.stderr
    data = agentops_json(repo, "stats", "--now", iso(T0 + minutes(90)))
    high = severity(data, "HIGH")
    assert (high["count"], high["mttr"]["n"]) == (1, 0)
    # a deletion is drift, not an outage: no downtime while it stays open
    assert data["months"][0]["downtime_s"] == 0.0


def month_of(data: dict[str, Any], month: str) -> dict[str, Any]:
    return next(m for m in data["months"] if m["month"] == month)


def test_a_denied_approval_open_three_hours_leaves_the_month_at_100_percent(repo: Path) -> None:
    out = run_cli(["record", "approval", "-f", "decision=denied", "-f", "action=migrate",
                   "-f", "approver=alice", "--time", iso(T0)], repo=repo)
    assert out.returncode == 0, out.stderr
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(hours=3)))
    assert data["incidents"] == 1
    november = month_of(data, "2026-11")
    assert (november["downtime_s"], november["uptime"], november["meets_target"]) == (
        0.0, "100.00%", True)


def test_43_minutes_of_node_outage_in_a_30_day_month_gives_99_90(repo: Path) -> None:
    for etype, minute in (("node.notready", 0), ("node.ready", 43)):
        out = run_cli(["record", "event", "-f", f"type={etype}", "-f", "cluster=eu-1",
                       "-f", "kind=Node", "-f", "name=node-a", "--time",
                       iso(T0 + minutes(minute))], repo=repo)
        assert out.returncode == 0, out.stderr
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=40)))
    november = month_of(data, "2026-11")
    assert (november["downtime_s"], november["uptime"], november["meets_target"]) == (
        43 * 60.0, "99.90%", True)
    assert any("Denied approvals, agent failures, drift" in d for d in data["definitions"])


def test_a_failed_production_deployment_is_an_outage_by_its_rule(repo: Path) -> None:
    for status, minute in (("failed", 0), ("succeeded", 20)):
        out = run_cli(["record", "deployment", "-f", f"status={status}", "-e", "production",
                       "-f", "service=api", "-f", "namespace=shop-prod",
                       "--time", iso(T0 + minutes(minute))], repo=repo)
        assert out.returncode == 0, out.stderr
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=1)))
    assert month_of(data, "2026-11")["downtime_s"] == 20 * 60.0


def test_downtime_minutes_override_the_interval_and_make_an_outage(repo: Path) -> None:
    # an approval incident is no outage, but a person saying 12 minutes of downtime wins
    add(repo, incident(1, T0, resolved=T0 + minutes(90), downtime_minutes=12),
        incident(2, T0 + minutes(200), resolved=T0 + minutes(260), category="CLUSTER_FAILURE",
                 downtime_minutes=0))
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=1)))
    assert month_of(data, "2026-11")["downtime_s"] == 12 * 60.0


def test_availability_samples_feed_the_months_downtime(repo: Path) -> None:
    # a node down 30 minutes by its up/down samples
    for up, minute in (("false", 0), ("true", 30)):
        out = run_cli(["record", "availability", "-f", f"up={up}", "-f", "cluster=eu-1",
                       "-f", "name=node-b", "--time", iso(T0 + minutes(minute))], repo=repo)
        assert out.returncode == 0, out.stderr
    # above target (no incident), yet 0.05% of two hours is measured downtime
    out = run_cli(["record", "availability", "-f", "ratio=0.9995", "-f", "window=2h",
                   "-f", "cluster=eu-2", "--time", iso(T0 + timedelta(days=1))], repo=repo)
    assert out.returncode == 0, out.stderr
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=3)))
    # 30 minutes down (the incident the samples opened covers the same span) + 3.6 s
    assert month_of(data, "2026-11")["downtime_s"] == 30 * 60.0 + 3.6


def test_policy_outage_flags_change_what_counts(repo: Path) -> None:
    policy = repo / "rules" / "policy.yaml"
    policy.write_text(policy.read_text().replace(
        "outage_categories: [CLUSTER_FAILURE]",
        "outage_categories: [CLUSTER_FAILURE, AUTOMATION_FAILURE]"))
    git(repo, "add", "rules/policy.yaml")
    git(repo, "commit", "-qm", "approvals are outages here")
    out = run_cli(["record", "approval", "-f", "decision=denied", "-f", "action=migrate",
                   "-f", "approver=alice", "--time", iso(T0)], repo=repo)
    assert out.returncode == 0, out.stderr
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(hours=3)))
    assert month_of(data, "2026-11")["downtime_s"] == 3 * 3600.0


def test_overlapping_outages_count_their_overlap_once(repo: Path) -> None:
    # A: impact 10:00, mitigated 10:30; B: detected 10:20, resolved 10:50 -> 50 minutes, not 60
    a_start = T0 + minutes(60)
    add(repo,
        incident(1, a_start + minutes(5), impact_started=a_start, mitigated=a_start + minutes(30),
                 resolved=a_start + minutes(40), category="CLUSTER_FAILURE"),
        incident(2, a_start + minutes(20), resolved=a_start + minutes(50),
                 category="CLUSTER_FAILURE"))
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=3)))
    assert [(m["month"], m["downtime_s"]) for m in data["months"]] == [("2026-11", 3000.0)]


def test_an_outage_across_a_month_boundary_is_split(repo: Path) -> None:
    start = datetime(2026, 10, 31, 23, 50, tzinfo=UTC)
    add(repo, incident(1, start, resolved=start + minutes(30), category="CLUSTER_FAILURE"))
    data = agentops_json(repo, "stats", "--now", iso(start + timedelta(days=2)))
    assert [(m["month"], m["downtime_s"], m["incidents"]) for m in data["months"]] == [
        ("2026-10", 600.0, 1), ("2026-11", 1200.0, 0)]


@pytest.mark.parametrize(("down", "shown", "verdict"), [
    (43, "99.90%", "met"), (44, "99.89%", "missed"), (0, "100.00%", "met")])
def test_a_30_day_month_with_43_minutes_of_downtime_shows_99_90(
        repo: Path, down: int, shown: str, verdict: str) -> None:
    add(repo, incident(1, T0, severity="CRITICAL", acknowledged=T0 + minutes(min(down, 1)),
                       resolved=T0 + minutes(down), category="CLUSTER_FAILURE"))
    out = run_cli(["stats", "--format", "md", "--now", iso(T0 + timedelta(days=40))], repo=repo)
    assert out.returncode == 0, out.stderr
    downtime = f"{down}m" if down else "0s"
    assert f"| 2026-11 | 1 | 1 | {downtime} | {shown} | {verdict} |" in out.stdout
    assert "| 2026-12 | 0 | 0 | 0s | 100.00% | met |" in out.stdout


def test_since_and_until_select_incidents_by_detection(repo: Path) -> None:
    add(repo, incident(1, T0), incident(1, T0 + timedelta(days=1)),
        incident(1, T0 + timedelta(days=2)))
    now = iso(T0 + timedelta(days=5))
    day = (T0 + timedelta(days=1)).date().isoformat()
    one_day = agentops_json(repo, "stats", "--since", day, "--until", day, "--now", now)
    assert one_day["incidents"] == 1
    assert agentops_json(repo, "stats", "--since", day, "--now", now)["incidents"] == 2
    out = run_cli(["stats", "--since", day, "--until", T0.date().isoformat()], repo=repo)
    assert out.returncode == 1 and "--since must be before --until" in out.stderr


def test_repeats_categories_and_definitions_are_reported(repo: Path) -> None:
    add(repo,
        incident(1, T0, dedup_key="deployment:prod/api", category="DEPLOYMENT_FAILURE",
                 root_cause_category="bad-config"),
        incident(2, T0 + minutes(90), dedup_key="deployment:prod/api", troubleshooting="TS-0001",
                 category="DEPLOYMENT_FAILURE"),
        incident(3, T0 + minutes(200), troubleshooting="TS-0001"))
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=1)))
    day = T0.date().isoformat()
    assert data["repeats"] == [
        {"by": "dedup_key", "key": "deployment:prod/api", "count": 2,
         "incidents": [f"INC-{day}-001", f"INC-{day}-002"]},
        {"by": "troubleshooting", "key": "TS-0001", "count": 2,
         "incidents": [f"INC-{day}-002", f"INC-{day}-003"]},
    ]
    assert data["categories"] == {"DEPLOYMENT_FAILURE": 2, "AUTOMATION_FAILURE": 1}
    assert data["root_causes"] == {"(not set)": 2, "bad-config": 1}
    text = run_cli(["stats", "--now", iso(T0 + timedelta(days=1))], repo=repo).stdout
    assert "Definitions" in text and "nearest-rank percentiles" in text
    assert "month's actual minutes" in text


def test_incidents_rotated_into_monthly_archives_are_counted(repo: Path) -> None:
    old = T0 - timedelta(days=60)
    add_archived(repo, incident(1, old, severity="LOW", acknowledged=old + minutes(4),
                                resolved=old + minutes(10)))
    add(repo, incident(1, T0, severity="LOW", acknowledged=T0 + minutes(2),
                       resolved=T0 + minutes(30)))
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(days=1)))
    low = severity(data, "LOW")
    assert (low["count"], low["mtta"]["mean_s"], low["mttr"]["mean_s"]) == (2, 180.0, 1200.0)
    assert [m["month"] for m in data["months"]] == ["2026-09", "2026-10", "2026-11"]
    check = agentops_json(repo, "check", "--now", iso(T0 + timedelta(days=2)), code=1)
    assert {f["incident"] for f in check["findings"]} == {
        f"INC-{old.date().isoformat()}-001", f"INC-{T0.date().isoformat()}-001"}


def test_stats_write_puts_the_block_between_the_markers_in_one_commit(repo: Path) -> None:
    add(repo, incident(1, T0, severity="HIGH", acknowledged=T0 + minutes(5),
                       resolved=T0 + minutes(20)))
    before = git(repo, "rev-parse", "HEAD").strip()
    now = iso(T0 + timedelta(days=2))
    data = agentops_json(repo, "stats", "--write", "--now", now)
    assert git(repo, "rev-list", f"{before}..HEAD").split() == [data["commit"]]
    assert git(repo, "show", "--name-only", "--format=%s", "HEAD").split("\n")[:3] == [
        "agentops: stats (1 incidents)", "", "INCIDENTS.md"]
    assert git(repo, "status", "--porcelain") == ""
    text = (repo / "INCIDENTS.md").read_text()
    block = text.split(STATS_BEGIN + "\n", 1)[1].split(STATS_END, 1)[0]
    expected = run_cli(["stats", "--format", "md", "--now", now], repo=repo).stdout
    assert block == expected.rstrip("\n") + "\n"
    assert "| HIGH | 1 | 5m / 5m / 5m | 20m / 20m / 20m | < 30m | 100% (1/1) |" in block
    lint = run_cli(["lint"], repo=repo)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # the same figures again: nothing to commit
    again = agentops_json(repo, "stats", "--write", "--now", now)
    assert again["commit"] is None


def test_nearest_rank_percentiles() -> None:
    values = [timedelta(seconds=s) for s in range(1, 11)]
    assert stats.percentile(values, 50) == timedelta(seconds=5)
    assert stats.percentile(values, 90) == timedelta(seconds=9)
    assert stats.percentile(values[:1], 90) == timedelta(seconds=1)


def test_open_incident_downtime_is_cut_at_now() -> None:
    inc = Incident(id="INC-2026-11-02-001", uid="u1", title="t", detected=T0,
                   category="CLUSTER_FAILURE")
    figures = stats.compute([inc], sla=Sla(), now=T0 + minutes(10))
    assert figures.months[0].downtime == minutes(10)
    assert stats.outage(inc, T0 - minutes(1)) is None


# --- the tracker's dashboard ---------------------------------------------------------------------


def test_dashboard_periods_recent_p0_p1_trend_and_top_problems() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday
    def inc(n: int, when: datetime, sev: str, ttr: float | None, **extra: Any) -> Incident:
        resolved = when + minutes(ttr) if ttr is not None else None
        return Incident(id=f"INC-{when.date().isoformat()}-{n:03d}", uid=f"u{n}", title="t",
                        severity=sev, detected=when, resolved=resolved,
                        status="Resolved" if resolved else "Investigating", **extra)
    incidents = [
        # this week (from Monday 23rd): a P0 node outage, 20 minutes, 300 users
        inc(1, datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "CRITICAL", 20,
            category="CLUSTER_FAILURE", affected_users=300, troubleshooting="TS-0001"),
        # this month: a P1 approval (no outage), 40 minutes, over its 30 minute target
        inc(2, datetime(2026, 11, 3, 8, 0, tzinfo=UTC), "HIGH", 40, troubleshooting="TS-0001"),
        # previous 30 days: P0 of 60 minutes, for the trend
        inc(3, datetime(2026, 10, 20, 8, 0, tzinfo=UTC), "CRITICAL", 60,
            troubleshooting="TS-0002"),
        # this year, long ago: a third TS-0001 outside six months is not counted
        inc(4, datetime(2026, 2, 1, 8, 0, tzinfo=UTC), "LOW", 100, troubleshooting="TS-0001",
            affected_users=5),
        inc(5, datetime(2026, 9, 1, 8, 0, tzinfo=UTC), "LOW", None, troubleshooting="TS-0002"),
    ]
    d = stats.compute(incidents, sla=Sla(), now=now,
                      problems={"TS-0001": "Node NotReady"}).dashboard
    assert d is not None
    assert [(p.name, p.start.date().isoformat(), p.incidents, p.mttr, p.downtime,
             p.affected_users) for p in d.periods] == [
        ("This week", "2026-11-23", 1, minutes(20), minutes(20), 300),
        ("This month", "2026-11-01", 2, minutes(30), minutes(20), 300),
        ("Year to date", "2026-01-01", 5, minutes(55), minutes(20), 305)]
    assert [(r.severity, r.count, r.resolved, r.within) for r in d.recent] == [
        ("CRITICAL", 1, 1, 0), ("HIGH", 1, 1, 0)]
    critical = next(t for t in d.trends if t.severity == "CRITICAL")
    assert (critical.current.mean, critical.previous.mean) == (minutes(20), minutes(60))
    assert critical.change == pytest.approx(-2 / 3)
    assert [(p.id, p.title, p.incidents) for p in d.top_problems] == [
        ("TS-0001", "Node NotReady", ("INC-2026-11-03-002", "INC-2026-11-24-001")),
        ("TS-0002", "TS-0002", ("INC-2026-09-01-005", "INC-2026-10-20-003"))]
    text = stats.to_text(stats.compute(incidents, sla=Sla(), now=now))
    assert "CRITICAL  20m (n=1)     1h 00m (n=1)      faster 67%" in text
    assert "AUTOMATION_FAILURE  4          80%" in text  # by category, with share


def test_stats_json_has_the_dashboard(repo: Path) -> None:
    out = run_cli(["record", "approval", "-f", "decision=denied", "-f", "action=migrate",
                   "-f", "approver=alice", "--time", iso(T0), "-f", "affected_users=7"], repo=repo)
    assert out.returncode == 0, out.stderr
    data = agentops_json(repo, "stats", "--now", iso(T0 + timedelta(hours=3)))
    periods = {p["name"]: p for p in data["dashboard"]["periods"]}
    assert (periods["This month"]["incidents"], periods["This month"]["affected_users"],
            periods["This month"]["downtime_s"]) == (1, 7, 0.0)
    assert [r["severity"] for r in data["dashboard"]["last_30_days"]] == ["CRITICAL", "HIGH"]
