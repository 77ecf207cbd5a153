"""Every payload under tests/fixtures has its origin written down in tests/fixtures/README.md."""

from __future__ import annotations

import re

from conftest import FIXTURES


def test_every_fixture_file_has_a_row_in_the_readme_and_every_row_a_file() -> None:
    readme = (FIXTURES / "README.md").read_text()
    rows: set[str] = set()
    folder = ""
    for line in readme.splitlines():
        if heading := re.fullmatch(r"## (\w+)/", line):
            folder = heading.group(1)
        elif folder and (cell := re.match(r"\| `([^`/]+\.(?:json|yaml))` \|", line)):
            rows.add(f"{folder}/{cell.group(1)}")
    files = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*")
             if p.is_file() and p.name != "README.md"}
    assert files, "no fixtures found"
    assert sorted(files - rows) == [], "fixtures without an origin in tests/fixtures/README.md"
    assert sorted(rows - files) == [], "rows in tests/fixtures/README.md without a file"
