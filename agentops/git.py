"""Every git subprocess agentops starts, behind small named queries and one commit primitive.

Why one module: so that there is one place that sets ``LC_ALL=C`` (output we parse is stable),
turns failures into ``GitError`` showing command, code, stdout and stderr, and counts
subprocesses. ``agentops record`` must cost little more than the ``git commit`` it performs, so
the hot path is one cached ``rev-parse`` per process plus one ``git commit --only -- PATHS``;
the new HEAD is read from the ref file instead of asking git again.

Concurrency: many agent processes commit to the same repository. ``locked`` takes an exclusive
``flock`` on ``<git-common-dir>/agentops.lock`` around read-state -> write -> commit, so they
queue instead of failing on ``index.lock``; the kernel drops the lock when a holder dies.

Stale locks: git does not keep ``index.lock`` open while hooks run, so "nobody has it open"
does not mean "nobody owns it", and a process *name* proves nothing (gitk, gitui). So the git
that ``commit`` starts is named in ``<git-dir>/agentops/git-commit`` by pid *and* start time
(``/proc/PID/stat``); an ``index.lock`` whose named owner is gone (the pid is dead or reused)
is ours, stale, and removed by the next command with a line on stderr. A lock of unknown
origin is removed only when nobody has it open and it is older than ``STALE_LOCK_AGE``.
"""

from __future__ import annotations

import enum
import fcntl
import functools
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, NamedTuple, Self

from agentops.errors import AgentopsError, LockTimeout, RepoError

