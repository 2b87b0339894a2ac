"""Long polling for the local backends: wait for a message without spinning.

A receive that finds nothing waits until something may have changed: a write by this process
(every queue object of the same storage shares one :class:`Changes` through ``changes_for``), a
write by another process (a file the writer touches changes its size or time: the JSON queue
file, SQLite's write-ahead log), or the moment the next hidden message becomes visible again
(its delay or visibility timeout ends). Other processes are noticed by a ``stat`` every
:data:`POLL_SECONDS`; this process's writes wake a waiter at once.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

from .._semantics import Delivery
from .._times import Clock, parse_time
from .._types import QueueAttributes

__all__ = [
    "POLL_SECONDS",
    "Changes",
    "LongPolling",
    "changes_for",
    "receive_waiting",
    "seconds_until",
]

#: How often a waiter looks for other processes' writes (a stat of one file).
POLL_SECONDS = 0.01

_Item = TypeVar("_Item")
#: What a waiter compares to see a change: this process's writes, and the watched file.
_Mark = Tuple[int, Optional[Tuple[int, int, int]]]


class Changes:
    """Writes to one queue's storage, as seen from this process."""

    def __init__(self, watched: Optional[str]) -> None:
        self._watched = watched
        self._writes = 0
        self._condition = threading.Condition()

    def notify(self) -> None:
        """Tell this process's waiters that the queue changed."""
        with self._condition:
            self._writes += 1
            self._condition.notify_all()

    def mark(self) -> _Mark:
        """The state to compare against later."""
        return self._writes, self._stat()

    def _stat(self) -> Optional[Tuple[int, int, int]]:
        if self._watched is None:
            return None
        try:
            stat = os.stat(self._watched)
        except OSError:
            return None
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    def wait(self, mark: _Mark, timeout: float) -> None:
        """Return once the queue changed since ``mark``, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self.mark() == mark:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                poll = remaining if self._watched is None else min(remaining, POLL_SECONDS)
                self._condition.wait(poll)


_registry: Dict[str, Changes] = {}
_registry_lock = threading.Lock()


def changes_for(key: str, watched: Optional[str] = None) -> Changes:
    """The one :class:`Changes` of the storage ``key`` in this process (created on first use);
    ``watched`` is the file other processes' writes touch, if any."""
    with _registry_lock:
        changes = _registry.get(key)
        if changes is None:
            changes = _registry[key] = Changes(watched)
        return changes


def seconds_until(moment: Optional[str], clock: Clock) -> Optional[float]:
    """Seconds from the queue's clock's now to the canonical time ``moment`` (None: never)."""
    if moment is None:
        return None
    now: datetime = clock()
    return (parse_time(moment) - now).total_seconds()


def receive_waiting(
    receive_once: Callable[[], List[_Item]],
    next_visible_in: Callable[[], Optional[float]],
    changes: Changes,
    wait_seconds: float,
) -> List[_Item]:
    """``receive_once`` until it returns something or ``wait_seconds`` have passed.

    Between tries, sleeps until the queue changes or the next hidden message becomes visible
    (``next_visible_in``: seconds, or None), whichever comes first.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        mark = changes.mark()
        received = receive_once()
        remaining = deadline - time.monotonic()
        if received or remaining <= 0:
            return received
        upcoming = next_visible_in()
        if upcoming is not None:
            # a moment after the hiding time, so the next try finds the message visible
            remaining = min(remaining, max(upcoming, 0) + 0.001)
        changes.wait(mark, remaining)


class LongPolling(ABC):
    """``receive_messages`` for the local backends: the queue's attributes fill what the call
    leaves to them, then one receive after another until a message comes or the wait ends."""

    _changes: Changes

    @abstractmethod
    def _receive_once(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
    ) -> Tuple[List[Delivery], QueueAttributes]:
        """One receive, without waiting (None: the queue's visibility timeout); returns the
        deliveries and the attributes it read."""

    @abstractmethod
    def _next_visible_in(self) -> Optional[float]:
        """Seconds until the next hidden message becomes visible (None: none is hidden)."""

    def receive_messages(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
        wait_seconds: Optional[float] = 0,
    ) -> List[Delivery]:
        """See ``QueueCore.receive_messages``. The first try reads the queue's attributes
        along the way; only an empty one goes on to wait."""
        delivered, attributes = self._receive_once(
            max_messages, visibility_timeout, delete_after_receive, only_new
        )
        if wait_seconds is None:
            wait_seconds = attributes["wait_time_seconds"]
        if delivered or wait_seconds <= 0:
            return delivered
        # the same timeout for every try, even if the attribute changes during the wait
        timeout = (
            attributes["visibility_timeout"] if visibility_timeout is None else visibility_timeout
        )

        def receive_once() -> List[Delivery]:
            return self._receive_once(max_messages, timeout, delete_after_receive, only_new)[0]

        return receive_waiting(receive_once, self._next_visible_in, self._changes, wait_seconds)
