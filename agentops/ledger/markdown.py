"""The shared shape of an entry: markers, heading, summary line, flat YAML block, sections.

Every entry of every ledger file has the same skeleton, so one scanner finds its parts as
character spans. Updates then replace exactly one span (one metadata line, one section body),
and everything a human wrote around it stays byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple, TypeAlias

from agentops.errors import AgentopsError, LedgerError
from agentops.events import format_time, parse_time
from agentops.ledger.model import ID_RES, Sections
from agentops.vocabulary import Kind

DASH: Final = "—"
SECTION_PREFIX: Final = "#### "
HEADING_PREFIX: Final = "### "
META_OPEN: Final = "```yaml"
META_CLOSE: Final = "```"
REGION_BEGIN: Final = "<!-- agentops:entries:begin -->"
REGION_END: Final = "<!-- agentops:entries:end -->"
BEGIN_RE: Final = re.compile(
    r"^<!-- agentops:(incident|troubleshooting|memory) (\S+) uid=(\S+) -->$", re.MULTILINE
)
END_RE: Final = re.compile(r"^<!-- /agentops:(incident|troubleshooting|memory) (\S+) -->$",
                           re.MULTILINE)


def begin_prefix(kind: Kind, entry_id: str | None = None) -> str:
    """The start of a begin marker line; with an id, specific enough for ``str.find``."""
    return f"<!-- agentops:{kind} " + (f"{entry_id} uid=" if entry_id is not None else "")


def begin_marker(kind: Kind, entry_id: str, uid: str) -> str:
    return f"<!-- agentops:{kind} {entry_id} uid={uid} -->"


def end_marker(kind: Kind, entry_id: str) -> str:
    return f"<!-- /agentops:{kind} {entry_id} -->"


def heading_line(entry_id: str, title: str) -> str:
    return f"{HEADING_PREFIX}{entry_id} {DASH} {title}"


def anchor_line(entry_id: str) -> str:
    """An explicit anchor, so ``#mem-0003`` links work whatever the title is."""
    return f'<a id="{entry_id.lower()}"></a>'


# --- flat YAML metadata ---------------------------------------------------------------------

FieldType: TypeAlias = Literal["str", "ostr", "int", "oint", "bool", "otime", "list"]


class MetaField(NamedTuple):
    """One metadata key: its YAML line is the only place the value lives."""

    name: str
    type: FieldType
    choices: tuple[str, ...] = ()
    required: bool = False
    # Written only when set: keys added later (the impact fields) leave entries written
    # before them byte for byte as they were.
    optional: bool = False


