"""Run each group commit in a child process, so the pipeline never competes with requests.

The pipeline is CPU-bound Python (policy, ledger parsing, rendering). In the server's process
it would hold the GIL for seconds per batch, and every request, whose few syscalls each give
up the GIL, would queue behind it: measured, p50 latency to 202 went from ~1 ms to ~20 ms. A
child per batch (``python -m agentops.server.sink REPO``, ~0.15 s to start, once per group)
keeps the request path free. The child reads events as JSON lines on stdin and prints one
outcome per line. Its exit code says whose fault a failure was, in one line on stderr (never a
traceback, which would end up in ``/readyz``): ``INVALID`` the events themselves (dead-letter
at once), ``TRANSIENT`` the environment (lock, disk, broken rules or ledger: retry),
``REFUSED`` anything else
(retried a bounded number of times, then dead-lettered).
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agentops.errors import (
    AgentopsError,
    InvalidEventError,
    InvalidRulesError,
    LedgerError,
    RepoError,
    TransientError,
)
from agentops.events import Event, event_from_dict

INVALID = 10  # exit code: the pipeline refused the events themselves
TRANSIENT = 11  # the environment failed: the repository lock, a full or read-only disk
REFUSED = 12  # any other failure (a git hook, a bug): bounded retries
_TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO, errno.EAGAIN})


@dataclass(frozen=True)
class ChildOutcome:
    duplicate: bool


class SubprocessSink:
    """A :data:`~agentops.server.committer.Sink` that runs ``pipeline.process`` in a child."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def __call__(self, events: Sequence[Event]) -> list[ChildOutcome]:
        data = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in events)
        proc = subprocess.run(
            [sys.executable, "-m", "agentops.server.sink", str(self.repo)],
            input=data.encode("utf-8"), capture_output=True, check=False,
        )
        err = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode == INVALID:
            raise InvalidEventError(err)
        if proc.returncode == TRANSIENT:
            raise TransientError(err)
        if proc.returncode != 0:
            raise AgentopsError(f"pipeline child exited {proc.returncode}: {err}")
        return [ChildOutcome(bool(json.loads(line)["duplicate"]))
                for line in proc.stdout.decode("utf-8").splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    from agentops.pipeline import process

    try:
        events = [event_from_dict(json.loads(line)) for line in sys.stdin if line.strip()]
        outcomes = process(Path(argv[0]), events)
    except InvalidEventError as exc:
        return _fail(INVALID, exc)
    except (TransientError, InvalidRulesError, RepoError, LedgerError) as exc:
        # the environment: broken rules, a damaged ledger, a detached HEAD would refuse every
        # request alike, so they wait for a person instead of being dead-lettered one by one
        return _fail(TRANSIENT, exc)
    except OSError as exc:
        return _fail(TRANSIENT if exc.errno in _TRANSIENT_ERRNOS else REFUSED, exc)
    except Exception as exc:
        return _fail(REFUSED, exc)
    for outcome in outcomes:
        print(json.dumps({**outcome.to_dict(), "duplicate": outcome.duplicate}))
    return 0


def _fail(code: int, exc: Exception) -> int:
    lines = str(exc).strip().splitlines()
    print(f"{type(exc).__name__}: {' / '.join(line.strip() for line in lines[:6])}"[:2000],
          file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
