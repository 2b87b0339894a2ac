"""The contracts every backend fulfils: a store of named queues, and each queue's calls.

Two levels, as in Amazon SQS. A :class:`Store` opens queues by name, lists them and keeps each
queue's attributes. A :class:`QueueCore` is what every queue can do, SQS included: send (with a
delay), receive (each delivery says when the message becomes visible again), delete and change
visibility by receipt handle, purge, count. :class:`Inspectable` is a capability on top: peek,
calls by message id, and export/import of whole records. A backend that cannot do them does not
pretend; the facade raises ``UnsupportedOperationError`` for it.

The facade validates and normalizes arguments before calling a backend, so a backend may trust
them: ids are non-empty strings, bodies are JSON objects, numbers are in range. Results are the
public TypedDicts, never internal objects a caller could mutate. Every call is atomic with
respect to every other caller.
"""

from __future__ import annotations

from typing import List, Mapping, Optional, Protocol, Sequence, runtime_checkable

from ._semantics import Delivery, NewMessage, Record
from ._types import (
    DeleteMessagesResult,
    MessageBody,
    QueueAttributes,
    QueueInfo,
    StoredMessage,
)

__all__ = ["Delivery", "Inspectable", "QueueCore", "Store"]


class QueueCore(Protocol):
    """One queue with SQS semantics: what every backend can do."""

    def add_messages(
        self, items: Sequence[NewMessage], delay_seconds: Optional[float] = None
    ) -> List[str]:
        """Append messages in order, hidden for ``delay_seconds`` (None: the queue's delay); an
        id already present is a no-op. Returns the ids."""

    def receive_messages(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
        wait_seconds: Optional[float] = 0,
    ) -> List[Delivery]:
        """Receive up to ``max_messages`` visible messages (see ``QueueState.receive``), under
        the queue's dead-letter and retention policy; when there are none, wait up to
        ``wait_seconds`` for one. None: the queue's attribute."""

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        """Delete by current receipt handle; stale, unknown or invalid handles fail individually."""

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float
    ) -> DeleteMessagesResult:
        """Hide by current receipt handle until now + ``visibility_timeout``; per-handle failures
        as ``delete_messages``."""

    def redrive_messages(self, max_messages: Optional[int]) -> int:
        """Move this dead-letter queue's messages back to the queues they came from, as new,
        oldest first (all when None). Returns how many moved."""

    def clear_queue(self) -> None:
        """Remove every message."""

    def get_queue_info(self) -> QueueInfo:
        """Statistics: the counting keys plus the backend's own."""

    def health_check(self) -> bool:
        """Whether the queue can be read now. Never raises."""

    def cleanup_expired_messages(self) -> bool:
        """Clear expired visibility timeouts where the backend stores them; False if it cannot."""


@runtime_checkable
class Inspectable(Protocol):
    """The optional capability of looking inside a queue: peek, by-id calls, export/import."""

    def get_messages(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        """``max_messages`` messages in order (all when None) from position ``offset``."""

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        """The message with this id, or None."""

    def check_existence(self, item_ids: Sequence[str]) -> List[str]:
        """The given ids that exist, in the given order."""

    def remove_message(self, item_id: str) -> bool:
        """Delete by id; False when absent."""

    def update_message(self, item_id: str, body: MessageBody) -> bool:
        """Replace the body, refresh the timestamp, keep tracking fields; False when absent."""

    def export_records(self) -> List[Record]:
        """Every message with all its tracking fields (receipt handle included), in queue order."""

    def import_records(self, records: Sequence[Record]) -> int:
        """Append records exactly as given; ids already present are skipped. Returns the count."""


class Store(Protocol):
    """Named queues and their attributes; it owns what they share (files, connections)."""

    def open_queue(self, name: str) -> QueueCore:
        """The queue called ``name`` (a file path for file-per-queue stores); cheap to call."""

    def queue_names(self) -> List[str]:
        """The queues this store knows of, sorted."""

    def get_attributes(self, name: str) -> QueueAttributes:
        """The attributes of queue ``name`` (the defaults for one never configured)."""

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        """Change some attributes of queue ``name`` (already validated); returns them all."""

    def health_check(self) -> bool:
        """Whether the storage can be used now. Never raises."""

    def close(self) -> None:
        """Release files and connections; queues opened from this store are not used after."""
