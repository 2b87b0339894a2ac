"""pyqueue_client: message queues with Amazon-SQS semantics on the standard library alone.

>>> from pyqueue_client import PyQueue
>>> queue = PyQueue(queue_type="memory")
>>> queue.add_message({"task": "send_email"}, item_id="m1")
'm1'
>>> [m["Id"] for m in queue.receive_messages(max_messages=5)]
['m1']
"""

import logging

from ._errors import (
    AuthenticationError,
    ConfigurationError,
    InsecureApiKeyWarning,
    LockTimeoutError,
    PermissionDeniedError,
    PyQueueError,
    QueueCorruptedError,
    QueueNotFoundError,
    QueuePathError,
    RemoteError,
    RequestRejectedError,
    StorageError,
    UnsupportedOperationError,
    ValidationError,
)
from ._facade import QUEUE_FILE_PATH, PyQueue, copy_queue
from ._types import (
    BatchDeleteFailure,
    DeleteFailureReason,
    DeleteMessagesResult,
    FileQueueType,
    MessageBody,
    QueueAttributes,
    QueueInfo,
    QueueType,
    ReceivedMessage,
    StoredMessage,
)
from ._worker import Worker, WorkerStats

__all__ = [
    "QUEUE_FILE_PATH",
    "AuthenticationError",
    "BatchDeleteFailure",
    "ConfigurationError",
    "DeleteFailureReason",
    "DeleteMessagesResult",
    "FileQueueType",
    "InsecureApiKeyWarning",
    "LockTimeoutError",
    "MessageBody",
    "PermissionDeniedError",
    "PyQueue",
    "PyQueueError",
    "QueueAttributes",
    "QueueCorruptedError",
    "QueueInfo",
    "QueueNotFoundError",
    "QueuePathError",
    "QueueType",
    "ReceivedMessage",
    "RemoteError",
    "RequestRejectedError",
    "StorageError",
    "StoredMessage",
    "UnsupportedOperationError",
    "ValidationError",
    "Worker",
    "WorkerStats",
    "__version__",
    "copy_queue",
]

__version__ = "2.0.0.dev1"

logging.getLogger(__name__).addHandler(logging.NullHandler())
