"""The storage contract every backend fulfils, one docstring per method.

The facade validates and normalizes arguments before calling a backend, so a backend may trust
them: ids are non-empty strings, bodies are JSON objects, numbers are in range. Results are the
public TypedDicts, never internal objects a caller could mutate.
"""

from __future__ import annotations

from typing import List, Optional, Protocol, Sequence

from ._semantics import NewMessage, Record
from ._types import DeleteMessagesResult, MessageBody, QueueInfo, ReceivedMessage, StoredMessage

__all__ = ["QueueBackend"]


class QueueBackend(Protocol):
    """A queue with SQS semantics. Every method is atomic with respect to every other caller."""

    def add_messages(self, items: Sequence[NewMessage]) -> List[str]:
        """Append messages in order; an id already present is a no-op. Returns the ids."""

    def get_messages(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        """``max_messages`` messages in order (all when None) from position ``offset``."""

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        """The message with this id, or None."""

    def check_existence(self, item_ids: Sequence[str]) -> List[str]:
        """The given ids that exist, in the given order."""

    def receive_messages(
        self,
        max_messages: int,
        visibility_timeout: float,
        delete_after_receive: bool,
        only_new: bool,
    ) -> List[ReceivedMessage]:
        """Receive up to ``max_messages`` visible messages (see ``QueueState.receive``)."""

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        """Delete by current receipt handle; stale, unknown or invalid handles fail individually."""

    def remove_message(self, item_id: str) -> bool:
        """Delete by id; False when absent."""

    def update_message(self, item_id: str, body: MessageBody) -> bool:
        """Replace the body, refresh the timestamp, keep tracking fields; False when absent."""

    def clear_queue(self) -> None:
        """Remove every message."""

    def get_queue_info(self) -> QueueInfo:
        """Statistics: the counting keys plus the backend's own."""

    def health_check(self) -> bool:
        """Whether the queue can be read now. Never raises."""

    def cleanup_expired_messages(self) -> bool:
        """Clear expired visibility timeouts where the backend stores them; False if it cannot."""

    def export_records(self) -> List[Record]:
        """Every message with all its tracking fields (receipt handle included), in queue order."""

    def import_records(self, records: Sequence[Record]) -> int:
        """Append records exactly as given; ids already present are skipped. Returns the count."""

    def close(self) -> None:
        """Release connections and handles; the backend is not used afterwards."""
