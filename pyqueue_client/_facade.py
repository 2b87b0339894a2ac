"""``PyQueue``: the one public entry point. It validates, opens a queue once, and delegates.

Cross-cutting work lives here (argument checks, id choice, logging of state changes, refusing
calls a backend cannot do); queue behaviour lives in the backends. Adding a backend means one
module in ``_backends`` and one line in ``_BACKENDS`` below.
"""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Literal,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    overload,
)

from . import _validation as check
from ._contract import Inspectable, QueueCore, Store
from ._errors import ConfigurationError, UnsupportedOperationError, ValidationError
from ._ids import new_message_id
from ._semantics import NewMessage, changed_attributes
from ._times import Clock, utc_now
from ._types import (
    DeleteMessagesResult,
    FileQueueType,
    QueueAttributes,
    QueueInfo,
    ReceivedMessage,
    StoredMessage,
    StrPath,
)

if TYPE_CHECKING:  # annotations only: TLS is imported by the backends that use it
    import ssl

__all__ = ["QUEUE_FILE_PATH", "PyQueue", "copy_queue", "store_queues"]

_log = logging.getLogger(f"{__package__}.queue")
_Queue = TypeVar("_Queue", bound="PyQueue")

_ENV_QUEUE_FILE = "QUEUE_FILE_PATH"
#: The default of ``set_queue_attributes``' keywords: "leave this attribute as it is".
_KEEP: Any = object()

#: The default local queue file as the environment named it when the package was imported:
#: ``$QUEUE_FILE_PATH``, else ``"queue.json"`` (as in the original library). ``PyQueue`` reads the
#: variable again each time it is constructed without ``queue_file``.
QUEUE_FILE_PATH: str = os.environ.get(_ENV_QUEUE_FILE, "queue.json")


class _Settings(NamedTuple):
    """Everything a store constructor may need, already validated."""

    queue_file: str
    server_url: Optional[str]
    api_key: Optional[str]
    queue_name: str
    timeout: float
    durable: bool
    lock_timeout: float
    clock: Clock
    ssl_context: Optional[ssl.SSLContext]
    #: The Amazon SQS options (``queue_url``, ``region``, ...), by name; only those given.
    aws: Mapping[str, Any]


#: A store, and the queue the facade works on in it.
_Opened = Tuple[Store, QueueCore]


# Each opener imports its backend on first use, so a program pays only for the queue type it
# uses (SQLite, HTTP and TLS, signing, ...), not for every backend, when it imports the package.


def _local(settings: _Settings) -> _Opened:
    from ._backends.local_json import JsonFileStore  # noqa: PLC0415

    store = JsonFileStore(settings.clock, settings.durable, settings.lock_timeout)
    return store, store.open_queue(settings.queue_file)


def _sqlite(settings: _Settings) -> _Opened:
    from ._backends.sqlite import SqliteStore  # noqa: PLC0415

    store = SqliteStore(
        settings.queue_file, settings.clock, settings.durable, settings.lock_timeout
    )
    return store, store.open_queue(settings.queue_name)


def _memory(settings: _Settings) -> _Opened:
    from ._backends.memory import MemoryStore  # noqa: PLC0415

    store = MemoryStore(settings.clock)
    return store, store.open_queue(settings.queue_name)


def _remote(settings: _Settings) -> _Opened:
    from ._backends.remote_http import RemoteStore  # noqa: PLC0415

    if not settings.server_url:
        raise ConfigurationError(
            "queue_type='remote' needs server_url, e.g. 'http://127.0.0.1:8000'"
        )
    store = RemoteStore(
        settings.server_url, settings.api_key, settings.timeout, settings.ssl_context
    )
    return store, store.open_queue(settings.queue_name)


def _sqs(settings: _Settings) -> _Opened:
    from ._backends.sqs import SqsOptions, SqsStore  # noqa: PLC0415

    options = SqsOptions(timeout=settings.timeout, ssl_context=settings.ssl_context)
    store = SqsStore(settings.queue_name, options._replace(**settings.aws))
    return store, store.open_queue(settings.queue_name)


class _Backend(NamedTuple):
    """One registry entry: how to open the store and queue, its default file (None: none),
    whether each file is one queue (the store then names a queue by its file's path), whether
    it takes the Amazon SQS options, and why it refuses the inspect calls it cannot do."""

    open: Callable[[_Settings], _Opened]
    default_file: Optional[str]
    files_are_queues: bool = False
    aws_options: bool = False
    unsupported_reason: str = "this kind of queue has no such operation"


