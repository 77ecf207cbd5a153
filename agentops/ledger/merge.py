"""Three-way merge of a ledger file, entry by entry: what the git merge driver runs.

Two branches that both add incidents conflict in a plain text merge (both insert at the top of
the log, both rewrite the header's last-incident line) and a hand resolution duplicates ids. The
merge here works on entries matched by their stable ``uid``:

- an entry added on one side is kept; added on both sides, both are kept, and when their ids
  collide the entry with the smaller uid keeps the number, the other gets the next free one;
- a metadata field changed on one side takes that side; changed on both, a rule decides
  (earliest time, furthest status, largest count, union of lists), so fields never conflict;
- a prose section changed on one side takes that side; changed on both, timeline rows are
  united, anything else goes through a line-based three-way merge (``merge3``, given by the
  caller) and is the only place a conflict can appear, marked in that section alone;
- derived text (summary lines, the last-incident line, the memory index) is rendered again.

The functions are pure: text in, text out. The driver command wires in ``git merge-file``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final, NamedTuple

from agentops.ledger import edit
from agentops.ledger import files as lf
from agentops.ledger import markdown as md
from agentops.ledger.kinds import spec
from agentops.ledger.model import ID_RES, Incident, MemoryEntry, id_sort_key
from agentops.vocabulary import STATUSES, Kind

# (base, ours, theirs) -> (merged text, clean)
Merge3 = Callable[[str, str, str], tuple[str, bool]]

TIME_FIELDS: Final = frozenset({
    "impact_started", "detected", "acknowledged", "mitigated", "resolved", "review_scheduled",
    "review_done", "first_seen", "last_seen", "created", "updated",
})
COUNT_FIELDS: Final = frozenset({"occurrences", "seen"})
TIMELINE: Final = "Timeline"
EVIDENCE: Final = "Evidence"  # "- Seen in INC-..." lines the tool appends to a known problem


class Merged(NamedTuple):
    text: str
    clean: bool
    renumbered: tuple[tuple[str, str], ...] = ()  # (old id, new id)


# --- one file --------------------------------------------------------------------------------


def merge_ledger(kind: Kind, base: str, ours: str, theirs: str, merge3: Merge3) -> Merged:
    """Merge three versions of one ledger file (see the module docstring)."""
    b, o, t = (lf.parse_file(kind, text) if text.strip() else None
               for text in (base, ours, theirs))
    if o is None or t is None:
        text, clean = merge3(base, ours, theirs)
        return Merged(text, clean)
    base_by = {e.uid: e for e in b.entries} if b else {}
    ours_by = {e.uid: e for e in o.entries}
    theirs_by = {e.uid: e for e in t.entries}
    clean = True
    kept: list[str] = []  # entry texts, in no particular order: the file is re-ordered by id
    for uid, entry in ours_by.items():
        old = base_by.get(uid)
        other = theirs_by.get(uid)
        if other is None:
            if old is not None and old.text == entry.text:
                continue  # deleted there, untouched here: deleted
            kept.append(entry.text)  # changed here (or added here): kept
            continue
        text, ok = merge_entry(old.text if old else None, entry.text, other.text, merge3)
        clean = clean and ok
        kept.append(text)
    for uid, entry in theirs_by.items():
        if uid in ours_by:
            continue
        old = base_by.get(uid)
        if old is not None and old.text == entry.text:
            continue  # deleted here, untouched there
        kept.append(entry.text)
    texts, renumbered = _settle_ids(kind, kept)
    header, ok_head = _merge_outside(kind, b.header if b else "", o.header, t.header, merge3)
    trailing, ok_tail = _merge_outside(kind, b.trailing if b else "", o.trailing, t.trailing,
                                       merge3)
    if not o.entries:  # an empty region ends in one newline less than a filled one
        trailing = "\n" + trailing
    out = _assemble(kind, header, texts, trailing)
    return Merged(_derive(kind, out), clean and ok_head and ok_tail, tuple(renumbered))


def _settle_ids(kind: Kind, texts: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Give every entry a distinct id; on a collision the smaller uid keeps the number."""
    heads = [md.BEGIN_RE.match(t) for t in texts]
    items = sorted(((h.group(2), h.group(3), t) for h, t in zip(heads, texts, strict=True)
                    if h is not None), key=lambda x: (id_sort_key(kind, x[0]), x[1]))
    taken = {i for i, _u, _t in items}
    out: list[str] = []
    renumbered: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry_id, _uid, text in items:
        if entry_id in seen:
            new_id = _next_free(kind, entry_id, taken)
            taken.add(new_id)
            text = edit.renumber(text, entry_id, new_id)
            renumbered.append((entry_id, new_id))
            entry_id = new_id
        seen.add(entry_id)
        out.append(text)
    return out, renumbered


