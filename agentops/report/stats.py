"""Incident statistics: MTTA/MTTR against targets, monthly downtime and uptime, repeats.

Pure computation over parsed incidents (no I/O), so ``stats`` and its tests agree on every
figure, and the definitions the figures rest on travel with them (:data:`DEFINITIONS` is
printed under every table). Durations are computed from the stored times, never read from
prose. Uptime is compared with integers and exact fractions, so a 30-day month with exactly
43 minutes of downtime shows 99.90% and meets a 99.9% target, and 44 minutes does not.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Final

from agentops.events import format_time
from agentops.ledger.incidents import format_duration
from agentops.ledger.model import Incident
from agentops.policy.model import Sla
from agentops.vocabulary import SEVERITIES

ORDER: Final = tuple(reversed(SEVERITIES))  # CRITICAL first
MAX_IDS_SHOWN: Final = 10
MAX_REPEATS_SHOWN: Final = 20

DEFINITIONS: Final = (
    ("Incidents are selected by detection time (impact start when there is none) in "
    "[since, until); monthly counts use the month of detection."),
    ("MTTA = acknowledged - detected, over incidents with both times. "
    "MTTR = resolved - detected, over resolved incidents."),
    ("mean is the arithmetic mean; p50 and p90 are nearest-rank percentiles (the smallest value "
    "with at least 50% / 90% of values at or below it)."),
    ("Within target = share of resolved incidents whose MTTR is at most the severity's MTTR "
    "target (rules: severities.*.mttr)."),
    ("Downtime counts only outages: incidents whose rule is marked `outage: true` in the "
    "policy, or (rules without `outage:`) whose category is in sla.outage_categories "
    "(CLUSTER_FAILURE by default; production deployment failures are marked outages by their "
    "rules), or that have downtime_minutes set. Denied approvals, agent failures, drift and "
    "other incidents are not outages."),
    ("Downtime = the union of outage intervals, each from impact started (or detected) to "
    "mitigated (or resolved, or now while open), or to impact start + downtime_minutes when "
    "those are given (they override the times, 0 included); overlapping outages count once; "
    "intervals are split at month boundaries (UTC)."),
    ("Availability samples (availability.sample events in the journal) feed a month's "
    "downtime where present: a down sample (up=false) counts until the next up sample of the "
    "same subject, a ratio sample counts (1 - ratio) x its window (samples without a window "
    "are not counted); the month's downtime is the larger of the sampled and the outage "
    "downtime."),
    ("Uptime = 1 - downtime / the calendar month's actual minutes (28-31 days x 1440, the whole "
    "month even while it is running), rounded down to 0.01%; the target is sla.availability_"
    "target (99.9% allows 43.2 min in a 30-day month, 44.6 min in a 31-day month)."),
    ("Repeat incidents = two or more incidents with the same dedup key or linked to the same "
    "TROUBLESHOOTING entry."),
    ("Dashboard (relative to now, over every incident whatever --since/--until say): this "
    "week starts Monday 00:00 UTC, this month on the 1st, year to date on 1 January; "
    "incidents by detection time, MTTR the mean over those resolved, downtime the outage "
    "union cut to the period, affected users the sum of affected_users."),
    ("P0/P1 last 30 days = CRITICAL and HIGH incidents detected in [now - 30d, now), with how "
    "many of the resolved ones met the MTTR target. MTTR trend = mean MTTR of the last 30 "
    "days against the 30 days before (a negative change is faster)."),
    ("Top recurring problems = the 3 TROUBLESHOOTING entries (known-problem signatures) with "
    "the most incidents detected in the last 183 days, two or more each."),
)

Month = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Spread:
    """Mean, median and 90th percentile of a set of durations (None when the set is empty)."""

    n: int
    mean: timedelta | None = None
    p50: timedelta | None = None
    p90: timedelta | None = None


@dataclass(frozen=True, slots=True)
class SeverityRow:
    severity: str
    count: int
    mtta: Spread
    mttr: Spread
    target: timedelta | None
    within: int

    @property
    def within_share(self) -> float | None:
        return self.within / self.mttr.n if self.mttr.n else None


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: str
    incidents: int
    critical_high: int
    downtime: timedelta
    minutes: int
    uptime_floor_bp: int  # uptime in basis points of a percent (9990 = 99.90%), rounded down
    meets_target: bool

    @property
    def uptime(self) -> float:
        return 100 * (1 - self.downtime / timedelta(minutes=self.minutes))


@dataclass(frozen=True, slots=True)
class Repeat:
    by: str  # "dedup_key" or "troubleshooting"
    key: str
    incidents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Period:
    """One row of the tracker's dashboard: this week, this month, year to date."""

    name: str
    start: datetime
    incidents: int
    mttr: timedelta | None
    downtime: timedelta
    affected_users: int