_PLAIN_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_./@-]*$")
_YAML_WORDS: Final = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})
_YAML_UNSAFE_RE: Final = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def yaml_scalar(value: Any) -> str:
    """One YAML scalar on one line; times quoted so the C loader keeps them as strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return f'"{format_time(value)}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(yaml_scalar(item) for item in value) + "]"
    if not isinstance(value, str):
        raise LedgerError(f"cannot write {type(value).__name__} {value!r} as metadata")
    if _PLAIN_RE.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    quoted = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", quoted)


def meta_line(name: str, value: Any) -> str:
    return f"{name}: {yaml_scalar(value)}"


def render_meta(fields: Sequence[MetaField], values: Mapping[str, Any]) -> list[str]:
    return [meta_line(f.name, values.get(f.name)) for f in fields
            if not (f.optional and values.get(f.name) in (None, (), []))]


_META_LINE_RE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*): (.*)\Z")
_INT_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_SIMPLE_QUOTED_RE: Final = re.compile(r'"[^"\\\x00-\x1f\x7f]*"')
_UNSURE: Final = object()


def load_meta(text: str, where: str) -> dict[str, Any]:
    """The metadata block as a dict. The flat lines the tool writes are read directly (six
    times faster than YAML, which matters for ``stats`` over ten thousand entries); anything
    else a person may have written there goes to the YAML parser."""
    fast = _fast_meta(text)
    return fast if fast is not None else _yaml_meta(text, where)


_YAML11_WORD = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~)$")


def _fast_meta(text: str) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = _META_LINE_RE.match(line)
        if m is None or m.group(1) in out or _YAML11_WORD.match(m.group(1)):
            return None  # YAML reads ``on:``/``yes:``/``null:`` keys as non-strings: let it
        value = _fast_scalar(m.group(2))
        if value is _UNSURE:
            return None
        out[m.group(1)] = value
    return out


def _fast_scalar(raw: str) -> Any:
    """A scalar exactly as :func:`yaml_scalar` writes it, or _UNSURE to let YAML decide."""
    if raw in ("null", "true", "false"):
        return None if raw == "null" else raw == "true"
    if raw.startswith('"'):
        if _SIMPLE_QUOTED_RE.fullmatch(raw):
            return raw[1:-1]  # nothing escaped: what JSON would decode, without decoding
        try:
            value = json.loads(raw)
        except ValueError:
            return _UNSURE
        return value if isinstance(value, str) and "\\" not in raw else _UNSURE
    if raw.startswith("[") and raw.endswith("]"):
        inner = raw[1:-1]
        if not inner:
            return []
        items = [_fast_scalar(item) for item in inner.split(", ")]
        ok = '"' not in inner and all(isinstance(i, str) for i in items)
        return items if ok else _UNSURE
    if _INT_RE.match(raw):
        return int(raw)
    if _PLAIN_RE.fullmatch(raw) and raw.lower() not in _YAML_WORDS:
        return raw
    return _UNSURE


def _yaml_meta(text: str, where: str) -> dict[str, Any]:
    import yaml  # only for blocks a person wrote: the tool's own are read without it

    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        raise LedgerError(f"{where}: metadata is not valid YAML: {detail}") from None
    if not isinstance(data, dict):
        raise LedgerError(f"{where}: metadata must be a mapping of keys to values")
    return data


def parse_meta(text: str, fields: Sequence[MetaField], where: str) -> dict[str, Any]:
    """Load the YAML block and check each known key; unknown keys (human notes) are ignored."""
    canonical = _canonical_meta(text, fields, where)
    if canonical is not None:
        return canonical
    data = load_meta(text, where)
    out: dict[str, Any] = {}
    for f in fields:
        if f.name not in data:
            if f.required:
                raise LedgerError(f"{where}: metadata.{f.name}: missing")
            continue
        out[f.name] = _check(f, data[f.name], f"{where}: metadata.{f.name}")
    return out


def _canonical_meta(text: str, fields: Sequence[MetaField], where: str) -> dict[str, Any] | None:
    """The block exactly as :func:`render_meta` writes it (these keys in this order, optional
    ones only when set) read with one regex match, or None to read it line by line.

    Each field remembers the values it has checked: ten thousand incidents share most of them
    (``status: Investigating``, ``acknowledged: null``), so a fresh clone's ``stats`` or
    ``incident list`` checks each distinct value once.
    """
    canonical = _canonical_of(fields)
    m = canonical.block.fullmatch(text)
    return None if m is None else _decode(canonical.slots, m.groups(), where)


def read_head(text: str, kind: Kind, fields: Sequence[MetaField], *,
              only: frozenset[str] | None = None) -> tuple[str, dict[str, Any]] | None:
    """The title and metadata of an entry whose head (begin marker to the end of the block)
    is exactly as :func:`render` writes it, in one regex match; None for anything else.
    With ``only``, just those fields are decoded and returned."""
    canonical = _canonical_of(fields, only)
    m = canonical.head.match(text)
    if m is None or m.group(1) != kind:
        return None
    entry_id, heading = m.group(2), m.group(3)
    meta = _decode(canonical.slots, m.groups()[3:], entry_id)
    if meta is None:
        return None
    prefix = f"{entry_id} {DASH} "
    return (heading[len(prefix):] if heading.startswith(prefix) else heading), meta


def _decode(slots: list[_Slot], raws: Sequence[str | None], where: str
            ) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for (name, f, memo), raw in zip(slots, raws):  # one group per field, by construction
        if raw is None:
            continue  # an optional key that is not set
        value = memo.get(raw, _UNSURE)
        if value is _UNSURE:
            scalar = _fast_scalar(raw)
            if scalar is _UNSURE:
                return None
            value = _check(f, scalar, f"{where}: metadata.{name}")
            if len(memo) < _MEMO_MAX:
                memo[raw] = value  # checked values are immutable (lists become tuples)
        out[name] = value
    return out


_Slot: TypeAlias = tuple[str, MetaField, dict[str, Any]]  # a field's name, itself, its memo


class _Canonical(NamedTuple):
    fields: Sequence[MetaField]
    block: re.Pattern[str]  # the metadata block's lines
    head: re.Pattern[str]  # begin marker, anchor, heading, summary line, then the block
    slots: list[_Slot]  # per field: raw value -> checked value


def _canonical_of(fields: Sequence[MetaField],
                  only: frozenset[str] | None = None) -> _Canonical:
    """The regexes of a block and a head of ``fields``; with ``only``, the head captures just
    those fields (the others are matched, not captured: a list of ten thousand incidents
    decodes a third of each block)."""
    found = _CANONICAL.get((id(fields), only))
    if found is None or found.fields is not fields:
        def line(f: MetaField) -> str:
            value = "(.*)" if only is None or f.name in only else ".*"
            return (f"(?:{re.escape(f.name)}: {value}\n)?" if f.optional
                    else f"{re.escape(f.name)}: {value}\n")

        lines = "".join(line(f) for f in fields)
        head = (r"<!-- agentops:(\w+) (\S+) uid=\S+ -->\n(?:<a id=\"[^\"\n]*\"></a>\n\n)?"
                r"### (.*)\n\n.*\n\n```yaml\n" + lines + "```\n")
        base = _CANONICAL.get((id(fields), None))
        memos = {n: memo for n, _f, memo in base.slots} if base and base.fields is fields else {}
        found = _Canonical(fields, re.compile(lines), re.compile(head),
                           [(f.name, f, memos.get(f.name, {})) for f in fields
                            if only is None or f.name in only])
        _CANONICAL[(id(fields), only)] = found
    return found


# fields (by identity: the kinds' META tables live as long as the process) -> their regexes
# and memos, each memo bounded for a long-lived server (once full it stops learning; the
# common values come first).
_CANONICAL: Final[dict[tuple[int, frozenset[str] | None], _Canonical]] = {}
_MEMO_MAX: Final = 4096


def _check(f: MetaField, value: Any, where: str) -> Any:
    if f.type == "otime" or (f.type in ("ostr", "oint", "list") and value is None):
        if f.type == "otime":
            return _check_time(value, where)
        return () if f.type == "list" else None
    if f.type == "bool" and isinstance(value, bool):
        return value
    if (f.type in ("int", "oint") and isinstance(value, int) and not isinstance(value, bool)
            and value >= 0):
        return value
    if f.type in ("str", "ostr") and isinstance(value, str) and (value or f.type == "ostr"):
        if f.choices and value not in f.choices:
            raise LedgerError(f"{where}: {value!r} is not one of {', '.join(f.choices)}")
        return value
    if f.type == "list" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    expected = {"str": "a non-empty string", "ostr": "a string or null",
                "int": "a whole number >= 0", "oint": "a whole number >= 0 or null",
                "bool": "true or false",
                "list": "a list of strings like [a, b]"}[f.type]
    raise LedgerError(f"{where}: expected {expected}, got {value!r}")


def _check_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, where=where)
    except AgentopsError as exc:
        raise LedgerError(str(exc)) from None


# --- scanning an entry ----------------------------------------------------------------------


class SectionSpan(NamedTuple):
    """``start``: the heading line; ``body``: just after it; ``end``: the next heading or end."""

    heading: str
    start: int
    body: int
    end: int


class Layout(NamedTuple):
    """Where the parts of one entry are, as character offsets into its text."""

    kind: Kind
    id: str
    uid: str
    heading: tuple[int, int] | None
    summary: tuple[int, int] | None
    meta: tuple[int, int] | None
    sections: tuple[SectionSpan, ...]
    end: int
    open_fence: bool = False

    def section(self, heading: str) -> SectionSpan | None:
        return next((s for s in self.sections if s.heading == heading), None)


def lines(text: str, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of each line in text[start:stop], end excluding the newline."""
    stop = len(text) if stop is None else stop
    pos = start
    while pos < stop:
        nl = text.find("\n", pos, stop)
        end = stop if nl < 0 else nl
        yield pos, end
        pos = end + 1


