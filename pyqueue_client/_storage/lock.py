"""An exclusive lock shared by threads and processes, on a sidecar lock file.

The OS lock (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows) orders processes; a
``threading.Lock`` orders the threads of one process before they touch the OS lock. Only the two
primitives ``_try_os_lock``/``_os_unlock`` differ by platform; they are chosen once, at import.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional

from .._errors import LockTimeoutError, QueuePathError, StorageError

__all__ = ["MARK_SIZE", "FileLock"]

_log = logging.getLogger(__name__)

# Polling grows from the first to the last value: quick hand-over when the holder is fast,
# little CPU when it is slow.
_FIRST_POLL = 0.0002
_LAST_POLL = 0.005

if sys.platform == "win32":
    import msvcrt

    def _try_os_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _os_unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_os_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _os_unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


#: Bytes of the lock file that hold the current write mark.
MARK_SIZE = 16


class FileLock:
    """Exclusive lock on ``path`` (created if missing, never deleted), with a timeout in seconds.

    The lock file also carries a *write mark*: random bytes that whoever holds the lock replaces
    each time it changes the data the lock guards. Holders compare marks to tell whether anyone
    wrote since they last looked; a file's (inode, size, mtime) alone cannot tell, since a freed
    inode number is reused at once and file clocks tick coarsely.

    Safe across ``fork()``: a child process opens its own descriptor, since a descriptor inherited
    from the parent shares the parent's lock.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: Optional[int] = None
        self._pid = os.getpid()
        self._thread_lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of the ``with`` block."""
        self._forget_inherited_state()
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise LockTimeoutError(self.path, self.timeout)
        try:
            fd = self._descriptor()
            self._acquire_os_lock(fd, deadline)
            try:
                yield
            finally:
                _os_unlock(fd)
        finally:
            self._thread_lock.release()

    def read_mark(self) -> bytes:
        """The current write mark (empty before the first write). Only while holding the lock."""
        fd = self._descriptor()
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, MARK_SIZE)

    def new_mark(self) -> bytes:
        """Replace the write mark with fresh random bytes and return them. Only while holding."""
        mark = secrets.token_bytes(MARK_SIZE)
        fd = self._descriptor()
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, mark)
        return mark

    def close(self) -> None:
        """Close the lock file's descriptor (the lock must not be held)."""
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def _forget_inherited_state(self) -> None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._fd = None
            self._thread_lock = threading.Lock()

    def _descriptor(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except FileNotFoundError as exc:
                raise QueuePathError(
                    f"cannot create lock file {self.path!r}: its folder does not exist", self.path
                ) from exc
            except OSError as exc:
                raise StorageError(
                    f"cannot open lock file {self.path!r}: {exc.strerror}", self.path
                ) from exc
        return self._fd

    def _acquire_os_lock(self, fd: int, deadline: float) -> None:
        poll = _FIRST_POLL
        while not _try_os_lock(fd):
            now = time.monotonic()
            if now >= deadline:
                raise LockTimeoutError(self.path, self.timeout)
            if poll == _FIRST_POLL:
                _log.debug("waiting for lock %s", self.path)
            time.sleep(min(poll, deadline - now))
            poll = min(poll * 2, _LAST_POLL)
