"""The single-writer lock: exactly one process trades an account from a data directory (Invariant 5).

An exclusive `flock` on `<home>/executor.lock`, held for the life of the process. The kernel drops it
when the process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from types import TracebackType

from core.errors import ExecutorError


class HomeLocked(ExecutorError):
    code = "HOME_LOCKED"

    def __init__(self, home: Path, holder: str) -> None:
        super().__init__(
            f"another executor is already running on {home} ({holder}); stop it first, or use a different --home",
            home=str(home), holder=holder)


class LockUnusable(ExecutorError):
    """The lock file cannot be opened as a file (it is a directory, or the home is not writable): nobody can tell
    whether an executor runs on the home, so nothing that needs the answer may go on."""

    code = "LOCK_UNUSABLE"

    def __init__(self, path: Path, exc: OSError) -> None:
        reason = exc.strerror or type(exc).__name__
        super().__init__(f"the lock file {path} cannot be used ({reason}); it must be a regular file the executor "
                         "may write: remove or fix it once no executor runs on this home", file=str(path),
                         reason=reason)


def open_lock_file(path: Path, flags: int) -> int:
    """`os.open` of the lock file (FileNotFoundError passes through), or LockUnusable naming it."""
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise LockUnusable(path, exc) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # O_RDONLY opens a directory without complaint
        os.close(fd)
        raise LockUnusable(path, IsADirectoryError(errno.EISDIR, "not a regular file"))
    return fd


class SingleWriterLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> SingleWriterLock:
        fd = open_lock_file(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "pid unknown"
            os.close(fd)
            raise HomeLocked(self.path.parent, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SingleWriterLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
