"""The shared body of queues that keep a :class:`QueueState`: each call is one transaction.

A subclass supplies ``_transaction()`` (lock, load, yield the state, persist what is dirty) and
``_info()`` (its ``get_queue_info`` answer); the queue rules come from ``_semantics``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ContextManager, List, Optional, Sequence

from .._semantics import Counts, Delivery, NewMessage, QueueState, Record
from .._times import Clock
from .._types import DeleteMessagesResult, MessageBody, QueueInfo, StoredMessage

__all__ = ["StatefulQueue"]


class StatefulQueue(ABC):
    """Implements ``QueueCore`` and ``Inspectable`` over a ``QueueState`` that subclasses keep."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    @abstractmethod
    def _transaction(self) -> ContextManager[QueueState]:
        """Exclusive access to the current state; changes (``state.dirty``) are kept on exit."""

    @abstractmethod
    def _info(self, counts: Counts) -> QueueInfo:
        """``get_queue_info``'s answer: the counts plus the backend's own keys."""

    def add_messages(self, items: Sequence[NewMessage], delay_seconds: float = 0) -> List[str]:
        with self._transaction() as state:
            return state.add(items, self._clock(), delay_seconds)

    def get_messages(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        with self._transaction() as state:
            return state.peek(max_messages, offset)

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        with self._transaction() as state:
            return state.get(item_id)

    def check_existence(self, item_ids: Sequence[str]) -> List[str]:
        with self._transaction() as state:
            return state.existing(item_ids)

    def receive_messages(
        self,
        max_messages: int,
        visibility_timeout: float,
        delete_after_receive: bool,
        only_new: bool,
    ) -> List[Delivery]:
        with self._transaction() as state:
            return state.receive(
                self._clock(), max_messages, visibility_timeout, delete_after_receive, only_new
            )

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        with self._transaction() as state:
            return state.delete(receipt_handles)

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float
    ) -> DeleteMessagesResult:
        with self._transaction() as state:
            return state.change_visibility(receipt_handles, visibility_timeout, self._clock())

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
        with self._transaction() as state:
            return self._info(state.counts(self._clock()))

    def health_check(self) -> bool:
        try:
            with self._transaction():
                return True
        except Exception:
            return False

    def cleanup_expired_messages(self) -> bool:
        with self._transaction() as state:
            state.cleanup_expired(self._clock())
        return True

    def export_records(self) -> List[Record]:
        with self._transaction() as state:
            return state.export_records()

    def import_records(self, records: Sequence[Record]) -> int:
        with self._transaction() as state:
            return state.import_records(records)
