"""parse_payload: dispatch, decoding and lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agentops.errors import InvalidEventError
from agentops.sources import SOURCES, parse_payload


def test_sources_are_the_documented_five() -> None:
    assert SOURCES == ("alertmanager", "flux", "argocd", "github", "generic")


def test_unknown_source_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_payload("jenkins", b"{}")
    assert str(info.value) == (
        "unknown source 'jenkins' (valid sources: alertmanager, flux, argocd, github, generic)"
    )


def test_non_object_body_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^flux: body: expected an object, got a list"):
        parse_payload("flux", b"[]")


def test_non_utf8_body_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match=r"^alertmanager: body: not UTF-8"):
        parse_payload("alertmanager", b"\xff\xfe")


def test_adapters_are_imported_only_when_used() -> None:
    code = (
        "import sys, agentops.sources as s\n"
        "s.parse_payload('generic', {'type': 'attempt.failed', 'key': 'k'})\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('agentops.sources.'))\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "agentops.sources.generic"
