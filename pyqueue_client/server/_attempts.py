"""Receive attempts: a repeated receive answers what the first one did (SQS's
``ReceiveRequestAttemptId``).

A client whose receive got no answer (its connection dropped) cannot know whether the server
received it. It repeats the request with the same attempt id; if the first one was served, the
repeat gets the same messages with the same receipt handles, so nothing is hidden twice and
nothing deleted on receive is lost. Answers are kept per queue and attempt id for
:data:`KEEP_SECONDS`, with at most :data:`MAX_KEPT_MESSAGES` messages in all (the oldest answers
go first); an empty answer is not kept (repeating it receives afresh, which is as good). A repeat
that arrives while the first is still being served (held by a long poll) waits for its answer.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = ["KEEP_SECONDS", "MAX_ATTEMPT_ID", "MAX_KEPT_MESSAGES", "Attempts", "attempts_of"]

#: How long an answer is kept for a repeat (SQS keeps its attempts five minutes).
KEEP_SECONDS = 300.0
#: The most messages kept at once in answers, over every queue (a bound on the memory used).
MAX_KEPT_MESSAGES = 10_000
#: The longest attempt id accepted (as SQS).
MAX_ATTEMPT_ID = 128
#: The longest a repeat waits for the first attempt's answer (beyond the longest long poll).
_REPEAT_WAIT = 60.0

_Answer = Dict[str, Any]
#: Made for each attempt (tests watch who waits on it).
_new_event = threading.Event


class _Attempt:
    """One attempt: done once its first request was answered (``answer`` None: it failed).
    ``size`` is what it counts against the limit: its messages, or 1 while it is served."""

    __slots__ = ("answer", "done", "expires", "size")

    def __init__(self) -> None:
        self.done = _new_event()
        self.answer: Optional[_Answer] = None
        self.expires = 0.0
        self.size = 1


class Attempts:
    """The recent receive answers of one store, by queue and attempt id; thread-safe.

    At most ``limit`` messages are kept over every answer (an attempt being served counts as
    one): beyond that, the oldest answers go first.
    """

    def __init__(
        self,
        keep_seconds: float = KEEP_SECONDS,
        limit: int = MAX_KEPT_MESSAGES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep = keep_seconds
        self._limit = limit
        self._monotonic = monotonic
        self._attempts: OrderedDict[Tuple[str, str], _Attempt] = OrderedDict()
        self._kept = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._attempts)

    def answer(self, queue: str, attempt_id: str, serve: Callable[[], _Answer]) -> _Answer:
        """The answer of the attempt ``attempt_id`` on ``queue``: ``serve()``'s the first time,
        the same again for a repeat while it is kept."""
        key = (queue, attempt_id)
        with self._lock:
            self._forget_expired()
            earlier = self._attempts.get(key)
            if earlier is None:
                mine = self._attempts[key] = _Attempt()
                self._kept += mine.size
                self._trim()
        if earlier is not None:
            earlier.done.wait(_REPEAT_WAIT)
            if earlier.answer is not None:
                return earlier.answer
            return self.answer(queue, attempt_id, serve)  # the first failed: this one serves
        try:
            mine.answer = serve()
        finally:
            self._settle(key, mine)
        return mine.answer

    def _settle(self, key: Tuple[str, str], attempt: _Attempt) -> None:
        """Keep a served attempt's answer if it holds messages; forget it otherwise."""
        messages = len(attempt.answer.get("messages") or ()) if attempt.answer else 0
        with self._lock:
            attempt.expires = self._monotonic() + self._keep
            if self._attempts.get(key) is attempt:
                if messages:
                    self._kept += messages - attempt.size
                    attempt.size = messages
                else:
                    self._remove(key)
                self._trim()
        attempt.done.set()

    def _remove(self, key: Tuple[str, str]) -> None:
        self._kept -= self._attempts.pop(key).size

    def _trim(self) -> None:
        """Drop the oldest answers until what is kept is within the limit."""
        while self._kept > self._limit and self._attempts:
            self._remove(next(iter(self._attempts)))

    def _forget_expired(self) -> None:
        """Drop the answers kept long enough; they are in the order they started."""
        now = self._monotonic()
        while self._attempts:
            key, oldest = next(iter(self._attempts.items()))
            if not oldest.done.is_set() or oldest.expires > now:
                break
            self._remove(key)


_BY_STORE: weakref.WeakKeyDictionary[object, Attempts] = weakref.WeakKeyDictionary()
_BY_STORE_LOCK = threading.Lock()


def attempts_of(store: object) -> Attempts:
    """The receive attempts of ``store`` (one set per store, gone with it)."""
    with _BY_STORE_LOCK:
        found = _BY_STORE.get(store)
        if found is None:
            found = _BY_STORE[store] = Attempts()
        return found
