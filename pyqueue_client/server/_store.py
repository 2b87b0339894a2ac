"""The server's storage: every queue in one SQLite file, reached through a fixed pool of threads.

Request threads come and go with client connections; SQLite connections are per thread. So
storage calls run on ``storage_workers`` long-lived threads instead: the number of open database
connections stays fixed however many clients connect, and they are all closed on shutdown.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Callable, List, TypeVar

from .._backends.sqlite import SqliteBackend
from .._errors import LockTimeoutError, StorageError
from .._semantics import Clock

__all__ = ["DATABASE_NAME", "RecordingClock", "Store"]

#: The database file inside the data folder.
DATABASE_NAME = "queues.db"

_Result = TypeVar("_Result")


class RecordingClock:
    """A clock that remembers, per thread, the last time it gave.

    A receive reads the clock once and hides messages until that time plus the timeout; the
    handler reads the same time back (on the same storage thread) to report it exactly.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = threading.local()

    def __call__(self) -> datetime:
        moment = self._clock()
        self._last.moment = moment
        return moment

    def last(self) -> datetime:
        """The time this thread was last given (the current time if none yet)."""
        moment: datetime = getattr(self._last, "moment", None) or self()
        return moment


class Store:
    """Named queues in ``<data_dir>/queues.db``; ``run`` calls a backend on a storage thread."""

    def __init__(
        self,
        data_dir: str,
        clock: RecordingClock,
        durable: bool = True,
        lock_timeout: float = 10.0,
        workers: int = 8,
        call_timeout: float = 60.0,
    ) -> None:
        try:
            os.makedirs(data_dir, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the data folder {data_dir!r}: {exc.strerror}", data_dir
            ) from None
        self.path = os.path.join(data_dir, DATABASE_NAME)
        self.clock = clock
        self._call_timeout = call_timeout
        # The queue name here is never used: every call goes through ``with_queue``.
        self._root = SqliteBackend(self.path, "default", clock, durable, lock_timeout)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="pyqueue-storage")

    def run(self, queue: str, call: Callable[[SqliteBackend], _Result]) -> _Result:
        """Run ``call`` on the backend of ``queue`` on a storage thread and return its result."""
        return self._submit(lambda: call(self._root.with_queue(queue)))

    def queue_names(self) -> List[str]:
        """The names of the queues that hold messages, sorted."""
        return self._submit(self._root.queue_names)

    def healthy(self) -> bool:
        """Whether the database can be read now."""
        return self._submit(self._root.health_check)

    def _submit(self, call: Callable[[], _Result]) -> _Result:
        future = self._executor.submit(call)
        try:
            return future.result(timeout=self._call_timeout)
        except FutureTimeout:
            # Not started: it never will. Started: it finishes on its own, like any request
            # whose client went away.
            future.cancel()
            raise LockTimeoutError(self.path, self._call_timeout) from None

    def close(self) -> None:
        """Wait for the storage calls in progress, then close every database connection."""
        self._executor.shutdown(wait=True)
        self._root.close()
