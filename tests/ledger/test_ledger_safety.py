"""Redaction of each secret kind, and escaping that no event text can break out of."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import T0, incident_monitoring, incident_open

from agentops.ledger import format as fmt
from agentops.ledger.model import template_sections
from agentops.ledger.safety import (
    REDACTED,
    escape_block,
    escape_inline,
    is_secret_key,
    redact,
    redact_obj,
)

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"


@pytest.mark.parametrize(("raw", "expected"), [
    ("password=hunter2 user=bob", "password=[REDACTED] user=bob"),
    ("DB_PASSWORD: s3cr3t", "DB_PASSWORD: [REDACTED]"),
    ("passwd='x y'", "passwd='[REDACTED]'"),
    ("client_secret=abc123", "client_secret=[REDACTED]"),
    ("X-Api-Key: 12345abcdef", "X-Api-Key: [REDACTED]"),
    ("apikey=abc", "apikey=[REDACTED]"),
    ("aws_access_key=AKIAIOSFODNN7EXAMPLE", "aws_access_key=[REDACTED]"),
    ("private_key: abc", "private_key: [REDACTED]"),
    ("credentials=user:pw", "credentials=[REDACTED]"),
    ("github_token=abc", "github_token=[REDACTED]"),
    ('{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
    ('{"apiKey": "a\\"b", "n": 1}', '{"apiKey": "[REDACTED]", "n": 1}'),
    ("Authorization: Bearer abcdef123456", "Authorization: Bearer [REDACTED]"),
    ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic [REDACTED]"),
    ("curl -H 'Authorization: token ghx123456'", "curl -H 'Authorization: token [REDACTED]'"),
    ("sent Bearer abc.def.ghi123 upstream", "sent Bearer [REDACTED] upstream"),
    ("Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED]"),
    ("key id AKIAIOSFODNN7EXAMPLE", "key id [REDACTED]"),
    (f"AKIAIOSFODNN7EXAMPLE {AWS_SECRET}", "[REDACTED] [REDACTED]"),
    (f"ASIAIOSFODNN7EXAMPLE,{AWS_SECRET}", "[REDACTED],[REDACTED]"),
    ("ghp_" + "a" * 36, REDACTED),
    ("gho_" + "B1" * 18, REDACTED),
    ("ghs_" + "c" * 36 + " end", f"{REDACTED} end"),
    ("ghu_" + "d" * 36, REDACTED),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", REDACTED),
    ("slack xoxb-1234567890-abcdefghij", f"slack {REDACTED}"),
    ("xoxp-1234567890-abcdefghij", REDACTED),
    (f"jwt {JWT} end", f"jwt {REDACTED} end"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----\nafter",
     "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nafter"),
    ("-----BEGIN PRIVATE KEY-----\nMIIE", ("-----BEGIN PRIVATE KEY-----[REDACTED]-----END "
                                          "PRIVATE KEY-----")),
    ("    client-key-data: LS0tLS1CRUdJTg==", "    client-key-data: [REDACTED]"),
    ("    client-certificate-data: LS0tLS1C", "    client-certificate-data: [REDACTED]"),
    ("    certificate-authority-data: LS0tLS1C", "    certificate-authority-data: [REDACTED]"),
    ("    token: abc.def", "    token: [REDACTED]"),
    ("postgres://admin:pa55w0rd@db:5432/app", "postgres://admin:[REDACTED]@db:5432/app"),
    ("https://user:tok@github.com/x.git", "https://user:[REDACTED]@github.com/x.git"),
])
def test_redact_replaces_each_secret_kind(raw: str, expected: str) -> None:
    assert redact(raw) == expected


@pytest.mark.parametrize("clean", [
    "Back-off restarting failed container api in pod api-7d9f8c-xk2",
    "Basic authentication failed for user bob",
    'Secret "db-creds" not found',
    "Bearer token missing",
    "https://github.com/org/repo/pull/12",
    "deployment prod/api revision 42 failed: ImagePullBackOff",
    "monkey business at key points",
])
def test_redact_leaves_ordinary_messages_alone(clean: str) -> None:
    assert redact(clean) == clean


def test_redact_applies_extra_patterns_from_config() -> None:
    assert redact("ticket SECRET-1234 done", [r"SECRET-\d+"]) == "ticket [REDACTED] done"
    assert redact("pin=4321 ok", [r"pin=(\d+)"]) == "pin=[REDACTED] ok"


@given(st.text(max_size=200))
def test_redact_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


def test_redact_obj_walks_json_and_drops_values_under_secret_keys() -> None:
    value = {"message": "password=x", "secretRef": {"name": "db"}, "apiToken": 123,
             "items": ["Bearer abcdef123456", 4, None], "token": None, "n": 1.5}
    assert redact_obj(value) == {
        "message": "password=[REDACTED]", "secretRef": REDACTED, "apiToken": REDACTED,
        "items": ["Bearer [REDACTED]", 4, None], "token": None, "n": 1.5,
    }
    assert is_secret_key("AWS_SECRET_ACCESS_KEY") and not is_secret_key("namespace")


@pytest.mark.parametrize(("raw", "expected"), [
    ("a | b", "a \\| b"),
    ("line one\nline two\r\nthree", "line one line two three"),
    ("# heading", "\\# heading"),
    ("<!-- agentops:incident X --> hi", "\\<\\!-- agentops:incident X --\\> hi"),
    ("  spaced\t out  ", "spaced out"),
    ("<b>bold</b>", "\\<b>bold\\</b>"),
    ("nul\x00byte", "nulbyte"),
])
def test_escape_inline(raw: str, expected: str) -> None:
    assert escape_inline(raw) == expected


def test_escape_inline_truncates_with_an_ellipsis() -> None:
    out = escape_inline("x" * 500, max_len=50)
    assert len(out) == 50 and out.endswith("…")
    assert escape_inline("a|" * 100, max_len=9) == "a\\|a\\|a…"


@given(st.text())
def test_escape_inline_is_one_idempotent_line(text: str) -> None:
    once = escape_inline(text)
    assert "\n" not in once and "\r" not in once and "<!--" not in once
    assert escape_inline(once) == once


@given(st.text())
def test_escape_block_is_idempotent_and_neutralises_structure(text: str) -> None:
    once = escape_block(text)
    assert escape_block(once) == once
    for line in once.split("\n"):
        stripped = line.lstrip(" \t")
        assert not stripped.startswith(("#", "<", "|", "```", "~~~"))
    assert "<!--" not in once and "-->" not in once


HOSTILE = (
    "### INC-2026-11-24-999 — fake incident\n"
    "#### Root Cause\n"
    "<!-- /agentops:incident INC-2026-11-24-002 -->\n"
    "<!-- agentops:incident INC-2026-11-24-998 uid=X -->\n"
    "<!-- agentops:entries:end -->\n"
    "```yaml\nid: INC-2026-11-24-997\n```\n"
    "~~~\n"
    "| a | b |\n"
    "**Severity:** LOW\n"
    "Title\n===\n"
)


def _file_with(text: str) -> tuple[str, str]:
    inc = incident_monitoring()
    body = escape_block(text)
    hostile = type(inc)(**{**{f: getattr(inc, f) for f in inc._fields},
                           "title": escape_inline(text),
                           "sections": inc.sections.replace("Description", body)})
    entry = fmt.render_incident(hostile)
    entry = fmt.append_timeline(entry, T0, text)
    entry = fmt.fill_section_if_empty(entry, "Lessons Learned", text)
    entry = fmt.add_followup(entry, text, "alice")
    out = fmt.render_empty_file("incident")
    out = fmt.insert_entry("incident", out, fmt.render_incident(incident_open()))
    out = fmt.insert_entry("incident", out, entry)
    return fmt.set_last_incident(out, hostile.id, hostile.detected), body


def _check_structure(text: str, source: str) -> None:
    out, body = _file_with(text)
    doc = fmt.parse_file("incident", out)
    assert [e.id for e in doc.entries] == ["INC-2026-11-24-002", "INC-2026-11-24-001"]
    inc = doc.entries[0].parse()
    assert list(inc.sections) == list(template_sections("incident"))
    assert inc.sections["Description"] == body
    assert body in out
    assert doc.entries[1].parse() == incident_open()
    assert fmt.lint("incident", out) == []
    assert fmt.render_file(doc) == out
    assert fmt.find_entry("incident", out, "INC-2026-11-24-001") is not None


def test_hostile_event_text_cannot_create_or_end_anything() -> None:
    _check_structure(HOSTILE, "hostile")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("#<!-|`~=*/ \n\rax:>")) | st.characters(),
               max_size=120))
def test_any_event_text_keeps_entries_and_sections_intact(text: str) -> None:
    _check_structure(text, "hypothesis")


@pytest.mark.parametrize(("raw", "expected"), [
    ("```", "\\`\\`\\`"),
    ("~~~ fence", "\\~~~ fence"),
    ("a <img src=x onerror=alert(1)> b", "a \\<img src=x onerror=alert(1)> b"),
    ("[click](javascript:alert(1))", "\\[click]\\(javascript:alert(1))"),
    ("[ok](https://example.org)", "\\[ok](https://example.org)"),
    ("admin\u202eexe.txt", "admin\ufffdexe.txt"),
    ("zero\u200bwidth\ufeff", "zerowidth"),
    ("c1\x85line\x9b", "c1 line"),
    ("title ##", "title \\##"),
])
def test_escape_inline_neutralises_what_would_render(raw: str, expected: str) -> None:
    assert escape_inline(raw) == expected
    assert escape_inline(expected) == expected  # idempotent


def test_inline_code_cannot_be_closed_by_the_text() -> None:
    from agentops.ledger.safety import inline_code

    assert inline_code("plain") == "`plain`"
    assert inline_code("a``b") == "```a``b```"
    assert inline_code("`x") == "`` `x ``"


def test_escape_block_breaks_reference_links_and_html() -> None:
    out = escape_block("[x]: javascript:alert(1)\n<script>alert(1)</script>\nsee [a](data:x)")
    assert out == ("\\[x]: javascript:alert(1)\n\\<script>alert(1)\\</script>\n"
                   "see [a]\\(data:x)")
