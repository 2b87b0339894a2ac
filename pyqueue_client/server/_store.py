"""The server's storage: every queue in one SQLite file, through a few shared connections.

Request threads come and go with client connections. Each storage call runs on its request's own
thread (a hand-off to another thread would cost two thread wake-ups per request) and borrows one
of at most ``storage_workers`` shared SQLite connections for its statements. The number of open
database connections stays bounded however many clients connect, and they are all closed on
shutdown, once the calls in progress have given theirs back. The rest of the server sees only
the ``Store`` protocol.
"""

from __future__ import annotations

import os

from .._backends.sqlite import SqliteStore
from .._errors import StorageError
from .._times import Clock

__all__ = ["DATABASE_NAME", "open_store"]

#: The database file inside the data folder.
DATABASE_NAME = "queues.db"


def open_store(
    data_dir: str,
    clock: Clock,
    durable: bool = True,
    lock_timeout: float = 10.0,
    workers: int = 8,
    call_timeout: float = 60.0,
) -> SqliteStore:
    """The store in ``<data_dir>/queues.db`` (folder created if missing), its connections shared.

    A call waits up to ``call_timeout`` for a free connection, then raises ``LockTimeoutError``
    (answered 503).
    """
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the data folder {data_dir!r}: {exc.strerror}", data_dir
        ) from None
    store = SqliteStore(os.path.join(data_dir, DATABASE_NAME), clock, durable, lock_timeout)
    store.share_connections(workers, call_timeout)
    store.own_the_file()  # every change of attributes goes through this server
    return store
