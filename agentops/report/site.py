"""The static status and transparency site of ``agentops report``: pages as strings.

People who would rather look than read get what status pages (Upptime, Atlassian Statuspage)
and the seed's public transparency report show: the current status and open incidents, a
90-day availability bar per service, the monthly uptime table, MTTR per severity against its
target, recurring problems, and one page per incident with its post-mortem. Every page is
self-contained HTML with inline CSS and SVG: no JavaScript, no fonts, images or styles from
anywhere, so it can be opened from disk, attached to an e-mail or published as it is.

Every figure comes from :mod:`agentops.report.stats` (one place per fact); this module only
lays them out. Ledger text is markdown; it is rendered by markdown-it with raw HTML and
images switched off (an event message cannot inject markup or make the page fetch anything),
and links to the ledger files become plain text. ``public`` leaves out what the policy marks
internal (``report.internal``): ``actors`` (handles and owners), ``events`` (raw event
fields, rules, dedup keys), ``links`` (TROUBLESHOOTING, MEMORY and related logs).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Final

from markdown_it import MarkdownIt

from agentops.events import format_time
from agentops.ledger.incidents import format_duration, format_when
from agentops.ledger.model import PLACEHOLDER, Incident, TroubleshootingEntry
from agentops.policy.model import Sla
from agentops.report import postmortem as pm
from agentops.report import stats as figures

DAYS: Final = 90
ALL: Final = "All services"
_LINK_RE: Final = re.compile(r"!?\[([^\]\n]*)\]\(([^)\s]*)\)")
_COMMENT_RE: Final = re.compile(r"<!--.*?-->\n?", re.S)
_ENTRY_ID_RE: Final = re.compile(r" ?\((?:TS|MEM)-\d{4,}\)|\b(?:TS|MEM)-\d{4,}\b")
_HANDLE_RE: Final = re.compile(r"(?<![\w/])@[A-Za-z0-9][\w.-]*")
_MD: Final = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")

CSS: Final = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1f2328;background:#f6f8fa}
main{max-width:960px;margin:0 auto;padding:24px}
header.top{background:#24292f;color:#fff;padding:16px 24px}
header.top a{color:#fff;text-decoration:none}
h1{font-size:26px;margin:8px 0}h2{font-size:20px;margin:28px 0 8px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px;margin:16px 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #d8dee4;vertical-align:top}th{background:#f6f8fa}
.status{font-size:20px;font-weight:600;padding:12px 16px;border-radius:8px;color:#fff}
.ok{background:#1a7f37}.degraded{background:#bf8700}.down{background:#cf222e}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:13px;color:#fff;
background:#57606a}.CRITICAL{background:#cf222e}.HIGH{background:#d1242f}
.MEDIUM{background:#bf8700}.LOW{background:#57606a}.met{color:#1a7f37}.missed{color:#cf222e}
.muted{color:#57606a;font-size:13px}svg{display:block;max-width:100%;height:auto}
.bar-row{margin:10px 0}code{background:#eff1f3;padding:0 4px;border-radius:4px}
"""


@dataclass(frozen=True, slots=True)
class Site:
    """What one run of ``agentops report`` publishes: pages by relative path, and the figures
    a caller prints."""

    pages: dict[str, str]
    incidents: int
    open: int
    uptime: str


# --- figures the site needs beyond stats ---------------------------------------------------------


def _groups(inc: Incident) -> list[str]:
    """The rows of the availability bar an outage counts in: its services, or environment."""
    return list(inc.affected_services) or [inc.environment or "unplaced"]


def daily_uptime(incidents: Sequence[Incident], *, sla: Sla, now: datetime,
                 days: int = DAYS) -> dict[str, list[tuple[date, timedelta]]]:
    """Downtime per day for the last ``days`` days (today included), per service or
    environment, and for all of them together (:data:`ALL`, the union)."""
    first = (now - timedelta(days=days - 1)).date()
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for inc in incidents:
        if figures.is_outage(inc, sla) and (span := figures.outage(inc, now)) is not None:
            spans[ALL].append(span)
            for group in _groups(inc):
                spans[group].append(span)
    out = {}
    for group in [ALL, *sorted(set(spans) - {ALL})]:
        merged = figures.union(spans.get(group, []))
        row = []
        for n in range(days):
            day = first + timedelta(days=n)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            end = start + timedelta(days=1)
            down = sum((min(b, end) - max(a, start) for a, b in merged if a < end and b > start),
                       timedelta())
            row.append((day, down))
        out[group] = row
    return out


