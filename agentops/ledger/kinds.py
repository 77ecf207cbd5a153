"""One table of what differs between the three ledger files, so the operations need no ifs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from agentops.errors import LedgerError
from agentops.ledger import incidents, memory, troubleshooting
from agentops.ledger.markdown import BEGIN_RE, MetaField
from agentops.ledger.model import Entry, Incident, TroubleshootingEntry
from agentops.vocabulary import LEDGER_KINDS, Kind


class KindSpec(NamedTuple):
    """Everything kind-specific: file name, metadata keys, summary line, order of entries."""

    kind: Kind
    file_name: str
    meta: tuple[MetaField, ...]
    summary_prefix: str
    newest_first: bool
    render: Callable[[Any], str]
    parse: Callable[[str], Entry]
    summary: Callable[[Any], str]


SPECS: Final[Mapping[str, KindSpec]] = {
    "incident": KindSpec(
        "incident", LEDGER_KINDS["incident"].file_name, incidents.META,
        incidents.SUMMARY_PREFIX, True,
        incidents.render_incident, incidents.parse_incident, incidents.summary_line,
    ),
    "troubleshooting": KindSpec(
        "troubleshooting", LEDGER_KINDS["troubleshooting"].file_name, troubleshooting.META,
        troubleshooting.SUMMARY_PREFIX, False, troubleshooting.render_troubleshooting,
        troubleshooting.parse_troubleshooting, troubleshooting.summary_line,
    ),
    "memory": KindSpec(
        "memory", LEDGER_KINDS["memory"].file_name, memory.META, memory.SUMMARY_PREFIX, False,
        memory.render_memory, memory.parse_memory, memory.summary_line,
    ),
}


def spec(kind: str) -> KindSpec:
    try:
        return SPECS[kind]
    except KeyError:
        raise LedgerError(f"unknown ledger kind {kind!r} (expected one of "
                          f"{', '.join(SPECS)})") from None


def kind_of(entry: Entry) -> Kind:
    if isinstance(entry, Incident):
        return "incident"
    return "troubleshooting" if isinstance(entry, TroubleshootingEntry) else "memory"


def render_entry(entry: Entry) -> str:
    """Render any entry by its type."""
    return SPECS[kind_of(entry)].render(entry)


def parse_entry(text: str) -> Entry:
    """Parse any entry; the kind comes from its begin marker."""
    match = BEGIN_RE.match(text)
    if match is None:
        raise LedgerError(f"entry does not start with a begin marker: {text[:80]!r}")
    return SPECS[match.group(1)].parse(text)
