"""The remote backend: a queue on a PyQueue server, over the REST protocol of PROTOCOL.md.

A 404 means "no such message" only when the server says so (``Message not found``): a 404 for a
route that does not exist (a wrong ``server_url`` path, or not a PyQueue server) raises
``RemoteError``, so a consumer never takes a wrong URL for an empty queue. A ``server_url`` that
ends in the API prefix (``/api/v1``) is taken as the server's root.

Each method is one or more requests, built and read by ``_transport.rest_calls`` (imported as
``wire``) and sent by ``_transport.http_client`` (keep-alive, proxies from the environment, verified
TLS, safe retries) with the API key added by ``_transport.auth``. It drives both the existing
PyQueue server and ``pyqueue serve``.

``pyqueue serve`` has endpoints the existing server lacks (``_rest.EXTENSIONS``): batches,
visibility changes, queue attributes and redrive. The first call that needs one finds out whether
the server has it: a 404 "Not Found" or 405 "Method Not Allowed" (never a missing message's 404)
means it does not, which the store remembers, so each is probed at most once. Then:

- ``add_messages`` (several messages, or a delay) and ``delete_messages`` (several handles) are one
  request per 100 entries on ``pyqueue serve``; elsewhere one request per message, so a failure
  part way leaves the earlier ones done (adding them again is a no-op: ids are ours). A delay
  needs ``pyqueue serve``: elsewhere ``UnsupportedOperationError``, and nothing is added.
- Visibility changes, queue attributes and redrive raise ``UnsupportedOperationError`` naming the
  call.
- A long-polling receive is held by ``pyqueue serve`` until a message comes or the wait ends (the
  read timeout grows by the wait). A server that answers at once (the existing one ignores the
  parameter) is asked again, with growing pauses, until the wait is over.

What the protocol cannot carry, and what this backend does instead:

- ``import_records`` (``copy_queue``) can only add messages: ids and bodies cross, but receive
  counts, first receive times, visibility and receipt handles cannot be set through the protocol,
  so the copies arrive as never received and visible.
- The existing server reports neither ``never_received`` nor ``total_receives``:
  ``get_queue_info`` then counts them by paging through the queue (one request per 100 messages;
  one of its storage engines lists only visible messages, which makes ``total_receives`` low).
- The existing server does not send ``first_received_at``: a received message's is then the time
  of that receive, exact for a first receive.
- A receive's visibility timeout travels as whole seconds, rounded up (the existing server takes
  no fractions).
- The existing server decodes ``%2F`` before routing, so it cannot reach an id that contains
  ``/``: such a message reads as absent there.
- Expired visibility timeouts are the server's to clear: ``cleanup_expired_messages`` returns
  False with a warning.
"""

from __future__ import annotations

