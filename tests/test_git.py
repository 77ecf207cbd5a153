"""agentops.git against real repositories, real bare remotes and real concurrent processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentops import git
from agentops.errors import AgentopsError, RepoError


def sh(repo: Path, *args: str) -> str:
    """Plain git for assertions, independent of the module under test."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def status(repo: Path) -> str:
    return sh(repo, "status", "--porcelain")


# --- run and GitError --------------------------------------------------------------------------


def test_run_returns_stdout(git_repo: Path) -> None:
    assert git.run(git_repo, "log", "-1", "--format=%s") == "initial\n"


def test_git_error_shows_command_code_stdout_and_stderr(git_repo: Path) -> None:
    with pytest.raises(git.GitError) as info:
        git.run(git_repo, "rev-parse", "--verify", "no-such-rev")
    err = info.value
    assert err.cmd == ("git", "-C", str(git_repo), "rev-parse", "--verify", "no-such-rev")
    assert err.returncode == 128
    assert err.exit_code == 1
    assert str(err) == (
        f"command: {err.cmd!r}\nreturn code: 128\nstdout: (none)\n"
        "stderr:\n    fatal: Needed a single revision"
    )


def test_run_without_check_returns_output_of_failing_command(git_repo: Path) -> None:
    assert git.run(git_repo, "rev-parse", "-q", "--verify", "nope", check=False) == ""


def test_run_uses_c_locale_and_given_env(git_repo: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "Env Name"}
    assert git.run(git_repo, "var", "GIT_AUTHOR_IDENT", env=env).startswith("Env Name <")


# --- named queries -----------------------------------------------------------------------------


def test_find_root_from_subdirectory(git_repo: Path) -> None:
    sub = git_repo / "a" / "b"
    sub.mkdir(parents=True)
    assert git.find_root(sub) == git_repo


def test_find_root_outside_a_repository_raises_repo_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RepoError) as info:
        git.find_root(plain)
    assert str(info.value) == f"not a git repository: {plain} (run `git init` first)"


