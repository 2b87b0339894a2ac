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
from ._stateful import StatefulQueue, Take, give
from ._waiting import Changes

__all__ = ["MemoryQueue", "MemoryStore"]


class MemoryStore:
    """Named in-memory queues and their attributes, living as long as this object.

    One lock guards every queue of the store, so a move between two of them is one step.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._queues: Dict[str, MemoryQueue] = {}
        self._attributes: Dict[str, QueueAttributes] = {}
        self.lock = threading.RLock()

    def open_queue(self, name: str) -> MemoryQueue:
        """The queue called ``name``, made empty the first time."""
        with self.lock:
            queue = self._queues.get(name)
            if queue is None:
                queue = self._queues[name] = MemoryQueue(self, name, self._clock)
            return queue

    def queue_names(self) -> List[str]:
        """The queues opened or configured so far, sorted."""
        with self.lock:
            return sorted({*self._queues, *self._attributes})

    def get_attributes(self, name: str) -> QueueAttributes:
        with self.lock:
            return self._attributes.get(name, DEFAULT_ATTRIBUTES).copy()

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        with self.lock:
            current = self._attributes.get(name, DEFAULT_ATTRIBUTES)
            self._attributes[name] = changed_attributes(current, changes)
            return self._attributes[name].copy()

    def health_check(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release."""


class MemoryQueue(StatefulQueue):
    """A queue held in this process's memory, safe to share between threads."""

    def __init__(self, store: MemoryStore, name: str, clock: Clock) -> None:
        super().__init__(clock, name, Changes(None))
        self._store = store
        self.state = QueueState()

    @contextmanager
    def _transaction(self) -> Iterator[QueueState]:
        with self._store.lock:
            yield self.state
            self.state.dirty.clear()

    def _move(self, other: str, take: Take, kind: str) -> None:
        with self._store.lock:
            partner = self._store.open_queue(other)
            records = take(self.state)
            give(kind, partner.state, records, self.name)
            self.state.dirty.clear()
            partner.state.dirty.clear()
        if records:
            partner._changes.notify()

    def _attributes(self) -> QueueAttributes:
        return self._store.get_attributes(self.name)

    def _info(self, counts: Counts) -> QueueInfo:
        return counts.info("memory")
