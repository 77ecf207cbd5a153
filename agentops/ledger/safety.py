"""Text safety: what comes from an event is redacted and escaped before it reaches a ledger.

Events carry free text written by machines we do not control (cluster messages, CI logs,
webhook payloads). Two things must never happen when that text lands in a markdown ledger:
a secret gets committed to git, or the text changes the structure of the file (a fake
heading, marker, table row or code fence). ``redact`` handles the first, ``escape_inline`` and
``escape_block`` the second. All three are idempotent, so escaping twice does no harm.

Escaping rule for blocks: a line that could start markdown structure gets a backslash in front
of its first non-blank character (``\\#``, ``\\|``, ``\\<``, ``\\```...``); ``<!--`` and
``-->`` anywhere become ``<\\!--`` and ``--\\>``. Backslash escapes render as the original
characters, so the text still reads the same on GitHub.

Each place has its own rule: ``escape_inline`` (a heading, list item or table cell: one line,
every backtick and ``|`` escaped), ``escape_block`` (prose), ``inline_code`` (a code span,
delimited by more backticks than the text holds). Everywhere, raw HTML tags are neutralised
(``\\<img ...>``), links to ``javascript:``/``vbscript:``/``data:`` are broken (``]\\(``), and
invisible characters that make a review lie are dropped: controls (C0, DEL, C1), zero-width
characters, and bidi overrides/isolates (those become U+FFFD, so the reader sees that
something was there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"
INLINE_MAX = 200
ELLIPSIS = "…"

_KEYWORDS = (
    r"passw(?:or)?d|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|authorization|credentials?|client-key-data|client-certificate-data"
    r"|certificate-authority-data"
)
_SECRET_KEY_RE = re.compile(rf"(?i:{_KEYWORDS})")
# A token after "Bearer"/"Basic" must look like one (a digit or symbol), so that prose such
# as "Basic authentication failed" is left alone.
_TOKENISH = r"(?=[A-Za-z0-9._~+/=-]*[0-9=+/._~-])[A-Za-z0-9._~+/=-]{8,}"
_PATTERNS = (
    (r"(?P<pem>-----BEGIN (?P<pemkind>[A-Z0-9 ]*)PRIVATE KEY-----)(?s:.*?)"
     r"(?:-----END (?P=pemkind)PRIVATE KEY-----|\Z)"),
    r"(?P<urlhead>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)[^\s/@]+(?=@)",
    (r"(?P<authhead>(?i:\bauthorization)[\"']?\s*[:=]\s*[\"']?"
     r"(?:(?i:bearer|basic|token|digest)\s+)?)[^\s\"',;]{4,}"),
    rf"(?P<scheme>\b(?:Bearer|Basic|bearer|basic|BEARER|BASIC)\s+){_TOKENISH}",
    rf"(?P<jsonhead>\"[^\"\n]*(?i:{_KEYWORDS})[^\"\n]*\"\s*:\s*\")(?:[^\"\\\n]|\\.)*(?=\")",
    (rf"(?P<kvhead>(?<![\w-])[\w.-]*(?i:{_KEYWORDS})[\w.-]*[\"']?\s*[:=]\s*)"
     r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'][^\s,;&]*)"),
    (r"(?P<awsid>\b(?:AKIA|ASIA)[A-Z0-9]{16}\b)"
     r"(?:(?P<awssep>[\s,:;=/\"']{1,5})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))?"),
    (r"(?P<plain>\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
     r"|xox[abprs]-[A-Za-z0-9-]{10,}"
     r"|eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*))"),
)


@lru_cache(maxsize=1)
def _secret_re() -> re.Pattern[str]:
    """The combined secret pattern, compiled on first need (most messages never need it)."""
    return re.compile("|".join(_PATTERNS))

# Every pattern above needs one of these (lower-cased) substrings; checking them with ``in``
# keeps a clean message at about a microsecond instead of running the big regex.
_TRIGGERS = (
    "pass", "secret", "token", "key", "auth", "credential", "bearer", "basic", "://", "akia",
    "asia", "ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_", "xox", "eyj", "-----begin",
    "certificate-",
)


def _replace(match: re.Match[str]) -> str:
    groups = match.groupdict()
    if groups["pem"] is not None:
        kind = groups["pemkind"]
        return f"-----BEGIN {kind}PRIVATE KEY-----{REDACTED}-----END {kind}PRIVATE KEY-----"
    if groups["awsid"] is not None:
        sep = groups["awssep"]
        return REDACTED if sep is None else f"{REDACTED}{sep}{REDACTED}"
    if groups["plain"] is not None:
        return REDACTED
    for head in ("urlhead", "authhead", "scheme", "jsonhead", "kvhead"):
        if groups[head] is not None:
            return groups[head] + _quoted(match.group(0)[len(groups[head]):])
    return REDACTED  # pragma: no cover - every alternative has a named group


def _quoted(value: str) -> str:
    """Keep the quotes around a redacted value, so ``'s3cr3t'`` becomes ``'[REDACTED]'``."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + REDACTED + value[0]
    return REDACTED