def scan(text: str, summary_prefix: str | None = None) -> Layout:
    """Find the parts of an entry; raises LedgerError when its frame is broken."""
    begin = BEGIN_RE.match(text)
    if begin is None:
        raise LedgerError(f"entry does not start with a begin marker: {text[:80]!r}")
    kind: Kind = begin.group(1)  # type: ignore[assignment]
    entry_id, uid = begin.group(2), begin.group(3)
    end = text.rfind("\n" + end_marker(kind, entry_id))
    if end < 0:
        raise LedgerError(f"{entry_id}: entry has no end marker {end_marker(kind, entry_id)!r}")
    end += 1
    head = _scan_head(text, begin.end() + 1, end, summary_prefix)
    sections, open_fence = _scan_sections(text, head[3], end)
    return Layout(kind, entry_id, uid, head[0], head[1], head[2], sections, end, open_fence)


def scan_head(text: str, summary_prefix: str | None = None) -> Layout:
    """Like :func:`scan` up to the metadata block; ``sections`` is left empty."""
    begin = BEGIN_RE.match(text)
    if begin is None:
        raise LedgerError(f"entry does not start with a begin marker: {text[:80]!r}")
    kind: Kind = begin.group(1)  # type: ignore[assignment]
    head = _scan_head(text, begin.end() + 1, len(text), summary_prefix)
    return Layout(kind, begin.group(2), begin.group(3), head[0], head[1], head[2], (), len(text))


