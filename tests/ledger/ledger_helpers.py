"""Sample entries, golden-file builders and hypothesis strategies shared by the ledger tests."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import strategies as st

from agentops.ledger import format as fmt
from agentops.ledger.model import (
    TIMELINE_HEADER,
    FollowUp,
    Incident,
    MemoryEntry,
    Sections,
    Signature,
    TroubleshootingEntry,
    followup_line,
    template_sections,
    timeline_row,
)
from agentops.ledger.safety import escape_block, escape_inline
from agentops.vocabulary import CATEGORIES, MEMORY_STATUSES, SEVERITIES, STATUSES

GOLDEN = Path(__file__).resolve().parent / "golden"
T0 = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
REGEN = bool(os.environ.get("AGENTOPS_REGEN_GOLDEN"))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def timeline(*rows: tuple[datetime, str]) -> str:
    return "\n".join([TIMELINE_HEADER, *(timeline_row(t, text) for t, text in rows)])


def incident_open() -> Incident:
    return Incident(
        id="INC-2026-11-24-001", uid="01JDQ6Z5R0000000000000000A",
        title="Agent failed task rotate-certs 3 times", status="Investigating",
        severity="MEDIUM", category="AUTOMATION_FAILURE", rule="agent-fails-3-times",
        dedup_key="attempt:cert-agent:rotate-certs", occurrences=3,
        events=("ev-1111111111111111", "ev-2222222222222222", "ev-3333333333333333"),
        environment="staging", subject="staging/Job/rotate-certs", detected=T0,
        sections=template_sections(
            "incident",
            Description="cert-agent failed `rotate-certs` 3 times within 1h:\n\n"
                        + escape_block("error: x509: certificate signed by unknown authority"),
            Timeline=timeline((T0, "Third failed attempt; incident opened")),
        ),
    )


def incident_monitoring() -> Incident:
    t = T0 + minutes(45)
    return Incident(
        id="INC-2026-11-24-002", uid="01JDQ8A1B0000000000000000B",
        title="Deployment of api failed in prod", status="Monitoring", severity="CRITICAL",
        category="DEPLOYMENT_FAILURE", rule="deployment-failed-prod",
        dedup_key="deployment:prod/api", occurrences=1, events=("ev-4444444444444444",),
        environment="prod", subject="prod/Deployment/api", impact_started=t - minutes(2),
        detected=t, acknowledged=t + minutes(3), mitigated=t + minutes(9),
        review_required=True, review_scheduled=datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
        troubleshooting="TS-0002", memory=("MEM-0002",), root_cause_category="bad-config",
        sections=template_sections(
            "incident",
            Description="Rollout of `api` revision 42 to prod failed: "
                        + escape_inline('Back-off pulling image "registry/api:4.2"'),
            Impact="API returned 503 for about 9 minutes.",
            Root_Cause="The image tag in `apps/api/values.yaml` pointed at a tag that was never "
                       "pushed.",
            Timeline=timeline((t - minutes(2), "Error rate rises"),
                              (t, "Deployment failed; incident opened"),
                              (t + minutes(3), "Acknowledged by @alice"),
                              (t + minutes(9), "Rolled back to revision 41")),
            Follow_up_Actions="\n".join([
                followup_line(FollowUp(False, "Verify tags exist before merge", "alice",
                                       date(2026, 12, 1))),
                followup_line(FollowUp(True, "Roll back", "agent", None)),
            ]),
            Related_Logs=escape_block("kubelet: Failed to pull image \"registry/api:4.2\": "
                                      "not found\n# retrying\n| pod | api-7d9f |"),
        ),
    )


def ts_entries() -> list[TroubleshootingEntry]:
    return [
        TroubleshootingEntry(
            id="TS-0001", uid="01JD0000000000000000000TS1", title="x509 unknown authority",
            category="AUTOMATION_FAILURE",
            signature=Signature("attempt.failed", None, r"x509: certificate signed by unknown"),
            problem="attempt:cert-agent:rotate-certs",
            occurrences=3, first_seen=T0 - timedelta(days=20), last_seen=T0,
            incidents=("INC-2026-11-24-001",),
            sections=template_sections(
                "troubleshooting", Symptoms="Agent tasks fail with `x509: certificate signed "
                                            "by unknown authority`.",
                Diagnosis="Check the CA bundle mounted at `/etc/ssl/certs`.",
            ),
        ),
        TroubleshootingEntry(
            id="TS-0002", uid="01JD0000000000000000000TS2", title="ImagePullBackOff on a tag "
            "that was never pushed", category="DEPLOYMENT_FAILURE",
            signature=Signature("k8s.warning", "BackOff", "Back-off pulling image"),
            occurrences=1, first_seen=T0 + minutes(45), last_seen=T0 + minutes(45),
            incidents=("INC-2026-11-24-002",),
            sections=template_sections(
                "troubleshooting", Symptoms="Pods stuck in `ImagePullBackOff`.",
                Workaround="Roll back to the previous revision.",
                Fix="Check the tag exists in the registry before merging.",
            ),
        ),
    ]


def memory_entries() -> list[MemoryEntry]:
    return [
        MemoryEntry(id="MEM-0001", uid="01JD000000000000000000MEM1",
                    title="Retry cert rotation only after refreshing the CA bundle",
                    status="active", seen=2, first_seen=T0 - timedelta(days=20),
                    last_validated=T0, evidence=("INC-2026-11-24-001",), tags=("certs",),
                    sections=template_sections("memory", Lesson="Refresh the CA bundle first.")),
        MemoryEntry(id="MEM-0002", uid="01JD000000000000000000MEM2",
                    title="Check that an image tag exists before deploying it to prod",
                    status="active", seen=4, first_seen=T0 - timedelta(days=40),
                    last_validated=T0 + minutes(50), evidence=("INC-2026-11-24-002",),
                    tags=("deploy", "images")),
        MemoryEntry(id="MEM-0003", uid="01JD000000000000000000MEM3",
                    title="Deploy on Fridays only with approval", status="superseded",
                    seen=1, first_seen=T0 - timedelta(days=90),
                    last_validated=T0 - timedelta(days=90), superseded_by="MEM-0002"),
    ]


def build_incidents_file() -> str:
    text = fmt.render_empty_file("incident")
    for inc in (incident_open(), incident_monitoring()):
        text = fmt.insert_entry("incident", text, fmt.render_incident(inc))
    return fmt.set_last_incident(text, "INC-2026-11-24-002", T0 + minutes(45))


def build_troubleshooting_file() -> str:
    text = fmt.render_empty_file("troubleshooting")
    for entry in reversed(ts_entries()):
        text = fmt.insert_entry("troubleshooting", text, fmt.render_troubleshooting(entry))
    return text


def build_memory_file() -> str:
    text = fmt.render_empty_file("memory")
    for entry in memory_entries():
        text = fmt.insert_entry("memory", text, fmt.render_memory(entry))
    return fmt.set_memory_index(text, memory_entries())


HUMAN_COMMENT = "# checked by @alice"
HUMAN_PARAGRAPH = ("The tag was typed by hand in the PR; CI does not check the registry.\n"
                   "— @bob, in the review")
HUMAN_SECTION = "#### Customer Comms\n\nStatus page updated at 09:20 by @carol.\n\n"
HUMAN_BETWEEN = "> Note: these two may be related (@carol).\n\n"


def human_edit(text: str) -> str:
    """What people do to INCIDENTS.md: comments, paragraphs, sections, notes between entries."""
    text = text.replace("severity: CRITICAL\n", f"severity: CRITICAL\n{HUMAN_COMMENT}\n", 1)
    anchor = "never pushed."
    text = text.replace(anchor, f"{anchor}\n\n{HUMAN_PARAGRAPH}", 1)
    text = text.replace("#### Timeline\n\n| Time (UTC) | Event |\n|---|---|\n| 2026-11-24T09:13",
                        HUMAN_SECTION + "#### Timeline\n\n| Time (UTC) | Event |\n|---|---|\n"
                        "| 2026-11-24T09:13", 1)
    first = "<!-- agentops:incident INC-2026-11-24-001"
    return text.replace(first, HUMAN_BETWEEN + first, 1)


def update_edited(entry_text: str) -> str:
    """The tool's own updates after a human edit: resolve, timeline, sections, follow-ups."""
    done = T0 + minutes(95)
    entry_text = fmt.update_fields(entry_text, status="Resolved", resolved=done)
    entry_text = fmt.append_timeline(entry_text, done, "Resolved: error rate back to normal")
    entry_text = fmt.fill_section_if_empty(entry_text, "Root Cause", "Image tag never pushed.")
    entry_text = fmt.fill_section_if_empty(entry_text, "Lessons Learned",
                                           "Check the registry in CI.")
    entry_text = fmt.add_followup(entry_text, "Add a registry check to CI", "bob",
                                  date(2026, 12, 8))
    return fmt.set_followup_done(entry_text, 1)


