"""The shared body of queues that keep a :class:`QueueState`: each call is one transaction.

A subclass supplies ``_transaction()`` (lock, load, yield the state, persist what is dirty),
``_move()`` (the same for this queue and another at once: records taken out of one go into the
other, for dead letters and redrive), ``_attributes()`` and ``_info()``; the queue rules come
from ``_semantics``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Callable, ContextManager, List, Optional, Sequence, Tuple

from .._semantics import Counts, Delivery, NewMessage, QueueState, Record, policy_of
from .._times import Clock
from .._types import DeleteMessagesResult, MessageBody, QueueAttributes, QueueInfo, StoredMessage
from ._waiting import Changes, LongPolling, seconds_until

__all__ = ["DEAD_LETTER", "REDRIVE", "StatefulQueue", "Take", "give"]

#: Takes records out of a queue's state for another queue.
Take = Callable[[QueueState], List[Record]]
#: Why records move: to the dead-letter queue, or back from it.
DEAD_LETTER = "dead_letter"
REDRIVE = "redrive"


def give(kind: str, receiver: QueueState, records: List[Record], source: str) -> None:
    """Put records taken out of queue ``source`` into ``receiver``, as a move of ``kind`` does.

    Doing it twice is harmless (a crashed move is finished by doing it again)."""
    if kind == DEAD_LETTER:
        receiver.take_dead_letters(records, source)
    else:
        receiver.take_redriven(records)


class StatefulQueue(LongPolling):
    """Implements ``QueueCore`` and ``Inspectable`` over a ``QueueState`` that subclasses keep.

    ``name`` is how the queue's store names it (a dead letter records it as its source).
    """

    def __init__(self, clock: Clock, name: str, changes: Changes) -> None:
        self._clock = clock
        self.name = name
        self._changes = changes

    @abstractmethod
    def _transaction(self) -> ContextManager[QueueState]:
        """Exclusive access to the current state; changes (``state.dirty``) are kept on exit."""

    @abstractmethod
    def _move(self, other: str, take: Take, kind: str) -> None:
        """With this queue and queue ``other`` both held: ``take`` records out of this queue's
        state, then :func:`give` them to ``other``'s; never lost, never left in both."""

    @abstractmethod
    def _attributes(self) -> QueueAttributes:
        """The queue's attributes as stored now."""

    @abstractmethod
    def _info(self, counts: Counts) -> QueueInfo:
        """``get_queue_info``'s answer: the counts plus the backend's own keys."""

    def add_messages(
        self, items: Sequence[NewMessage], delay_seconds: Optional[float] = None
    ) -> List[str]:
        if delay_seconds is None:
            delay_seconds = self._attributes()["delay_seconds"]
        with self._transaction() as state:
            ids = state.add(items, self._clock(), delay_seconds)
        self._changes.notify()
        return ids

    def _reading(self) -> ContextManager[QueueState]:
        """A transaction for a call that only reads (a subclass may skip creating storage)."""
        return self._transaction()

    def get_messages(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        with self._reading() as state:
            return state.peek(max_messages, offset)

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        with self._reading() as state:
            return state.get(item_id)

    def check_existence(self, item_ids: Sequence[str]) -> List[str]:
        with self._reading() as state:
            return state.existing(item_ids)

    def _receive_once(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
    ) -> Tuple[List[Delivery], QueueAttributes]:
        attributes = self._attributes()
        if visibility_timeout is None:
            visibility_timeout = attributes["visibility_timeout"]
        timeout = visibility_timeout
        policy = policy_of(attributes)
        now = self._clock()
        dead_letter_queue = attributes["dead_letter_queue"] if policy.max_receive_count else None
        if dead_letter_queue is None:
            with self._transaction() as state:
                receipt = state.receive(
                    now, max_messages, timeout, delete_after_receive, only_new, policy
                )
            return receipt.deliveries, attributes
        deliveries: List[Delivery] = []

        def take(state: QueueState) -> List[Record]:
            receipt = state.receive(
                now, max_messages, timeout, delete_after_receive, only_new, policy
            )
            deliveries.extend(receipt.deliveries)
            return receipt.dead

        self._move(dead_letter_queue, take, DEAD_LETTER)
        return deliveries, attributes

    def _next_visible_in(self) -> Optional[float]:
        with self._reading() as state:
            moment = state.next_visible_at(self._clock())
        return seconds_until(moment, self._clock)

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        with self._transaction() as state:
            return state.delete(receipt_handles)

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float
    ) -> DeleteMessagesResult:
        with self._transaction() as state:
            result = state.change_visibility(receipt_handles, visibility_timeout, self._clock())
        self._changes.notify()
        return result

    def redrive_messages(self, max_messages: Optional[int]) -> int:
        """Move dead letters back to the queues they came from, oldest first."""
        with self._reading() as state:
            by_source = state.dead_letters(max_messages)
        return sum(self._redrive_to(source, ids) for source, ids in by_source.items())

    def _redrive_to(self, source: str, item_ids: List[str]) -> int:
        taken: List[Record] = []

        def take(state: QueueState) -> List[Record]:
            taken.extend(state.take_for_redrive(item_ids, source))
            return taken

        self._move(source, take, REDRIVE)
        return len(taken)

    def remove_message(self, item_id: str) -> bool:
        with self._transaction() as state:
            return state.remove(item_id)

    def update_message(self, item_id: str, body: MessageBody) -> bool:
        with self._transaction() as state:
            return state.update(item_id, body, self._clock())

    def clear_queue(self) -> None:
        with self._transaction() as state:
            state.clear()

    def get_queue_info(self) -> QueueInfo:
        with self._reading() as state:
            return self._info(state.counts(self._clock()))

    def health_check(self) -> bool:
        try:
            with self._reading():
                return True
        except Exception:
            return False

    def cleanup_expired_messages(self) -> bool:
        with self._transaction() as state:
            state.cleanup_expired(self._clock())
        return True

    def export_records(self) -> List[Record]:
        with self._reading() as state:
            return state.export_records()

    def import_records(self, records: Sequence[Record]) -> int:
        with self._transaction() as state:
            added = state.import_records(records)
        self._changes.notify()
        return added