def test_git_dir_of_a_worktree_and_its_common_dir(git_repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    sh(git_repo, "worktree", "add", "-q", "-b", "side", str(wt))
    assert git.git_dir(git_repo) == git_repo / ".git"
    assert git.git_dir(wt) == git_repo / ".git" / "worktrees" / "wt"
    assert git.common_dir(wt) == git_repo / ".git"


def test_head_and_branch_of_an_unborn_repository(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert git.head(repo) is None
    assert git.current_branch(repo) == "main"
    assert git.log_grep(repo, "anything") is None


def test_head_branch_and_detached_head(git_repo: Path) -> None:
    sha = sh(git_repo, "rev-parse", "HEAD").strip()
    assert git.head(git_repo) == sha == git.rev_parse(git_repo, "main")
    assert git.current_branch(git_repo) == "main"
    sh(git_repo, "checkout", "-q", "--detach")
    assert git.current_branch(git_repo) is None


def test_rev_parse_of_unknown_revision_raises(git_repo: Path) -> None:
    with pytest.raises(git.GitError):
        git.rev_parse(git_repo, "nope")
    with pytest.raises(ValueError):
        git.rev_parse(git_repo, "--all")


def test_is_ancestor(git_repo: Path) -> None:
    first = git.head(git_repo)
    assert first is not None
    (git_repo / "x.md").write_text("x")
    second = git.commit(git_repo, paths=["x.md"], subject="second")
    assert second is not None
    assert git.is_ancestor(git_repo, first, second)
    assert not git.is_ancestor(git_repo, second, first)


def test_log_grep_finds_newest_commit_containing_needle(git_repo: Path) -> None:
    (git_repo / "a.md").write_text("1")
    older = git.commit(git_repo, paths=["a.md"], subject="event", trailers=[("Event-Id", "e.1")])
    (git_repo / "a.md").write_text("2")
    newer = git.commit(git_repo, paths=["a.md"], subject="event", trailers=[("Event-Id", "e.1")])
    assert older != newer
    assert git.log_grep(git_repo, "Event-Id: e.1") == newer
    assert git.log_grep(git_repo, "Event-Id: e.*") is None
    assert git.log_grep(git_repo, "Event-Id: e.*", fixed=False) == newer


def test_show_file_returns_bytes_or_none(git_repo: Path) -> None:
    assert git.show_file(git_repo, "HEAD", "README.md") == b"# ops\n"
    assert git.show_file(git_repo, "HEAD", "missing.md") is None
    with pytest.raises(git.GitError):
        git.show_file(git_repo, "no-such-rev", "README.md")


def test_remote_url(git_repo: Path) -> None:
    assert git.remote_url(git_repo, "origin") is None
    sh(git_repo, "remote", "add", "origin", "https://example.com/ops.git")
    assert git.remote_url(git_repo, "origin") == "https://example.com/ops.git"


# --- commit ------------------------------------------------------------------------------------


def test_commit_returns_new_head(git_repo: Path) -> None:
    (git_repo / "README.md").write_text("# ops\nmore\n")
    sha = git.commit(git_repo, paths=["README.md"], subject="update readme")
    assert sha == sh(git_repo, "rev-parse", "HEAD").strip()
    assert sh(git_repo, "log", "-1", "--format=%B") == "update readme\n\n"
    assert status(git_repo) == ""


def test_commit_takes_only_the_given_paths(git_repo: Path) -> None:
    (git_repo / "other.md").write_text("o\n")
    (git_repo / "staged.md").write_text("s\n")
    sh(git_repo, "add", "other.md", "staged.md")
    sh(git_repo, "commit", "-q", "-m", "two files")
    (git_repo / "other.md").write_text("o changed\n")
    (git_repo / "staged.md").write_text("s changed\n")
    sh(git_repo, "add", "staged.md")
    (git_repo / "README.md").write_text("# ops\nchanged\n")
    git.commit(git_repo, paths=["README.md"], subject="readme only")
    assert sh(git_repo, "show", "--name-only", "--format=", "HEAD") == "README.md\n"
    assert status(git_repo) == " M other.md\nM  staged.md\n"


def test_commit_adds_new_files_and_records_deletions(git_repo: Path) -> None:
    (git_repo / "journal").mkdir()
    (git_repo / "journal" / "day.jsonl").write_text("{}\n")
    (git_repo / "README.md").unlink()
    sha = git.commit(
        git_repo, paths=["journal/day.jsonl", "README.md", "never-existed.md"], subject="mixed"
    )
    assert sha is not None
    changes = sh(git_repo, "show", "--name-status", "--format=", "HEAD")
    assert changes == "D\tREADME.md\nA\tjournal/day.jsonl\n"
    assert status(git_repo) == ""


def test_commit_adds_a_new_file_even_if_ignored(git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("*.jsonl\n")
    (git_repo / "x.jsonl").write_text("{}\n")
    assert git.commit(git_repo, paths=["x.jsonl"], subject="journal") is not None
    assert sh(git_repo, "ls-files", "x.jsonl") == "x.jsonl\n"


def test_commit_paths_are_literal_not_globs(git_repo: Path) -> None:
    (git_repo / "a.md").write_text("a")
    (git_repo / "*.md").write_text("star")
    git.commit(git_repo, paths=["*.md"], subject="star")
    assert sh(git_repo, "show", "--name-only", "--format=", "HEAD") == "*.md\n"
    assert status(git_repo) == "?? a.md\n"


def test_commit_writes_subject_body_and_trailers(git_repo: Path) -> None:
    (git_repo / "README.md").write_text("changed\n")
    trailers = [("Event-Id", "ev-1"), ("Incident", "INC-1"), ("Incident", "INC-2")]
    git.commit(
        git_repo,
        paths=["README.md"],
        subject="record deployment",
        body="Two lines\nof body.",
        trailers=trailers,
    )
    assert sh(git_repo, "log", "-1", "--format=%B") == (
        "record deployment\n\nTwo lines\nof body.\n\n"
        "Event-Id: ev-1\nIncident: INC-1\nIncident: INC-2\n\n"
    )
    assert sh(git_repo, "log", "-1", "--format=%(trailers)") == (
        "Event-Id: ev-1\nIncident: INC-1\nIncident: INC-2\n\n"
    )


def test_format_message_rejects_what_would_corrupt_the_message() -> None:
    with pytest.raises(ValueError):
        git.format_message("two\nlines")
    with pytest.raises(ValueError):
        git.format_message("s", trailers=[("Bad Key", "v")])
    with pytest.raises(ValueError):
        git.format_message("s", trailers=[("Key", "multi\nline")])
    assert git.format_message("s", trailers=[("K", "v")]) == b"s\n\nK: v\n"


def test_commit_with_author_override(git_repo: Path) -> None:
    (git_repo / "README.md").write_text("changed\n")
    git.commit(git_repo, paths=["README.md"], subject="s", author="Deploy Bot <bot@example.com>")
    assert sh(git_repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "Deploy Bot <bot@example.com>|Test Agent <agent@example.com>\n"
    )
    with pytest.raises(ValueError):
        git.commit(git_repo, paths=["README.md"], subject="s", author="just a name")


def test_commit_without_identity_falls_back_to_agentops(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.delenv("EMAIL", raising=False)
    (git_repo / "README.md").write_text("changed\n")
    assert git.commit(git_repo, paths=["README.md"], subject="s") is not None
    assert sh(git_repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "agentops <agentops@localhost>|agentops <agentops@localhost>\n"
    )
    (git_repo / "README.md").write_text("again\n")
    git.commit(git_repo, paths=["README.md"], subject="s", author="Bot <bot@example.com>")
    assert sh(git_repo, "log", "-1", "--format=%an|%cn") == "Bot|agentops\n"


def test_commit_with_nothing_changed_returns_none(git_repo: Path) -> None:
    before = git.head(git_repo)
    assert git.commit(git_repo, paths=["README.md"], subject="noop") is None
    assert git.commit(git_repo, paths=["never-existed.md"], subject="noop") is None
    assert git.head(git_repo) == before


def test_commit_allow_empty_creates_a_commit_without_other_staged_content(git_repo: Path) -> None:
    (git_repo / "staged.md").write_text("s\n")
    sh(git_repo, "add", "staged.md")
    sha = git.commit(git_repo, paths=[], subject="marker", allow_empty=True)
    assert sha == git.head(git_repo)
    assert sh(git_repo, "show", "--name-only", "--format=", "HEAD") == ""
    assert status(git_repo) == "A  staged.md\n"


def test_commit_of_tracked_file_runs_one_git_process(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git.git_dir(git_repo)  # the per-process rev-parse, cached
    calls: list[list[str]] = []

    class CountingPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, cmd: list[str], *args: object, **kwargs: object) -> None:
            calls.append(cmd)
            super().__init__(cmd, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(subprocess, "Popen", CountingPopen)
    (git_repo / "README.md").write_text("changed\n")
    git.commit(git_repo, paths=["README.md"], subject="s")
    assert [cmd[cmd.index("commit")] for cmd in calls] == ["commit"]


def test_first_commit_of_an_unborn_repository(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "INCIDENTS.md").write_text("# Incidents\n")
    sha = git.commit(repo, paths=["INCIDENTS.md"], subject="init")
    assert sha is not None and sha == git.head(repo)
    assert sh(repo, "log", "--format=%s") == "init\n"


def test_commit_error_is_a_git_error(git_repo: Path) -> None:
    hook = git_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho refusing >&2\nexit 1\n")
    hook.chmod(0o755)
    (git_repo / "README.md").write_text("changed\n")
    with pytest.raises(git.GitError) as info:
        git.commit(git_repo, paths=["README.md"], subject="s")
    assert info.value.stderr == "refusing\n"


# --- index.lock --------------------------------------------------------------------------------


def _dead_identity() -> str:
    """The pid and start time of a process that has exited."""
    proc = subprocess.Popen(["sleep", "30"])
    identity = git.process_identity(proc.pid)
    proc.kill()
    proc.wait()
    assert identity is not None and not git.is_alive(identity)
    return identity


def test_index_lock_of_our_killed_git_is_removed_with_a_warning(
    git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = git_repo / ".git" / "index.lock"
    lock.write_text("")
    owner = _dead_identity()
    (git_repo / ".git" / "agentops").mkdir()
    (git_repo / ".git" / git.GIT_NOTE).write_text(owner + "\n")
    (git_repo / "README.md").write_text("changed\n")
    assert git.commit(git_repo, paths=["README.md"], subject="s") is not None
    assert not lock.exists()
    assert not (git_repo / ".git" / git.GIT_NOTE).exists()
    pid = owner.split(":")[0]
    assert capsys.readouterr().err == (
        f"agentops: warning: removed stale index.lock left by a killed git process (pid {pid}):"
        f" {lock}\n"
    )


def test_a_reused_pid_does_not_keep_a_stale_lock_alive(git_repo: Path) -> None:
    # our own pid, but with another start time: the note's writer is gone, the pid reused
    me = git.process_identity(os.getpid())
    assert me is not None and git.is_alive(me)
    assert not git.is_alive(me.split(":")[0] + ":1")


def test_fresh_index_lock_of_unknown_origin_is_left_alone_with_advice(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git does not keep index.lock open while hooks run: a fresh unheld lock may be live
    monkeypatch.setattr(git, "INDEX_LOCK_WAIT", 0.1)
    lock = git_repo / ".git" / "index.lock"
    lock.write_text("")
    with pytest.raises(AgentopsError, match="if no git is running in this repository, remove"):
        git.clear_stale_index_lock(git_repo)
    assert lock.exists()


def test_a_process_named_git_elsewhere_does_not_count_as_the_owner(
    git_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a long-running "gitk"-like process in the repository: names prove nothing
    fake = tmp_path / "gitk"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    viewer = subprocess.Popen([str(fake)], cwd=git_repo)
    try:
        lock = git_repo / ".git" / "index.lock"
        lock.write_text("")
        (git_repo / ".git" / "agentops").mkdir()
        (git_repo / ".git" / git.GIT_NOTE).write_text(_dead_identity() + "\n")
        git.clear_stale_index_lock(git_repo)
        assert not lock.exists()
    finally:
        viewer.kill()
        viewer.wait()


@pytest.fixture
def index_lock_holder(git_repo: Path) -> Iterator[Path]:
    """A live process that holds .git/index.lock open, as a running git would."""
    lock = git_repo / ".git" / "index.lock"
    script = (
        f"f = open({str(lock)!r}, 'w'); print('ready', flush=True); import time; time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    yield lock
    proc.kill()
    proc.wait()


def test_index_lock_held_by_live_process_makes_commit_wait_then_fail(
    git_repo: Path, index_lock_holder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(git, "INDEX_LOCK_WAIT", 0.3)
    (git_repo / "README.md").write_text("changed\n")
    with pytest.raises(AgentopsError) as info:
        git.commit(git_repo, paths=["README.md"], subject="s")
    assert str(info.value).startswith(
        f"another git process holds {index_lock_holder}; let it finish (or stop it) and retry"
    )
    assert index_lock_holder.exists()


def test_index_lock_without_proc_falls_back_to_age(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(git, "INDEX_LOCK_WAIT", 0.1)
    monkeypatch.setattr(git, "_lock_in_use", lambda lock: None)
    lock = git_repo / ".git" / "index.lock"
    lock.write_text("")
    with pytest.raises(AgentopsError, match="another git process holds"):
        git.clear_stale_index_lock(git_repo)
    os.utime(lock, (0, 0))
    git.clear_stale_index_lock(git_repo)
    assert not lock.exists()
    assert "removed stale index.lock" in capsys.readouterr().err


# --- the agentops lock -------------------------------------------------------------------------

COUNTER_WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from agentops import fsutil, git
    repo = Path(sys.argv[1])
    for _ in range(10):
        with git.locked(repo):
            counter = repo / "counter.txt"
            n = int(fsutil.read_text(counter) or "0") + 1
            fsutil.atomic_write(counter, f"{n}\\n")
            git.commit(repo, paths=["counter.txt"], subject=f"count {n}")
""")


def test_concurrent_processes_serialize_on_the_lock(git_repo: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER_WORKER, str(git_repo)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 8, results
    assert all(out == err == "" for out, err in results)
    assert (git_repo / "counter.txt").read_text() == "80\n"
    subjects = sh(git_repo, "log", "--format=%s").splitlines()
    assert subjects == [f"count {n}" for n in range(80, 0, -1)] + ["initial"]
    assert status(git_repo) == ""


@pytest.fixture
def lock_holder(git_repo: Path) -> Iterator[subprocess.Popen[str]]:
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from agentops import git
        with git.locked(Path({str(git_repo)!r})):
            print("locked", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    proc.kill()
    proc.wait()


def test_lock_times_out_naming_the_holder(
    git_repo: Path, lock_holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(AgentopsError) as info, git.locked(git_repo, timeout=0.2):
        pass
    path = git_repo / ".git" / "agentops.lock"
    assert str(info.value) == (
        f"timed out after 0.2s waiting for the agentops lock held by pid {lock_holder.pid} ({path})"
    )


def test_lock_is_released_when_its_holder_is_killed(
    git_repo: Path, lock_holder: subprocess.Popen[str]
) -> None:
    lock_holder.send_signal(signal.SIGKILL)
    lock_holder.wait()
    with git.locked(git_repo, timeout=5):
        assert (git_repo / ".git" / "agentops.lock").read_text() == f"{os.getpid()}\n"


def test_lock_is_reentrant_within_a_thread(git_repo: Path) -> None:
    with git.locked(git_repo, timeout=0.2):
        with git.locked(git_repo, timeout=0.2):
            pass
        with git.locked(git_repo, timeout=0.2):
            pass


# --- remotes -----------------------------------------------------------------------------------


@pytest.fixture
def remote(git_repo: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    sh(git_repo, "remote", "add", "origin", str(bare))
    return bare


def clone(remote: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(dest)], check=True)
    return dest


def test_push_then_fetch_from_a_bare_remote(git_repo: Path, remote: Path, tmp_path: Path) -> None:
    result = git.push(git_repo, "origin", "main")
    assert result.ok and result.status is git.PushStatus.OK
    other = clone(remote, tmp_path / "other")
    assert git.fetch(other, "origin", "main") == git.head(git_repo)
    assert git.fetch(other, "origin", "no-such-branch") is None


def test_push_rejected_non_fast_forward_then_replay(
    git_repo: Path, remote: Path, tmp_path: Path
) -> None:
    git.push(git_repo, "origin", "main")
    other = clone(remote, tmp_path / "other")
    (other / "theirs.md").write_text("theirs\n")
    theirs = git.commit(other, paths=["theirs.md"], subject="theirs")
    assert git.push(other, "origin", "main").ok
    (git_repo / "ours.md").write_text("ours\n")
    git.commit(git_repo, paths=["ours.md"], subject="ours")

    result = git.push(git_repo, "origin", "main")
    assert result.status is git.PushStatus.REJECTED
    assert "rejected" in result.detail

    tip = git.fetch(git_repo, "origin", "main")
    assert tip is not None and tip == theirs
    ours = git.commits_between(git_repo, tip, "HEAD")
    assert [c.subject for c in ours] == ["ours"]
    scratch = tmp_path / "scratch"
    git.worktree_add(git_repo, scratch, tip)
    assert git.cherry_pick(scratch, ours[0])[0] is git.PickResult.APPLIED
    git.reset_keep(git_repo, git.rev_parse(scratch, "HEAD"))
    git.worktree_remove(git_repo, scratch)
    assert (git_repo / "ours.md").read_text() == "ours\n"
    assert (git_repo / "theirs.md").read_text() == "theirs\n"
    assert git.push(git_repo, "origin", "main").ok


def test_push_to_missing_remote_is_a_failure(git_repo: Path, tmp_path: Path) -> None:
    result = git.push(git_repo, str(tmp_path / "nowhere.git"), "main")
    assert result.status is git.PushStatus.FAILED
    assert "does not appear to be a git repository" in result.detail


def test_push_refused_by_remote_hook_is_a_failure_not_a_rejection(
    git_repo: Path, remote: Path
) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho protected branch >&2\nexit 1\n")
    hook.chmod(0o755)
    result = git.push(git_repo, "origin", "main")
    assert result.status is git.PushStatus.FAILED
    assert "protected branch" in result.detail


def test_parse_push_classifies_porcelain_output() -> None:
    fetch_first = "To /r.git\n!\trefs/heads/main:refs/heads/main\t[rejected] (fetch first)\nDone\n"
    assert git.parse_push(1, fetch_first, "").status is git.PushStatus.REJECTED
    up_to_date = "To /r.git\n=\trefs/heads/main:refs/heads/main\t[up to date]\nDone\n"
    assert git.parse_push(0, up_to_date, "").ok
