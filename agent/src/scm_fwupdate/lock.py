"""One instance at a time: an flock on the lock file, holding the owner's pid."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from .errors import LockError


class InstanceLock:
    """``with InstanceLock(path):`` fails at once (LockError) if another process holds it.

    The file is never unlinked: removing it while another process waits on it
    would let two instances lock two different inodes.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd = -1

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise LockError(f"cannot open lock file {self.path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockError(f"another scm-fwupdate (pid {pid}) is running") from None
            raise LockError(f"cannot lock {self.path}: {e.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
