"""The in-memory backend: the queue rules with no storage at all.

It is the reference implementation of the contract and a fast test double: ``PyQueue(
queue_type="memory")`` behaves like a local queue that lives only as long as the object.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from .._semantics import Clock, Counts, QueueState
from .._types import QueueInfo
from ._stateful import StatefulBackend

__all__ = ["MemoryBackend"]


class MemoryBackend(StatefulBackend):
    """A queue held in this process's memory, safe to share between threads."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self._state = QueueState()
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self) -> Iterator[QueueState]:
        with self._lock:
            yield self._state
            self._state.dirty.clear()

    def _info(self, counts: Counts) -> QueueInfo:
        return {
            "queue_type": "memory",
            "message_count": counts["message_count"],
            "visible_messages": counts["visible_messages"],
            "invisible_messages": counts["invisible_messages"],
            "never_received": counts["never_received"],
            "total_receives": counts["total_receives"],
        }
