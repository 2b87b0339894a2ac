"""The JSON the server answers with: the existing server's shapes plus this library's names.

Both the original client (snake_case: ``id``, ``receipt_handle``, ``status``...) and readers of
this library's README (``Id``, ``ReceiptHandle``, ``first_received_at``...) find their keys.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

from .._types import QueueInfo, ReceivedMessage, StoredMessage
from ._params import JsonObject

__all__ = ["envelope", "peeked", "queue_info", "queue_summary", "received"]


def peeked(message: StoredMessage, now: str) -> JsonObject:
    """A message seen without receiving it; its receipt handle is never shown."""
    until = message["invisible_until"]
    in_flight = until is not None and until > now
    return {
        "id": message["id"],
        "message_body": message["message_body"],
        "timestamp": message["timestamp"],
        "status": "in_flight" if in_flight else "available",
        "visibility_timeout": until if in_flight else None,
        "receipt_handle": None,
        "receive_count": message["receive_count"],
        "first_received_at": message["first_received_at"],
        "invisible_until": until,
    }


def received(message: ReceivedMessage, until: Optional[str]) -> JsonObject:
    """A message handed to a consumer; ``until`` is None when it was deleted on receipt."""
    return {
        "id": message["Id"],
        "message_body": message["message_body"],
        "timestamp": message["timestamp"],
        "status": "in_flight" if until is not None else "processed",
        "visibility_timeout": until,
        "receipt_handle": message["ReceiptHandle"],
        "receive_count": message["receive_count"],
        "Id": message["Id"],
        "ReceiptHandle": message["ReceiptHandle"],
        "first_received_at": message["first_received_at"],
    }


def envelope(messages: Sequence[JsonObject], total: int, offset: int, limit: int) -> JsonObject:
    """The list answer of peek and receive."""
    return {
        "messages": list(messages),
        "count": len(messages),
        "total": total,
        "offset": offset,
        "limit": limit,
        "has_more": offset + len(messages) < total,
    }


def queue_info(name: str, info: QueueInfo, now: str) -> JsonObject:
    """``GET /queues/{q}/info``: the existing server's keys and the library's counting keys.

    Queues are not created or tracked apart from their messages, so both times are ``now``, as
    the existing server reports for a queue it has never seen. No file path is ever included.
    """
    return {
        "queue_name": name,
        "message_count": info["message_count"],
        "available_messages": info["visible_messages"],
        "in_flight_messages": info["invisible_messages"],
        "queue_size_bytes": 0,
        "created_timestamp": now,
        "last_modified": now,
        "visible_messages": info["visible_messages"],
        "invisible_messages": info["invisible_messages"],
        "never_received": info["never_received"],
        "total_receives": info["total_receives"],
        "delayed_messages": info["delayed_messages"],
    }


def queue_summary(name: str, info: QueueInfo, permissions: List[str]) -> JsonObject:
    """One entry of ``GET /queues``."""
    return {
        "queue_name": name,
        "message_count": info["message_count"],
        "available_messages": info["visible_messages"],
        "in_flight_messages": info["invisible_messages"],
        "permissions": permissions,
    }