def _next_free(kind: Kind, entry_id: str, taken: set[str]) -> str:
    m = ID_RES[kind].match(entry_id)
    assert m is not None
    if kind == "incident":
        day, width = m.group(1), len(m.group(2))
        numbers = [id_sort_key(kind, i)[1] for i in taken if i.startswith(f"INC-{day}-")]
        return f"INC-{day}-{max(numbers) + 1:0{width}d}"
    prefix, width = entry_id.split("-")[0], len(m.group(1))
    numbers = [int(i.split("-")[1]) for i in taken if i.startswith(prefix + "-")]
    return f"{prefix}-{max(numbers) + 1:0{width}d}"


def _assemble(kind: Kind, header: str, texts: list[str], trailing: str) -> str:
    """Header, the entries in the order the kind keeps (a blank line between two), trailer."""
    ordered = sorted(texts, key=lambda t: _sort_key(kind, t), reverse=spec(kind).newest_first)
    if not ordered:
        return header + trailing.removeprefix("\n")
    return header + "\n".join(ordered) + trailing


def _sort_key(kind: Kind, text: str) -> tuple[str, int]:
    head = md.BEGIN_RE.match(text)
    assert head is not None
    return id_sort_key(kind, head.group(2))


def _merge_outside(kind: Kind, base: str, ours: str, theirs: str,
                   merge3: Merge3) -> tuple[str, bool]:
    """The header or trailer: derived parts neutralised, then a line-based three-way merge."""
    b, o, t = (_neutral(kind, x) for x in (base, ours, theirs))
    if o == t or t == b:
        return ours, True
    if o == b:
        return theirs, True
    text, clean = merge3(b, o, t)
    return text, clean


def _neutral(kind: Kind, text: str) -> str:
    """``text`` with the derived lines every writer rewrites made equal."""
    if kind == "incident" and lf.find_line(text, lf.LAST_INCIDENT) >= 0:
        text = lf._replace_line(text, lf.LAST_INCIDENT, lf.last_incident_line(None, None),
                                len(text), "INCIDENTS.md")
    if kind == "memory" and lf.find_line(text, lf.INDEX_BEGIN) >= 0:
        text = lf._replace_block(text, lf.INDEX_BEGIN, lf.INDEX_END, "", "MEMORY.md")
    return text


def _derive(kind: Kind, text: str) -> str:
    """Render the derived header parts from the merged entries."""
    doc = lf.parse_file(kind, text)
    if kind == "incident" and lf.find_line(text, lf.LAST_INCIDENT) >= 0:
        incidents = [e for e in doc.parsed() if isinstance(e, Incident)]
        if incidents:
            newest = max(incidents, key=lambda i: id_sort_key("incident", i.id))
            text = lf.set_last_incident(text, newest.id, newest.detected)
    if kind == "memory" and lf.find_line(text, lf.INDEX_BEGIN) >= 0:
        text = lf.set_memory_index(text, [e for e in doc.parsed()
                                          if isinstance(e, MemoryEntry)])
    return text


# --- one entry -------------------------------------------------------------------------------


def merge_entry(base: str | None, ours: str, theirs: str, merge3: Merge3) -> tuple[str, bool]:
    """Merge one entry's three versions; returns (text, clean)."""
    if ours == theirs or base == theirs:
        return ours, True
    if base == ours:
        return theirs, True
    if base is None:
        base = ours  # added on both sides (same uid): ours is the common ground
    kind = md.BEGIN_RE.match(ours).group(1)  # type: ignore[union-attr]
    prefix = spec(kind).summary_prefix
    lb, lo, lt = (md.scan(x, prefix) for x in (base, ours, theirs))
    text, clean = _merge_sections(base, lb, ours, lo, theirs, lt, merge3)
    fields = _merge_fields(kind, base, lb, ours, lo, theirs, lt)
    if fields:
        text = edit.update_fields(text, **fields)
    else:
        text = edit.refresh_summary(text) if clean else text
    return text, clean


def _sections(text: str, layout: md.Layout) -> dict[str, str]:
    return {s.heading: text[s.start:s.end] for s in layout.sections}


