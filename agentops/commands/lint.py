"""``agentops lint``: every ledger file, the journal and the policy, checked for integrity."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agentops.errors import InvalidRulesError, LedgerError
from agentops.ledger import archive
from agentops.ledger import format as fmt
from agentops.paths import RULES_DIR, find_repo
from agentops.store import oplog
from agentops.store.entries import incident_files
from agentops.store.journal import lint_journal
from agentops.store.writer import FILES


def lint(*, repo: Path | None) -> dict[str, Any]:
    root = find_repo(repo)
    problems: list[str] = _repository(root)
    for kind, name in FILES.items():
        path = root / name
        if not path.exists():
            problems.append(f"{name}: missing (run `agentops init`)")
            continue
        try:
            found = fmt.lint(kind, _read(path, name, problems))  # type: ignore[arg-type]
        except LedgerError as exc:
            found = [str(exc)]
        problems += [p if p.startswith(name) else f"{name}: {p}" for p in found]
    counts: dict[str, archive.ArchiveCount] = {}
    for path in incident_files(root)[1:]:
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        found = fmt.lint("incident", text)
        problems += [p.replace("INCIDENTS.md", rel, 1) if p.startswith("INCIDENTS.md")
                     else f"{rel}: {p}" for p in found]
        problems += _misplaced(rel, text)
        counts[rel] = archive.count(rel, text)
    if (root / FILES["incident"]).exists():
        problems += _index_drift((root / FILES["incident"]).read_text(encoding="utf-8"), counts)
    problems += lint_journal(root) + oplog.records_lint(root)
    if (root / RULES_DIR).is_dir():
        from agentops.policy.loader import load_policy

        try:
            load_policy([root / RULES_DIR], base=root)
        except InvalidRulesError as exc:
            problems += str(exc).splitlines()
    return {"repo": str(root), "ok": not problems, "problems": problems}


def _read(path: Path, name: str, problems: list[str]) -> str:
    """The file's text; CRLF line endings (a ``core.autocrlf`` checkout) are a problem, reported
    once, and the rest is linted as if they were LF (``read_text`` would hide them)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    if "\r" in text:
        problems.append(
            f"{name}: CRLF line endings (a core.autocrlf=true checkout?). Run `agentops init` "
            f"(it pins eol=lf in .gitattributes), commit or stash your edits, then "
            f"`rm {name} && git checkout -- {name}`")
        text = text.replace("\r\n", "\n")
    return text


def _repository(root: Path) -> list[str]:
    """What the last writer left behind: a batch cut short, a stale lock, a symlinked file."""
    from agentops import fsutil, git
    from agentops.errors import AgentopsError
    from agentops.pipeline import pending_note
    from agentops.store.journal import JOURNAL_DIR
    from agentops.vocabulary import LEDGER_FILES

    out: list[str] = []
    try:
        note = pending_note(root)
        out += [f"{lock} (the next agentops command removes it)" for lock in git.stale_locks(root)]
    except AgentopsError as exc:  # not a git repository: the file checks say enough
        return [str(exc)]
    if note is not None and not (note.get("pid") and git.is_alive(str(note["pid"]))):
        out.append(f"an interrupted batch is pending recovery ({', '.join(map(str, note['paths']))}"
                   "); the next agentops command restores those files from HEAD")
    try:
        fsutil.refuse_symlinks(root, (*LEDGER_FILES, JOURNAL_DIR))
    except AgentopsError as exc:
        out.append(str(exc))
    return out


def _misplaced(rel: str, text: str) -> list[str]:
    """Entries of a day's archive file that belong in another file (found by id, they would be
    looked for elsewhere). Monthly archives of earlier versions are not checked."""
    if len(archive.name_order(rel)) < 3:
        return []
    wrong = [i for i in _INC_ID_RE.findall(text) if archive.archive_name(i) != rel]
    return [f"{rel}: {i} belongs in {archive.archive_name(i)}" for i in wrong]


def _index_drift(main: str, counts: dict[str, archive.ArchiveCount]) -> list[str]:
    """The archive index of INCIDENTS.md against the files: counts, and no archive holding an
    open incident left out."""
    index = archive.parse_index(main)
    out = [f"INCIDENTS.md: archive index says {name} has {row.open} open of {row.total}, "
           f"the file has {counts[name].open} of {counts[name].total}"
           for name, row in index.items() if name in counts and counts[name] != row]
    out += [f"INCIDENTS.md: archive index lists {name}, which does not exist"
            for name in index if name not in counts]
    out += [f"INCIDENTS.md: archive index leaves out {name}, which holds open incidents"
            for name, c in counts.items() if c.open and name not in index]
    return out


_INC_ID_RE = re.compile(r"^<!-- agentops:incident (\S+) uid=", re.MULTILINE)


def lint_text(result: dict[str, Any]) -> str:
    if result["ok"]:
        return "ok: ledger, journal and rules are consistent"
    return "\n".join(result["problems"]) + f"\n{len(result['problems'])} problem(s)"
