"""The public face of the ledger formats: one import for the pipeline, ``lint`` and ``stats``.

The work is split by concern (``markdown`` for the entry skeleton, ``incidents``,
``troubleshooting`` and ``memory`` for each kind, ``files`` for whole files, ``edit`` for
in-place updates, ``lint`` for checks); this module only gathers the names. Everything here
takes and returns ``str``: no git, no file I/O.
"""

from __future__ import annotations

from agentops.ledger.edit import (
    add_evidence_line,
    add_followup,
    append_timeline,
    fill_attributed,
    fill_section_if_empty,
    refresh_summary,
    renumber,
    set_followup_done,
    update_fields,
)
from agentops.ledger.files import (
    INDEX_BEGIN,
    INDEX_END,
    LAST_INCIDENT,
    STATS_BEGIN,
    STATS_END,
    LedgerDoc,
    RawEntry,
    count_entries,
    find_entry,
    insert_entries,
    insert_entry,
    parse_file,
    read_block,
    render_empty_file,
    render_file,
    replace_entry,
    set_last_incident,
    set_memory_index,
    set_stats_block,
)
from agentops.ledger.incidents import (
    format_duration,
    parse_incident,
    parse_incident_head,
    parse_incident_line,
    render_incident,
)
from agentops.ledger.incidents import (
    summary_line as incident_summary,
)
from agentops.ledger.kinds import SPECS, parse_entry, render_entry
from agentops.ledger.markdown import REGION_BEGIN, REGION_END, begin_marker, end_marker
from agentops.ledger.memory import parse_memory, render_memory
from agentops.ledger.memory import render_index as render_memory_index
from agentops.ledger.troubleshooting import parse_troubleshooting, render_troubleshooting
from agentops.vocabulary import Kind

FILE_NAMES = {kind: s.file_name for kind, s in SPECS.items()}


def lint(kind: Kind, text: str) -> list[str]:
    """Problems in one ledger file (imported on use: ``record`` never lints)."""
    from agentops.ledger.lint import lint as run

    return run(kind, text)

__all__ = [
    "FILE_NAMES", "INDEX_BEGIN", "INDEX_END", "LAST_INCIDENT", "REGION_BEGIN", "REGION_END",
    "STATS_BEGIN", "STATS_END", "LedgerDoc", "RawEntry", "add_evidence_line", "add_followup",
    "append_timeline", "begin_marker", "count_entries", "end_marker", "fill_attributed",
    "fill_section_if_empty", "find_entry", "format_duration", "incident_summary",
    "insert_entries", "insert_entry", "lint", "parse_entry", "parse_file", "parse_incident",
    "parse_incident_head", "parse_incident_line", "parse_memory", "parse_troubleshooting",
    "read_block", "refresh_summary", "render_empty_file",
    "render_entry", "render_file", "render_incident", "render_memory", "render_memory_index",
    "render_troubleshooting", "renumber", "replace_entry", "set_followup_done",
    "set_last_incident", "set_memory_index", "set_stats_block", "update_fields",
]
