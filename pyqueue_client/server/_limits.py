"""``QueueLimit``: how many queues the server's store may hold, checked before a queue is made.

A queue exists once it holds a message or has attributes, so the routes that can make one are
the adds and the attribute changes. The names of the queues known to exist are kept in memory
(the store's own list reads every message's queue); a clear may have made some of them vanish,
so the list is read again before a request is refused, at most once a second (a client sending
refused requests cannot make the server read it over and over).
"""

from __future__ import annotations

import threading
import time
from typing import FrozenSet, Mapping, Set, Tuple

from .._contract import Store
from .._rest import ENDPOINTS
from ._params import HttpError
from ._routes import Route

__all__ = ["QueueLimit"]

#: The endpoints whose call can make a new queue.
_CREATING_ENDPOINTS = ("add", "add_batch", "set_attributes", "put_attributes")
#: The least time between two reads of the store's list of queues.
_REFRESH_SECONDS = 1.0
_CREATING: FrozenSet[Tuple[str, Tuple[str, ...]]] = frozenset(
    (ENDPOINTS[name].method, ENDPOINTS[name].segments) for name in _CREATING_ENDPOINTS
)


class QueueLimit:
    """Refuses (422) a request that would make the store hold more than ``limit`` queues."""

    def __init__(self, store: Store, limit: int) -> None:
        self.limit = limit
        self._store = store
        self._lock = threading.Lock()
        self._known: Set[str] = set(store.queue_names())
        self._read_at = time.monotonic()

    def admit(self, route: Route, params: Mapping[str, str]) -> None:
        """Return if ``route`` cannot make a queue or its queue may exist; else ``HttpError``."""
        if (route.method, route.pattern) not in _CREATING:
            return
        name = params["queue"]
        if name in self._known:
            return
        with self._lock:
            now = time.monotonic()
            if len(self._known) >= self.limit and now - self._read_at >= _REFRESH_SECONDS:
                self._known = set(self._store.queue_names())
                self._read_at = now
            if name not in self._known and len(self._known) >= self.limit:
                raise HttpError(
                    422,
                    f"this server holds at most {self.limit} queues (its max_queues setting): "
                    f"queue {name!r} would be one more; clear a queue no longer used first",
                )
            # Counted from now: a request failing after this only makes the count high until
            # the next refusal reads the list again.
            self._known.add(name)