@lru_cache(maxsize=32)
def _compile_extra(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _replace_extra(match: re.Match[str]) -> str:
    """With a capturing group, only the first group is the secret; else the whole match."""
    if match.re.groups == 0 or match.group(1) is None:
        return REDACTED
    start, end = match.span(1)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + REDACTED + whole[end - offset:]


def redact(text: str, extra_patterns: Sequence[str] = ()) -> str:
    """Replace secrets in ``text`` with ``[REDACTED]``, keeping key names and quotes."""
    lowered = text.lower()
    out = _secret_re().sub(_replace, text) if any(t in lowered for t in _TRIGGERS) else text
    for pattern in _compile_extra(tuple(extra_patterns)):
        out = pattern.sub(_replace_extra, out)
    return out


def is_secret_key(key: str) -> bool:
    """True for mapping keys whose values are secrets (``password``, ``apiKey``, ...)."""
    return _SECRET_KEY_RE.search(key) is not None


def redact_obj(value: Any, extra_patterns: Sequence[str] = ()) -> Any:
    """Redact a JSON-like value: strings are scanned, values under secret keys dropped."""
    if isinstance(value, str):
        return redact(value, extra_patterns)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) and value[k] is not None
                else redact_obj(value[k], extra_patterns))
            for k in value
        }
    if isinstance(value, (list, tuple)):
        return [redact_obj(item, extra_patterns) for item in value]
    return value


# --- escaping -----------------------------------------------------------------------------

_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u061c\u202a-\u202e\u2060-\u2069"
    "\ufeff\ud800-\udfff]")
# shown as U+FFFD: these reorder what a reviewer sees (Trojan Source), so their place is marked
_VISIBLE_AS_REPLACEMENT = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"
                                    "\u2066\u2067\u2068\u2069")
_HTML_TAG_RE = re.compile(r"(?<!\\)<(?=[A-Za-z/!?])")
_BAD_LINK_RE = re.compile(r"(?<!\\)\]\((?=\s*<?\s*(?i:javascript|vbscript|data|file):)")
_REF_DEF_RE = re.compile(r"^([ \t]*)(?=\[[^\]\n]*\]:)", re.MULTILINE)
_BACKTICK_RE = re.compile(r"(?<!\\)`")
_CLOSING_HASHES_RE = re.compile(r"(?<=\s)(?<!\\)(#+)$")
_BREAKS_RE = re.compile("\r\n|[\r\x85\u2028\u2029]")
_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"
# Lines that could open markdown structure: heading, html block/marker, fence, table row,
# setext underline or thematic break made of = or -.
_BLOCK_LINE_RE = re.compile(r"^([ \t]*)(?=[#<|]|```|~~~|=+[ \t]*$|-+[ \t]*$)", re.MULTILINE)
_INLINE_PIPE_RE = re.compile(r"(?<!\\)\|")
_SPACES_RE = re.compile(r"\s+")


def _clean(text: str) -> str:
    text = _BREAKS_RE.sub("\n", text)
    if _CONTROL_RE.search(text):
        text = _CONTROL_RE.sub(_replacement, text)
    return text


def _replacement(match: re.Match[str]) -> str:
    char = match.group(0)
    return "\ufffd" if "\ud800" <= char <= "\udfff" or char in _VISIBLE_AS_REPLACEMENT else ""


def _neutralise_comments(text: str) -> str:
    if _COMMENT_OPEN in text:
        text = text.replace(_COMMENT_OPEN, "<\\!--")
    if _COMMENT_CLOSE in text:
        text = text.replace(_COMMENT_CLOSE, "--\\>")
    if "<" in text:
        text = _HTML_TAG_RE.sub(r"\\<", text)  # <img onerror=...>, </details>, <!doctype
    if "](" in text:
        text = _BAD_LINK_RE.sub(r"]\\(", text)  # [click](javascript:...) stays plain text
    return text


def escape_inline(text: str, max_len: int = INLINE_MAX) -> str:
    """One line of markdown safe in a heading, list item or table cell."""
    text = _SPACES_RE.sub(" ", _clean(text)).strip()
    text = _INLINE_PIPE_RE.sub(r"\\|", _neutralise_comments(text))
    if "`" in text:
        text = _BACKTICK_RE.sub(r"\\`", text)  # no code span, no fence when used as a body
    if text[:1] in ("#", "<", "~", ">", "=", "["):
        text = "\\" + text
    if text.endswith("#"):
        text = _CLOSING_HASHES_RE.sub(r"\\\1", text)  # "### id — title ##" keeps its hashes
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip()
        while text.endswith("\\"):
            text = text[:-1]
        text += ELLIPSIS
    return text


def escape_block(text: str) -> str:
    """Multi-line prose that cannot open or close an entry, section, table row or fence.

    Leading and trailing blank lines are dropped; each line that could start structure gets a
    backslash before its first non-blank character.
    """
    text = _neutralise_comments(_clean(text)).strip("\n")
    if "]:" in text:
        text = _REF_DEF_RE.sub(r"\1\\", text)  # [x]: javascript:... would define a link
    return _BLOCK_LINE_RE.sub(r"\1\\", text)


def inline_code(text: str, max_len: int = INLINE_MAX) -> str:
    """``text`` as one code span: delimited by one backtick more than its longest run, so a
    backtick inside cannot end it (backslashes do not escape inside code spans)."""
    text = _SPACES_RE.sub(" ", _clean(text)).strip()
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip() + ELLIPSIS
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"
