"""The exception hierarchy: one root, and each leaf also a builtin a user would naturally catch.

Who is at fault decides the builtin: the caller (``ValueError``), the storage (``OSError``),
a wait that ran out (``TimeoutError``), the network or server (``ConnectionError``).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "InsecureApiKeyWarning",
    "LockTimeoutError",
    "PermissionDeniedError",
    "PyQueueError",
    "QueueCorruptedError",
    "QueueNotFoundError",
    "QueuePathError",
    "RemoteError",
    "RequestRejectedError",
    "StorageError",
    "UnsupportedOperationError",
    "ValidationError",
]


class PyQueueError(Exception):
    """Root of every error this library raises on purpose."""


class ValidationError(PyQueueError, ValueError):
    """An argument is out of range or of the wrong kind; nothing was changed."""


class ConfigurationError(PyQueueError, ValueError):
    """``PyQueue(...)`` was given options that cannot work together (unknown queue type, ...)."""


class StorageError(PyQueueError, OSError):
    """The queue's storage could not be read or written; the stored state is unchanged.

    ``path`` names the file involved.
    """

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.args[0], self.path))


class QueuePathError(ConfigurationError, StorageError):
    """The queue file's path cannot be used, for instance because its folder does not exist."""

    def __init__(self, message: str, path: str) -> None:
        StorageError.__init__(self, message, path)


class QueueCorruptedError(StorageError):
    """The queue file does not hold a valid queue. It is left exactly as it was found.

    ``reason`` says what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        message = (
            f"queue file {path!r} is corrupted: {reason}. It was not modified; "
            "repair it or move it aside to start an empty queue."
        )
        super().__init__(message, path)
        self.reason = reason

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.path, self.reason))


class LockTimeoutError(PyQueueError, TimeoutError):
    """Another process or thread held the queue's lock for longer than ``lock_timeout``."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(
            f"could not lock {path!r} within {timeout:g} s: another process is holding it. "
            "Raise lock_timeout or find the process that holds the lock."
        )
        self.path = path
        self.timeout = timeout

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.path, self.timeout))


class RemoteError(PyQueueError, ConnectionError):
    """The server could not be reached, or answered with an error (5xx, or a reply we can't read).

    ``url`` is the request's URL (never with the API key), ``status`` the HTTP status or None when
    there was no answer, and ``detail`` the server's own explanation when it gave one. A builtin
    ``ConnectionError``, as the original library raised.
    """

    def __init__(self, message: str, url: str, status: Optional[int] = None, detail: str = ""):
        super().__init__(message)
        self.url = url
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.args[0], self.url, self.status, self.detail))


class AuthenticationError(RemoteError):
    """The server refused the API key: missing or wrong (401, or the existing server's 422)."""


class PermissionDeniedError(AuthenticationError):
    """The API key is valid but lacks the permission this call needs on this queue (403)."""


class RequestRejectedError(RemoteError, ValidationError):
    """The server refused a request's arguments (400, 413 or 422); nothing was changed.

    Both a ``RemoteError`` (it carries ``url``, ``status`` and ``detail``) and a
    ``ValidationError``, so it is caught as the ``ValueError`` a bad argument raises locally.
    """


class UnsupportedOperationError(PyQueueError, NotImplementedError):
    """This kind of queue cannot do the call (Amazon SQS cannot peek, for example).

    ``operation`` names the public method and ``queue_type`` the kind of queue. A builtin
    ``NotImplementedError`` too, so code that probes for a capability can catch that.
    """

    def __init__(
        self,
        operation: str,
        queue_type: str,
        reason: str = "this kind of queue has no such operation",
    ) -> None:
        super().__init__(f"{operation}() is not supported by queue_type={queue_type!r}: {reason}")
        self.operation = operation
        self.queue_type = queue_type
        self.reason = reason

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.operation, self.queue_type, self.reason))


class QueueNotFoundError(PyQueueError, LookupError):
    """The named queue does not exist (Amazon SQS: ``QueueDoesNotExist``).

    ``queue`` names it. Pass ``create_queue=True`` to create it instead.
    """

    def __init__(self, queue: str, detail: str = "") -> None:
        super().__init__(
            f"queue {queue!r} does not exist{f' ({detail})' if detail else ''}; create it "
            "first, or pass create_queue=True"
        )
        self.queue = queue
        self.detail = detail

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.queue, self.detail))


class InsecureApiKeyWarning(UserWarning):
    """An API key is sent unencrypted: plain ``http://`` to a host other than this machine."""