FALLBACK_NAME = "agentops"
FALLBACK_EMAIL = "agentops@localhost"
INDEX_LOCK_WAIT = 2.0  # seconds a live git gets to release index.lock before we give up
STALE_LOCK_AGE = 60.0  # without /proc, an index.lock older than this is presumed stale
_BASE_ENV = {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_UNKNOWN_PATH = re.compile(r"^error: pathspec '(.*)' did not match any file\(s\) known to git$")
_TRAILER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_AUTHOR = re.compile(r"[^<>\n]+ <[^<>\n]*>")


class GitError(AgentopsError):
    """A git command failed; str() shows the command, return code, stdout and stderr."""

    def __init__(self, cmd: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(tuple(cmd), returncode, stdout, stderr)
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __str__(self) -> str:
        def indent(text: str) -> str:
            return "\n    " + text.rstrip().replace("\n", "\n    ") if text.strip() else " (none)"

        return (
            f"command: {self.cmd!r}\nreturn code: {self.returncode}\n"
            f"stdout:{indent(self.stdout)}\nstderr:{indent(self.stderr)}"
        )


# --- running git -------------------------------------------------------------------------------


def _exec(
    repo: Path,
    args: Sequence[str],
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    cmd = ("git", "-C", str(repo), *args)
    full_env = {**os.environ, **_BASE_ENV, **(env or {})}
    stdin = None if input is not None else subprocess.DEVNULL
    try:
        return subprocess.run(
            cmd, input=input, stdin=stdin, capture_output=True, env=full_env, check=False
        )
    except FileNotFoundError as exc:
        raise AgentopsError("git is not installed (no `git` executable on PATH)") from exc


def _error(proc: subprocess.CompletedProcess[bytes]) -> GitError:
    return GitError(proc.args, proc.returncode, _text(proc.stdout), _text(proc.stderr))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def run(
    repo: Path,
    *args: str,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> str:
    """``git -C repo ARGS`` (no shell, ``LC_ALL=C``, never prompting); returns stdout."""
    proc = _exec(repo, args, input=input, env=env)
    if check and proc.returncode != 0:
        raise _error(proc)
    return _text(proc.stdout)


def run_bytes(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    """Like :func:`run`, for output that is data (blobs), not text."""
    proc = _exec(repo, args, input=input)
    if proc.returncode != 0:
        raise _error(proc)
    return proc.stdout


# --- small named queries -----------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _locate(path: str) -> tuple[Path, Path, Path]:
    """(worktree root, git dir, common git dir), cached for the process.

    The usual layout (``<root>/.git`` a directory) is recognised without a subprocess;
    worktrees, submodules and anything unusual ask ``git rev-parse``.
    """
    if os.path.isdir(os.path.join(path, ".git", "objects")) and not os.environ.get("GIT_DIR"):
        root = Path(path)
        return root, root / ".git", root / ".git"
    proc = _exec(
        Path(path),
        ("rev-parse", "--show-toplevel", "--path-format=absolute", "--git-dir", "--git-common-dir"),
    )
    lines = _text(proc.stdout).splitlines()
    if proc.returncode != 0 or len(lines) != 3:
        raise RepoError(f"not a git repository: {path} (run `git init` first)")
    root, gdir, common = (Path(line) for line in lines)
    return root, gdir, common


def find_root(path: Path) -> Path:
    """The top of the work tree containing ``path``; RepoError when there is none."""
    return _locate(os.path.abspath(path))[0]


def git_dir(repo: Path) -> Path:
    """The absolute git directory of this work tree (``.git/worktrees/X`` for a worktree)."""
    return _locate(os.path.abspath(repo))[1]


def common_dir(repo: Path) -> Path:
    """The absolute git directory shared by all work trees (refs, objects, our lock)."""
    return _locate(os.path.abspath(repo))[2]


def head(repo: Path) -> str | None:
    """The commit HEAD points at, or None on an unborn branch."""
    out = run(repo, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).strip()
    return out or None


def read_head(repo: Path) -> str | None:
    """HEAD without a subprocess when the ref is a plain file; None on an unborn branch."""
    try:
        target = (git_dir(repo) / "HEAD").read_text().strip()
        if target.startswith("ref: "):
            target = (common_dir(repo) / target[5:]).read_text().strip()
    except FileNotFoundError:
        return head(repo)  # packed refs, or unborn: ask git
    except OSError:
        return head(repo)
    return target if _SHA.fullmatch(target) else head(repo)


def is_detached(repo: Path) -> bool:
    """Whether HEAD names a commit rather than a branch (read from the file, no subprocess)."""
    try:
        return not (git_dir(repo) / "HEAD").read_text().startswith("ref: ")
    except OSError:
        return current_branch(repo) is None


def current_branch(repo: Path) -> str | None:
    """The checked-out branch name (also when unborn), or None when HEAD is detached."""
    return run(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip() or None


def rev_parse(repo: Path, rev: str) -> str:
    """The full object name of ``rev``; GitError when it does not exist."""
    _refuse_option(rev)
    return run(repo, "rev-parse", "--verify", rev).strip()


def is_ancestor(repo: Path, a: str, b: str) -> bool:
    """Whether commit ``a`` is reachable from ``b`` (equal counts)."""
    _refuse_option(a, b)
    proc = _exec(repo, ("merge-base", "--is-ancestor", a, b))
    if proc.returncode not in (0, 1):
        raise _error(proc)
    return proc.returncode == 0


def log_grep(repo: Path, needle: str, *, fixed: bool = True) -> str | None:
    """The newest commit on HEAD whose message contains ``needle`` (a regex if not ``fixed``)."""
    args = ("log", "-1", "--format=%H", *(["-F"] if fixed else []), f"--grep={needle}")
    proc = _exec(repo, args)
    if proc.returncode != 0:
        if b"does not have any commits yet" in proc.stderr:
            return None
        raise _error(proc)
    return _text(proc.stdout).strip() or None


def show_file(repo: Path, rev: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``rev``, or None when that path does not exist there."""
    _refuse_option(rev)
    proc = _exec(repo, ("cat-file", "blob", f"{rev}:{path}"))
    if proc.returncode == 0:
        return proc.stdout
    if b"does not exist in" in proc.stderr or b"exists on disk, but not in" in proc.stderr:
        return None
    raise _error(proc)


def remote_url(repo: Path, name: str) -> str | None:
    """The URL of remote ``name``, or None when no such remote is configured."""
    proc = _exec(repo, ("remote", "get-url", "--", name))
    if proc.returncode == 2:
        return None
    if proc.returncode != 0:
        raise _error(proc)
    return _text(proc.stdout).strip()


def _refuse_option(*revs: str) -> None:
    for rev in revs:
        if rev.startswith("-"):
            raise ValueError(f"revision may not start with '-': {rev!r}")


# --- the agentops lock -------------------------------------------------------------------------


class RepoLock:
    """An exclusive, per-thread re-entrant ``flock`` on ``<git-common-dir>/agentops.lock``."""

    _held: ClassVar[dict[tuple[str, int], tuple[int, int]]] = {}  # (path, thread) -> (fd, depth)

    def __init__(self, repo: Path, *, timeout: float = 120.0) -> None:
        self.path = common_dir(repo) / "agentops.lock"
        self.timeout = timeout
        self._key = (str(self.path), threading.get_ident())

    def acquire(self) -> None:
        if self._key in self._held:
            fd, depth = self._held[self._key]
            self._held[self._key] = (fd, depth + 1)
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._wait_for(fd)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._held[self._key] = (fd, 1)

    def release(self) -> None:
        fd, depth = self._held.pop(self._key)
        if depth > 1:
            self._held[self._key] = (fd, depth - 1)
        else:
            os.close(fd)  # closing the last descriptor releases the flock

    def _wait_for(self, fd: int) -> None:
        deadline, pause = time.monotonic() + self.timeout, 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise self._timed_out() from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)

    def _timed_out(self) -> AgentopsError:
        try:
            holder = self.path.read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        return LockTimeout(
            f"timed out after {self.timeout:g}s waiting for the agentops lock"
            f" held by pid {holder} ({self.path})"
        )

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@contextmanager
def locked(repo: Path, *, timeout: float = 120.0) -> Iterator[None]:
    """Hold the agentops lock of ``repo`` across read-state -> write files -> commit."""
    with RepoLock(repo, timeout=timeout):
        yield


# --- process identity and stale index.lock ------------------------------------------------------

GIT_NOTE = "agentops/git-commit"  # under the git dir: the identity of the git we are running


def process_identity(pid: int) -> str | None:
    """``PID:STARTTIME`` of a live process (None when none runs as ``pid``).

    The start time (clock ticks since boot, field 22 of ``/proc/PID/stat``) tells a reused pid
    from the process that wrote a note. Without /proc only liveness is known (``PID:?``).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f"{pid}:?"
    except OSError:
        return f"{pid}:?"
    fields = stat[stat.rfind(b")") + 2:].split()
    if not fields or fields[0] in (b"Z", b"X"):
        return None  # a zombie has finished its work
    return f"{pid}:{int(fields[19])}"


def is_alive(identity: str) -> bool:
    """Whether the process named by a ``PID:STARTTIME`` note still runs (the same one)."""
    pid, _, start = identity.strip().partition(":")
    if not pid.isdigit():
        return False
    current = process_identity(int(pid))
    return current is not None and (start == "?" or current.endswith(":?") or current == identity)


def stale_locks(repo: Path) -> list[str]:
    """Descriptions of lock files a killed process left in ``repo`` (for ``lint``)."""
    lock = git_dir(repo) / "index.lock"
    if not lock.exists():
        return []
    owner = _read_note(git_dir(repo) / GIT_NOTE)
    if owner is not None and not is_alive(owner):
        return [f"{lock}: left by git pid {owner.split(':')[0]}, which was killed"]
    if owner is None and _age(lock) > STALE_LOCK_AGE and _lock_in_use(lock) is not True:
        return [f"{lock}: {int(_age(lock))}s old and nobody has it open"]
    return []


def clear_stale_index_lock(repo: Path) -> None:
    """Remove an ``index.lock`` a killed git left; wait briefly, then fail, if one is live."""
    lock = git_dir(repo) / "index.lock"
    note = git_dir(repo) / GIT_NOTE
    deadline = time.monotonic() + INDEX_LOCK_WAIT
    while lock.exists():
        owner = _read_note(note)
        if owner is not None and not is_alive(owner) and _lock_in_use(lock) is not True:
            _remove_stale(lock, note, owner, "a killed git process (pid "
                          f"{owner.split(':')[0]})")
            return
        if owner is None:
            in_use = _lock_in_use(lock)
            if in_use is not True and _age(lock) > STALE_LOCK_AGE:
                _remove_stale(lock, note, None, f"a git process gone for over "
                              f"{STALE_LOCK_AGE:g}s")
                return
        if time.monotonic() >= deadline:
            who = f" (pid {owner.split(':')[0]})" if owner else ""
            hint = "" if owner else (
                f"; if no git is running in this repository, remove {lock} and retry")
            raise AgentopsError(
                f"another git process{who} holds {lock}; let it finish (or stop it) and retry"
                + hint)
        time.sleep(0.05)
    if (owner := _read_note(note)) is not None and not is_alive(owner):
        note.unlink(missing_ok=True)  # our git finished, its parent died before tidying


def _remove_stale(lock: Path, note: Path, owner: str | None, left_by: str) -> None:
    lock.unlink(missing_ok=True)
    if owner is not None:
        # git --only also leaves its temporary index, named by its pid
        (lock.parent / f"next-index-{owner.split(':')[0]}.lock").unlink(missing_ok=True)
    note.unlink(missing_ok=True)
    print(f"agentops: warning: removed stale index.lock left by {left_by}: {lock}",
          file=sys.stderr)


def _read_note(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return None
    return text or None


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _lock_in_use(lock: Path) -> bool | None:
    """True if another process has ``lock`` open; None when /proc cannot tell."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    except OSError:
        return None
    if not pids:
        return None
    target = os.path.realpath(lock)
    return any(_has_open(pid, target) for pid in pids)


def _has_open(pid: str, target: str) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def _exec_tracked(repo: Path, args: Sequence[str], *, input: bytes,
                  env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    """``_exec`` for a git that takes ``index.lock``: its identity is noted while it runs."""
    cmd = ("git", "-C", str(repo), *args)
    full_env = {**os.environ, **_BASE_ENV, **env}
    note = git_dir(repo) / GIT_NOTE
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=full_env)
    except FileNotFoundError as exc:
        raise AgentopsError("git is not installed (no `git` executable on PATH)") from exc
    try:
        identity = process_identity(proc.pid)
        if identity is not None:
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(identity + "\n")
        out, err = proc.communicate(input)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    note.unlink(missing_ok=True)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


# --- commit ------------------------------------------------------------------------------------


def commit(
    repo: Path,
    *,
    paths: Sequence[str],
    subject: str,
    body: str = "",
    trailers: Sequence[tuple[str, str]] = (),
    author: str | None = None,
    allow_empty: bool = False,
) -> str | None:
    """Commit the work-tree content of exactly ``paths`` (nothing else staged goes in).

    Returns the new commit, or None when those paths did not change (and not ``allow_empty``).
    One ``git commit --only -- PATHS`` in the usual case; new files are added first, and a
    repository without an identity is retried as ``agentops <agentops@localhost>``.
    """
    message = format_message(subject, body, trailers)
    options = _commit_options(author=author, allow_empty=allow_empty)
    clear_stale_index_lock(repo)
    pending: list[str] = list(paths)
    env: dict[str, str] = {}
    for _attempt in range(3):
        proc = _exec_tracked(repo, (*options, "--", *pending), input=message, env=env)
        if proc.returncode == 0:
            return _new_head(repo)
        if _nothing_to_commit(proc):
            return None
        if unknown := _unknown_paths(proc.stderr):
            pending = _add_new_files(repo, pending, unknown)
            if not pending and not allow_empty:
                return None
        elif _identity_missing(proc.stderr) and not env:
            env = _fallback_identity(author)
        else:
            break
    raise _error(proc)


def format_message(subject: str, body: str = "", trailers: Sequence[tuple[str, str]] = ()) -> bytes:
    """Subject, blank line, body, blank line, ``Key: value`` trailers (git's trailer block)."""
    if not subject.strip() or "\n" in subject:
        raise ValueError(f"a commit subject is one non-empty line: {subject!r}")
    for key, value in trailers:
        if not _TRAILER_KEY.fullmatch(key) or "\n" in value:
            raise ValueError(f"invalid trailer {key!r}: {value!r}")
    block = "\n".join(f"{key}: {value}" for key, value in trailers)
    parts = [subject.strip(), body.strip("\n"), block]
    return ("\n\n".join(part for part in parts if part.strip()) + "\n").encode("utf-8")


def _commit_options(*, author: str | None, allow_empty: bool) -> list[str]:
    # useConfigOnly: never guess an identity from the hostname; we fall back explicitly.
    options = ["-c", "user.useConfigOnly=true", "--literal-pathspecs"]
    options += ["commit", "-q", "-uno", "--only", "-F", "-"]
    if author is not None:
        if not _AUTHOR.fullmatch(author):
            raise ValueError(f"author must look like 'Name <email>': {author!r}")
        options.append(f"--author={author}")
    if allow_empty:
        options.append("--allow-empty")
    return options


def _nothing_to_commit(proc: subprocess.CompletedProcess[bytes]) -> bool:
    out = proc.stdout
    return (
        proc.returncode == 1
        and not proc.stderr.strip()
        and (
            b"nothing to commit" in out
            or b"no changes added to commit" in out
            or b"nothing added to commit" in out
        )
    )


def _unknown_paths(stderr: bytes) -> list[str]:
    lines = _text(stderr).splitlines()
    return [m.group(1) for line in lines if (m := _UNKNOWN_PATH.match(line))]


def _add_new_files(repo: Path, paths: list[str], unknown: list[str]) -> list[str]:
    """Add the untracked ``unknown`` paths that exist; drop those that exist nowhere."""
    present = [p for p in unknown if os.path.lexists(repo / p)]
    if present:
        run(repo, "--literal-pathspecs", "add", "-f", "--", *present)
    return [p for p in paths if p not in unknown or p in present]


def _identity_missing(stderr: bytes) -> bool:
    return b"Please tell me who you are" in stderr or b"empty ident name" in stderr


def _fallback_identity(author: str | None) -> dict[str, str]:
    env = {"GIT_COMMITTER_NAME": FALLBACK_NAME, "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL}
    if author is None:
        env |= {"GIT_AUTHOR_NAME": FALLBACK_NAME, "GIT_AUTHOR_EMAIL": FALLBACK_EMAIL}
    return env


def _new_head(repo: Path) -> str:
    """HEAD right after our commit, read from the ref file (saves a subprocess)."""
    try:
        target = (git_dir(repo) / "HEAD").read_text().strip()
        if target.startswith("ref: refs/heads/"):
            target = (common_dir(repo) / target[5:]).read_text().strip()
    except OSError:
        target = ""
    return target if _SHA.fullmatch(target) else rev_parse(repo, "HEAD")


# --- remotes -----------------------------------------------------------------------------------


class PushStatus(enum.Enum):
    OK = "ok"
    REJECTED = "rejected"  # non-fast-forward: fetch, replay our operations, push again
    FAILED = "failed"  # anything else: network, auth, hooks, protected branch


class PushResult(NamedTuple):
    status: PushStatus
    detail: str

    @property
    def ok(self) -> bool:
        return self.status is PushStatus.OK


def push(repo: Path, remote: str, branch: str) -> PushResult:
    """Push ``branch`` to the same branch on ``remote``; never raises for a refused push."""
    _refuse_option(remote)
    ref = f"refs/heads/{branch}"
    proc = _exec(repo, ("push", "--porcelain", remote, f"{ref}:{ref}"))
    return parse_push(proc.returncode, _text(proc.stdout), _text(proc.stderr))


def parse_push(returncode: int, stdout: str, stderr: str) -> PushResult:
    """Classify ``git push --porcelain`` output (flag TAB from:to TAB summary per ref)."""
    detail = "\n".join(part for part in (stdout.strip(), stderr.strip()) if part)
    if returncode == 0:
        return PushResult(PushStatus.OK, detail)
    rejected = [line for line in stdout.splitlines() if line.startswith("!\t")
                and not line.endswith("(atomic push failed)")]  # refused for another's sake
    if rejected and all(_is_non_fast_forward(line) for line in rejected):
        return PushResult(PushStatus.REJECTED, detail)
    # an atomic push that lost a race for a ref lock on the server: retryable like the above
    lost_race = "cannot lock ref" in stderr and "but expected" in stderr
    if rejected and lost_race and all("atomic transaction failed" in line for line in rejected):
        return PushResult(PushStatus.REJECTED, detail)
    return PushResult(PushStatus.FAILED, detail)


def _is_non_fast_forward(line: str) -> bool:
    summary = line.rsplit("\t", 1)[-1]
    if summary.startswith("[remote rejected]"):
        # another push moved the ref between our read and our update: a race, so retryable
        return "failed to update ref" in summary or "incorrect old value" in summary
    return summary.startswith("[rejected]") and (
        "non-fast-forward" in summary or "fetch first" in summary
    )


def fetch(repo: Path, remote: str, branch: str) -> str | None:
    """Fetch ``branch`` from ``remote``; returns its tip, or None when the remote lacks it."""
    _refuse_option(remote)
    proc = _exec(repo, ("fetch", "-q", "--no-tags", remote, f"refs/heads/{branch}"))
    if proc.returncode != 0:
        if b"couldn't find remote ref" in proc.stderr:
            return None
        raise _error(proc)
    return rev_parse(repo, "FETCH_HEAD")


def push_refs(repo: Path, remote: str, refs: Sequence[str], *, atomic: bool,
              force: bool = False) -> PushResult:
    """Push each of ``refs`` to the same name on ``remote`` in one ``git push``.

    ``atomic`` asks the remote to take all or none (``--atomic``); a remote that cannot is
    reported as FAILED with git's message, and the caller may push without it. ``force``
    replaces what the remote has (only for refs that are caches, never the branch).
    """
    _refuse_option(remote, *refs)
    args = ["push", "--porcelain", *(["--atomic"] if atomic else []), remote]
    plus = "+" if force else ""
    proc = _exec(repo, (*args, *(f"{plus}{ref}:{ref}" for ref in refs)))
    return parse_push(proc.returncode, _text(proc.stdout), _text(proc.stderr))


def fetch_refs(repo: Path, remote: str, refspecs: Sequence[str]) -> None:
    """``git fetch`` of explicit refspecs (``+src:dst``); a pattern that matches nothing is
    fine, a named source ref that is missing fails."""
    _refuse_option(remote)
    run(repo, "fetch", "-q", "--no-tags", "--no-write-fetch-head", remote, *refspecs)


class Commit(NamedTuple):
    """One commit as the replay sees it: its name, parents and full message."""

    sha: str
    parents: tuple[str, ...]
    message: str

    def trailers(self, key: str) -> list[str]:
        """Values of ``key:`` lines in the message (git's trailer syntax, one per line)."""
        prefix = f"{key}: "
        return [line[len(prefix):].strip() for line in self.message.splitlines()
                if line.startswith(prefix)]

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


def commits_between(repo: Path, base: str, tip: str) -> list[Commit]:
    """The commits reachable from ``tip`` but not ``base``, oldest first (parents first)."""
    _refuse_option(base, tip)
    out = run(repo, "log", "--reverse", "--topo-order", "-z", "--format=%H %P%n%B",
              f"{base}..{tip}")
    commits = []
    for record in out.split("\0"):
        if not record.strip():
            continue
        head, _, message = record.lstrip("\n").partition("\n")
        sha, *parents = head.split()
        commits.append(Commit(sha, tuple(parents), message))
    return commits


class PickResult(enum.Enum):
    APPLIED = "applied"
    EMPTY = "empty"  # its change is already there: nothing to carry
    CONFLICT = "conflict"


def cherry_pick(worktree: Path, commit: Commit) -> tuple[PickResult, str]:
    """Carry ``commit`` onto the worktree's HEAD with git's merge machinery (and the merge
    drivers ``.gitattributes`` names). A conflict is aborted, leaving HEAD as it was; the
    returned text is git's account of it."""
    args = ["-c", "user.useConfigOnly=true", "cherry-pick", "--allow-empty-message"]
    if len(commit.parents) > 1:
        args += ["-m", "1"]  # a merge commit: carry what it brought relative to its first parent
    env: dict[str, str] = {}
    for _attempt in range(2):
        proc = _exec(worktree, (*args, commit.sha), env=env)
        if proc.returncode == 0:
            return PickResult.APPLIED, ""
        if _identity_missing(proc.stderr) and not env:
            env = _fallback_identity("x")  # committer only: the author is the commit's own
            continue
        break
    detail = "\n".join(p for p in (_text(proc.stdout).strip(), _text(proc.stderr).strip()) if p)
    if b"now empty" in proc.stderr or b"nothing to commit" in proc.stdout:
        _exec(worktree, ("cherry-pick", "--skip"))
        return PickResult.EMPTY, detail
    conflicted = run(worktree, "diff", "--name-only", "--diff-filter=U", check=False).split()
    _exec(worktree, ("cherry-pick", "--abort"))
    if not conflicted:
        raise _error(proc)
    return PickResult.CONFLICT, "conflict in " + ", ".join(conflicted) + "\n" + detail


def worktree_add(repo: Path, path: Path, rev: str) -> None:
    """A detached, temporary work tree of ``rev`` at ``path`` (removing a stale one first)."""
    _refuse_option(rev)
    worktree_remove(repo, path)
    run(repo, "worktree", "add", "-q", "--detach", str(path), rev)
    _locate.cache_clear()  # the path may have named another work tree before


def worktree_remove(repo: Path, path: Path) -> None:
    _exec(repo, ("worktree", "remove", "--force", "--force", str(path)))
    if path.exists():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    _exec(repo, ("worktree", "prune"))


def reset_keep(repo: Path, rev: str) -> None:
    """Move the branch and work tree to ``rev`` keeping uncommitted changes (``reset --keep``:
    git refuses, changing nothing, when one of them would be overwritten). Only used to move
    onto a commit that carries everything the old tip had."""
    _refuse_option(rev)
    run(repo, "reset", "-q", "--keep", rev)


def merge_file(base: str, ours: str, theirs: str, *, labels: tuple[str, str, str] = (
        "ours", "base", "theirs")) -> tuple[str, bool]:
    """Line-based three-way merge of three texts (``git merge-file``): (result, clean).

    A conflict comes back as the usual ``<<<<<<<``/``=======``/``>>>>>>>`` block in the result.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="agentops-merge-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        args = ["merge-file", "-p"]
        for label in labels:
            args += ["-L", label]
        proc = _exec(Path(tmp), (*args, *paths))
    if proc.returncode < 0 or proc.returncode > 127:
        raise _error(proc)
    return _text(proc.stdout), proc.returncode == 0


def set_config(repo: Path, key: str, value: str) -> None:
    """``git config KEY VALUE`` in the repository's own (shared) config."""
    run(repo, "config", "--local", key, value)


def get_config(repo: Path, key: str) -> str | None:
    proc = _exec(repo, ("config", "--local", "--get", key))
    return _text(proc.stdout).strip() if proc.returncode == 0 else None


# --- objects written directly (the journal's hot path) --------------------------------------


class LooseWriter:
    """Write blobs, flat trees and commits as loose objects, and move one ref, without a git
    process: what ``hash-object -w``, ``mktree``, ``commit-tree`` and ``update-ref`` would do.

    Why: every ``record`` appends to the journal ref, and four git processes cost more than
    the rest of the journal write. Only for what git's own code reads the same way everywhere:
    a SHA-1 repository with the files ref backend and no object-directory overrides;
    :meth:`usable` says so, and callers use the plumbing otherwise. Objects are renamed into
    place; the ref is moved with git's lock-file protocol (``REF.lock``, checked against the
    expected old value, renamed over the loose ref), so a git running at the same time sees the
    old value or the new one. Files are fsynced when the repository asks git to fsync
    (``core.fsync*``), as git's own commit does; git's default is not to.
    """

    def __init__(self, repo: Path) -> None:
        self.common = common_dir(repo)
        self.fsync = True

    def usable(self) -> bool:
        if os.environ.get("GIT_OBJECT_DIRECTORY") or (self.common / "reftable").exists():
            return False
        try:
            config = (self.common / "config").read_text(errors="replace").lower()
        except OSError:
            return False
        self.fsync = "fsync" in config
        return "objectformat" not in config and "refstorage" not in config

    def write(self, kind: str, body: bytes) -> str:
        import zlib

        data = f"{kind} {len(body)}\0".encode() + body
        sha: str = _sha1(data).hexdigest()
        path = self.common / "objects" / sha[:2] / sha[2:]
        if path.exists():
            return sha
        path.parent.mkdir(exist_ok=True)
        temp = path.parent / f"tmp_obj_agentops_{os.getpid()}_{threading.get_ident()}"
        with open(temp, "wb") as fh:
            fh.write(zlib.compress(data, 1))
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(temp, 0o444)
        os.replace(temp, path)
        return sha

    def tree(self, entries: Mapping[str, str]) -> str:
        """A tree of regular files (no subdirectories): name -> blob."""
        body = b"".join(f"100644 {name}".encode() + b"\0" + bytes.fromhex(blob)
                        for name, blob in sorted(entries.items(), key=lambda e: e[0].encode()))
        return self.write("tree", body)

    def commit(self, tree: str, parents: Sequence[str], message: str, *, ident: str) -> str:
        stamp = f"{ident} {int(time.time())} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {stamp}",
                 f"committer {stamp}"]
        return self.write("commit", ("\n".join(lines) + "\n\n" + message.rstrip("\n") + "\n")
                          .encode())

    def update_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Move ``ref`` to ``new`` if it is ``old`` (None: absent); False when it is not, or
        when another writer holds its lock (the caller then asks git)."""
        path = self.common / ref
        lock = path.with_name(path.name + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, f"{new}\n".encode())
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if self._current(ref) != old:
            lock.unlink(missing_ok=True)
            return False
        os.replace(lock, path)
        return True

    def _current(self, ref: str) -> str | None:
        try:
            value = (self.common / ref).read_text().strip()
            return value or None
        except FileNotFoundError:
            pass
        try:
            for line in (self.common / "packed-refs").read_text().splitlines():
                if line.endswith(f" {ref}") and not line.startswith(("#", "^")):
                    return line.split()[0]
        except FileNotFoundError:
            pass
        return None


def _sha1(data: bytes) -> Any:
    """CPython's built-in SHA-1 (importing hashlib loads OpenSSL: milliseconds per process)."""
    try:
        import _sha1  # type: ignore[import-not-found]

        return _sha1.sha1(data)
    except ImportError:  # pragma: no cover - other interpreters
        import hashlib

        return hashlib.sha1(data)  # noqa: S324 - git's object names, not security