import functools
import json
import secrets
import ssl
import threading
import time
import warnings
from typing import (
    Any,
    Callable,
    FrozenSet,
    Iterator,
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
from .._rest import (
    API_PREFIX,
    BATCH_LIMIT,
    FEATURE_ATTEMPT_ID,
    FEATURE_DELETE_AFTER_RECEIVE,
    PAGE_SIZE,
    QUEUE_NAME_RULE,
    is_queue_name,
)
from .._semantics import Delivery, NewMessage, QueueState, Record, for_each_handle
from .._times import utc_now
from .._transport import rest_calls as wire
from .._transport.auth import ApiKeyAuth
from .._transport.http_client import HttpTransport
from .._types import (
    DEFAULT_ATTRIBUTES,
    BatchDeleteFailure,
    DeleteFailureReason,
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
#: The most bytes of entries one batch request carries: within ``pyqueue serve``'s default body
#: limit (256 KiB) with room for the rest of the document. A bigger entry goes alone.
_BATCH_BYTES = 240 * 1024
#: The pauses between receives against a server that does not hold them: the first, and the
#: longest they grow to (doubling), so an empty queue costs about one request a second.
_FIRST_PAUSE = 0.125
_LONGEST_PAUSE = 1.0
#: The visibility timeout a server applies when a receive leaves it to the queue, for the
#: existing server (which has no attributes and does not report first receive times).
_DEFAULT_VISIBILITY = int(DEFAULT_ATTRIBUTES["visibility_timeout"])


class _Endpoints:
    """Which of ``pyqueue serve``'s own endpoints this server lacks, learned once each, and
    which features (``_rest.FEATURES``) its health answer lists, asked once.

    Shared by every queue of a store; guarded by a lock, since queues serve many threads.
    """

    def __init__(self) -> None:
        self._missing: Set[str] = set()
        self._features: Optional[FrozenSet[str]] = None
        self._lock = threading.Lock()

    def features(self, transport: HttpTransport) -> FrozenSet[str]:
        """The features the server lists in ``GET /health`` (none where it lists none)."""
        with self._lock:
            known = self._features
        if known is None:
            reply = transport.send(wire.server_health_call())
            known = wire.decode(reply, wire.features) if reply.status == 200 else frozenset()
            with self._lock:
                self._features = known
        return known

    def missing(self, endpoint: str) -> bool:
        """Whether the server is known to lack ``endpoint``."""
        with self._lock:
            return endpoint in self._missing

    def learn_missing(self, endpoint: str) -> None:
        """Remember that the server lacks ``endpoint``."""
        with self._lock:
            self._missing.add(endpoint)


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
        root = _server_root(server_url)
        self._transport = HttpTransport(root, ApiKeyAuth(api_key), timeout, ssl_context)
        self._endpoints = _Endpoints()

    def open_queue(self, name: str) -> RemoteQueue:
        """The queue called ``name`` on the server (nothing is sent yet)."""
        return RemoteQueue(self._transport, _checked_queue_name(name), self._endpoints)

    def queue_names(self) -> List[str]:
        """The queues this key may use, as the server lists them, sorted."""
        reply = self._transport.send(wire.list_queues_call())
        wire.raise_for_status(reply)
        return sorted(wire.decode(reply, wire.queue_names))

    def get_attributes(self, name: str) -> QueueAttributes:
        """The queue's attributes (``pyqueue serve`` only)."""
        call = wire.get_attributes_call(_checked_queue_name(name))
        reply = _extension(self._transport, self._endpoints, "get_attributes", call)
        if reply is None:
            _unsupported("get_queue_attributes")
        return wire.decode(reply, wire.attributes)

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        """Change some attributes (``pyqueue serve`` only; it checks them again); returns all."""
        call = wire.set_attributes_call(_checked_queue_name(name), changes)
        reply = _extension(self._transport, self._endpoints, "set_attributes", call)
        if reply is None:
            _unsupported("set_queue_attributes")
        return wire.decode(reply, wire.attributes)

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
    """One named queue of a :class:`RemoteStore`, sharing its connections and its knowledge of
    which endpoints the server lacks."""

    def __init__(self, transport: HttpTransport, queue_name: str, endpoints: _Endpoints) -> None:
        self._queue = queue_name
        self._transport = transport
        self._endpoints = endpoints
        # What paces a long poll against a server that does not hold receives (tests fake them).
        self._sleep: Callable[[float], None] = time.sleep
        self._monotonic: Callable[[], float] = time.monotonic

    def _send(self, call: wire.ApiCall) -> wire.Reply:
        """The reply to ``call``; statuses other than 2xx raise."""
        reply = self._transport.send(call)
        wire.raise_for_status(reply)
        return reply

    def _send_by_id(self, call: wire.ApiCall, key: str) -> Optional[wire.Reply]:
        """The reply to a call naming a message by ``key`` (its id or receipt handle); None when
        the server says that message does not exist. Any other 404 (no such route: a wrong
        ``server_url``) raises, except for a key with a ``/``, which the existing server decodes
        before routing and so cannot reach."""
        reply = self._transport.send(call)
        if wire.is_missing_message(reply) or ("/" in key and wire.is_missing_route(reply)):
            return None
        wire.raise_for_status(reply)
        return reply

    def _extension(self, endpoint: str, call: wire.ApiCall) -> Optional[wire.Reply]:
        """The reply to ``call`` of ``pyqueue serve``'s own ``endpoint``; None if the server
        lacks it."""
        return _extension(self._transport, self._endpoints, endpoint, call)

    # -- adding and reading ---------------------------------------------------------------------

    def add_messages(
        self, items: Sequence[NewMessage], delay_seconds: Optional[float] = None
    ) -> List[str]:
        """Add the messages under their ids; the ids the server answers with are returned.

        One message without a delay is the one add every server has. Several, or a delay (0
        included: it overrides the queue's), go in batches; where there are none, one by one,
        and a delay is refused before anything is added.
        """
        if delay_seconds is None and len(items) == 1:
            return [self._add_one(items[0])]
        added = self._add_batches(items, delay_seconds) if items else []
        if added is not None:
            return added
        if delay_seconds:
            operation = "add_messages" if len(items) > 1 else "add_message"
            _unsupported(f"{operation}(delay_seconds=...)")
        return [self._add_one(item) for item in items]

    def _add_one(self, item: NewMessage) -> str:
        reply = self._send(wire.add_call(self._queue, item.id, item.body_json))
        return wire.decode(reply, wire.message_id)

    def _add_batches(
        self, items: Sequence[NewMessage], delay_seconds: Optional[float]
    ) -> Optional[List[str]]:
        """The ids of ``items`` added through the batch endpoint; None if the server lacks it."""
        entries = [wire.batch_entry(item.id, item.body_json) for item in items]
        ids: List[str] = []
        for chunk in _batches(entries, len):
            call = wire.add_batch_call(self._queue, chunk, delay_seconds)
            reply = self._extension("add_batch", call)
            if reply is None:
                return None
            ids.extend(wire.decode(reply, functools.partial(wire.message_ids, count=len(chunk))))
        return ids

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
        reply = self._send_by_id(wire.get_call(self._queue, item_id), item_id)
        return None if reply is None else wire.decode(reply, wire.stored_message)

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
        """Receive, waiting up to ``wait_seconds`` for a message (None: the queue's wait).

        ``delete_after_receive`` is the server's only where it says it does it right (its
        health lists the feature): elsewhere (the existing server deletes undelivered messages
        too) this receives, then deletes what was delivered.
        """
        if delete_after_receive and FEATURE_DELETE_AFTER_RECEIVE not in self._features():
            deliveries = self._receive(
                max_messages, visibility_timeout, False, only_new, wait_seconds
            )
            self.delete_messages([delivery.message["ReceiptHandle"] for delivery in deliveries])
            return [delivery._replace(invisible_until=None) for delivery in deliveries]
        return self._receive(
            max_messages, visibility_timeout, delete_after_receive, only_new, wait_seconds
        )

    def _features(self) -> FrozenSet[str]:
        return self._endpoints.features(self._transport)

    def _receive(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
        wait_seconds: Optional[float],
    ) -> List[Delivery]:
        """Receive requests until a message comes or the wait is over.

        An empty answer before the wait is over is asked again: the server did not hold the
        request. The requests carry one attempt id (a server keeps no empty answer, so asking
        again receives afresh), and one that provably got no answer is sent once more (the
        transport's choice) unless it deletes what it receives on a server that does not
        answer a repeat as it answered the first.
        """
        seconds = None if visibility_timeout is None else wire.whole_seconds(visibility_timeout)
        attempt = secrets.token_hex(16)
        if not wait_seconds:  # no wait, or the queue's: one request
            return self._receive_once(
                max_messages, seconds, delete_after_receive, only_new, wait_seconds, attempt
            )
        deadline = self._monotonic() + wait_seconds
        pause = _FIRST_PAUSE
        while True:
            wait = max(deadline - self._monotonic(), 0)
            received = self._receive_once(
                max_messages, seconds, delete_after_receive, only_new, wait, attempt
            )
            left = deadline - self._monotonic()
            if received or left <= 0:
                return received
            self._sleep(min(pause, left))
            pause = min(pause * 2, _LONGEST_PAUSE)

    def _receive_once(
        self,
        max_messages: int,
        visibility_seconds: Optional[int],
        delete_after_receive: bool,
        only_new: bool,
        wait_seconds: Optional[float],
        attempt_id: str,
    ) -> List[Delivery]:
        # At-least-once, a repeat at worst hides messages for one timeout; at-most-once, only a
        # server that answers a repeated attempt id with the first answer makes it harmless.
        repeatable = not delete_after_receive or FEATURE_ATTEMPT_ID in self._features()
        call = wire.receive_call(
            self._queue,
            max_messages,
            visibility_seconds,
            delete_after_receive,
            only_new,
            wait_seconds,
            check.MAX_WAIT,
            attempt_id=attempt_id,
            retry_unanswered=repeatable,
        )
        reply = self._send(call)
        shown = _DEFAULT_VISIBILITY if visibility_seconds is None else visibility_seconds
        read = functools.partial(wire.delivery, visibility_seconds=shown, now=utc_now())
        messages, _ = wire.decode(reply, functools.partial(wire.page_of, read=read))
        return messages

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        """Delete by receipt handles: in batches where the server has them, else one request
        per handle; a stale or unknown handle fails alone, never raises."""
        valid = _valid_handles(receipt_handles)
        if len(valid) > 1:
            outcomes = self._batch_outcomes("delete_batch", valid, wire.delete_batch_call)
            if outcomes is not None:
                return _result(receipt_handles, outcomes)

        def delete_one(handle: str) -> bool:
            return self._send_by_id(wire.delete_call(self._queue, handle), handle) is not None

        return for_each_handle(receipt_handles, delete_one)

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float
    ) -> DeleteMessagesResult:
        """Hide by receipt handles for ``visibility_timeout`` s, in batches (``pyqueue serve``)."""
        valid = _valid_handles(receipt_handles)

        def call(queue: str, handles: Sequence[str]) -> wire.ApiCall:
            return wire.change_visibility_call(queue, handles, visibility_timeout)

        outcomes = self._batch_outcomes("change_visibility", valid, call) if valid else []
        if outcomes is None:
            single = len(receipt_handles) == 1
            _unsupported("change_message_visibility" if single else "change_messages_visibility")
        return _result(receipt_handles, outcomes)

    def _batch_outcomes(
        self,
        endpoint: str,
        handles: Sequence[str],
        make_call: Callable[[str, Sequence[str]], wire.ApiCall],
    ) -> Optional[List[Optional[DeleteFailureReason]]]:
        """Each handle's outcome through the batch ``endpoint``; None if the server lacks it."""
        outcomes: List[Optional[DeleteFailureReason]] = []
        # Each handle's size as the JSON list holds it: quoted, escaped, and a comma.
        for chunk in _batches(handles, lambda handle: len(json.dumps(handle)) + 1):
            reply = self._extension(endpoint, make_call(self._queue, chunk))
            if reply is None:
                return None
            read = functools.partial(wire.handle_outcomes, sent=chunk)
            outcomes.extend(wire.decode(reply, read))
        return outcomes

    def redrive_messages(self, max_messages: Optional[int]) -> int:
        """Move this dead-letter queue's messages back (``pyqueue serve`` only); never retried."""
        reply = self._extension("redrive", wire.redrive_call(self._queue, max_messages))
        if reply is None:
            _unsupported("redrive_messages")
        return wire.decode(reply, wire.moved_count)

    # -- changing -------------------------------------------------------------------------------

    def remove_message(self, item_id: str) -> bool:
        """Delete by id; False when absent (404)."""
        return self._send_by_id(wire.remove_call(self._queue, item_id), item_id) is not None

    def update_message(self, item_id: str, body: MessageBody) -> bool:
        """Replace the body; False when absent (404). The server keeps the tracking fields."""
        return self._send_by_id(wire.update_call(self._queue, item_id, body), item_id) is not None

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


def _extension(
    transport: HttpTransport, endpoints: _Endpoints, endpoint: str, call: wire.ApiCall
) -> Optional[wire.Reply]:
    """The reply to ``call`` of ``pyqueue serve``'s own ``endpoint``, or None when the server
    lacks that endpoint (known from before, or learned from this reply). Errors raise."""
    if endpoints.missing(endpoint):
        return None
    reply = transport.send(call)
    if wire.is_missing_route(reply):
        endpoints.learn_missing(endpoint)
        return None
    wire.raise_for_status(reply)
    return reply


def _batches(entries: Sequence[_T], size: Callable[[_T], int]) -> Iterator[List[_T]]:
    """``entries`` (at least one) in order, in runs of at most ``BATCH_LIMIT`` entries and
    ``_BATCH_BYTES`` bytes (``size`` of each); an entry bigger than that alone makes a run."""
    batch: List[_T] = []
    total = 0
    for entry in entries:
        length = size(entry)
        if batch and (len(batch) == BATCH_LIMIT or total + length > _BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(entry)
        total += length
    yield batch


def _valid_handles(receipt_handles: Sequence[object]) -> List[str]:
    """The receipt handles worth sending: non-empty strings (others fail as invalid here)."""
    return [handle for handle in receipt_handles if isinstance(handle, str) and handle]


def _result(
    receipt_handles: Sequence[object], outcomes: Sequence[Optional[DeleteFailureReason]]
) -> DeleteMessagesResult:
    """A batch result in the caller's order: ``outcomes`` hold the valid handles' ones."""
    pending = iter(outcomes)
    successful: List[str] = []
    failed: List[BatchDeleteFailure] = []
    for handle in receipt_handles:
        if not isinstance(handle, str) or not handle:
            failed.append({"ReceiptHandle": str(handle), "reason": "invalid"})
            continue
        reason = next(pending)
        if reason is None:
            successful.append(handle)
        else:
            failed.append({"ReceiptHandle": handle, "reason": reason})
    return {"Successful": successful, "Failed": failed}


def _server_root(server_url: str) -> str:
    """``server_url`` without a trailing API prefix: every path of the protocol starts with it,
    so a URL copied from a request (``http://host:8000/api/v1``) would otherwise double it."""
    if isinstance(server_url, str):
        trimmed = server_url.strip().rstrip("/")
        if trimmed.endswith(API_PREFIX):
            return trimmed[: -len(API_PREFIX)]
    return server_url


def _checked_queue_name(name: str) -> str:
    if not is_queue_name(name):
        raise ConfigurationError(f"a remote queue_name is {QUEUE_NAME_RULE}, not {name!r}")
    return name
