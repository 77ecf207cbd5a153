"""Operating errors are exit 1 with the path and what to do; read-only commands work on a
read-only checkout. Real filesystems: a read-only bind mount and a small full tmpfs, each in a
private mount namespace (``unshare -m``), so nothing outlives the test. Needs root."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare for private mounts")

AGENTOPS = f"{shlex.quote(sys.executable)} -m agentops"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def in_namespace(script: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                         check=False, timeout=300)
    if "mount:" in out.stderr and "permission denied" in out.stderr.lower():
        pytest.skip("mounts are not permitted here")
    return out


def managed(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.org")
    subprocess.run([sys.executable, "-m", "agentops", "init", "--repo", str(path)], check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "agentops", "record", "deployment", "-f",
                    "status=failed", "-f", "service=api", "-e", "production", "--repo",
                    str(path)], check=True, capture_output=True)
    return path


READ_COMMANDS = ["lint", "recall deploy", "stats", "check", "incident list", "rules validate"]


def test_read_only_checkout_reads_and_refuses_writes_with_exit_1(tmp_path: Path) -> None:
    repo = managed(tmp_path / "ops")
    q = shlex.quote(str(repo))
    lines = [f"mount --bind {q} {q} && mount -o remount,ro,bind {q} || exit 97", f"cd {q}"]
    for command in READ_COMMANDS:
        lines.append(f"{AGENTOPS} {command} >/dev/null 2>&1; echo \"{command}: $?\"")
    lines.append(f"{AGENTOPS} record deployment -f status=failed -e production 2>&1; "
                 "echo \"record: $?\"")
    out = in_namespace("\n".join(lines))
    assert out.returncode != 97, out.stderr
    for command in READ_COMMANDS:
        # check exits 1 when something is overdue; it must not be an internal error (3)
        assert f"{command}: 0" in out.stdout or (command == "check" and "check: 1" in out.stdout), \
            out.stdout
    assert "record: 1" in out.stdout
    assert "Read-only file system" in out.stdout and "writable checkout" in out.stdout
    assert "internal error" not in out.stdout


def test_full_disk_is_exit_1_naming_the_file_and_the_next_record_works(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    q = shlex.quote(str(mnt))
    script = f"""
mount -t tmpfs -o size=4m tmpfs {q} || exit 97
cd {q} && git init -q -b main ops && cd ops
git config user.name Test && git config user.email test@example.org
{AGENTOPS} init >/dev/null && {AGENTOPS} record deployment -f status=failed -e production \
  -f service=a >/dev/null || exit 98
dd if=/dev/zero of={q}/fill bs=64k 2>/dev/null
{AGENTOPS} record deployment -f status=failed -e production -f service=b 2>&1
echo "full: $?"
rm {q}/fill
{AGENTOPS} record deployment -f status=failed -e production -f service=c >/dev/null 2>&1
echo "after: $?"
{AGENTOPS} lint >/dev/null 2>&1; echo "lint: $?"
git log --format=%s | wc -l
"""
    out = in_namespace(script)
    assert out.returncode not in (97, 98), out.stdout + out.stderr
    assert "full: 1" in out.stdout, out.stdout
    assert "No space left on device" in out.stdout and "cannot write" in out.stdout
    assert "internal error" not in out.stdout
    assert "after: 0" in out.stdout and "lint: 0" in out.stdout
    assert out.stdout.strip().splitlines()[-1].strip() == "3"  # init, a, c
