"""The server's storage: every queue in one SQLite file, through a few shared connections.

Request threads come and go with client connections. Each storage call runs on its request's own
thread (a hand-off to another thread would cost two thread wake-ups per request) and borrows one
of at most ``storage_workers`` shared SQLite connections for its statements. The number of open
database connections stays bounded however many clients connect, and they are all closed on
shutdown, once the calls in progress have given theirs back.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Callable, List, TypeVar

from .._backends.sqlite import SqliteBackend
from .._errors import StorageError
from .._semantics import Clock

__all__ = ["DATABASE_NAME", "RecordingClock", "Store"]

#: The database file inside the data folder.
DATABASE_NAME = "queues.db"

_Result = TypeVar("_Result")


class RecordingClock:
    """A clock that remembers, per thread, the last time it gave.

    A receive reads the clock once and hides messages until that time plus the timeout; the
    handler reads the same time back (on the same thread) to report it exactly.
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
    """Named queues in ``<data_dir>/queues.db``; ``run`` calls the backend of one of them."""

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
        # The queue name here is never used: every call goes through ``with_queue``.
        self._root = SqliteBackend(self.path, "default", clock, durable, lock_timeout)
        # A call waits up to call_timeout for a free connection, then answers 503.
        self._root.share_connections(workers, call_timeout)

    def run(self, queue: str, call: Callable[[SqliteBackend], _Result]) -> _Result:
        """Run ``call`` on the backend of ``queue`` (on this thread) and return its result."""
        return call(self._root.with_queue(queue))

    def queue_names(self) -> List[str]:
        """The names of the queues that hold messages, sorted."""
        return self._root.queue_names()

    def healthy(self) -> bool:
        """Whether the database can be read now."""
        return self._root.health_check()

    def close(self) -> None:
        """Wait for the storage calls in progress, then close every database connection."""
        self._root.close()
