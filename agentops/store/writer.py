"""Apply engine decisions to the three ledger files, in memory, for one batch.

Each decision becomes an edit of one entry: a new incident, a recurrence counted, a
resolution, a troubleshooting entry for a new problem type (or a known one linked), a lesson
added or confirmed. Files are read once per batch, edited as strings with the marker-based
operations of ``agentops.ledger.format`` (never parsing a whole file on the hot path), and
written back atomically by :meth:`LedgerWriter.write_all`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from agentops import fsutil
from agentops.errors import LedgerError
from agentops.events import Event, sha256
from agentops.ledger import archive
from agentops.ledger import format as fmt
from agentops.ledger.incidents import impact_values
from agentops.ledger.memory import GENERATED_TAG
from agentops.ledger.model import (
    IMPACT_FIELDS,
    PLACEHOLDER,
    TIMELINE_HEADER,
    Incident,
    MemoryEntry,
    Signature,
    TroubleshootingEntry,
    id_sort_key,
    template_sections,
    timeline_row,
)
from agentops.ledger.safety import escape_block, escape_inline, inline_code, redact, redact_obj
from agentops.policy.engine import LATE, MEMORY, OPEN, RECUR, RESOLVE, TROUBLESHOOTING, Decision
from agentops.store import entries
from agentops.store.state import Store
from agentops.vocabulary import LEDGER_KINDS

FILES = {name: kind.file_name for name, kind in LEDGER_KINDS.items()}
_ARCHIVED_ID_RE = re.compile(r"^<!-- agentops:incident (\S+) uid=", re.MULTILINE)
MAX_EVENT_IDS = 10  # an incident lists its first events; occurrences counts them all
MAX_LINKED = 20  # a troubleshooting entry lists its latest incidents; occurrences counts all
GENERATED_NOTE = "_Written by agentops from a rule's lesson template; not yet confirmed._"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

Touched = dict[str, list[tuple[str, str]]]


def stable_uid(*parts: str) -> str:
    """A 26-character Crockford id derived from content, so replays give the same entries."""
    value = int.from_bytes(sha256("\0".join(parts).encode()).digest()[:17], "big") >> 6
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def subject_text(event: Event) -> str | None:
    s = event.subject
    parts = [p for p in (s.cluster, s.namespace, s.kind, s.name) if p]
    return "/".join(parts) or None


class LedgerWriter:
    """The ledger files of one batch, loaded lazily and written back once."""

    def __init__(self, repo: Path, store: Store, *, redact: Sequence[str] = ()) -> None:
        self.repo = repo
        self.store = store
        self.patterns = tuple(redact)
        self._texts: dict[str, str] = {}
        self._changed: set[str] = set()
        self._recurring: dict[str, _Recurrences] = {}
        self._linking: dict[str, _Links] = {}
        self._newest: tuple[str, datetime] | None = None  # for the "Last Incident" line
        # New entries of the batch, per kind, spliced into their files in one pass at finish
        # (one splice per entry would make a batch of k new incidents cost k whole files).
        self._new: dict[str, dict[str, str]] = {}
        self._located: dict[str, str] = {}  # incident id -> the file holding it
        self._index_stale = False  # MEMORY.md's index, re-rendered once at finish
        self._archive_ids: dict[str, set[str]] = {}  # ids in each archive file looked at

    # -- files ------------------------------------------------------------------------------

    def text(self, kind: str) -> str:
        """A ledger file's text as the batch has it so far (pending new entries included)."""
        self._splice(kind)
        return self._file(FILES[kind])

    def _file(self, rel: str) -> str:
        if rel not in self._texts:
            self._texts[rel] = fsutil.read_text(self.repo / rel)
        return self._texts[rel]

    def locate(self, kind: str, entry_id: str) -> str | None:
        """The repository-relative file holding an entry (incidents: INCIDENTS.md or the
        archive file its id names), or None."""
        if entry_id in self._new.get(kind, {}):
            return FILES[kind]
        if kind != "incident":
            return FILES[kind] if fmt.find_entry(kind, self._file(FILES[kind]), entry_id) else None  # type: ignore[arg-type]
        rel = self._located.get(entry_id)
        if rel is None:
            rel = entries.locate_incident(self.repo, entry_id, read=self._file)
            if rel is not None:
                self._located[entry_id] = rel
        return rel

    def set_text(self, kind: str, text: str) -> None:
        """Replace a whole file's text (e.g. a re-rendered stats block)."""
        self._set(kind, text)

    def set_file(self, rel: str, text: str) -> None:
        """Write a whole document of the ledger (a post-mortem) with the batch."""
        self._texts[rel] = text
        self._changed.add(rel)

    def entry(self, kind: str, entry_id: str) -> str:
        """One entry's text, found by its markers (LedgerError when absent)."""
        return self._entry(kind, entry_id)

    def replace(self, kind: str, entry_id: str, new_text: str) -> None:
        self._replace(kind, entry_id, new_text)

    def insert(self, kind: str, entry_text: str) -> None:
        self._insert(kind, entry_text)

    def _set(self, kind: str, text: str) -> None:
        self._set_file(FILES[kind], text)

    def _set_file(self, rel: str, text: str) -> None:
        self._texts[rel] = text
        self._changed.add(rel)

    def _splice(self, kind: str) -> None:
        """Put the batch's new entries of one kind into their file, in one pass."""
        new = self._new.pop(kind, None)
        if new:
            self._set(kind, fmt.insert_entries(kind, self._file(FILES[kind]), new.values()))  # type: ignore[arg-type]

    def changed_paths(self) -> list[str]:
        """The files this batch rewrites (call after :meth:`finish`)."""
        return sorted(self._changed)

    def finish(self) -> None:
        """Apply everything gathered in memory; afterwards the file texts are final."""
        self._flush_recurrences()
        self._flush_links()
        for kind in list(self._new):
            self._splice(kind)
        if self._index_stale:
            self._index_stale = False
            text = self.text("memory")
            entries_ = [e for e in fmt.parse_file("memory", text).parsed()
                        if isinstance(e, MemoryEntry)]
            self._set("memory", fmt.set_memory_index(text, entries_))
        if self._newest is not None:
            inc_id, when = self._newest
            self._set("incident", fmt.set_last_incident(self.text("incident"), inc_id, when))
            self._newest = None
        self._rotate()

    def write_all(self) -> None:
        self.finish()
        fsutil.atomic_write_many({self.repo / name: self._texts[name]
                                  for name in sorted(self._changed)})

    def _rotate(self) -> None:
        """Move the oldest incidents to their archive files once INCIDENTS.md holds more than
        its bound, and refresh the archive index when any archive changed."""
        name = FILES["incident"]
        if name in self._changed and archive.needs_rotation(self._texts[name]):
            kept, archives = archive.rotate(self._texts[name], self._read_archive)
            self._texts[name] = kept
            for rel, text in archives.items():
                self._set_file(rel, text)
            self._located.clear()
        changed = [rel for rel in self._changed if rel.startswith(archive.ARCHIVE_DIR + "/")]
        if not changed:
            return
        text = self._file(name)
        counts = archive.parse_index(text)
        counts.update({rel: archive.count(rel, self._texts[rel]) for rel in changed})
        files = {p.relative_to(self.repo).as_posix()
                 for p in (self.repo / archive.ARCHIVE_DIR).glob("*.md")} | set(changed)
        counts = {k: v for k, v in counts.items() if k in files}
        new = archive.set_index(text, counts, files=len(files))
        if new != text:
            self._set_file(name, new)

    def _archived(self, inc_id: str) -> bool:
        """Whether an id is taken in the archive file it would move to (ids of each file read
        once per batch)."""
        rel = archive.archive_name(inc_id)
        ids = self._archive_ids.get(rel)
        if ids is None:
            text = self._read_archive(rel)
            ids = self._archive_ids[rel] = set(_ARCHIVED_ID_RE.findall(text))
        return inc_id in ids

    def _read_archive(self, rel: str) -> str:
        return self._file(rel) if rel in self._texts or (self.repo / rel).exists() else ""

    def _entry(self, kind: str, entry_id: str) -> str:
        if kind == "incident" and entry_id in self._recurring:
            self._flush_recurrences(entry_id)
        if kind == "troubleshooting" and entry_id in self._linking:
            self._flush_links(entry_id)
        return self._raw_entry(kind, entry_id)

    def _raw_entry(self, kind: str, entry_id: str) -> str:
        pending = self._new.get(kind, {}).get(entry_id)
        if pending is not None:
            return pending
        rel = self.locate(kind, entry_id)
        span = fmt.find_entry(kind, self._file(rel), entry_id) if rel else None  # type: ignore[arg-type]
        if rel is None or span is None:
            raise LedgerError(f"{FILES[kind]}: {entry_id} not found (was it removed by hand? "
                              "commit the change and retry)")
        return self._texts[rel][span[0]:span[1]]

    def _replace(self, kind: str, entry_id: str, new_text: str) -> None:
        pending = self._new.get(kind, {})
        if entry_id in pending:
            new_id = new_text.split(" ", 3)[2]  # the id of the begin marker line
            if new_id != entry_id:
                del pending[entry_id]
            pending[new_id] = new_text
            return
        rel = self.locate(kind, entry_id)
        if rel is None:
            raise LedgerError(f"{FILES[kind]}: {entry_id} not found")
        self._set_file(rel, fmt.replace_entry(kind, self._file(rel), entry_id, new_text))  # type: ignore[arg-type]

    def _insert(self, kind: str, entry_text: str) -> None:
        # Ids and uids are checked against the file when spliced (insert_entries); ids come
        # from the store's counters, which count the archives too.
        entry_id = entry_text.split(" ", 3)[2]
        pending = self._new.setdefault(kind, {})
        if entry_id in pending:
            raise LedgerError(f"{FILES[kind]}: {entry_id} is already present")
        pending[entry_id] = entry_text
        self._changed.add(FILES[kind])

    # -- events -----------------------------------------------------------------------------

    def redact_event(self, event: Event) -> Event:
        """The event with secrets removed from every free-text field, before anything is kept."""
        message = redact(event.message, self.patterns)
        attributes = redact_obj(dict(event.attributes), self.patterns)
        actor = redact(event.actor, self.patterns) if event.actor else event.actor
        if message == event.message and attributes == event.attributes and actor == event.actor:
            return event
        return event._replace(message=message, attributes=attributes, actor=actor)

    def apply(self, event: Event, decisions: Sequence[Decision]
              ) -> tuple[dict[str, str], dict[str, str], Touched]:
        """Edit the ledger for one event; returns incident ids, problem ids, what was touched."""
        ids: dict[str, str] = {}
        problems: dict[str, str] = {}
        touched: Touched = {"incidents": [], "troubleshooting": [], "memory": []}
        for d in decisions:
            if d.action == OPEN:
                ids[d.dedup_key or ""] = self._open(event, d, touched)
            elif d.action == RECUR:
                self._recur(event, d, ids, touched)
            elif d.action == RESOLVE and d.incident:
                self._resolve(event, d, touched)
            elif d.action == LATE and d.incident:
                self._late(event, d, touched)
            elif d.action == TROUBLESHOOTING and d.problem:
                problems[d.problem] = self._troubleshooting(event, d, ids, touched)
            elif d.action == MEMORY and d.title:
                self._memory(event, d, ids, touched)
        return ids, problems, touched

    # -- incidents --------------------------------------------------------------------------

    def _open(self, event: Event, d: Decision, touched: Touched) -> str:
        day = event.time.date().isoformat()
        inc_id = f"INC-{day}-{self.store.next_number('INC-' + day):03d}"
        built = [*dict.fromkeys((*(d.events or ()), event.id))]  # a threshold's events, all
        while self._archived(inc_id):  # a counter behind the files (a hand edit): skip ahead
            inc_id = f"INC-{day}-{self.store.next_number('INC-' + day):03d}"
        known = self.store.state.known_problems.get(d.problem or "") or None
        inc = Incident(
            id=inc_id, uid=stable_uid(event.key, d.rule or "", "incident"),
            title=escape_inline(redact(d.title or d.rule or event.type, self.patterns)),
            severity=d.severity or "MEDIUM", category=d.category or "AUTOMATION_FAILURE",
            rule=d.rule, dedup_key=d.dedup_key, occurrences=len(built),
            events=tuple(built[:MAX_EVENT_IDS]),
            environment=event.environment, subject=subject_text(event), detected=event.time,
            review_required=bool(d.review), troubleshooting=known,
            sections=template_sections("incident", **self._incident_prose(event, d)),
            **self._impact(event),
        )
        self._insert("incident", fmt.render_incident(inc))
        self._last_incident(inc_id, event.time)
        touched["incidents"].append((inc_id, OPEN))
        if known:
            self._link_problem(known, inc_id, event.time, touched, note=event.message)
        return inc_id

    def _impact(self, event: Event) -> dict[str, Any]:
        """The impact fields an event carries (``record --field affected_users=120``).

        ``record`` refuses bad values before anything is accepted; from other sources (a
        webhook's labels) a value that is not usable is left out rather than failing the batch.
        """
        out: dict[str, Any] = {}
        for name in IMPACT_FIELDS:
            if name in event.attributes:
                try:
                    out |= impact_values({name: event.attributes[name]}, where="event",
                                         clean=lambda t: escape_inline(redact(t, self.patterns)))
                except LedgerError:
                    continue
        return out

    def _incident_prose(self, event: Event, d: Decision) -> dict[str, str]:
        who = f" by {escape_inline(event.actor)}" if event.actor else ""
        description = escape_block(event.message) if event.message.strip() else ""
        reported = f"Reported{who} via {escape_inline(event.source)} as `{event.type}`."
        earlier = f" after {len(d.events)} earlier events" if d.events else ""
        row = timeline_row(event.time, escape_inline(
            f"Detected: {event.type} from {event.source}; opened by rule {d.rule}{earlier}"))
        logs = [f"- Event `{event.id}` ({event.type}, key {inline_code(event.key, 120)})"]
        if d.events:
            shown = ", ".join(f"`{i}`" for i in d.events[:MAX_EVENT_IDS - 1])
            logs.append(f"- Earlier events counted by rule {d.rule}: {shown}")
        for name, value in list(event.attributes.items())[:20]:
            logs.append(f"- {escape_inline(str(name), 60)}: {escape_inline(_show(value), 160)}")
        return {
            "Description": (description + "\n\n" if description else "") + reported,
            "Timeline": TIMELINE_HEADER + "\n" + row,
            "Related_Logs": "\n".join(logs),
        }

    def _last_incident(self, inc_id: str, when: datetime) -> None:
        current = self.store.meta("last_incident")
        if current and id_sort_key("incident", current) > id_sort_key("incident", inc_id):
            return
        self.store.set_meta("last_incident", inc_id)
        self._newest = (inc_id, when)
        self._changed.add(FILES["incident"])

    def _recur(self, event: Event, d: Decision, ids: dict[str, str], touched: Touched) -> None:
        """Count a recurrence. A storm recurs thousands of times per batch, so the counts are
        gathered in memory and written to the entry once (see :meth:`_flush_recurrences`)."""
        inc_id = d.incident or ids.get(d.dedup_key or "")
        if not inc_id or inc_id == d.dedup_key:
            return
        pending = self._recurring.get(inc_id)
        if pending is None:
            inc = fmt.parse_incident(self._entry("incident", inc_id))
            pending = self._recurring[inc_id] = _Recurrences(
                base=inc.occurrences, events=list(inc.events), latest=_last_time(inc))
            self._changed.add(FILES["incident"])
        pending.count += 1
        count = pending.base + pending.count
        if len(pending.events) < MAX_EVENT_IDS and event.id not in pending.events:
            pending.events.append(event.id)
        pending.latest = max(pending.latest, event.time)
        if d.correlated:
            text = (f"Correlated {event.type} from {event.source} (occurrence {count}; rule "
                    f"{d.rule}): {event.message or event.type}")
            pending.rows.append((event.time, redact(text, self.patterns)))
        elif count <= 5 or count % 100 == 0:
            text = (f"Recurred (occurrence {count}) from {event.source}: "
                    f"{event.message or event.type}")
            pending.rows.append((pending.latest, redact(text, self.patterns)))
        touched["incidents"].append((inc_id, RECUR))

    def _flush_recurrences(self, only: str | None = None) -> None:
        for inc_id in [only] if only else list(self._recurring):
            pending = self._recurring.pop(inc_id, None)
            if pending is None:
                continue
            new = fmt.update_fields(self._raw_entry("incident", inc_id),
                                    occurrences=pending.base + pending.count,
                                    events=pending.events)
            for when, text in pending.rows:
                new = fmt.append_timeline(new, when, text)
            self._replace("incident", inc_id, new)

    def _resolve(self, event: Event, d: Decision, touched: Touched) -> None:
        assert d.incident is not None
        entry = self._entry("incident", d.incident)
        inc = fmt.parse_incident(entry)
        if inc.status == "Resolved":
            return
        when = max(event.time, _last_time(inc))
        new = fmt.update_fields(entry, status="Resolved", resolved=when)
        new = fmt.append_timeline(new, when, redact(
            f"Resolved by recovery event {event.type} ({event.id}); rule {d.rule}", self.patterns))
        self._replace("incident", d.incident, new)
        touched["incidents"].append((d.incident, RESOLVE))

    def _late(self, event: Event, d: Decision, touched: Touched) -> None:
        """Note an out-of-order event on the incident's timeline, at the time it happened."""
        assert d.incident is not None
        if self.locate("incident", d.incident) is None:
            return  # removed by hand: the journal still holds the event
        entry = self._entry("incident", d.incident)
        new = fmt.append_timeline(entry, event.time, redact(
            f"Late event {event.type} ({event.id}) delivered after newer state; {d.reason}",
            self.patterns))
        self._replace("incident", d.incident, new)
        touched["incidents"].append((d.incident, LATE))

    # -- troubleshooting --------------------------------------------------------------------

    def new_troubleshooting(self, *, problem: str, title: str, category: str,
                            signature: Signature, when: datetime, incident: str | None,
                            sections: dict[str, str]) -> str:
        """Insert a TROUBLESHOOTING entry for a new problem type; returns its id."""
        ts_id = _next_id(self.store, "troubleshooting")
        entry = TroubleshootingEntry(
            id=ts_id, uid=stable_uid(problem, "troubleshooting"), title=escape_inline(title),
            category=category, signature=signature, problem=problem, occurrences=1,
            first_seen=when, last_seen=when, incidents=(incident,) if incident else (),
            sections=template_sections("troubleshooting", **sections),
        )
        self._insert("troubleshooting", fmt.render_troubleshooting(entry))
        self.store.problems[problem] = ts_id
        return ts_id

    def link_problem(self, ts_id: str, inc_id: str, when: datetime, *, note: str = "") -> None:
        """Count one more occurrence of a known problem and link the incident to it."""
        self._link_problem(ts_id, inc_id, when, {"troubleshooting": []}, note=note)

    def fill_problem(self, ts_id: str, inc_id: str, sections: dict[str, str]) -> list[str]:
        """What a resolved incident taught about its problem (Diagnosis, Workaround, Fix),
        attributed to it, into the sections nobody wrote by hand; returns those written."""
        text = self._entry("troubleshooting", ts_id)
        written = []
        for heading, body in sections.items():
            text, done = fmt.fill_attributed(text, heading, inc_id, redact(body, self.patterns))
            if done:
                written.append(heading)
        if written:
            self._replace("troubleshooting", ts_id, text)
        return written

    def add_lesson(self, *, title: str, incident: str | None, when: datetime,
                   tags: Sequence[str] = (), context: str = "", body: str = "",
                   generated: bool = False) -> tuple[str, str]:
        """Record a lesson: a repeat of a known one counts it; returns (MEM id, "new"|"seen").

        ``body`` explains the lesson (never the title again); a lesson the tool wrote from a
        rule's template is ``generated``: tagged so, said so, and ranked below people's.
        """
        touched: Touched = {"memory": []}
        title = escape_inline(redact(title, self.patterns))
        existing = self.store.lessons.get(title.casefold())
        if existing:
            self._confirm_lesson(existing, incident, when, touched)
        else:
            mem_id = _next_id(self.store, "memory")
            if generated:
                tags = [*tags, GENERATED_TAG]
                body = body or GENERATED_NOTE
            entry = MemoryEntry(
                id=mem_id, uid=stable_uid(title.casefold(), "memory"), title=title, seen=1,
                first_seen=when, last_validated=when, evidence=(incident,) if incident else (),
                tags=tuple(dict.fromkeys(tags)), sections=template_sections(
                    "memory", Lesson=escape_block(redact(body, self.patterns)) or PLACEHOLDER,
                    Context=escape_block(redact(context, self.patterns)) or PLACEHOLDER),
            )
            self._insert("memory", fmt.render_memory(entry))
            self.store.lessons[title.casefold()] = mem_id
            touched["memory"].append((mem_id, "new"))
        self._refresh_index()
        return touched["memory"][0]

    def _troubleshooting(self, event: Event, d: Decision, ids: dict[str, str],
                         touched: Touched) -> str:
        problem = d.problem or event.type
        inc_id = ids.get(d.dedup_key or "")
        sig = d.signature
        reason = event.attributes.get("reason")
        template = sig.template if sig is not None else ""
        ts_id = self.new_troubleshooting(
            problem=problem, title=redact(d.title or problem, self.patterns),
            category=d.category or "AUTOMATION_FAILURE",
            signature=Signature(event.type, str(reason) if reason else None,
                                sig.pattern if sig is not None else None),
            when=event.time, incident=inc_id,
            sections={"Symptoms": self._symptoms(event, template, inc_id)})
        touched["troubleshooting"].append((ts_id, "new"))
        if inc_id:
            self._replace("incident", inc_id,
                          fmt.update_fields(self._entry("incident", inc_id), troubleshooting=ts_id))
        return ts_id

    def _symptoms(self, event: Event, template: str = "", inc_id: str | None = None) -> str:
        lines = [f"- Event type `{event.type}`"]
        if event.attributes.get("reason"):
            lines.append(f"- Reason {inline_code(str(event.attributes['reason']), 80)}")
        if event.subject.kind:
            lines.append(f"- Object kind {inline_code(event.subject.kind, 80)}")
        if template:
            lines.append(f"- Message template: {inline_code(redact(template, self.patterns), 300)}")
        if event.message.strip():
            seen = f" (in {inc_id})" if inc_id else ""
            lines.append(f"- First message{seen}:\n\n" + escape_block(event.message))
        return "\n".join(lines)

    def _link_problem(self, ts_id: str, inc_id: str, when: datetime, touched: Touched, *,
                      note: str = "") -> None:
        """Count an occurrence of a known problem; gathered per batch like recurrences."""
        pending = self._linking.get(ts_id)
        if pending is None:
            ts = fmt.parse_troubleshooting(self._raw_entry("troubleshooting", ts_id))
            pending = self._linking[ts_id] = _Links(
                base=ts.occurrences, incidents=list(ts.incidents), last=ts.last_seen or when)
            self._changed.add(FILES["troubleshooting"])
        pending.count += 1
        if inc_id not in pending.incidents:
            pending.incidents = [*pending.incidents, inc_id][-MAX_LINKED:]
            first = note.strip().split("\n")[0]
            said = f": {escape_inline(redact(first, self.patterns), 160)}" if first else ""
            pending.evidence.append(f"- Seen in {inc_id} ({when.date().isoformat()}){said}")
        pending.last = max(pending.last, when)
        touched["troubleshooting"].append((ts_id, "linked"))

    def _flush_links(self, only: str | None = None) -> None:
        for ts_id in [only] if only else list(self._linking):
            pending = self._linking.pop(ts_id, None)
            if pending is None:
                continue
            new = fmt.update_fields(
                self._raw_entry("troubleshooting", ts_id), occurrences=pending.base + pending.count,
                last_seen=pending.last, incidents=pending.incidents)
            for line in pending.evidence[-MAX_LINKED:]:
                new = fmt.add_evidence_line(new, line, keep=MAX_LINKED)
            self._replace("troubleshooting", ts_id, new)

    # -- memory -----------------------------------------------------------------------------

    def _memory(self, event: Event, d: Decision, ids: dict[str, str], touched: Touched) -> None:
        inc_id = ids.get(d.dedup_key or "")
        said = event.message.strip().split("\n")[0]
        mem = self.add_lesson(
            title=d.title or "", incident=inc_id, when=event.time,
            tags=[t for t in (d.rule,) if t], generated=True,
            body=f"_Written by agentops from the lesson template of rule `{d.rule}`; not yet "
                 "confirmed by a person: rewrite, confirm or retire it._",
            context=f"Learned from {inc_id or event.id} (event `{event.type}`)"
                    + (f": {said}" if said else "."))
        touched["memory"].append(mem)
        if inc_id:
            entry_text = self._entry("incident", inc_id)
            current = fmt.parse_incident(entry_text).memory
            if mem[0] not in current:
                self._replace("incident", inc_id,
                              fmt.update_fields(entry_text, memory=[*current, mem[0]]))

    def _confirm_lesson(self, mem_id: str, inc_id: str | None, when: datetime,
                        touched: Touched) -> None:
        entry = self._entry("memory", mem_id)
        mem = fmt.parse_memory(entry)
        evidence = list(mem.evidence)
        if inc_id and inc_id not in evidence:
            evidence.append(inc_id)
        last = max(when, mem.last_validated) if mem.last_validated else when
        self._replace("memory", mem_id, fmt.update_fields(
            entry, seen=mem.seen + 1, last_validated=last, evidence=evidence))
        touched["memory"].append((mem_id, "seen"))

    def _refresh_index(self) -> None:
        self._index_stale = True  # rendered once at finish, from every entry
        self._changed.add(FILES["memory"])


class _Links:
    """Occurrences of one known problem gathered during a batch, written once."""

    __slots__ = ("base", "count", "evidence", "incidents", "last")

    def __init__(self, *, base: int, incidents: list[str], last: datetime) -> None:
        self.base = base
        self.count = 0
        self.incidents = incidents
        self.last = last
        self.evidence: list[str] = []


class _Recurrences:
    """Recurrences of one incident gathered during a batch, written once."""

    __slots__ = ("base", "count", "events", "latest", "rows")

    def __init__(self, *, base: int, events: list[str], latest: datetime) -> None:
        self.base = base
        self.count = 0
        self.events = events
        self.latest = latest
        self.rows: list[tuple[datetime, str]] = []


def _last_time(inc: Incident) -> datetime:
    times = [t for t in (inc.impact_started, inc.detected, inc.acknowledged, inc.mitigated)
             if t is not None]
    times += [row.time for row in inc.timeline]
    return max(times)


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _next_id(store: Store, kind: str) -> str:
    """``TS-0007``: the kind's prefix and its next number, of at least four digits."""
    prefix = LEDGER_KINDS[kind].id_prefix
    return f"{prefix}-{store.next_number(prefix):04d}"