def _scan_head(
    text: str, start: int, stop: int, summary_prefix: str | None
) -> tuple[tuple[int, int] | None, tuple[int, int] | None, tuple[int, int] | None, int]:
    """Heading, summary line and YAML block, then the offset where sections may begin."""
    heading = summary = meta = None
    for a, b in lines(text, start, stop):
        line = text[a:b]
        if line.startswith(SECTION_PREFIX):
            return heading, summary, meta, a
        if heading is None and line.startswith(HEADING_PREFIX):
            heading = (a, b)
        elif summary is None and summary_prefix and line.startswith(summary_prefix):
            summary = (a, b)
        elif line == META_OPEN:
            pos = b  # the block's closing fence, found with str.find, not line by line
            while (close := text.find("\n" + META_CLOSE, pos, stop)) >= 0:
                after = close + 1 + len(META_CLOSE)
                if after == stop or text[after] == "\n":
                    return heading, summary, (b + 1, close + 1), min(after + 1, stop)
                pos = after
            return heading, summary, meta, stop
    return heading, summary, meta, stop


def _scan_sections(text: str, start: int, stop: int) -> tuple[tuple[SectionSpan, ...], bool]:
    """Section headings outside code fences; also whether a fence is left open."""
    if text.find("```", start, stop) < 0 and text.find("~~~", start, stop) < 0:
        found, fence = _headings(text, start, stop), ""  # no fence: every heading counts
    else:
        found, fence = _headings_outside_fences(text, start, stop)
    ends = [s for _, s, _ in found[1:]] + [stop]
    spans = tuple(SectionSpan(h, s, body, e) for (h, s, body), e in zip(found, ends, strict=True))
    return spans, bool(fence)