_BACKENDS: Mapping[str, _Backend] = {
    "local": _Backend(_local, "queue.json", files_are_queues=True),
    "sqlite": _Backend(_sqlite, "queue.db"),
    "memory": _Backend(_memory, None),
    "remote": _Backend(_remote, None),
    "sqs": _Backend(
        _sqs,
        None,
        aws_options=True,
        unsupported_reason="Amazon SQS has no peek and no lookup, change or removal by message "
        "id; use receive_messages() and delete_message(receipt_handle)",
    ),
}


class PyQueue:
    """A message queue with SQS semantics: visibility timeouts, receipt handles, receive counts.

    ``queue_type`` picks where messages live: ``"local"`` (a JSON file shared safely by threads and
    processes), ``"sqlite"`` (named queues in a SQLite database, for throughput and deep queues),
    ``"memory"`` (this object only; for tests), ``"remote"`` (a PyQueue server) or ``"sqs"``
    (Amazon SQS or a compatible server; see docs/sqs.md).
    Every method behaves the same in every mode. Delivery is at-least-once: a received message
    that is not deleted within its visibility timeout is delivered again.

    Keyword-only options: ``durable`` (local and sqlite: fsync every write; default True),
    ``lock_timeout`` (local and sqlite: seconds to wait for another process's lock before
    ``LockTimeoutError``; default 10),
    ``clock`` (a function returning naive UTC ``datetime``; for tests that control time),
    ``ssl_context`` (remote: the ``ssl.SSLContext`` that checks the server's certificate; default
    ``ssl.create_default_context()``).
    Amazon SQS only: ``queue_url`` (instead of ``queue_name``), ``region``, ``endpoint_url``,
    ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``, ``profile`` (found
    as botocore finds them when left out) and ``create_queue`` (create a missing queue instead
    of raising ``QueueNotFoundError``).

    A ``PyQueue`` may be shared between threads, and is a context manager that calls ``close()``.
    """

    @overload
    def __init__(
        self,
        queue_file: Optional[StrPath] = None,
        queue_type: Literal["local"] = "local",
        server_url: None = None,
        api_key: None = None,
        queue_name: str = "default",
        timeout: float = 30,
        *,
        durable: bool = True,
        lock_timeout: float = 10.0,
        clock: Optional[Clock] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: Optional[StrPath],
        queue_type: Literal["sqlite"],
        server_url: None = None,
        api_key: None = None,
        queue_name: str = "default",
        timeout: float = 30,
        *,
        durable: bool = True,
        lock_timeout: float = 10.0,
        clock: Optional[Clock] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: Optional[StrPath] = None,
        *,
        queue_type: Literal["sqlite"],
        queue_name: str = "default",
        durable: bool = True,
        lock_timeout: float = 10.0,
        clock: Optional[Clock] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: Optional[StrPath] = None,
        *,
        queue_type: FileQueueType,
        queue_name: str = "default",
        durable: bool = True,
        lock_timeout: float = 10.0,
        clock: Optional[Clock] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: None,
        queue_type: Literal["memory"],
        *,
        clock: Optional[Clock] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: None = None,
        *,
        queue_type: Literal["memory"],
        clock: Optional[Clock] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: None,
        queue_type: Literal["remote"],
        server_url: str,
        api_key: Optional[str] = None,
        queue_name: str = "default",
        timeout: float = 30,
        *,
        clock: Optional[Clock] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: None = None,
        *,
        queue_type: Literal["remote"],
        server_url: str,
        api_key: Optional[str] = None,
        queue_name: str = "default",
        timeout: float = 30,
        clock: Optional[Clock] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        queue_file: None = None,
        *,
        queue_type: Literal["sqs"],
        queue_name: str = "default",
        timeout: float = 30,
        queue_url: Optional[str] = None,
        region: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        aws_session_token: Optional[str] = None,
        profile: Optional[str] = None,
        create_queue: bool = False,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None: ...

    def __init__(
        self,
        queue_file: Optional[StrPath] = None,
        queue_type: str = "local",
        server_url: Optional[str] = None,
        api_key: Optional[str] = None,
        queue_name: str = "default",
        timeout: float = 30,
        *,
        durable: bool = True,
        lock_timeout: float = 10.0,
        clock: Optional[Clock] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        queue_url: Optional[str] = None,
        region: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        aws_session_token: Optional[str] = None,
        profile: Optional[str] = None,
        create_queue: bool = False,
    ) -> None:
        if not isinstance(queue_type, str) or queue_type.lower() not in _BACKENDS:
            raise ConfigurationError(
                f"unknown queue_type {queue_type!r}; "
                f"choose one of {', '.join(map(repr, _BACKENDS))}"
            )
        self.queue_type: str = queue_type.lower()
        backend = _BACKENDS[self.queue_type]
        self.queue_file: Optional[str] = _queue_file(queue_file, backend.default_file)
        self.server_url = server_url
        self.queue_name = queue_name
        aws = _aws_options(
            backend.aws_options,
            queue_url=queue_url,
            region=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            profile=profile,
            create_queue=check.flag(create_queue, "create_queue") or None,
        )
        settings = _Settings(
            queue_file=self.queue_file or "",
            server_url=server_url,
            api_key=api_key,
            queue_name=check.queue_name(queue_name),
            timeout=check.positive_seconds(timeout, "timeout"),
            durable=check.flag(durable, "durable"),
            lock_timeout=check.positive_seconds(lock_timeout, "lock_timeout"),
            clock=utc_now if clock is None else clock,
            ssl_context=ssl_context,
            aws=aws,
        )
        self._unsupported_reason = backend.unsupported_reason
        self._store, self._queue = backend.open(settings)
        # How the store names this queue: its file where each file is a queue, else its name.
        self._files_are_queues = backend.files_are_queues
        self._name = settings.queue_file if backend.files_are_queues else queue_name
        # A capability, checked once: the calls that need it fail fast where it is missing.
        self._inspectable = self._queue if isinstance(self._queue, Inspectable) else None

    def _sibling(self: _Queue, name: str) -> _Queue:
        """Another queue of the same store (file, server or memory), sharing its connections.

        For a memory queue this is the only way to reach its dead-letter queue. Closing either
        closes the store of both.
        """
        import copy  # noqa: PLC0415 - rarely needed: only dead-letter and sibling queues

        other = copy.copy(self)
        other._queue = self._store.open_queue(name)
        other._name = name
        other.queue_name = name
        if self._files_are_queues:
            other.queue_file = name
        other._inspectable = other._queue if isinstance(other._queue, Inspectable) else None
        return other

    def _inspect(self, operation: str) -> Inspectable:
        """The queue's inspect capability (peek, by-id calls), or a typed refusal."""
        if self._inspectable is None:
            raise UnsupportedOperationError(operation, self.queue_type, self._unsupported_reason)
        return self._inspectable

    def __repr__(self) -> str:
        parts = [f"queue_type={self.queue_type!r}"]
        if self.queue_file is not None:
            parts.append(f"queue_file={self.queue_file!r}")
        if self.server_url:
            parts.append(f"server_url={self.server_url!r}")
        parts.append(f"queue_name={self.queue_name!r}")
        return f"PyQueue({', '.join(parts)})"

    # -- adding -----------------------------------------------------------------------------

    def add_message(
        self,
        message: Mapping[str, Any],
        item_id: Optional[str] = None,
        *,
        delay_seconds: Optional[float] = None,
    ) -> str:
        """Add ``message`` (a JSON-serializable dict) and return its id.

        The id is ``item_id``, else ``message["id"]``, else a new UUID4. Adding an id that is
        already in the queue changes nothing and returns the id, so a producer may safely retry.
        ``delay_seconds`` (0-900) hides the new message that long; None: the queue's
        ``delay_seconds`` attribute.
        """
        ids = None if item_id is None else [item_id]
        return self.add_messages([message], ids, delay_seconds=delay_seconds)[0]

    def add_messages(
        self,
        messages: Sequence[Mapping[str, Any]],
        item_ids: Optional[Sequence[Optional[str]]] = None,
        *,
        delay_seconds: Optional[float] = None,
    ) -> List[str]:
        """Add many messages in one atomic step; returns their ids in order.

        ``item_ids``, when given, has one entry per message (None picks the id as
        ``add_message`` does). Every message is checked before anything is written.
        ``delay_seconds`` as for ``add_message``.
        """
        items = _items(messages, item_ids)
        delay = check.optional_seconds(delay_seconds, "delay_seconds", check.MAX_DELAY)
        ids = self._queue.add_messages(items, delay)
        for added in ids:
            _log.info("message added: %s", added)
        return ids

    # -- reading ----------------------------------------------------------------------------

    def get_messages(
        self, max_messages: Optional[int] = None, *, offset: int = 0
    ) -> List[StoredMessage]:
        """Messages in queue order without changing their visibility; all of them when None.

        ``offset`` skips that many messages first (for paging through a deep queue).
        """
        return self._inspect("get_messages").get_messages(
            check.peek_limit(max_messages), check.peek_offset(offset)
        )

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        """The message with this id, or None."""
        return self._inspect("get_message").get_message(check.item_id(item_id))

    def has_message(self, item_id: str) -> bool:
        """Whether a message with this id is in the queue."""
        return bool(self._inspect("has_message").check_existence([check.item_id(item_id)]))

    def check_existence(self, item_ids: Iterable[str]) -> List[str]:
        """The given ids that are in the queue, in the given order, looked up in one pass."""
        return self._inspect("check_existence").check_existence(check.item_ids(item_ids))

    # -- consuming --------------------------------------------------------------------------

    def receive_messages(
        self,
        max_messages: int = 10,
        visibility_timeout: Optional[float] = None,
        delete_after_receive: bool = False,
        only_new: bool = False,
        *,
        wait_time_seconds: Optional[float] = None,
    ) -> List[ReceivedMessage]:
        """Receive up to ``max_messages`` (1-100) visible messages, SQS-style, in queue order.

        Each one becomes invisible for ``visibility_timeout`` seconds (0-43200; None: the
        queue's attribute, 30 unless set), gets a new ``ReceiptHandle`` and a higher
        ``receive_count``. Delete it with ``delete_message`` once processed, or it is delivered
        again (at-least-once). ``only_new`` skips messages received before.
        ``delete_after_receive`` removes them in the same step (at-most-once). When none is
        visible, waits up to ``wait_time_seconds`` (0-20; None: the queue's attribute) for one,
        and returns ``[]`` if none comes: long polling, without a busy loop.
        """
        timeout = (
            None if visibility_timeout is None else check.visibility_timeout(visibility_timeout)
        )
        wait = check.optional_seconds(wait_time_seconds, "wait_time_seconds", check.MAX_WAIT)
        received = [
            delivery.message
            for delivery in self._queue.receive_messages(
                check.max_messages(max_messages),
                timeout,
                check.flag(delete_after_receive, "delete_after_receive"),
                check.flag(only_new, "only_new"),
                wait,
            )
        ]
        if received and delete_after_receive:
            _log.info("deleted %d message(s) on receive", len(received))
        return received

    def delete_message(self, receipt_handle: str) -> bool:
        """Delete the message this receipt handle came with; False if it is stale or unknown.

        A handle stays valid until its message is received again (as in SQS).
        """
        result = self._queue.delete_messages([check.receipt_handle(receipt_handle)])
        if result["Successful"]:
            _log.info("message deleted via receipt handle")
        return bool(result["Successful"])

    def delete_messages(self, receipt_handles: Iterable[str]) -> DeleteMessagesResult:
        """Delete many messages by receipt handle in one atomic step.

        Never raises for a bad handle: each one lands in ``Successful`` or in ``Failed`` with a
        reason (``"not_found"`` or ``"invalid"``).
        """
        if isinstance(receipt_handles, (str, bytes)):
            raise ValidationError("receipt_handles must be a list of strings, not one string")
        result = self._queue.delete_messages(list(receipt_handles))
        if result["Successful"]:
            _log.info("deleted %d message(s) via receipt handles", len(result["Successful"]))
        return result

    def change_message_visibility(self, receipt_handle: str, visibility_timeout: float) -> bool:
        """Hide the message of this receipt handle for ``visibility_timeout`` seconds from now
        (0-43200; 0 makes it visible at once). False if the handle is stale or unknown."""
        result = self.change_messages_visibility(
            [check.receipt_handle(receipt_handle)], visibility_timeout
        )
        return bool(result["Successful"])

    def change_messages_visibility(
        self, receipt_handles: Iterable[str], visibility_timeout: float
    ) -> DeleteMessagesResult:
        """``change_message_visibility`` for many handles in one step; each one lands in
        ``Successful`` or in ``Failed`` with a reason, as for ``delete_messages``."""
        if isinstance(receipt_handles, (str, bytes)):
            raise ValidationError("receipt_handles must be a list of strings, not one string")
        timeout = check.visibility_timeout(visibility_timeout)
        return self._queue.change_visibility(list(receipt_handles), timeout)

    # -- attributes and dead letters ---------------------------------------------------------

    def get_queue_attributes(self) -> QueueAttributes:
        """The queue's attributes, as every process and instance that opens it sees them."""
        return self._store.get_attributes(self._name)

    def set_queue_attributes(
        self,
        *,
        visibility_timeout: float = _KEEP,
        delay_seconds: float = _KEEP,
        wait_time_seconds: float = _KEEP,
        retention_seconds: Optional[float] = _KEEP,
        max_receive_count: Optional[int] = _KEEP,
        dead_letter_queue: Optional[StrPath] = _KEEP,
    ) -> QueueAttributes:
        """Change the queue's attributes; those left out stay, None clears those that allow it.

        Ranges as Amazon SQS: ``visibility_timeout`` 0-43200 s, ``delay_seconds`` 0-900,
        ``wait_time_seconds`` 0-20, ``retention_seconds`` 60-1209600 (None: keep forever),
        ``max_receive_count`` 1-1000 (receives after which a message goes to the
        ``dead_letter_queue``: a queue name, or for a local queue another queue file's path).
        Returns the attributes now in force.
        """
        changes = {
            name: value
            for name, value in (
                ("visibility_timeout", visibility_timeout),
                ("delay_seconds", delay_seconds),
                ("wait_time_seconds", wait_time_seconds),
                ("retention_seconds", retention_seconds),
                ("max_receive_count", max_receive_count),
                ("dead_letter_queue", _queue_key(dead_letter_queue)),
            )
            if value is not _KEEP
        }
        checked = check.attribute_changes(changes)
        try:
            current = self.get_queue_attributes()
        except UnsupportedOperationError:
            raise UnsupportedOperationError("set_queue_attributes", self.queue_type) from None
        merged = changed_attributes(current, checked)
        self._check_dead_letters(merged)
        attributes = self._store.set_attributes(self._name, checked)
        _log.info("queue attributes changed: %s", ", ".join(sorted(checked)))
        return attributes

    def _check_dead_letters(self, attributes: QueueAttributes) -> None:
        target = attributes["dead_letter_queue"]
        if attributes["max_receive_count"] is not None and target is None:
            raise ValidationError("max_receive_count needs a dead_letter_queue to move messages to")
        if target is not None and self._same_queue(target, self._name):
            raise ValidationError(
                f"dead_letter_queue must be another queue, not this one ({target!r})"
            )

    def _same_queue(self, first: str, second: str) -> bool:
        if self._files_are_queues:
            return os.path.abspath(first) == os.path.abspath(second)
        return first == second

    def redrive_messages(self, max_messages: Optional[int] = None) -> int:
        """On a dead-letter queue: move up to ``max_messages`` messages (all when None) back to
        the queue each came from, as new (receive count 0), oldest first. Returns how many."""
        limit = check.peek_limit(max_messages)
        moved = self._queue.redrive_messages(limit)
        if moved:
            _log.info("redrove %d message(s)", moved)
        return moved

    # -- changing ---------------------------------------------------------------------------

    def remove_message(self, item_id: str) -> bool:
        """Delete a message by id, whatever its visibility; False when absent."""
        removed = self._inspect("remove_message").remove_message(check.item_id(item_id))
        if removed:
            _log.info("message removed: %s", item_id)
        return removed

    def update_message(self, item_id: str, new_message: Mapping[str, Any]) -> bool:
        """Replace a message's body and refresh its timestamp; False when absent.

        Receive count, first receive time, visibility and receipt handle are kept.
        """
        updated = self._inspect("update_message").update_message(
            check.item_id(item_id), check.body(new_message, "new_message")
        )
        if updated:
            _log.info("message updated: %s", item_id)
        return updated

    def clear_queue(self) -> bool:
        """Remove every message. Returns True."""
        self._queue.clear_queue()
        _log.info("queue cleared")
        return True

    # -- maintenance ------------------------------------------------------------------------

    def get_queue_info(self) -> QueueInfo:
        """Statistics: message counts (visible, invisible, never received, receives) and more."""
        return self._queue.get_queue_info()

    def health_check(self) -> bool:
        """Whether the queue can be read right now. Never raises."""
        return self._queue.health_check()

    def cleanup_expired_messages(self) -> bool:
        """Clear visibility timeouts that have passed, in storage.

        Expired messages are visible either way; this only tidies what ``get_messages`` shows.
        """
        return self._queue.cleanup_expired_messages()

    def close(self) -> None:
        """Release what the backend holds open (lock files, connections). Safe to call twice."""
        self._store.close()

    def __enter__(self: _Queue) -> _Queue:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()


#: Messages per step of a ``copy_queue`` that reports its progress.
COPY_STEP = 1000


def copy_queue(
    source: PyQueue,
    target: PyQueue,
    *,
    progress: Optional[Callable[[int, int], None]] = None,
) -> int:
    """Copy every message of ``source`` into ``target``, keeping ids and tracking fields.

    Works between any two backends, e.g. to move a local JSON queue into SQLite. Messages keep
    their order, receive counts, first receive times, visibility and receipt handles; ids already
    in ``target`` are skipped. ``source`` is not changed. Returns how many messages were added.

    ``progress``, when given, is called with (messages copied so far, messages to copy) after
    each step of ``COPY_STEP`` messages. The copy is then atomic step by step, not as a whole: a
    failure leaves the steps before it copied, and copying again skips them.
    """
    records = source._inspect("copy_queue").export_records()
    importer = target._inspect("copy_queue")
    if progress is None:
        added = importer.import_records(records)
    else:
        added = 0
        for start in range(0, len(records), COPY_STEP):
            step = records[start : start + COPY_STEP]
            added += importer.import_records(step)
            progress(start + len(step), len(records))
    _log.info("copied %d message(s) from %r to %r", added, source, target)
    return added


def store_queues(queue: PyQueue) -> Dict[str, PyQueue]:
    """Every queue of ``queue``'s store (its file, server or database) by the name the store
    gives it, sorted, each sharing the store's files and connections: closing one closes them
    all.

    A store of queue files knows only the files it has opened: ``queue``'s own, and its
    dead-letter queue. A server lists the queues its API key may use.
    """
    if queue._files_are_queues:
        target = queue.get_queue_attributes()["dead_letter_queue"]
        if target is not None:
            queue._store.open_queue(target)
    return {
        name: queue if name == queue._name else queue._sibling(name)
        for name in queue._store.queue_names()
    }


def _aws_options(accepted: bool, **given: object) -> Mapping[str, Any]:
    """The Amazon SQS options given (not None), refused for queue types that take none."""
    chosen = {name: value for name, value in given.items() if value is not None}
    for name, value in chosen.items():
        if name != "create_queue" and not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, not {type(value).__name__}")
    if chosen and not accepted:
        raise ConfigurationError(
            f"{', '.join(sorted(chosen))}: only queue_type='sqs' takes these options"
        )
    return chosen


def _queue_key(value: object) -> object:
    """A dead-letter queue as the store names it: paths become text, the rest is checked later."""
    if value is None or value is _KEEP or isinstance(value, str):
        return value
    try:
        return os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        return value


def _queue_file(queue_file: Optional[StrPath], default: Optional[str]) -> Optional[str]:
    """The backend's file: as given, else ``$QUEUE_FILE_PATH``, else its default name."""
    if default is None:
        return None
    if queue_file is None:
        return os.environ.get(_ENV_QUEUE_FILE, default)
    try:
        path = os.fspath(queue_file)
    except TypeError:
        raise ConfigurationError(f"queue_file must be a path, not {queue_file!r}") from None
    if not isinstance(path, str) or not path:
        raise ConfigurationError(f"queue_file must be a non-empty text path, not {queue_file!r}")
    if path.lower() in _BACKENDS and not os.path.exists(path):
        # PyQueue("sqlite") passes "sqlite" as queue_file, the first positional argument
        raise ConfigurationError(
            f"queue_file {path!r} is the name of a queue type: to choose the type, write "
            f"PyQueue(queue_type={path.lower()!r}); to use a file of that name, create it first"
        )
    return path


def _items(
    messages: Sequence[Mapping[str, Any]], item_ids: Optional[Sequence[Optional[str]]]
) -> List[NewMessage]:
    """Check every message and choose every id before anything is written."""
    if type(messages) is not list and (  # type() first: ABC checks are slow on every add
        isinstance(messages, (Mapping, str, bytes)) or not isinstance(messages, Sequence)
    ):
        raise ValidationError("messages must be a list of dicts")
    if item_ids is None:
        item_ids = [None] * len(messages)
    elif isinstance(item_ids, str) or len(item_ids) != len(messages):
        raise ValidationError("item_ids must be a list with one id (or None) per message")
    items = []
    for message, given in zip(messages, item_ids):
        text = check.body_json(message)
        chosen = check.item_id(given) if given is not None else check.body_id(message)
        items.append(NewMessage(chosen or new_message_id(), text))
    return items