def build_edited_updated(edited: str) -> str:
    span = fmt.find_entry("incident", edited, "INC-2026-11-24-002")
    assert span is not None
    updated = update_edited(edited[span[0]:span[1]])
    return fmt.replace_entry("incident", edited, "INC-2026-11-24-002", updated)


def golden_texts() -> dict[str, str]:
    incidents = build_incidents_file()
    edited = human_edit(incidents)
    return {
        "INCIDENTS.md": incidents,
        "TROUBLESHOOTING.md": build_troubleshooting_file(),
        "MEMORY.md": build_memory_file(),
        "INCIDENTS.edited.md": edited,
        "INCIDENTS.edited.updated.md": build_edited_updated(edited),
    }


def read_golden(name: str) -> str:
    path = GOLDEN / name
    if REGEN:
        path.write_text(golden_texts()[name], encoding="utf-8", newline="")
    return path.read_text(encoding="utf-8")


# --- hypothesis strategies ------------------------------------------------------------------

# recorded times keep milliseconds (agentops.events.to_precision), so generated ones do too
UTC_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1),
                         timezones=st.just(UTC)).map(
    lambda t: t.replace(microsecond=t.microsecond - t.microsecond % 1000))
OPT_TIMES = st.none() | UTC_TIMES
ANY_TEXT = st.text(max_size=60)
OPT_TEXT = st.none() | ANY_TEXT
ID_LISTS = st.lists(ANY_TEXT, max_size=4).map(tuple)
UIDS = st.uuids().map(lambda u: u.hex) | st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ",
                                                min_size=26, max_size=26)
