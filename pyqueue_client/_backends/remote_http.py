"""The remote backend: a queue on a PyQueue server, over the REST protocol of PROTOCOL.md.

Each method is one or more requests, built and read by ``_transport.rest_calls`` (imported as
``wire``) and sent by ``_transport.http_client`` (keep-alive, proxies from the environment, verified
TLS, safe retries) with the API key added by ``_transport.auth``. It drives both the existing
PyQueue server and ``pyqueue serve``.

What the protocol cannot carry, and what this backend does instead:

- There is no batch endpoint: ``add_messages`` sends one request per message, so a failure part
  way leaves the earlier messages added (adding them again is a no-op: ids are ours).
- ``import_records`` (``copy_queue``) can only add messages: ids and bodies cross, but receive
  counts, first receive times, visibility and receipt handles cannot be set through the protocol,
  so the copies arrive as never received and visible.
- The existing server reports neither ``never_received`` nor ``total_receives``:
  ``get_queue_info`` then counts them by paging through the queue (one request per 100 messages;
  one of its storage engines lists only visible messages, which makes ``total_receives`` low).
- The existing server does not send ``first_received_at``: a received message's is then the time
  of that receive, exact for a first receive.
- Visibility timeouts travel as whole seconds, rounded up.
- The existing server decodes ``%2F`` before routing, so it cannot reach an id that contains
  ``/``: such a message reads as absent there.
- Expired visibility timeouts are the server's to clear: ``cleanup_expired_messages`` returns
  False with a warning.
- Visibility changes and queue attributes have no route yet: they raise
  ``UnsupportedOperationError``.
"""

from __future__ import annotations

import functools
import ssl
import warnings
from typing import (
    Any,
    Callable,
    Collection,
    List,
    Mapping,
    NoReturn,
    Optional,
    Sequence,
    Set,
    TypeVar,
)

from .. import _validation as check
from .._errors import ConfigurationError, UnsupportedOperationError
from .._rest import PAGE_SIZE, QUEUE_NAME_RULE, is_queue_name
from .._semantics import Delivery, NewMessage, QueueState, Record, for_each_handle
from .._times import utc_now
from .._transport import rest_calls as wire
from .._transport.auth import ApiKeyAuth
from .._transport.http_client import HttpTransport
from .._types import (
    DeleteMessagesResult,
    MessageBody,
    QueueAttributes,
    QueueInfo,
    StoredMessage,
)

__all__ = ["RemoteQueue", "RemoteStore"]

_T = TypeVar("_T")

#: Ids per check-existence request, to stay far below a server's body size limit.
_EXISTENCE_CHUNK = 500