def _severity_counts(incidents: Iterable[Incident]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for inc in incidents:
        if (when := figures.detected_at(inc)) is not None:
            out[f"{when.year:04d}-{when.month:02d}"][inc.severity] += 1
    return out


# --- text ----------------------------------------------------------------------------------------


def _public_text(text: str, public: bool) -> str:
    return _HANDLE_RE.sub("a responder", text) if public else text


def markdown(text: str, *, public: bool) -> str:
    """Ledger markdown as HTML: links (to ledger files the site does not carry) become their
    text, raw HTML is shown as text, images are never loaded."""
    plain = _LINK_RE.sub(lambda m: m.group(1), _COMMENT_RE.sub("", text))
    return str(_MD.render(_public_text(plain, public)))


def _inline(text: str, public: bool) -> str:
    """One line of ledger text (a title, a timeline row) as HTML."""
    return str(_MD.renderInline(_public_text(_LINK_RE.sub(lambda m: m.group(1), text), public)))


def _section(inc: Incident, heading: str) -> str | None:
    body = inc.sections.get(heading, "").strip()
    return None if not body or body == PLACEHOLDER else body


def _uptime_text(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


def _day_ratio(down: timedelta) -> float:
    return max(0.0, 1 - down / timedelta(days=1))


def _colour(ratio: float) -> str:
    if ratio >= 1:
        return "#2da44e"
    if ratio >= 0.999:
        return "#8fd19e"
    if ratio >= 0.99:
        return "#d4a72c"
    return "#cf222e"


def _page(title: str, body: str, *, home: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header class=\"top\"><a href=\"{home}\">Service status and incident report</a>"
        f"</header>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


# --- the index -----------------------------------------------------------------------------------


def _status(open_incidents: Sequence[Incident], sla: Sla) -> str:
    outages = [i for i in open_incidents if figures.is_outage(i, sla)]
    if outages:
        css, text = "down", f"Outage: {len(outages)} open incident(s) affecting service"
    elif open_incidents:
        css, text = "degraded", f"Operational, {len(open_incidents)} open incident(s)"
    else:
        css, text = "ok", "All systems operational"
    return f"<div class=\"status {css}\" id=\"current-status\">{escape(text)}</div>"


def _incident_rows(incidents: Sequence[Incident], *, public: bool, now: datetime) -> str:
    rows = []
    for inc in incidents:
        ttr = inc.time_to_resolve
        rows.append(
            f"<tr><td><a href=\"incidents/{inc.id}.html\">{inc.id}</a></td>"
            f"<td><span class=\"badge {inc.severity}\">{inc.severity}</span></td>"
            f"<td>{escape(inc.status)}</td><td>{_inline(inc.title, public)}</td>"
            f"<td>{escape(format_when(inc.detected))}</td>"
            f"<td>{escape(format_duration(ttr)) if ttr else 'open'}</td></tr>")
    return ("<table><thead><tr><th>Incident</th><th>Severity</th><th>Status</th><th>Title</th>"
            "<th>Detected</th><th>MTTR</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>") if rows else "<p>None.</p>"


def availability_svg(group: str, row: Sequence[tuple[date, timedelta]]) -> str:
    """One 90-day bar: a rectangle per day, coloured by that day's uptime, with a tooltip."""
    width, gap, height = 8, 2, 34
    rects = []
    for n, (day, down) in enumerate(row):
        ratio = _day_ratio(down)
        tip = f"{day.isoformat()}: {ratio * 100:.2f}% up" + (
            f", {format_duration(down)} down" if down else "")
        rects.append(f"<rect x=\"{n * (width + gap)}\" y=\"0\" width=\"{width}\" "
                     f"height=\"{height}\" rx=\"2\" fill=\"{_colour(ratio)}\">"
                     f"<title>{escape(tip)}</title></rect>")
    total = len(row) * (width + gap) - gap
    label = f"{len(row)}-day availability of {group}"
    return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\""
            f"{escape(label)}\" width=\"{total}\" height=\"{height}\" viewBox=\"0 0 {total} "
            f"{height}\">" + "".join(rects) + "</svg>")


def _availability(daily: dict[str, list[tuple[date, timedelta]]], days: int) -> str:
    parts = []
    for group, row in daily.items():
        down = sum((d for _, d in row), timedelta())
        share = 1 - down / timedelta(days=len(row))
        parts.append(
            f"<div class=\"bar-row\"><strong>{escape(group)}</strong> "
            f"<span class=\"muted\">{share * 100:.2f}% over {days} days"
            f"{', ' + format_duration(down) + ' down' if down else ''}</span>"
            f"{availability_svg(group, row)}</div>")
    return "".join(parts)


def _months(stats: figures.Stats, counts: dict[str, Counter[str]], target: str) -> str:
    rows = []
    for m in reversed(stats.months):
        c = counts.get(m.month, Counter())
        verdict = "met" if m.meets_target else "missed"
        rows.append(f"<tr><td>{m.month}</td><td>{_uptime_text(m.uptime_floor_bp)}</td>"
                    f"<td class=\"{verdict}\">{verdict}</td><td>{m.incidents}</td>"
                    f"<td>{c['CRITICAL']}</td><td>{c['HIGH']}</td>"
                    f"<td>{escape(format_duration(m.downtime))}</td></tr>")
    return (f"<table id=\"months\"><thead><tr><th>Month</th><th>Uptime</th>"
            f"<th>Target {escape(target)}</th><th>Incidents</th><th>P0</th><th>P1</th>"
            f"<th>Downtime</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def mttr_svg(stats: figures.Stats) -> str:
    """Mean MTTR per severity as bars, each with its target as a line."""
    rows = [r for r in stats.severities if r.target is not None or r.mttr.n]
    scale = max([*(r.mttr.mean.total_seconds() for r in rows if r.mttr.mean),
                 *(r.target.total_seconds() for r in rows if r.target), 1.0]) * 1.15
    left, width, step = 90, 520, 36
    parts = []
    for n, r in enumerate(rows):
        y = 10 + n * step
        mean = r.mttr.mean.total_seconds() if r.mttr.mean else 0.0
        over = r.target is not None and mean > r.target.total_seconds()
        bar = width * mean / scale
        parts.append(f"<text x=\"0\" y=\"{y + 15}\" font-size=\"13\">{r.severity}</text>")
        parts.append(f"<rect x=\"{left}\" y=\"{y}\" width=\"{bar:.1f}\" height=\"20\" "
                     f"fill=\"{'#cf222e' if over else '#2da44e'}\"><title>{r.severity}: mean "
                     f"MTTR {escape(format_duration(r.mttr.mean)) if r.mttr.mean else 'none'}"
                     f"</title></rect>")
        label = (format_duration(r.mttr.mean) if r.mttr.mean else "no resolved incidents")
        if r.target is not None:
            tx = left + width * r.target.total_seconds() / scale
            parts.append(f"<line x1=\"{tx:.1f}\" y1=\"{y - 3}\" x2=\"{tx:.1f}\" y2=\"{y + 23}\" "
                         "stroke=\"#24292f\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>")
            label += f" (target {format_duration(r.target)}, n={r.mttr.n})"
        parts.append(f"<text x=\"{left + bar + 6:.1f}\" y=\"{y + 15}\" font-size=\"13\">"
                     f"{escape(label)}</text>")
    height = 20 + len(rows) * step
    return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"MTTR per "
            f"severity against targets\" width=\"800\" height=\"{height}\" viewBox=\"0 0 800 "
            f"{height}\">" + "".join(parts) + "</svg>")


def _recurring(stats: figures.Stats, problems: Sequence[TroubleshootingEntry], *,
               public: bool) -> str:
    known = sorted((p for p in problems if p.occurrences > 1),
                   key=lambda p: (-p.occurrences, p.id))[:10]
    rows = [f"<tr><td>{_inline(p.title, public)}</td><td>{escape(p.category)}</td>"
            f"<td>{p.occurrences}</td><td>{escape(format_when(p.last_seen))}</td></tr>"
            for p in known]
    if not rows:
        rows = [f"<tr><td>{escape(r.key if not public else r.by.replace('_', ' '))}</td>"
                f"<td>—</td><td>{len(r.incidents)}</td><td>—</td></tr>"
                for r in stats.repeats[:10]]
    if not rows:
        return "<p>No problem has come back yet.</p>"
    return ("<table id=\"recurring\"><thead><tr><th>Problem</th><th>Category</th>"
            "<th>Occurrences</th><th>Last seen</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def index_page(incidents: Sequence[Incident], *, sla: Sla, now: datetime,
               stats: figures.Stats, problems: Sequence[TroubleshootingEntry],
               public: bool, days: int) -> str:
    open_incidents = [i for i in incidents if i.status != "Resolved"]
    recent = [i for i in incidents
              if (d := figures.detected_at(i)) is not None and d >= now - timedelta(days=days)]
    target = f"{sla.availability_target * 100:g}%"
    month = stats.months[-1] if stats.months else None
    this_month = (f"<p id=\"month-uptime\">Uptime this month ({month.month}): <strong>"
                  f"{_uptime_text(month.uptime_floor_bp)}</strong> against a target of "
                  f"{escape(target)}</p>") if month else ""
    body = [
        "<h1>Service status</h1>", _status(open_incidents, sla), this_month,
        f"<p class=\"muted\">Generated {escape(format_time(now))} by <code>agentops report"
        f"</code> from the incident log.</p>",
        "<h2>Open incidents</h2><section>"
        + _incident_rows(open_incidents, public=public, now=now) + "</section>",
        f"<h2>Availability, last {days} days</h2><section id=\"availability\">"
        + _availability(daily_uptime(incidents, sla=sla, now=now, days=days), days)
        + "<p class=\"muted\">Downtime counts outages only (see the definitions below).</p>"
        "</section>",
        "<h2>By month</h2><section>"
        + _months(stats, _severity_counts(incidents), target) + "</section>",
        "<h2>Time to resolve by severity</h2><section id=\"mttr\">" + mttr_svg(stats)
        + "<p class=\"muted\">Bars: mean MTTR (resolved − detected); dashed lines: the "
        "targets.</p></section>",
        "<h2>Recurring problems</h2><section>"
        + _recurring(stats, problems, public=public) + "</section>",
        f"<h2>Incidents, last {days} days</h2><section id=\"incidents\">"
        + _incident_rows(recent, public=public, now=now) + "</section>",
        "<h2>Definitions</h2><section><ul>"
        + "".join(f"<li>{_inline(d, public)}</li>" for d in stats_definitions())
        + "</ul></section>",
    ]
    return _page("Service status", "\n".join(body), home="index.html")


def stats_definitions() -> tuple[str, ...]:
    return figures.DEFINITIONS


# --- incident pages ------------------------------------------------------------------------------


def _facts(inc: Incident, *, sla: Sla, now: datetime, public: bool) -> str:
    span = figures.outage(inc, now) if figures.is_outage(inc, sla) else None
    rows: list[tuple[str, str]] = [
        ("Severity", inc.severity), ("Status", inc.status), ("Category", inc.category),
        ("Detected", format_when(inc.detected)), ("Acknowledged", format_when(inc.acknowledged)),
        ("Mitigated", format_when(inc.mitigated)), ("Resolved", format_when(inc.resolved)),
        ("Time to acknowledge", format_duration(inc.time_to_acknowledge)
         if inc.time_to_acknowledge else "—"),
        ("Time to resolve (MTTR)", format_duration(inc.time_to_resolve)
         if inc.time_to_resolve else "open"),
        ("Downtime", format_duration(span[1] - span[0]) if span else "none (not an outage)"),
        ("Affected services", ", ".join(inc.affected_services) or "—"),
        ("Affected users", str(inc.affected_users) if inc.affected_users is not None else "—"),
        ("User impact", inc.user_impact or "—"), ("Scope", inc.scope or "—"),
        ("Detection", inc.detection_method or "—"), ("Environment", inc.environment or "—"),
    ]
    if not public:
        rows += [("Rule", inc.rule or "—"), ("Subject", inc.subject or "—")]
    return ("<table id=\"facts\"><tbody>" + "".join(
        f"<tr><th>{escape(k)}</th><td>{_inline(v, public)}</td></tr>" for k, v in rows)
        + "</tbody></table>")


def incident_page(inc: Incident, *, sla: Sla, now: datetime, postmortem: str | None,
                  internal: frozenset[str]) -> str:
    actors = "actors" in internal

    def hide(text: str) -> str:
        """Event fields out of the public text: the rule and the event type names."""
        if "events" in internal and inc.rule:
            text = text.replace(f"; opened by rule {inc.rule}", "").replace(inc.rule, "a rule")
        if "links" in internal:
            text = _ENTRY_ID_RE.sub("", text)
        return _public_text(text, actors)

    def prose(heading: str, title: str) -> Iterator[str]:
        body = _section(inc, heading)
        if body is not None:
            yield (f"<h2>{escape(title)}</h2><section>{markdown(hide(body), public=actors)}"
                   "</section>")

    body = [f"<h1>{escape(inc.id)}: {_inline(hide(inc.title), actors)}</h1>",
            f"<p><span class=\"badge {inc.severity}\">{inc.severity}</span> "
            f"{escape(inc.status)}</p>",
            "<section>" + _facts(inc, sla=sla, now=now, public="events" in internal)
            + "</section>"]
    body += prose("Description", "Summary")
    body += prose("Impact", "Impact")
    rows = "".join(f"<tr><td>{escape(format_time(r.time))}</td><td>"
                   f"{_inline(hide(r.text), actors)}</td></tr>" for r in inc.timeline)
    body.append("<h2>Timeline</h2><section><table id=\"timeline\"><thead><tr><th>Time (UTC)"
                f"</th><th>Event</th></tr></thead><tbody>{rows}</tbody></table></section>")
    body += prose("Root Cause", "Root cause")
    body += prose("Resolution", "Resolution")
    if inc.followups:
        items = "".join(
            f"<li>{'☑' if f.done else '☐'} {_inline(hide(f.text), actors)}"
            + (f" — @{escape(f.owner)}" if f.owner and not actors else "")
            + (f", due {f.due}" if f.due else "") + "</li>" for f in inc.followups)
        body.append(f"<h2>Prevention</h2><section><ul>{items}</ul></section>")
    body += prose("Lessons Learned", "Lessons learned")
    if "links" not in internal:
        links = [x for x in (inc.troubleshooting, *inc.memory) if x]
        if links:
            body.append("<h2>Related entries</h2><section><p>" + ", ".join(
                f"<code>{escape(x)}</code>" for x in links) + "</p></section>")
    if "events" not in internal:
        body += prose("Related Logs", "Related logs")
    if postmortem is not None:
        body.append(_postmortem(postmortem, inc, internal, hide))
    title = f"{inc.id}: {_public_text(hide(inc.title), actors)}"
    return _page(title, "\n".join(body), home="../index.html")


def _postmortem(text: str, inc: Incident, internal: frozenset[str],
                hide: Callable[[str], str]) -> str:
    status = pm.parse(text, where=inc.id).meta.status
    drop = {"meta"} | ({"links"} if "links" in internal else set())
    for name in drop:
        text = re.sub(rf"<!-- agentops:postmortem:begin {name} -->.*?"
                      rf"<!-- agentops:postmortem:end {name} -->\n", "", text, flags=re.S)
    if "links" in internal:
        text = re.sub(r"^## (Related Entries|Supporting Information)\n", "", text, flags=re.M)
    text = re.sub(r"^# .*\n", "", text, count=1)
    return (f"<h2>Post-mortem ({escape(status)})</h2><section id=\"postmortem\">"
            + markdown(hide(text), public="actors" in internal) + "</section>")


# --- the whole site ------------------------------------------------------------------------------


def build(incidents: Sequence[Incident], *, sla: Sla, now: datetime,
          samples: Sequence[figures.Sample] = (),
          problems: Sequence[TroubleshootingEntry] = (),
          postmortems: dict[str, str] | None = None, public: bool = False,
          days: int = DAYS) -> Site:
    """Every page of the site. ``public`` applies the policy's ``report.internal``."""
    internal = sla.report_internal if public else frozenset()
    stats = figures.compute(incidents, sla=sla, now=now, samples=samples)
    docs = postmortems or {}
    pages = {"index.html": index_page(incidents, sla=sla, now=now, stats=stats,
                                      problems=problems, public="actors" in internal,
                                      days=days)}
    for inc in incidents:
        pages[f"incidents/{inc.id}.html"] = incident_page(
            inc, sla=sla, now=now, postmortem=docs.get(inc.id), internal=internal)
    month = stats.months[-1] if stats.months else None
    return Site(pages, len(incidents), sum(1 for i in incidents if i.status != "Resolved"),
                _uptime_text(month.uptime_floor_bp) if month else "—")
