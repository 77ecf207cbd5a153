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
