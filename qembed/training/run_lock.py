"""One writer per run folder: ``train()`` holds an exclusive ``fcntl.flock`` on a lock
file in each folder it writes to, so that a second process (or trainer) writing the
same folder is refused. The kernel releases a flock when its process exits, however it
exits, so a lock file left behind by a killed process is never a stale lock."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, no lock
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".qembed.lock"


class RunFolderInUseError(OSError):
    """Another process (or trainer) is writing the run folder."""


@contextmanager
def locked(folders: Iterable[Path | None]) -> Iterator[None]:
    """Hold the lock of every folder in ``folders`` (``None`` skipped, each folder once)."""
    unique = dict.fromkeys(folder.resolve() for folder in folders if folder is not None)
    with ExitStack() as stack:
        for folder in unique:
            stack.enter_context(_lock(folder))
        yield


@contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock; folders created for it are removed again if left empty."""
    created = _missing(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if fcntl is None:  # pragma: no cover
            yield
            return
        path = folder / LOCK_NAME
        handle = _acquire(path, folder)
        try:
            os.ftruncate(handle, 0)
            os.write(handle, f"{os.getpid()}\n".encode())
            yield
        finally:
            path.unlink(missing_ok=True)  # while still held: a waiting writer then retries on a fresh file
            os.close(handle)
    finally:
        _remove_if_empty(created)


def _missing(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """A run that wrote nothing leaves no folder behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (the run wrote there) or already gone
            return


def _acquire(path: Path, folder: Path) -> int:
    """An open, flock-ed descriptor of ``path``, or :class:`RunFolderInUseError`."""
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            os.close(handle)
            raise RunFolderInUseError(
                f"{str(folder)!r} is in use by another qembed run (pid {holder}); one run writes a folder at a "
                "time: wait for it to finish or stop it, or use another folder") from None
        except BaseException:
            os.close(handle)
            raise
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        os.close(handle)  # its holder removed the file as we opened it: lock the new one


def _holder(handle: int) -> str:
    """The pid written in a held lock file (``unknown`` while its holder is writing it)."""
    text = os.pread(handle, 32, 0).decode(errors="replace").strip()
    return text if text.isdigit() else "unknown"