@dataclass(frozen=True, slots=True)
class Recent:
    """P0 or P1 incidents of the last 30 days against the severity's MTTR target."""

    severity: str
    count: int
    resolved: int
    within: int
    target: timedelta | None


@dataclass(frozen=True, slots=True)
class Trend:
    """Mean MTTR of one severity in the last 30 days against the 30 days before."""

    severity: str
    current: Spread
    previous: Spread
    target: timedelta | None

    @property
    def change(self) -> float | None:
        """Relative change of the mean (-0.25: a quarter faster); None without both."""
        if self.current.mean is None or not self.previous.mean:
            return None
        return self.current.mean / self.previous.mean - 1


@dataclass(frozen=True, slots=True)
class Problem:
    """A known problem (TROUBLESHOOTING entry) and its incidents in the last six months."""

    id: str
    title: str
    incidents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dashboard:
    periods: tuple[Period, ...]
    recent: tuple[Recent, ...]
    trends: tuple[Trend, ...]
    top_problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    now: datetime
    since: datetime | None
    until: datetime | None
    total: int
    availability_target: float
    severities: tuple[SeverityRow, ...]
    months: tuple[MonthRow, ...]
    categories: tuple[tuple[str, int], ...]
    root_causes: tuple[tuple[str, int], ...]
    repeats: tuple[Repeat, ...]
    dashboard: Dashboard | None = None


# --- computing ---------------------------------------------------------------------------------


def compute(incidents: Iterable[Incident], *, sla: Sla, now: datetime,
            since: datetime | None = None, until: datetime | None = None,
            samples: Sequence[Sample] = (),
            problems: Mapping[str, str] | None = None) -> Stats:
    """Every figure of ``agentops stats`` for the incidents detected in [since, until); the
    dashboard is relative to ``now`` over all incidents. ``problems`` names TROUBLESHOOTING
    entries by id (for the top recurring problems)."""
    incidents = list(incidents)
    chosen = [i for i in incidents if _selected(i, since, until)]
    return Stats(
        now=now, since=since, until=until, total=len(chosen),
        availability_target=sla.availability_target,
        severities=tuple(_severity_row(s, chosen, sla) for s in ORDER),
        months=_months(chosen, sla=sla, now=now, since=since, until=until, samples=samples),
        categories=_counts(i.category for i in chosen),
        root_causes=_counts(i.root_cause_category or "(not set)" for i in chosen),
        repeats=repeats(chosen),
        dashboard=dashboard(incidents, sla=sla, now=now, problems=problems or {}),
    )


def detected_at(inc: Incident) -> datetime | None:
    return inc.detected or inc.impact_started


def _selected(inc: Incident, since: datetime | None, until: datetime | None) -> bool:
    when = detected_at(inc)
    if when is None:
        return since is None and until is None
    return (since is None or when >= since) and (until is None or when < until)


def percentile(ordered: Sequence[timedelta], p: int) -> timedelta:
    """Nearest rank: the value at rank ceil(p/100 * n) of the sorted values."""
    return ordered[max(math.ceil(p * len(ordered) / 100), 1) - 1]


def spread(values: Iterable[timedelta]) -> Spread:
    ordered = sorted(values)
    if not ordered:
        return Spread(0)
    mean = sum(ordered, timedelta()) / len(ordered)
    return Spread(len(ordered), mean, percentile(ordered, 50), percentile(ordered, 90))


def _severity_row(severity: str, incidents: Sequence[Incident], sla: Sla) -> SeverityRow:
    mine = [i for i in incidents if i.severity == severity]
    mtta = [d for i in mine if (d := i.time_to_acknowledge) is not None]
    mttr = [d for i in mine if (d := i.time_to_resolve) is not None]
    target = sla.mttr.get(severity)
    within = sum(1 for d in mttr if target is not None and d <= target)
    return SeverityRow(severity, len(mine), spread(mtta), spread(mttr), target, within)


