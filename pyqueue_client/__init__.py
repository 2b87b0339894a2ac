"""pyqueue_client: message queues with Amazon-SQS semantics on the standard library alone.

>>> from pyqueue_client import PyQueue
>>> queue = PyQueue(queue_type="memory")
>>> queue.add_message({"task": "send_email"}, item_id="m1")
'm1'
>>> [m["Id"] for m in queue.receive_messages(max_messages=5)]
['m1']
"""

import logging
from typing import TYPE_CHECKING, List

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

if TYPE_CHECKING:
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

#: Public names imported on first use, not with the package (PEP 562): a program that only
#: sends and receives (a cold start, a short script) never pays for the worker's imports.
_FROM_WORKER = ("Worker", "WorkerStats")


# Hidden from type checkers: a module-level __getattr__ would make them accept any name as an
# attribute of the package; they see Worker and WorkerStats through the import above instead.
if not TYPE_CHECKING:  # pragma: no branch - false only for type checkers

    def __getattr__(name: str) -> object:
        """``pyqueue_client.Worker`` and ``from pyqueue_client import Worker`` (and
        ``WorkerStats``) import the worker's module on first use."""
        if name not in _FROM_WORKER:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        # relative, so that a vendored copy imports its own worker
        from . import _worker  # noqa: PLC0415 - the point: only on first use

        value = getattr(_worker, name)
        globals()[name] = value  # later look-ups find it without coming here
        return value


def __dir__() -> List[str]:
    """The module's names, the lazily imported ones included."""
    return sorted(set(globals()) | set(_FROM_WORKER))