class RemoteStore:
    """The queues of a PyQueue server at ``server_url``, authenticated by ``api_key``.

    ``timeout`` bounds connecting and each read, in seconds. TLS certificates are verified with
    ``ssl.create_default_context()`` unless ``ssl_context`` is given. Nothing is sent until the
    first call. Safe to share between threads: each concurrent call uses its own connection.
    """

    def __init__(
        self,
        server_url: str,
        api_key: Optional[str],
        timeout: float,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self._transport = HttpTransport(server_url, ApiKeyAuth(api_key), timeout, ssl_context)

    def open_queue(self, name: str) -> RemoteQueue:
        """The queue called ``name`` on the server (nothing is sent yet)."""
        return RemoteQueue(self._transport, _checked_queue_name(name))

    def queue_names(self) -> List[str]:
        """The queues this key may use, as the server lists them, sorted."""
        reply = self._transport.send(wire.list_queues_call())
        wire.raise_for_status(reply)
        return sorted(wire.decode(reply, wire.queue_names))

    def get_attributes(self, name: str) -> QueueAttributes:
        _unsupported("get_queue_attributes")

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        _unsupported("set_queue_attributes")

    def health_check(self) -> bool:
        """The server's health check. Never raises."""
        try:
            reply = self._transport.send(wire.server_health_call())
            return reply.status == 200 and wire.decode(reply, wire.is_healthy)
        except Exception:
            return False

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()


class RemoteQueue:
    """One named queue of a :class:`RemoteStore`, sharing its connections."""

    def __init__(self, transport: HttpTransport, queue_name: str) -> None:
        self._queue = queue_name
        self._transport = transport

    def _send(self, call: wire.ApiCall, allowed: Collection[int] = ()) -> wire.Reply:
        """The reply to ``call``; statuses other than 2xx and ``allowed`` raise."""
        reply = self._transport.send(call)
        wire.raise_for_status(reply, allowed)
        return reply

    # -- adding and reading ---------------------------------------------------------------------

    def add_messages(
        self, items: Sequence[NewMessage], delay_seconds: Optional[float] = None
    ) -> List[str]:
        """Add each message under its id; the id the server answers with is the one returned."""
        if delay_seconds:
            _unsupported("add_message(delay_seconds=...)")
        return [
            wire.decode(self._send(wire.add_call(self._queue, item_id, body)), wire.message_id)
            for item_id, body in items
        ]

    def get_messages(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        """Page through the listing, 100 at a time, until ``max_messages`` or the end."""
        return self._peek(max_messages, offset, wire.stored_message)

    def _peek(
        self, max_messages: Optional[int], offset: int, read: Callable[[Any], _T]
    ) -> List[_T]:
        found: List[_T] = []
        while max_messages is None or len(found) < max_messages:
            wanted = PAGE_SIZE if max_messages is None else max_messages - len(found)
            limit = min(PAGE_SIZE, wanted)
            reply = self._send(wire.peek_call(self._queue, limit, offset + len(found)))
            page, has_more = wire.decode(reply, functools.partial(wire.page_of, read=read))
            found.extend(page)
            # Trust has_more when the server sends it; a full page means "maybe more" otherwise.
            if not page or not (len(page) >= limit if has_more is None else has_more):
                break
        return found if max_messages is None else found[:max_messages]

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        """The message with this id, or None (404)."""
        reply = self._send(wire.get_call(self._queue, item_id), allowed=(404,))
        return None if reply.status == 404 else wire.decode(reply, wire.stored_message)

    def check_existence(self, item_ids: Sequence[str]) -> List[str]:
        """The given ids that exist, in the given order (the server may reorder or repeat)."""
        unique = list(dict.fromkeys(item_ids))
        found: Set[str] = set()
        for start in range(0, len(unique), _EXISTENCE_CHUNK):
            chunk = unique[start : start + _EXISTENCE_CHUNK]
            reply = self._send(wire.check_existence_call(self._queue, chunk))
            found.update(wire.decode(reply, wire.existing_ids))
        return [item_id for item_id in item_ids if item_id in found]

    # -- receiving and deleting -----------------------------------------------------------------

    def receive_messages(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
        wait_seconds: Optional[float] = 0,
    ) -> List[Delivery]:
        """One receive request; never retried, since a second one would hide more messages."""
        if wait_seconds:
            _unsupported("receive_messages(wait_time_seconds=...)")
        seconds = wire.whole_seconds(30 if visibility_timeout is None else visibility_timeout)
        call = wire.receive_call(self._queue, max_messages, seconds, delete_after_receive, only_new)
        reply = self._send(call)
        read = functools.partial(wire.delivery, visibility_seconds=seconds, now=utc_now())
        messages, _ = wire.decode(reply, functools.partial(wire.page_of, read=read))
        return messages

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        """One request per handle; a stale or unknown handle (404) fails alone, never raises."""

        def delete_one(handle: str) -> bool:
            reply = self._send(wire.delete_call(self._queue, handle), allowed=(404,))
            return reply.status != 404

        return for_each_handle(receipt_handles, delete_one)

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float
    ) -> DeleteMessagesResult:
        _unsupported("change_message_visibility")

    def redrive_messages(self, max_messages: Optional[int]) -> int:
        _unsupported("redrive_messages")

    # -- changing -------------------------------------------------------------------------------

    def remove_message(self, item_id: str) -> bool:
        """Delete by id; False when absent (404)."""
        reply = self._send(wire.remove_call(self._queue, item_id), allowed=(404,))
        return reply.status != 404

    def update_message(self, item_id: str, body: MessageBody) -> bool:
        """Replace the body; False when absent (404). The server keeps the tracking fields."""
        reply = self._send(wire.update_call(self._queue, item_id, body), allowed=(404,))
        return reply.status != 404

    def clear_queue(self) -> None:
        """Remove every message."""
        self._send(wire.clear_call(self._queue))

    # -- maintenance ----------------------------------------------------------------------------

    def get_queue_info(self) -> QueueInfo:
        """The server's counts; those it does not report are counted from a full listing."""
        reported = wire.decode(self._send(wire.info_call(self._queue)), wire.info_counts)
        computed = None
        if any(key not in reported for key in wire.COUNT_KEYS):
            computed = QueueState(self.export_records()).counts(utc_now())
        return wire.queue_info(reported, self._queue, computed)

    def health_check(self) -> bool:
        """The queue's health check (the server's, where the queue has none). Never raises."""
        try:
            reply = self._transport.send(wire.queue_health_call(self._queue))
            if reply.status == 404:
                reply = self._transport.send(wire.server_health_call())
            return reply.status == 200 and wire.decode(reply, wire.is_healthy)
        except Exception:
            return False

    def cleanup_expired_messages(self) -> bool:
        """Nothing to do from a client: the server makes expired messages visible itself."""
        warnings.warn(
            "cleanup_expired_messages() does nothing on a remote queue: the server makes "
            "messages visible again when their visibility timeout expires",
            UserWarning,
            stacklevel=3,
        )
        return False

    # -- copying between backends ---------------------------------------------------------------

    def export_records(self) -> List[Record]:
        """Every message in queue order, with the tracking fields the server reports."""
        return self._peek(None, 0, wire.record)

    def import_records(self, records: Sequence[Record]) -> int:
        """Add the records' ids and bodies; tracking fields cannot cross the protocol.

        Ids already on the server are skipped. Returns how many messages were added.
        """
        present = set(self.check_existence([record["id"] for record in records]))
        items: List[NewMessage] = []
        for record in records:
            if record["id"] not in present:
                present.add(record["id"])
                items.append(NewMessage(record["id"], check.body_json(record["message_body"])))
        self.add_messages(items)
        return len(items)


def _unsupported(operation: str) -> NoReturn:
    raise UnsupportedOperationError(operation, "remote")


def _checked_queue_name(name: str) -> str:
    if not is_queue_name(name):
        raise ConfigurationError(f"a remote queue_name is {QUEUE_NAME_RULE}, not {name!r}")
    return name