def _counts(values: Iterable[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))


def repeats(incidents: Sequence[Incident]) -> tuple[Repeat, ...]:
    """Groups of two or more incidents sharing a dedup key or a TROUBLESHOOTING entry."""
    groups: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    for inc in incidents:
        if inc.dedup_key:
            groups["dedup_key", inc.dedup_key].append(inc)
        if inc.troubleshooting:
            groups["troubleshooting", inc.troubleshooting].append(inc)
    found = [Repeat(by, key, tuple(i.id for i in sorted(g, key=_by_detection)))
             for (by, key), g in groups.items() if len(g) > 1]
    return tuple(sorted(found, key=lambda r: (-len(r.incidents), r.by, r.key)))


def _by_detection(inc: Incident) -> tuple[datetime, str]:
    return detected_at(inc) or datetime.min.replace(tzinfo=UTC), inc.id


# --- the tracker's dashboard ------------------------------------------------------------------

RECENT: Final = timedelta(days=30)
RECURRING_WINDOW: Final = timedelta(days=183)
TOP_PROBLEMS: Final = 3


def dashboard(incidents: Sequence[Incident], *, sla: Sla, now: datetime,
              problems: Mapping[str, str]) -> Dashboard:
    """What the incident tracker keeps by hand, as of ``now`` (see DEFINITIONS)."""
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    starts = (("This week", day - timedelta(days=now.weekday())),
              ("This month", day.replace(day=1)), ("Year to date", day.replace(month=1, day=1)))
    periods = tuple(_period(name, start, incidents, sla=sla, now=now) for name, start in starts)
    last = [i for i in incidents if _selected(i, now - RECENT, now)]
    before = [i for i in incidents if _selected(i, now - 2 * RECENT, now - RECENT)]
    recent = []
    for sev in ("CRITICAL", "HIGH"):
        mine = [i for i in last if i.severity == sev]
        ttr = [d for i in mine if (d := i.time_to_resolve) is not None]
        target = sla.mttr.get(sev)
        recent.append(Recent(sev, len(mine), len(ttr),
                             sum(1 for d in ttr if target is not None and d <= target), target))
    trends = tuple(Trend(sev, _mttr_of(last, sev), _mttr_of(before, sev), sla.mttr.get(sev))
                   for sev in ORDER)
    window = [i for i in incidents if _selected(i, now - RECURRING_WINDOW, now)]
    by_problem: dict[str, list[Incident]] = defaultdict(list)
    for inc in window:
        if inc.troubleshooting:
            by_problem[inc.troubleshooting].append(inc)
    top = sorted(by_problem.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_PROBLEMS]
    return Dashboard(periods, tuple(recent), trends, tuple(
        Problem(ts, problems.get(ts, ts), tuple(i.id for i in sorted(g, key=_by_detection)))
        for ts, g in top if len(g) > 1))


def _mttr_of(incidents: Sequence[Incident], severity: str) -> Spread:
    return spread(d for i in incidents if i.severity == severity
                  and (d := i.time_to_resolve) is not None)


def _period(name: str, start: datetime, incidents: Sequence[Incident], *, sla: Sla,
            now: datetime) -> Period:
    mine = [i for i in incidents if _selected(i, start, now)]
    ttr = spread(d for i in mine if (d := i.time_to_resolve) is not None)
    spans = [s for i in incidents if is_outage(i, sla)
             and (s := _clip(outage(i, now), start, now)) is not None]
    down = sum((b - a for a, b in union(spans)), timedelta())
    users = sum(i.affected_users or 0 for i in mine)
    return Period(name, start, len(mine), ttr.mean, down, users)


# --- downtime ----------------------------------------------------------------------------------


def is_outage(inc: Incident, sla: Sla) -> bool:
    """Whether the incident took something down: downtime minutes given, its rule's
    ``outage:`` flag, or else its category in ``sla.outage_categories``."""
    if inc.downtime_minutes is not None:
        return True
    if inc.rule is not None and inc.rule in sla.outage_rules:
        return sla.outage_rules[inc.rule]
    return inc.category in sla.outage_categories


