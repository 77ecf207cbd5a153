"""atomic_write / append_durable / read_text on a real file system."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentops import fsutil
from agentops.errors import RepoError


def test_read_text_of_missing_file_is_empty(tmp_path: Path) -> None:
    assert fsutil.read_text(tmp_path / "nope.md") == ""


def test_atomic_write_creates_parents_and_keeps_bytes_exactly(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "INCIDENTS.md"
    fsutil.atomic_write(target, "# Incidents\r\nline é\n")
    assert target.read_bytes() == "# Incidents\r\nline é\n".encode()
    assert fsutil.read_text(target) == "# Incidents\r\nline é\n"


def test_atomic_write_replaces_content_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "MEMORY.md"
    target.write_bytes(b"old\n")
    fsutil.atomic_write(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert os.listdir(tmp_path) == ["MEMORY.md"]


def test_atomic_write_preserves_existing_mode(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_text("old")
    target.chmod(0o751)
    fsutil.atomic_write(target, "new")
    assert target.stat().st_mode & 0o7777 == 0o751


def test_atomic_write_new_file_mode_follows_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        fsutil.atomic_write(tmp_path / "new.md", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "new.md").stat().st_mode & 0o777 == 0o640


def test_atomic_write_failure_keeps_old_content_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "INCIDENTS.md"
    target.write_text("old\n")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        fsutil.atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["INCIDENTS.md"]


def test_atomic_write_refuses_a_symlink_and_leaves_its_target(tmp_path: Path) -> None:
    # git would commit the link, not the bytes written through it
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    with pytest.raises(RepoError, match="symbolic link"):
        fsutil.atomic_write(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "old"


def test_append_refuses_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_bytes(b"a\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with pytest.raises(RepoError, match="symbolic link"):
        fsutil.append_durable(link, b"b\n")
    assert real.read_bytes() == b"a\n"


def test_refuse_symlinks_names_a_linked_folder_on_the_way(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / ".agentops").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RepoError, match=r"\.agentops is a symbolic link"):
        fsutil.refuse_symlinks(tmp_path, [".agentops/journal/2026-11.jsonl"])
    fsutil.refuse_symlinks(tmp_path, ["INCIDENTS.md"])  # absent files are fine


def test_reader_sees_either_old_or_new_content_never_torn(tmp_path: Path) -> None:
    target = tmp_path / "LEDGER.md"
    old, new = "A" * 200_000, "B" * 300_000
    target.write_text(old)
    writer = textwrap.dedent(f"""
        from pathlib import Path
        from agentops.fsutil import atomic_write
        for i in range(60):
            atomic_write(Path({str(target)!r}), "B" * 300_000 if i % 2 else "A" * 200_000)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer])
    seen = set()
    while proc.poll() is None:
        seen.add(target.read_text())
    assert proc.wait() == 0
    assert seen <= {old, new}


def test_append_durable_appends_and_creates_parents(tmp_path: Path) -> None:
    journal = tmp_path / ".agentops" / "journal" / "2026-11-24.jsonl"
    fsutil.append_durable(journal, b'{"a": 1}\n')
    fsutil.append_durable(journal, b'{"b": 2}\n')
    assert journal.read_bytes() == b'{"a": 1}\n{"b": 2}\n'


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        from agentops.fsutil import append_durable
        tag = sys.argv[2]
        for i in range(100):
            append_durable(Path(sys.argv[1]), (tag * 2000 + f" {i}\\n").encode())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(journal), tag]) for tag in "abcd"]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    lines = journal.read_text().splitlines()
    assert len(lines) == 400
    for line in lines:
        payload, _, number = line.partition(" ")
        assert payload == payload[0] * 2000 and number.isdigit()