def _headings_outside_fences(text: str, start: int,
                             stop: int) -> tuple[list[tuple[str, int, int]], str]:
    """Like :func:`_headings`, skipping fenced code; also the fence left open, if any."""
    found: list[tuple[str, int, int]] = []
    fence = ""
    for m in _SECTION_OR_FENCE_RE.finditer(text, start, stop):  # just fence and heading lines
        marks = m.group(1)
        if fence:
            if marks and marks[0] == fence[0] and len(marks) >= len(fence):
                fence = "" if not m.group(0).strip().strip(fence[0]) else fence
        elif marks:
            fence = marks
        else:
            found.append((m.group(2), m.start(), min(m.end() + 1, stop)))
    return found, fence


def _headings(text: str, start: int, stop: int) -> list[tuple[str, int, int]]:
    """(heading, line start, body start) of each ``#### `` line in text[start:stop]."""
    found: list[tuple[str, int, int]] = []
    line = start if text.startswith(SECTION_PREFIX, start, stop) else -1
    pos = start
    while True:
        if line < 0:
            nl = text.find("\n" + SECTION_PREFIX, pos, stop)
            if nl < 0:
                return found
            line = nl + 1
        end = text.find("\n", line, stop)
        end = stop if end < 0 else end
        found.append((text[line + len(SECTION_PREFIX):end], line, min(end + 1, stop)))
        pos, line = end, -1


_SECTION_OR_FENCE_RE: Final = re.compile(r"^(?: {0,3}(`{3,}|~{3,}).*|#### (.*))$",
                                         re.MULTILINE)


def section_body(text: str, span: SectionSpan) -> str:
    return text[span.body:span.end].strip("\n")


def expect_kind(layout: Layout, kind: Kind) -> None:
    if layout.kind != kind:
        raise LedgerError(f"{layout.id}: expected a {kind} entry, found a {layout.kind} entry")


def read_sections(text: str, layout: Layout) -> Sections:
    return Sections((s.heading, section_body(text, s)) for s in layout.sections)


def read_title(text: str, layout: Layout) -> str:
    if layout.heading is None:
        raise LedgerError(f"{layout.id}: entry has no '### {layout.id} {DASH} title' heading")
    line = text[layout.heading[0]:layout.heading[1]]
    prefix = f"{HEADING_PREFIX}{layout.id} {DASH} "
    return line[len(prefix):] if line.startswith(prefix) else line[len(HEADING_PREFIX):]


def read_meta(text: str, layout: Layout, fields: Sequence[MetaField]) -> dict[str, Any]:
    if layout.meta is None:
        raise LedgerError(f"{layout.id}: entry has no ```yaml metadata block")
    return parse_meta(text[layout.meta[0]:layout.meta[1]], fields, layout.id)


class EntryText(NamedTuple):
    """Everything needed to write one entry."""

    kind: Kind
    id: str
    uid: str
    title: str
    summary: str
    meta: list[str]
    sections: Sections
    anchor: bool = False


_UID_RE: Final = re.compile(r"^[A-Za-z0-9_-]+\Z")


def render(entry: EntryText) -> str:
    if not ID_RES[entry.kind].match(entry.id):
        raise LedgerError(f"{entry.id!r} is not a valid {entry.kind} id")
    if not _UID_RE.match(entry.uid):
        raise LedgerError(f"{entry.id}: uid {entry.uid!r} must be letters, digits, - or _")
    _one_line(entry.title, f"{entry.id}: title")
    _one_line(entry.summary, f"{entry.id}: summary line")
    out = [begin_marker(entry.kind, entry.id, entry.uid)]
    if entry.anchor:
        out += [anchor_line(entry.id), ""]
    out += [heading_line(entry.id, entry.title), "", entry.summary, "", META_OPEN, *entry.meta]
    out += [META_CLOSE, ""]
    for heading, body in entry.sections.items():
        _one_line(heading, f"{entry.id}: section heading")
        out += [SECTION_PREFIX + heading, ""] + ([body, ""] if body else [])
    out.append(end_marker(entry.kind, entry.id))
    return "\n".join(out) + "\n"


def _one_line(value: str, where: str) -> None:
    if "\n" in value or "\r" in value:
        raise LedgerError(f"{where}: must be one line (use safety.escape_inline)")
