"""The in-memory backend: the queue rules with no storage at all.

It is the reference implementation of the contract and a fast test double: ``PyQueue(
queue_type="memory")`` behaves like a local queue that lives only as long as the object.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Dict, Iterator, List, Mapping

from .._semantics import Counts, QueueState, changed_attributes
from .._times import Clock
from .._types import DEFAULT_ATTRIBUTES, QueueAttributes, QueueInfo
from ._stateful import StatefulQueue

__all__ = ["MemoryQueue", "MemoryStore"]


class MemoryQueue(StatefulQueue):
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
        return counts.info("memory")


class MemoryStore:
    """Named in-memory queues and their attributes, living as long as this object."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._queues: Dict[str, MemoryQueue] = {}
        self._attributes: Dict[str, QueueAttributes] = {}
        self._lock = threading.Lock()

    def open_queue(self, name: str) -> MemoryQueue:
        """The queue called ``name``, made empty the first time."""
        with self._lock:
            queue = self._queues.get(name)
            if queue is None:
                queue = self._queues[name] = MemoryQueue(self._clock)
            return queue

    def queue_names(self) -> List[str]:
        """The queues opened or configured so far, sorted."""
        with self._lock:
            return sorted({*self._queues, *self._attributes})

    def get_attributes(self, name: str) -> QueueAttributes:
        with self._lock:
            return self._attributes.get(name, DEFAULT_ATTRIBUTES).copy()

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        with self._lock:
            current = self._attributes.get(name, DEFAULT_ATTRIBUTES)
            self._attributes[name] = changed_attributes(current, changes)
            return self._attributes[name].copy()

    def health_check(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release."""