TITLES = st.text(max_size=80).map(escape_inline)
BODIES = st.text(max_size=200).map(escape_block)
AMBIGUOUS_END = re.compile(r" - (@\S+|\d{4}-\d{2}-\d{2})$")
HEADINGS = st.text(min_size=1, max_size=30).map(escape_inline).filter(bool)


@st.composite
def sections(draw: st.DrawFn, kind: str) -> Sections:
    base = dict(template_sections(kind))  # type: ignore[arg-type]
    for heading in base:
        if heading == "Timeline":
            rows = draw(st.lists(st.tuples(UTC_TIMES, TITLES), max_size=3))
            base[heading] = timeline(*sorted(rows, key=lambda r: r[0]))
        elif heading == "Follow-up Actions":
            texts = TITLES.filter(lambda t: bool(t) and not AMBIGUOUS_END.search(t))
            items = draw(st.lists(st.builds(FollowUp, st.booleans(), texts,
                                            st.none() | st.from_regex(r"\A[a-z][a-z0-9-]{0,9}\Z"),
                                            st.none() | st.dates()), max_size=3))
            base[heading] = "\n".join(followup_line(i) for i in items) or "_To be filled in._"
        else:
            base[heading] = draw(BODIES)
    extra = draw(st.lists(st.tuples(HEADINGS, BODIES), max_size=2))
    pairs = list(base.items()) + [(h, b) for h, b in extra if h not in base]
    return Sections(dict(pairs))


@st.composite
def incidents(draw: st.DrawFn) -> Incident:
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2199, 12, 31)))
    number = draw(st.integers(1, 99999))
    return Incident(
        id=f"INC-{day.isoformat()}-{number:03d}", uid=draw(UIDS), title=draw(TITLES),
        status=draw(st.sampled_from(STATUSES)), severity=draw(st.sampled_from(SEVERITIES)),
        category=draw(st.sampled_from(CATEGORIES)), rule=draw(OPT_TEXT),
        dedup_key=draw(OPT_TEXT), occurrences=draw(st.integers(0, 10**6)),
        events=draw(ID_LISTS), environment=draw(OPT_TEXT), subject=draw(OPT_TEXT),
        impact_started=draw(OPT_TIMES), detected=draw(OPT_TIMES),
        acknowledged=draw(OPT_TIMES), mitigated=draw(OPT_TIMES), resolved=draw(OPT_TIMES),
        review_required=draw(st.booleans()), review_scheduled=draw(OPT_TIMES),
        review_done=draw(OPT_TIMES), troubleshooting=draw(OPT_TEXT), memory=draw(ID_LISTS),
        root_cause_category=draw(OPT_TEXT), sections=draw(sections("incident")),
    )


@st.composite
def troubleshooting_entries(draw: st.DrawFn) -> TroubleshootingEntry:
    return TroubleshootingEntry(
        id=f"TS-{draw(st.integers(1, 10**6)):04d}", uid=draw(UIDS), title=draw(TITLES),
        category=draw(st.sampled_from(CATEGORIES)),
        signature=Signature(draw(ANY_TEXT.filter(bool)), draw(OPT_TEXT), draw(OPT_TEXT)),
        problem=draw(OPT_TEXT),
        occurrences=draw(st.integers(0, 10**6)), first_seen=draw(OPT_TIMES),
        last_seen=draw(OPT_TIMES), incidents=draw(ID_LISTS),
        sections=draw(sections("troubleshooting")),
    )


@st.composite
def memory_entries_st(draw: st.DrawFn) -> MemoryEntry:
    return MemoryEntry(
        id=f"MEM-{draw(st.integers(1, 10**6)):04d}", uid=draw(UIDS), title=draw(TITLES),
        status=draw(st.sampled_from(MEMORY_STATUSES)), seen=draw(st.integers(0, 10**6)),
        first_seen=draw(OPT_TIMES), last_validated=draw(OPT_TIMES), evidence=draw(ID_LISTS),
        tags=draw(ID_LISTS), superseded_by=draw(OPT_TEXT), sections=draw(sections("memory")),
    )
