"""The few exceptions agentops raises on purpose, each carrying its exit code.

Errors are raised where they are found and turned into messages and exit codes only in
``cli.py``; anything else that escapes is an internal error (exit 3, with a crash log).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


class AgentopsError(Exception):
    """A user-facing error: bad input, invalid rules, nothing to do."""

    exit_code = EXIT_USER


class InvalidEventError(AgentopsError):
    """An event (from the CLI, a file or a webhook) does not fit the Event schema."""


class InvalidRulesError(AgentopsError):
    """A policy file is malformed; the message starts with file, line and key path."""


class LedgerError(AgentopsError):
    """A ledger file cannot be parsed or an operation on it is not allowed."""


class RepoError(AgentopsError):
    """The target is not a usable agentops repository."""


class TransientError(AgentopsError):
    """The environment failed (a lock held too long, a full disk), not the input: retry."""


class LockTimeout(TransientError):
    """Another process held the repository lock for longer than we were willing to wait."""


STORAGE_ERRNOS = {28: "ENOSPC", 122: "EDQUOT", 30: "EROFS", 13: "EACCES", 1: "EPERM", 5: "EIO"}


def storage_advice(errno: int | None) -> str:
    """What a person can do about an operating error, by errno."""
    if errno in (28, 122):
        return "free some space (or quota) on that filesystem and retry"
    if errno == 30:
        return ("the filesystem is read-only: run writing commands in a writable checkout "
                "(lint, recall, stats, check and incident list/show work read-only)")
    if errno in (1, 13):
        return "permission denied: run as the repository's owner, or fix its permissions"
    return "the disk reported an error: check it (dmesg) and retry"


class StorageError(TransientError, OSError):
    """The filesystem refused a write (full, read-only, permissions): exit 1, with the path.

    Also an OSError, so that code which treats a failed write as harmless (a cache) still
    catches it."""

    def __init__(self, path: object, errno: int | None, strerror: str | None) -> None:
        message = f"cannot write {path}: {strerror or 'error'}; {storage_advice(errno)}"
        OSError.__init__(self, message)
        self.path, self.errno, self.strerror, self.filename = path, errno, strerror, str(path)

    def __str__(self) -> str:
        return str(self.args[0])
