"""Crash-safe file writes: a reader, or a process restarted after a crash, sees old or new bytes.

The ledger promises "never a torn entry" (DESIGN.md, principle 1). Whole-file rewrites go
through ``atomic_write`` (temp file, fsync, rename, fsync the directory); the journal grows with
``append_durable`` (one ``write`` on an ``O_APPEND`` descriptor, then fsync). Bytes are written
as given: no newline translation, so ``render(parse(file)) == file`` holds byte for byte.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

from agentops.errors import STORAGE_ERRNOS, RepoError, StorageError

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def storage(path: Path) -> Iterator[None]:
    """Turn a full disk, a read-only filesystem or a permission error into StorageError naming
    ``path`` (``os.write`` alone would not say which file), so the CLI can exit 1 with advice."""
    try:
        yield
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS:
            raise StorageError(exc.filename or path, exc.errno, exc.strerror) from exc
        raise


def _names_path(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    @wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with storage(Path(str(args[0]))):
            return fn(*args, **kwargs)

    return wrapper


def read_text(path: Path) -> str:
    """The file's UTF-8 text exactly as stored ('' when it does not exist)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ""


def refuse_symlinks(root: Path, paths: Iterable[str]) -> None:
    """RepoError if any of ``paths`` (relative to ``root``), or a folder on the way to it, is a
    symbolic link: git commits the link, not what it points to, so an entry written through it
    would be acknowledged and never reach any commit."""
    checked: set[Path] = set()
    for rel in paths:
        here = root
        for part in Path(rel).parts:
            here = here / part
            if here in checked:
                continue
            checked.add(here)
            try:
                mode = os.lstat(here).st_mode
            except FileNotFoundError:
                break
            if stat.S_ISLNK(mode):
                raise RepoError(
                    f"{here} is a symbolic link (to {os.readlink(here)}); git would commit the "
                    "link, not the entries written through it. Replace it with the real file "
                    f"(or folder) and retry")


@_names_path
def atomic_write(path: Path, data: bytes | str, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` so that it holds either the old or the new content.

    A symbolic link is refused, never written through (see :func:`refuse_symlinks`)."""
    if path.is_symlink():
        raise RepoError(f"{path} is a symbolic link; refusing to write through it")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    _make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        _write_new(tmp, payload, mode=_existing_mode(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        _fsync_dir(path.parent)


def atomic_write_many(files: dict[Path, bytes | str]) -> None:
    """Replace several files at once: each atomically, with one directory fsync per folder
    (a batch of ledger files costs one directory sync, not one per file)."""
    for path, data in files.items():
        atomic_write(path, data, sync_dir=False)
    for folder in {p.parent.resolve() for p in files}:
        _fsync_dir(folder)


@_names_path
def write_note(path: Path, data: bytes | str) -> None:
    """A small file written in place and fsynced, for notes whose torn form is harmless
    (the reader treats an unreadable note as absent)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    _make_dirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        _write_all(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


@_names_path
def append_durable(path: Path, data: bytes) -> None:
    """Append ``data`` with one ``write`` call (so concurrent appends never interleave), fsync."""
    _make_dirs(path.parent)
    created = True
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        created = False
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        except OSError as exc:
            if os.path.islink(path):
                raise RepoError(f"{path} is a symbolic link; refusing to append through it") \
                    from exc
            raise
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def _existing_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _write_new(tmp: Path, payload: bytes, *, mode: int | None) -> None:
    # 0o666 lets the umask decide for new files (tempfile.mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        _write_all(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)  # one call unless the kernel writes short
        view = view[written:]


def _make_dirs(directory: Path) -> None:
    """Create missing directories, fsyncing each new one's parent so the entry survives a crash."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent)
    try:
        directory.mkdir()
    except FileExistsError:
        return
    _fsync_dir(directory.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