def outage(inc: Incident, now: datetime) -> tuple[datetime, datetime] | None:
    """[impact started or detected, mitigated or resolved or now], cut at ``now``; with
    ``downtime_minutes`` given, [start, start + those minutes] instead."""
    start = inc.impact_started or inc.detected
    if start is None:
        return None
    if inc.downtime_minutes is not None:
        end = min(start + timedelta(minutes=inc.downtime_minutes), now)
    else:
        end = min(inc.mitigated or inc.resolved or now, now)
    return (start, end) if end > start else None


@dataclass(frozen=True, slots=True)
class Sample:
    """One availability sample: up or down (``up``), or a ratio over a window."""

    time: datetime
    subject: str
    up: bool | None = None
    ratio: float | None = None
    window: timedelta | None = None


def sampled_downtime(samples: Iterable[Sample], now: datetime) -> dict[Month, timedelta]:
    """Downtime by month as the samples measure it (see DEFINITIONS)."""
    by_subject: dict[str, list[Sample]] = defaultdict(list)
    out: dict[Month, timedelta] = defaultdict(timedelta)
    seen: set[Month] = set()
    for sample in samples:
        seen.add(month_of(sample.time))
        if sample.up is not None:
            by_subject[sample.subject].append(sample)
        elif sample.ratio is not None and sample.window is not None:
            out[month_of(sample.time)] += max(0.0, 1 - sample.ratio) * sample.window
    spans = []
    for series in by_subject.values():
        series.sort(key=lambda x: x.time)
        for n, sample in enumerate(series):
            if sample.up is False:
                ups = [x.time for x in series[n + 1:] if x.up]
                end = min(ups[0] if ups else now, now)
                if end > sample.time:
                    spans.append((sample.time, end))
    for month, down in downtime_by_month(spans).items():
        out[month] += down
    for month in seen:
        out.setdefault(month, timedelta())
    return dict(out)


