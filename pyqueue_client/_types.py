"""The shapes that cross the public API: TypedDicts for messages and queue info, Literal aliases."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

__all__ = [
    "BatchDeleteFailure",
    "DeleteFailureReason",
    "DeleteMessagesResult",
    "FileQueueType",
    "MessageBody",
    "QueueAttributes",
    "QueueInfo",
    "QueueType",
    "ReceivedMessage",
    "StoredMessage",
    "StrPath",
]

#: A message body: a JSON object. Values are whatever JSON can hold.
MessageBody = Dict[str, Any]

#: The names accepted by ``PyQueue(queue_type=...)``.
QueueType = Literal["local", "sqlite", "memory", "remote", "sqs"]

#: The queue types that keep messages in a file (``queue_file``); handy when the type is chosen
#: at run time: ``PyQueue(path, queue_type=chosen)`` with ``chosen: FileQueueType``.
FileQueueType = Literal["local", "sqlite"]

#: A filesystem path as the standard library accepts it.
StrPath = Union[str, "os.PathLike[str]"]


class StoredMessage(TypedDict):
    """A message as it sits in the queue (``get_messages``, ``get_message``).

    Timestamps are naive UTC ISO-8601 strings with microseconds. ``first_received_at`` and
    ``invisible_until`` are None until the message is first received. Receipt handles are never
    part of this view: only the consumer that received a message holds its handle.
    """

    id: str
    timestamp: str
    message_body: MessageBody
    receive_count: int
    first_received_at: Optional[str]
    invisible_until: Optional[str]


class ReceivedMessage(TypedDict):
    """A message handed to a consumer by ``receive_messages`` (SQS-style key names)."""

    Id: str
    ReceiptHandle: str
    message_body: MessageBody
    timestamp: str
    receive_count: int
    first_received_at: str


class _QueueInfoExtras(TypedDict, total=False):
    """Keys that only some backends report."""

    queue_file: str
    file_size: int
    queue_name: str
    queue_url: str


class QueueInfo(_QueueInfoExtras):
    """Queue statistics from ``get_queue_info``.

    Every backend reports the counting keys; the local backend adds ``queue_file`` and
    ``file_size`` exactly as the original README shows.
    """

    queue_type: str
    message_count: int
    visible_messages: int
    invisible_messages: int
    never_received: int
    total_receives: int
    #: Hidden messages never received: waiting for their delay to end.
    delayed_messages: int


#: Why ``delete_messages`` could not delete a handle.
DeleteFailureReason = Literal["not_found", "invalid"]


class BatchDeleteFailure(TypedDict):
    """One receipt handle that ``delete_messages`` could not delete, and why."""

    ReceiptHandle: str
    reason: DeleteFailureReason


class DeleteMessagesResult(TypedDict):
    """What ``delete_messages`` did: handles deleted, and handles that failed with a reason.

    ``reason`` is ``"not_found"`` for a handle that is unknown or stale (its message was received
    again, deleted, or removed) and ``"invalid"`` for a value that is not a non-empty string.
    """

    Successful: List[str]
    Failed: List[BatchDeleteFailure]


class QueueAttributes(TypedDict):
    """A queue's policy, stored with the queue so every process and instance obeys it.

    ``visibility_timeout`` (seconds a received message stays hidden, default 30),
    ``delay_seconds`` (how long a new message stays hidden, 0), ``wait_time_seconds`` (how long a
    receive waits for a message, 0), ``retention_seconds`` (None: keep forever),
    ``max_receive_count`` and ``dead_letter_queue`` (None: no dead-letter queue).
    """

    visibility_timeout: float
    delay_seconds: float
    wait_time_seconds: float
    retention_seconds: Optional[float]
    max_receive_count: Optional[int]
    dead_letter_queue: Optional[str]


#: The attributes of a queue nobody has configured.
DEFAULT_ATTRIBUTES: QueueAttributes = {
    "visibility_timeout": 30,
    "delay_seconds": 0,
    "wait_time_seconds": 0,
    "retention_seconds": None,
    "max_receive_count": None,
    "dead_letter_queue": None,
}