def _merge_sections(base: str, lb: md.Layout, ours: str, lo: md.Layout, theirs: str,
                    lt: md.Layout, merge3: Merge3) -> tuple[str, bool]:
    sb, so, st = _sections(base, lb), _sections(ours, lo), _sections(theirs, lt)
    order = list(so) + [h for h in st if h not in so]
    clean, parts = True, []
    for heading in order:
        b, o, t = sb.get(heading), so.get(heading), st.get(heading)
        if o == t or t == b:
            part = o
        elif o == b:
            part = t
        elif heading == TIMELINE and o is not None and t is not None:
            part = _union_rows(b or "", o, t)
        elif heading == EVIDENCE and o is not None and t is not None:
            part = _union_seen(b or "", o, t)
        else:
            part, ok = merge3(b or "", o or "", t or "")
            clean = clean and ok
        if part:
            parts.append(part if part.endswith("\n") else part + "\n")
    start = lo.sections[0].start if lo.sections else lo.end
    return ours[:start] + "".join(parts) + ours[lo.end:], clean


def _union_rows(base: str, ours: str, theirs: str) -> str:
    """Timeline rows written on either side, in time order (rows are only ever appended)."""
    old = set(base.splitlines())
    lines = ours.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("| ") and _row_time(line)]
    added = [line for line in theirs.splitlines()
             if line.startswith("| ") and _row_time(line) and line not in old
             and line not in lines]
    if not rows:
        return ours
    first, last = rows[0], rows[-1]
    table = sorted([lines[i] for i in rows] + added, key=lambda r: _row_time(r) or "")
    out = lines[:first] + table + lines[last + 1:]
    return "\n".join(out) + "\n"


def _union_seen(base: str, ours: str, theirs: str) -> str:
    """The evidence lines either side appended; any other change there is merged as prose."""
    old = set(base.splitlines())
    body = ours.rstrip("\n")
    lines = body.split("\n")
    added = [line for line in theirs.splitlines()
             if line.startswith("- Seen in ") and line not in old and line not in lines]
    return "\n".join(lines + added) + (ours[len(body):] or "\n")


def _row_time(line: str) -> str | None:
    cell = line[2:].split(" |", 1)[0].strip()
    return cell if cell[:4].isdigit() and "T" in cell else None


def _merge_fields(kind: str, base: str, lb: md.Layout, ours: str, lo: md.Layout, theirs: str,
                  lt: md.Layout) -> dict[str, Any]:
    """The metadata values to write into ours: theirs where only theirs changed, a rule where
    both did. Title (the heading) is treated as one more field."""
    fields = spec(kind).meta
    mb, mo, mt = (_meta(x, layout, fields) for x, layout in
                  ((base, lb), (ours, lo), (theirs, lt)))
    mb["title"], mo["title"], mt["title"] = (md.read_title(x, layout) for x, layout in
                                             ((base, lb), (ours, lo), (theirs, lt)))
    out: dict[str, Any] = {}
    for name in dict.fromkeys([*mo, *mt]):
        if name in ("id", "uid"):
            continue
        b, o, t = mb.get(name), mo.get(name), mt.get(name)
        if _same(o, t) or _same(t, b):
            continue
        out[name] = t if _same(o, b) else _both(name, o, t)
        if _same(out[name], o):
            del out[name]
    return out


def _meta(text: str, layout: md.Layout, fields: Iterable[md.MetaField]) -> dict[str, Any]:
    return dict(md.read_meta(text, layout, list(fields)))


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, default=str, sort_keys=True) == json.dumps(b, default=str,
                                                                     sort_keys=True)


def _both(name: str, ours: Any, theirs: Any) -> Any:
    """A field both sides changed differently: a rule, never a conflict."""
    if name in TIME_FIELDS:
        values = [v for v in (ours, theirs) if v is not None]
        return min(values) if values else None
    if name in COUNT_FIELDS and isinstance(ours, int) and isinstance(theirs, int):
        return max(ours, theirs)
    if name == "status" and ours in STATUSES and theirs in STATUSES:
        return max(ours, theirs, key=STATUSES.index)
    if isinstance(ours, (list, tuple)) and isinstance(theirs, (list, tuple)):
        return list(dict.fromkeys([*ours, *theirs]))
    return ours


# --- the journal -----------------------------------------------------------------------------


def merge_journal(ours: str, theirs: str) -> str:
    """JSON lines: ours, then every record of theirs whose key ours lacks (append-only)."""
    keys = set()
    for line in ours.splitlines():
        keys.add(_key(line))
    extra = [line for line in theirs.splitlines() if line.strip() and _key(line) not in keys]
    text = ours if ours.endswith("\n") or not ours else ours + "\n"
    return text + "".join(line + "\n" for line in extra)


def _key(line: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return line
    return str(record.get("key")) if isinstance(record, dict) else line