def union(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Merge overlapping or touching intervals, so that each instant is counted once."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def month_of(when: datetime) -> Month:
    return when.year, when.month


def month_start(month: Month) -> datetime:
    return datetime(month[0], month[1], 1, tzinfo=UTC)


def next_month(month: Month) -> Month:
    return (month[0] + 1, 1) if month[1] == 12 else (month[0], month[1] + 1)


def downtime_by_month(
    intervals: Iterable[tuple[datetime, datetime]],
) -> dict[Month, timedelta]:
    """The union of the intervals, split at month boundaries."""
    out: dict[Month, timedelta] = defaultdict(timedelta)
    for start, end in union(intervals):
        while start < end:
            month = month_of(start)
            cut = min(end, month_start(next_month(month)))
            out[month] += cut - start
            start = cut
    return out


def _clip(span: tuple[datetime, datetime] | None, since: datetime | None,
          until: datetime | None) -> tuple[datetime, datetime] | None:
    if span is None:
        return None
    start = max(span[0], since) if since else span[0]
    end = min(span[1], until) if until else span[1]
    return (start, end) if end > start else None


def _months(incidents: Sequence[Incident], *, sla: Sla, now: datetime,
            since: datetime | None, until: datetime | None,
            samples: Sequence[Sample] = ()) -> tuple[MonthRow, ...]:
    spans = [s for i in incidents if is_outage(i, sla)
             and (s := _clip(outage(i, now), since, until)) is not None]
    down = downtime_by_month(spans)
    chosen = [x for x in samples if (since is None or x.time >= since)
              and (until is None or x.time < until)]
    for month, sampled in sampled_downtime(chosen, now).items():
        down[month] = max(down.get(month, timedelta()), sampled)
    detected = [month_of(d) for i in incidents if (d := detected_at(i)) is not None]
    crit = Counter(month_of(d) for i in incidents
                   if i.severity in ("CRITICAL", "HIGH") and (d := detected_at(i)) is not None)
    per_month = Counter(detected)
    rows = []
    for month in _month_range([*detected, *down], since, until, now):
        rows.append(_month_row(month, per_month[month], crit[month],
                               down.get(month, timedelta()), sla.availability_target))
    return tuple(rows)


def _month_range(seen: Sequence[Month], since: datetime | None, until: datetime | None,
                 now: datetime) -> list[Month]:
    """Every month from the first with data (or ``since``) to the month of ``now`` (or until)."""
    bounds = list(seen)
    if since is not None:
        bounds.append(month_of(since))
    if not bounds:
        return []
    end = now if until is None else min(until - timedelta(microseconds=1), now)
    bounds.append(month_of(end))
    month, last, out = min(bounds), max(bounds), []
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def _month_row(month: Month, count: int, critical_high: int, down: timedelta,
               target: float) -> MonthRow:
    total = month_start(next_month(month)) - month_start(month)
    down = min(down, total)
    total_us, down_us = _micros(total), _micros(down)
    allowed = (1 - Fraction(str(target))) * total_us
    return MonthRow(
        month=f"{month[0]:04d}-{month[1]:02d}", incidents=count, critical_high=critical_high,
        downtime=down, minutes=total_us // 60_000_000,
        uptime_floor_bp=(total_us - down_us) * 10_000 // total_us,
        meets_target=down_us <= allowed,
    )


def _micros(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


# --- rendering ---------------------------------------------------------------------------------


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _spread_json(s: Spread) -> dict[str, Any]:
    return {"n": s.n, "mean_s": _seconds(s.mean), "p50_s": _seconds(s.p50),
            "p90_s": _seconds(s.p90)}


def to_json(stats: Stats) -> dict[str, Any]:
    return {
        "generated": format_time(stats.now),
        "since": format_time(stats.since) if stats.since else None,
        "until": format_time(stats.until) if stats.until else None,
        "incidents": stats.total,
        "availability_target": stats.availability_target,
        "severities": [_severity_json(r) for r in stats.severities],
        "months": [_month_json(m) for m in stats.months],
        "categories": dict(stats.categories),
        "root_causes": dict(stats.root_causes),
        "repeats": [{"by": r.by, "key": r.key, "count": len(r.incidents),
                     "incidents": list(r.incidents)} for r in stats.repeats],
        "dashboard": _dashboard_json(stats.dashboard) if stats.dashboard else None,
        "definitions": list(DEFINITIONS),
    }


def _dashboard_json(d: Dashboard) -> dict[str, Any]:
    return {
        "periods": [{"name": p.name, "start": format_time(p.start), "incidents": p.incidents,
                     "mttr_mean_s": _seconds(p.mttr), "downtime_s": p.downtime.total_seconds(),
                     "affected_users": p.affected_users} for p in d.periods],
        "last_30_days": [{"severity": r.severity, "incidents": r.count, "resolved": r.resolved,
                          "within_target": r.within, "mttr_target_s": _seconds(r.target)}
                         for r in d.recent],
        "mttr_trend": [{"severity": t.severity, "current": _spread_json(t.current),
                        "previous": _spread_json(t.previous), "change": t.change,
                        "mttr_target_s": _seconds(t.target)} for t in d.trends],
        "top_problems": [{"id": p.id, "title": p.title, "count": len(p.incidents),
                          "incidents": list(p.incidents)} for p in d.top_problems],
    }


def _severity_json(r: SeverityRow) -> dict[str, Any]:
    return {"severity": r.severity, "count": r.count, "mtta": _spread_json(r.mtta),
            "mttr": _spread_json(r.mttr), "mttr_target_s": _seconds(r.target),
            "resolved": r.mttr.n, "within_target": r.within, "within_target_share": r.within_share}


def _month_json(m: MonthRow) -> dict[str, Any]:
    return {"month": m.month, "incidents": m.incidents, "critical_high": m.critical_high,
            "downtime_s": m.downtime.total_seconds(), "minutes": m.minutes,
            "uptime_percent": m.uptime, "uptime": _uptime(m), "meets_target": m.meets_target}


def _dur(value: timedelta | None) -> str:
    return "—" if value is None else format_duration(value)


def _spread_text(s: Spread) -> str:
    return "—" if not s.n else f"{_dur(s.mean)} / {_dur(s.p50)} / {_dur(s.p90)}"


def _share(r: SeverityRow) -> str:
    share = r.within_share
    return "—" if share is None else f"{share:.0%} ({r.within}/{r.mttr.n})"


def _uptime(m: MonthRow) -> str:
    return f"{m.uptime_floor_bp // 100}.{m.uptime_floor_bp % 100:02d}%"


def _target_text(target: float) -> str:
    return f"{target * 100:g}%"


def tables(stats: Stats) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of each table, shared by the markdown and text renderings."""
    target = _target_text(stats.availability_target)
    return [
        ("By severity", ["Severity", "Incidents", "MTTA mean / p50 / p90",
                         "MTTR mean / p50 / p90", "MTTR target", "Within target"],
         [[r.severity, str(r.count), _spread_text(r.mtta), _spread_text(r.mttr),
           "< " + _dur(r.target) if r.target else "—", _share(r)] for r in stats.severities]),
        ("By month", ["Month", "Incidents", "CRITICAL+HIGH", "Downtime", "Uptime",
                      f"Target {target}"],
         [[m.month, str(m.incidents), str(m.critical_high), _dur(m.downtime), _uptime(m),
           "met" if m.meets_target else "missed"] for m in stats.months]),
        ("By category", ["Category", "Incidents", "Share"],
         [[k, str(v), _pct(v, stats.total)] for k, v in stats.categories]),
        ("By root cause", ["Root cause category", "Incidents", "Share"],
         [[k, str(v), _pct(v, stats.total)] for k, v in stats.root_causes]),
        ("Repeat incidents", ["Same", "Key", "Count", "Incidents"],
         [[r.by.replace("_", " "), r.key, str(len(r.incidents)), _ids(r.incidents)]
          for r in stats.repeats[:MAX_REPEATS_SHOWN]]),
        *(dashboard_tables(stats.dashboard) if stats.dashboard else []),
    ]


def _pct(part: int, total: int) -> str:
    return f"{part / total:.0%}" if total else "—"


def dashboard_tables(d: Dashboard) -> list[tuple[str, list[str], list[list[str]]]]:
    def change(t: Trend) -> str:
        c = t.change
        return "—" if c is None else ("faster " if c < 0 else "slower " if c > 0 else "") + (
            f"{abs(c):.0%}" if c else "same")

    return [
        ("This week, this month, year to date", ["Period", "From", "Incidents", "MTTR mean",
                                                 "Downtime", "Affected users"],
         [[p.name, p.start.date().isoformat(), str(p.incidents), _dur(p.mttr),
           _dur(p.downtime), str(p.affected_users)] for p in d.periods]),
        ("P0/P1 in the last 30 days", ["Severity", "Incidents", "Resolved", "Within MTTR target",
                                       "Target"],
         [[f"{r.severity} ({'P0' if r.severity == 'CRITICAL' else 'P1'})", str(r.count),
           str(r.resolved), f"{r.within}/{r.resolved}" if r.resolved else "—",
           "< " + _dur(r.target) if r.target else "—"] for r in d.recent]),
        ("MTTR trend (last 30 days vs the 30 before)", ["Severity", "Last 30 days",
                                                        "Previous 30 days", "Change", "Target"],
         [[t.severity, f"{_dur(t.current.mean)} (n={t.current.n})",
           f"{_dur(t.previous.mean)} (n={t.previous.n})", change(t),
           "< " + _dur(t.target) if t.target else "—"] for t in d.trends]),
        ("Top recurring problems (last 6 months)", ["Problem", "Title", "Incidents", "Ids"],
         [[p.id, p.title, str(len(p.incidents)), _ids(p.incidents)] for p in d.top_problems]),
    ]


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS_SHOWN])
    return shown + (f" … and {len(ids) - MAX_IDS_SHOWN} more" if len(ids) > MAX_IDS_SHOWN else "")


def _heading(stats: Stats) -> str:
    window = ""
    if stats.since or stats.until:
        window = (f" detected from {format_time(stats.since) if stats.since else 'the start'}"
                  f" until {format_time(stats.until) if stats.until else 'now'}")
    return (f"{stats.total} incidents{window}; computed {format_time(stats.now)} by "
            "`agentops stats`.")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(stats: Stats) -> str:
    """The block ``stats --write`` puts between the stats markers of INCIDENTS.md."""
    out = [f"_{_heading(stats)}_", ""]
    for title, headers, rows in tables(stats):
        out += [f"**{title}**", ""]
        if not rows:
            out += ["_None._", ""]
            continue
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "---|" * len(headers))
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        out.append("")
    out += ["**Definitions**", ""] + [f"- {d}" for d in DEFINITIONS]
    return "\n".join(out) + "\n"


def to_text(stats: Stats) -> str:
    """Aligned plain tables for a terminal."""
    out = [_heading(stats).replace("`", ""), ""]
    for title, headers, rows in tables(stats):
        out.append(title)
        out += _aligned(headers, rows) if rows else ["  (none)"]
        out.append("")
    out += ["Definitions"] + [f"  - {d}" for d in DEFINITIONS]
    return "\n".join(out)


def _aligned(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [headers, *rows]]
