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

INLINE_MAX = 200
ELLIPSIS = "…"


def marker(kind: str) -> str:
    """What a secret becomes: ``[REDACTED:aws-secret-key]`` says what was there, not what."""
    return f"[REDACTED:{kind}]"


# Token formats recognised by their shape alone: (kind, regex); the whole match is the secret.
# The list follows the public rule sets of two secret scanners, so that what they would find
# in a repository agentops wrote is redacted first: gitleaks ``config/gitleaks.toml``
# (github.com/gitleaks/gitleaks, rule ids in the comments) and the detect-secrets plugins
# (github.com/Yelp/detect-secrets, ``detect_secrets/plugins/*.py``, 1.5.0). Kinds name the
# issuer, as the rule ids do. tests/test_secret_corpus.py checks them against a held-out
# corpus with detect-secrets itself.
TOKEN_FORMATS: tuple[tuple[str, str], ...] = (
    # gitleaks aws-access-token; detect-secrets AWSKeyDetector
    ("aws-access-key-id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    # gitleaks github-fine-grained-pat, github-pat, github-oauth, github-app-token,
    # github-refresh-token; detect-secrets GitHubTokenDetector
    ("github-fine-grained-pat", r"\bgithub_pat_\w{20,}"),
    ("github-pat", r"\bghp_[A-Za-z0-9]{20,}"),
    ("github-oauth", r"\bgho_[A-Za-z0-9]{20,}"),
    ("github-app-token", r"\bgh[us]_[A-Za-z0-9]{20,}"),
    ("github-refresh-token", r"\bghr_[A-Za-z0-9]{20,}"),
    # gitleaks gitlab-pat, gitlab-rrt and the other gitlab-* rules; GitLabTokenDetector
    ("gitlab-token", r"\b(?:glpat|gldt|glft|glsoat|glrt|glptt|glimt|glagent|gloas|glcbt|glffct)"
                     r"-[\w-]{20,}|\bGR1348941[\w-]{20,}"),
    # gitleaks slack-bot-token, slack-user-token, slack-app-token...; SlackDetector
    ("slack-token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}"),
    # gitleaks stripe-access-token; StripeDetector
    ("stripe-key", r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}"),
    # gitleaks npm-access-token; NpmDetector
    ("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    # gitleaks anthropic-api-key, anthropic-admin-api-key
    ("anthropic-api-key", r"\bsk-ant-(?:api|admin)\d\d-[\w-]{20,}"),
    # gitleaks openai-api-key; OpenAIDetector
    ("openai-api-key", r"\bsk-(?:(?:proj|svcacct|admin)-)?[\w-]*T3BlbkFJ[\w-]+"
                       r"|\bsk-(?:proj|svcacct|admin)-[\w-]{20,}"),
    # gitleaks sendgrid-api-token; SendGridDetector
    ("sendgrid-api-key", r"\bSG\.[\w-]{22}\.[\w-]{43}\b"),
    # gitleaks twilio-api-key; TwilioKeyDetector (API key SK..., account SID AC...)
    ("twilio-api-key", r"\bSK[0-9a-fA-F]{32}\b"),
    ("twilio-account-sid", r"\bAC[0-9a-fA-F]{32}\b"),
    # gitleaks jwt; JwtTokenDetector
    ("jwt", r"\beyJ[\w-]+\.eyJ[\w-]+\.[\w-]*"),
    # gitleaks discord-*; DiscordBotTokenDetector
    ("discord-bot-token", r"\b[MNO][\w-]{23,25}\.[\w-]{6}\.[\w-]{27,}"),
    # gitleaks telegram-bot-api-token; TelegramBotTokenDetector
    ("telegram-bot-token", r"(?<![\w:])\d{8,10}:[\w-]{35}(?![\w-])"),
    # gitleaks pypi-upload-token; PypiTokenDetector
    ("pypi-token", r"\bpypi-AgE[\w-]{50,}"),
    # gitleaks mailchimp-api-key; MailchimpDetector
    ("mailchimp-api-key", r"\b[0-9a-f]{32}-us\d{1,2}\b"),
    # gitleaks square-access-token, square-secret; SquareOAuthDetector
    ("square-token", r"\bsq0(?:csp|atp|idp)-[\w-]{22,}|\bEAAA[\w-]{22,60}\b"),
    # gitleaks gcp-api-key
    ("gcp-api-key", r"\bAIza[\w-]{35}\b"),
    # gitleaks artifactory-api-key, artifactory-reference-token; ArtifactoryDetector
    ("artifactory-api-key", r"\bAKCp[A-Za-z0-9]{60,}|\bcmVmd[A-Za-z0-9]{59}\b"),
    # gitleaks vault-service-token, vault-batch-token
    ("vault-token", r"\bhv[sbr]\.[\w-]{24,}"),
    # gitleaks digitalocean-pat, digitalocean-access-token, digitalocean-refresh-token
    ("digitalocean-token", r"\bdo[por]_v1_[a-f0-9]{64}\b"),
    # gitleaks huggingface-access-token, huggingface-organization-api-token
    ("huggingface-token", r"\b(?:hf_|api_org_)[A-Za-z]{34}\b"),
    # gitleaks shopify-access-token, shopify-custom-access-token, shopify-shared-secret...
    ("shopify-token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"),
    # gitleaks databricks-api-token
    ("databricks-token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
    # gitleaks age-secret-key
    ("age-secret-key", r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b"),
    # gitleaks mailgun-private-api-token
    ("mailgun-key", r"\bkey-[a-f0-9]{32}\b"),
    # gitleaks linear-api-key
    ("linear-api-key", r"\blin_api_[A-Za-z0-9]{40}\b"),
    # gitleaks doppler-api-token
    ("doppler-token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}\b"),
    # gitleaks postman-api-token
    ("postman-api-key", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b"),
)

# URLs that are credentials themselves: the host stays, the path that authenticates goes.
# gitleaks slack-webhook-url, discord-webhook (via discord-*), microsoft-teams-webhook;
# detect-secrets SlackDetector.
WEBHOOK_FORMATS: tuple[tuple[str, str], ...] = (
    ("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/"),
    ("discord-webhook", r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/"),
    ("teams-webhook", r"https://[\w-]+\.webhook\.office\.com/webhookb2/"
                      r"|https://outlook\.office(?:365)?\.com/webhook/"),
)

_KEYWORDS = (
    r"passw(?:or)?d|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|account[_-]?key|authorization|credentials?|client-key-data|client-certificate-data"
    r"|certificate-authority-data"
)
_SECRET_KEY_RE = re.compile(rf"(?i:{_KEYWORDS})")
# A token after "Bearer"/"Basic" must look like one (a digit or symbol), so that prose such
# as "Basic authentication failed" is left alone.
_TOKENISH = r"(?=[A-Za-z0-9._~+/=-]*[0-9=+/._~-])[A-Za-z0-9._~+/=-]{8,}"
# URL query parameters that carry a credential (Azure SAS ``sig``, ``?token=``...).
_QUERY_KEYS = r"sig|signature|token|access_token|api_key|apikey|key|secret|code|auth|password"
_CONTEXT_PATTERNS = (
    (r"(?P<pem>-----BEGIN (?P<pemkind>[A-Z0-9 ]*)PRIVATE KEY-----)(?s:.*?)"
     r"(?:-----END (?P=pemkind)PRIVATE KEY-----|\Z)"),
    "(?P<hookhead>" + "|".join(f"(?P<h{i}>{p})" for i, (_, p) in enumerate(WEBHOOK_FORMATS))
    + r")[\w@./%-]+",
    r"(?P<urlhead>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)[^\s/@]+(?=@)",
    rf"(?P<queryhead>[?&](?P<qkey>(?i:{_QUERY_KEYS}))=)[^&\s#\"'<>]+",
    (r"(?P<authhead>(?i:\bauthorization)[\"']?\s*[:=]\s*[\"']?"
     r"(?:(?P<authscheme>(?i:bearer|basic|token|digest))\s+)?)[^\s\"',;]{4,}"),
    rf"(?P<scheme>\b(?P<schemename>Bearer|Basic|bearer|basic|BEARER|BASIC)\s+){_TOKENISH}",
    (rf"(?P<jsonhead>\"(?P<jsonkey>[^\"\n]*(?i:{_KEYWORDS})[^\"\n]*)\"\s*:\s*\")"
     r"(?:[^\"\\\n]|\\.)*(?=\")"),
    (rf"(?P<kvhead>(?<![\w-])(?P<kvkey>[\w.-]*(?i:{_KEYWORDS})[\w.-]*)[\"']?\s*[:=]\s*)"
     r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'][^\s,;&]*)"),
    (r"(?P<awsid>\b(?:AKIA|ASIA)[A-Z0-9]{16}\b)"
     r"(?:(?P<awssep>[\s,:;=/\"']{1,5})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))?"),
)
_TOKENS_RE = "|".join(f"(?P<t{i}>{p})" for i, (_, p) in enumerate(TOKEN_FORMATS))


@lru_cache(maxsize=1)
def _secret_re() -> re.Pattern[str]:
    """The combined secret pattern, compiled on first need (most messages never need it)."""
    return re.compile("|".join((*_CONTEXT_PATTERNS, _TOKENS_RE)))


@lru_cache(maxsize=1)
def _token_re() -> re.Pattern[str]:
    return re.compile(_TOKENS_RE)


# Every pattern above needs one of these (lower-cased) substrings, or the shape below;
# checking them keeps a clean message at about a microsecond instead of running the big regex.
_TRIGGERS = (
    "pass", "pwd", "secret", "token", "key", "auth", "credential", "bearer", "basic", "://",
    "akia", "asia", "a3t", "abia", "acca", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    "github_pat_", "glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glptt-", "glimt-",
    "glagent-", "gloas-", "glcbt-", "glffct-", "gr1348941", "xox", "xapp", "k_live_",
    "k_test_", "npm_", "sk-", "sg.", "eyj", "-----begin", "certificate-", "pypi-", "sq0",
    "eaaa", "aiza", "akcp", "cmvmd", "hvs.", "hvb.", "hvr.", "_v1_", "hf_", "api_org_", "shp",
    "dapi", "age-secret", "lin_api_", "dp.", "pmak-", "sig=", "code=",
)
_SHAPES = re.compile(r"(?:AC|SK)[0-9a-fA-F]{32}|\d{8,10}:[\w-]{35}|[0-9a-f]{32}-us\d"
                     r"|[MNO][\w-]{23,25}\.[\w-]{6}\.")


def _likely(text: str) -> bool:
    lowered = text.lower()
    return any(t in lowered for t in _TRIGGERS) or _SHAPES.search(text) is not None


def token_kind(value: str) -> str | None:
    """The kind of a value that is, as a whole, one of the known token formats."""
    match = _token_re().match(value.strip("\"'"))
    if match is None or match.end() < len(value.strip("\"'")):
        return None
    return _token_group(match.groupdict())


def _token_group(groups: dict[str, str | None]) -> str | None:
    for i, (kind, _) in enumerate(TOKEN_FORMATS):
        if groups.get(f"t{i}") is not None:
            return kind
    return None


def key_kind(key: str, value: str = "") -> str:
    """The kind of a secret under a key: the value's own format first, then the key's words."""
    found = token_kind(value) if value else None
    if found is not None:
        return found
    lowered = key.lower().replace("_", "-")
    for words, kind in _KEY_KINDS:
        if any(w in lowered for w in words):
            if kind == "aws-secret-key" and "aws" not in lowered:
                continue
            return kind
    return "secret"


_KEY_KINDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("-data",), "kubeconfig-data"),
    (("secret-access-key", "secret-key", "access-key"), "aws-secret-key"),
    (("accountkey", "account-key"), "azure-storage-key"),
    (("private-key", "privatekey"), "private-key"),
    (("passw", "pwd"), "password"),
    (("authorization",), "authorization"),
    (("api-key", "apikey"), "api-key"),
    (("token",), "token"),
    (("credential",), "credentials"),
    (("access-key", "accesskey"), "access-key"),
)


def _replace(match: re.Match[str]) -> str:
    groups = match.groupdict()
    whole = match.group(0)
    if groups["pem"] is not None:
        return marker("private-key")  # the armour too: scanners flag the BEGIN line alone
    if groups["hookhead"] is not None:
        hook = next(k for i, (k, _) in enumerate(WEBHOOK_FORMATS) if groups[f"h{i}"])
        return groups["hookhead"] + marker(hook)
    if groups["awsid"] is not None:
        sep = groups["awssep"]
        head = marker("aws-access-key-id")
        return head if sep is None else f"{head}{sep}{marker('aws-secret-key')}"
    token = _token_group(groups)
    if token is not None:
        return marker(token)
    return _replace_context(groups, whole)


def _replace_context(groups: dict[str, str | None], whole: str) -> str:
    if (head := groups["urlhead"]) is not None:
        return head + marker("url-password")
    if (head := groups["queryhead"]) is not None:
        key = (groups["qkey"] or "").lower()
        kind = "azure-sas-signature" if key == "sig" else "url-token"
        return head + marker(token_kind(whole[len(head):]) or kind)
    if (head := groups["authhead"]) is not None:
        return head + _quoted(whole[len(head):], _auth_kind(groups["authscheme"]))
    if (head := groups["scheme"]) is not None:
        return head + marker(_auth_kind(groups["schemename"]))
    for name, key in (("jsonhead", "jsonkey"), ("kvhead", "kvkey")):
        if (head := groups[name]) is not None:
            value = whole[len(head):]
            return head + _quoted(value, key_kind(groups[key] or "", value))
    return marker("secret")  # pragma: no cover - every alternative has a named group


def _auth_kind(scheme: str | None) -> str:
    lowered = (scheme or "").lower()
    return {"bearer": "bearer-token", "basic": "basic-auth"}.get(lowered, "authorization")


def _quoted(value: str, kind: str) -> str:
    """Keep the quotes around a redacted value, so ``'s3cr3t'`` becomes ``'[REDACTED:...]'``."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + marker(kind) + value[0]
    return marker(kind)


@lru_cache(maxsize=32)
def _compile_extra(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


_CUSTOM = marker("custom")


def _replace_extra(match: re.Match[str]) -> str:
    """With a capturing group, only the first group is the secret; else the whole match."""
    if match.re.groups == 0 or match.group(1) is None:
        return _CUSTOM
    start, end = match.span(1)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + _CUSTOM + whole[end - offset:]


# A long base64 run of high entropy with no context is key material more often than not: the
# body lines of a private key logged one per line, a kubeconfig blob, a signing secret. The
# threshold is detect-secrets' own default for Base64HighEntropyString (4.5 bits a character);
# hashes and ids are hex or short and stay below it.
_BLOB_RE = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{40,}={0,2}(?![\w+/=-])")
_BLOB_ENTROPY = 4.5


def _entropy(text: str) -> float:
    import math

    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _blob(match: re.Match[str]) -> str:
    value = match.group(0)
    mixed = (any(c.isdigit() for c in value) and any(c.isupper() for c in value)
             and any(c.islower() for c in value))
    return marker("high-entropy-string") if mixed and _entropy(value) >= _BLOB_ENTROPY else value


def redact(text: str, extra_patterns: Sequence[str] = ()) -> str:
    """Replace secrets in ``text`` with markers naming their kind, keeping key names and
    quotes: ``password=hunter2`` becomes ``password=[REDACTED:password]``."""
    out = _secret_re().sub(_replace, text) if _likely(text) else text
    if len(out) >= 40:
        out = _BLOB_RE.sub(_blob, out)
    for pattern in _compile_extra(tuple(extra_patterns)):
        out = pattern.sub(_replace_extra, out)
    return out


def is_secret_key(key: str) -> bool:
    """True for mapping keys whose values are secrets (``password``, ``apiKey``, ...)."""
    return _SECRET_KEY_RE.search(key) is not None


def redact_obj(value: Any, extra_patterns: Sequence[str] = ()) -> Any:
    """Redact a JSON-like value: strings are scanned, values under secret keys replaced."""
    if isinstance(value, str):
        return redact(value, extra_patterns)
    if isinstance(value, Mapping):
        return {
            k: (marker(key_kind(k, value[k] if isinstance(value[k], str) else ""))
                if isinstance(k, str) and is_secret_key(k) and value[k] is not None
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
