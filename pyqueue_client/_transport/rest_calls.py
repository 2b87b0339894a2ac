"""The client side of the PyQueue REST protocol, without I/O: requests, replies and errors.

Every function here depends only on its arguments (the current time is passed in), so the protocol
rules are tested without sockets. The remote backend describes each request as an
:class:`ApiCall` (its method and path come from the shared table, ``_rest.ENDPOINTS``), a
transport answers it with a :class:`Reply`, and the readers below turn the reply into our
TypedDicts, or :func:`raise_for_status` turns it into an exception.

Two servers speak this protocol: the existing PyQueue server and ``pyqueue serve``. They name some
fields differently; :data:`WIRE_KEYS` is the one table that maps their names to ours.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    FrozenSet,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    cast,
)

from .._errors import (
    AuthenticationError,
    PermissionDeniedError,
    RemoteError,
    RequestRejectedError,
)
from .._rest import (
    API_PREFIX,
    ENDPOINTS,
    MESSAGE_NOT_FOUND,
    METHOD_NOT_ALLOWED,
    RECEIVE_ATTEMPT_PARAM,
    ROUTE_NOT_FOUND,
    QueryValue,
)
from .._semantics import Counts, Delivery, Record, record_from
from .._times import canonical_time, format_time, parse_time
from .._types import (
    DeleteFailureReason,
    MessageBody,
    QueueAttributes,
    QueueInfo,
    ReceivedMessage,
    StoredMessage,
)

__all__ = [
    "COUNT_KEYS",
    "USER_AGENT",
    "WIRE_KEYS",
    "ApiCall",
    "Reply",
    "add_batch_call",
    "add_call",
    "attributes",
    "base_headers",
    "batch_entry",
    "change_visibility_call",
    "check_existence_call",
    "clear_call",
    "decode",
    "delete_batch_call",
    "delete_call",
    "delivery",
    "error_for",
    "existing_ids",
    "features",
    "get_attributes_call",
    "get_call",
    "handle_outcomes",
    "info_call",
    "info_counts",
    "is_healthy",
    "is_missing_message",
    "is_missing_route",
    "list_queues_call",
    "message_id",
    "message_ids",
    "moved_count",
    "page_of",
    "peek_call",
    "queue_health_call",
    "queue_info",
    "queue_names",
    "raise_for_status",
    "receive_call",
    "received_message",
    "record",
    "redrive_call",
    "remove_call",
    "seconds_text",
    "server_health_call",
    "set_attributes_call",
    "stored_message",
    "update_call",
    "whole_seconds",
]

#: Sent as ``User-Agent``, so server logs can tell this client from others.
USER_AGENT = "pyqueue-client (Python urllib)"
#: How much of a server's error text an exception keeps.
_DETAIL_LIMIT = 500
#: What a web page (rather than a PyQueue server's JSON) looks like, and where its title is.
_HTML_START = re.compile(rb"\s*<(!doctype\s+html|html|head|body|title)\b", re.IGNORECASE)
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
#: What an error says when the answer was not a PyQueue server's.
_WRONG_SERVER_HINT = (
    "Is server_url a PyQueue server, given as its root URL (e.g. 'http://127.0.0.1:8000'; "
    f"the API lives below it, at {API_PREFIX})?"
)

_T = TypeVar("_T")
_JsonObject = Dict[str, Any]

#: Our key -> the wire keys that may carry it, first match wins (a key that is present wins even
#: when its value is null). ``pyqueue serve``'s names come first, the existing server's after:
#: it sends ``available_messages``/``in_flight_messages`` for our visible/invisible counts, and a
#: message's hiding time as ``visibility_timeout`` (an absolute time, or null).
WIRE_KEYS: Mapping[str, Tuple[str, ...]] = {
    "id": ("id", "Id"),
    "Id": ("Id", "id"),
    "ReceiptHandle": ("ReceiptHandle", "receipt_handle"),
    "current_receipt_handle": ("receipt_handle",),
    "message_body": ("message_body",),
    "timestamp": ("timestamp",),
    "receive_count": ("receive_count",),
    "first_received_at": ("first_received_at",),
    "invisible_until": ("invisible_until", "visibility_timeout"),
    "message_count": ("message_count",),
    "visible_messages": ("visible_messages", "available_messages"),
    "invisible_messages": ("invisible_messages", "in_flight_messages"),
    "never_received": ("never_received",),
    "total_receives": ("total_receives",),
    "delayed_messages": ("delayed_messages",),
    "max_receive_count": ("max_receive_count",),
    "dead_letter_queue": ("dead_letter_queue",),
    "moved": ("moved",),
    "queue_name": ("queue_name",),
}

#: The counting keys of ``get_queue_info``, in the order ``QueueInfo`` lists them.
COUNT_KEYS: Tuple[str, ...] = (
    "message_count",
    "visible_messages",
    "invisible_messages",
    "never_received",
    "total_receives",
    "delayed_messages",
)

_MISSING = object()


class ApiCall(NamedTuple):
    """One request, before any I/O: what to send, and whether sending it twice is harmless."""

    method: str
    #: Below the server URL, every segment percent-encoded, with the query string.
    path: str
    body: Optional[bytes] = None
    #: True when a retry cannot change the outcome (GET, PUT, DELETE, add with our own id).
    idempotent: bool = False
    #: True when sending it again is harmless if it provably got no answer (its reused
    #: connection closed before a byte of answer came): a receive that a repeat cannot make
    #: lose a message.
    retry_unanswered: bool = False
    #: Seconds the server may hold the request before it answers (a long-polling receive): the
    #: transport waits this much longer for the answer than for any other.
    hold: float = 0
    #: Headers of this call's own, over the transport's (a protocol's content type, its action).
    headers: Tuple[Tuple[str, str], ...] = ()


class Reply(NamedTuple):
    """A server's answer to one :class:`ApiCall`, read whole."""

    method: str
    #: The request's full URL (it never holds the API key, which travels in a header).
    url: str
    status: int
    body: bytes


# -- requests -------------------------------------------------------------------------------------


def _call(
    endpoint: str,
    body: Optional[bytes] = None,
    *,
    idempotent: bool = True,
    query: Optional[Mapping[str, QueryValue]] = None,
    hold: float = 0,
    **values: str,
) -> ApiCall:
    """The call to the endpoint named ``endpoint``, its path filled with ``values``."""
    shared = ENDPOINTS[endpoint]
    return ApiCall(shared.method, shared.path(query, **values), body, idempotent, hold=hold)


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("ascii")


def base_headers(has_body: bool) -> Dict[str, str]:
    """The request headers every call carries: JSON in and out (credentials are added apart)."""
    result = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if has_body:
        result["Content-Type"] = "application/json"
    return result


def whole_seconds(seconds: float) -> int:
    """A visibility timeout as the protocol's whole seconds, rounded up so no message is early."""
    return math.ceil(seconds)


def seconds_text(seconds: float) -> str:
    """Seconds as a query parameter: whole milliseconds, rounded up, without trailing zeros
    (``5``, ``0.25``); never an exponent, which the servers' number syntax lacks."""
    text = f"{math.ceil(seconds * 1000) / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def add_call(queue: str, item_id: str, body_json: str) -> ApiCall:
    """Add one message under the id we chose; retrying it adds nothing twice.

    ``body_json`` is the body as checked JSON text (ASCII), spliced in as it is.
    """
    return _call("add", batch_entry(item_id, body_json), queue=queue)


def batch_entry(item_id: str, body_json: str) -> bytes:
    """One message as the add endpoints take it, ``{"id": ..., "message_body": ...}``.

    A batch's size is the sum of its entries', so the caller can split it before encoding it.
    """
    return b'{"id":' + _json(item_id) + b',"message_body":' + body_json.encode("ascii") + b"}"


def add_batch_call(queue: str, entries: Sequence[bytes], delay_seconds: Optional[float]) -> ApiCall:
    """Add several messages (:func:`batch_entry` each) in one step, hidden for ``delay_seconds``
    (left out: the queue's delay). Retrying it adds nothing twice: the ids are ours."""
    payload = b'{"messages":[' + b",".join(entries) + b"]"
    if delay_seconds is not None:
        payload += b',"delay_seconds":' + _json(delay_seconds)
    return _call("add_batch", payload + b"}", queue=queue)


def peek_call(queue: str, limit: int, offset: int) -> ApiCall:
    """One page of messages in queue order, from position ``offset``."""
    return _call("peek", query={"limit": limit, "offset": offset}, queue=queue)


def get_call(queue: str, item_id: str) -> ApiCall:
    """One message by id (404 when absent)."""
    return _call("get", queue=queue, id=item_id)


def check_existence_call(queue: str, item_ids: Sequence[str]) -> ApiCall:
    """Which of these ids exist. A POST, but a read: repeating it is harmless."""
    return _call("check_existence", _json({"message_ids": list(item_ids)}), queue=queue)


def receive_call(
    queue: str,
    max_messages: int,
    visibility_seconds: Optional[int],
    delete_after_receive: bool,
    only_new: bool,
    wait_seconds: Optional[float] = None,
    longest_wait: float = 0,
    attempt_id: Optional[str] = None,
    retry_unanswered: bool = False,
) -> ApiCall:
    """Receive messages. Not idempotent: a second receive would hide more messages.

    ``visibility_seconds`` and ``wait_seconds`` are left out when None, so that the queue's
    attributes apply (on ``pyqueue serve``). A server that holds the request may take up to
    ``wait_seconds`` (``longest_wait`` when that is None) to answer. ``attempt_id`` lets a
    server that knows it answer a repeat as it answered the first; ``retry_unanswered`` allows
    a repeat when the request provably got no answer (see :attr:`ApiCall.retry_unanswered`).
    """
    query: Dict[str, QueryValue] = {"max_messages": max_messages}
    if visibility_seconds is not None:
        query["visibility_timeout"] = visibility_seconds
    query["delete_after_receive"] = delete_after_receive
    query["only_new"] = only_new
    hold = longest_wait
    if wait_seconds is not None:
        query["wait_time_seconds"] = seconds_text(wait_seconds)
        hold = wait_seconds
    if attempt_id is not None:
        query[RECEIVE_ATTEMPT_PARAM] = attempt_id
    call = _call("receive", idempotent=False, query=query, queue=queue, hold=hold)
    return call._replace(retry_unanswered=retry_unanswered)


def delete_call(queue: str, receipt_handle: str) -> ApiCall:
    """Delete the message this receipt handle came with (404 when stale or unknown)."""
    return _call("delete", queue=queue, handle=receipt_handle)


def delete_batch_call(queue: str, receipt_handles: Sequence[str]) -> ApiCall:
    """Delete by several receipt handles in one step; each one succeeds or fails alone."""
    return _call("delete_batch", _json({"receipt_handles": list(receipt_handles)}), queue=queue)


def change_visibility_call(
    queue: str, receipt_handles: Sequence[str], visibility_timeout: float
) -> ApiCall:
    """Hide the messages of these receipt handles for ``visibility_timeout`` seconds from now.

    Repeating it only moves the same deadline a moment later.
    """
    payload = {"receipt_handles": list(receipt_handles), "visibility_timeout": visibility_timeout}
    return _call("change_visibility", _json(payload), queue=queue)


def get_attributes_call(queue: str) -> ApiCall:
    """The queue's attributes."""
    return _call("get_attributes", queue=queue)


def set_attributes_call(queue: str, changes: Mapping[str, object]) -> ApiCall:
    """Change some of the queue's attributes (the others stay); repeating it changes nothing."""
    return _call("set_attributes", _json(dict(changes)), queue=queue)


def redrive_call(queue: str, max_messages: Optional[int]) -> ApiCall:
    """Move dead letters back to their queues (all when ``max_messages`` is None).

    Never repeated: a second redrive would move more messages.
    """
    query = {} if max_messages is None else {"max_messages": max_messages}
    return _call("redrive", idempotent=False, query=query, queue=queue)


def remove_call(queue: str, item_id: str) -> ApiCall:
    """Delete a message by id (404 when absent)."""
    return _call("remove", queue=queue, id=item_id)


def update_call(queue: str, item_id: str, body: MessageBody) -> ApiCall:
    """Replace a message's body (404 when absent)."""
    return _call("update", _json({"message_body": body}), queue=queue, id=item_id)


def clear_call(queue: str) -> ApiCall:
    """Remove every message of the queue."""
    return _call("clear", queue=queue)


def info_call(queue: str) -> ApiCall:
    """The queue's statistics."""
    return _call("info", queue=queue)


def queue_health_call(queue: str) -> ApiCall:
    """Whether the queue can be read (needs read permission)."""
    return _call("queue_health", queue=queue)


def list_queues_call() -> ApiCall:
    """The queues the key may use."""
    return _call("list_queues", idempotent=True)


def server_health_call() -> ApiCall:
    """Whether the server is up (no key needed), for servers without a per-queue health check."""
    return _call("health")


# -- errors ---------------------------------------------------------------------------------------


def raise_for_status(reply: Reply, allowed: Collection[int] = ()) -> None:
    """Return for a 2xx status or one in ``allowed``; raise the matching error otherwise."""
    if not (200 <= reply.status < 300 or reply.status in allowed):
        raise error_for(reply)


def is_missing_route(reply: Reply) -> bool:
    """Whether the server has no such endpoint: its 404 for an unknown path, or its 405 for a
    path it serves under other methods only (a missing message's 404 says something else)."""
    if reply.status not in (404, 405):
        return False
    expected = ROUTE_NOT_FOUND if reply.status == 404 else METHOD_NOT_ALLOWED
    return bool(_json_detail(reply.body) == expected)


def is_missing_message(reply: Reply) -> bool:
    """Whether a reply is the servers' 404 for a message, id or receipt handle that does not
    exist. Any other 404 (an unknown route: a wrong ``server_url``, or not a PyQueue server) is
    not: reading it as "absent" would hide the mistake, a consumer redelivering forever."""
    return reply.status == 404 and bool(_json_detail(reply.body) == MESSAGE_NOT_FOUND)


def _json_detail(body: bytes) -> Any:
    """The ``detail`` of a JSON object body; None for anything else."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("detail") if isinstance(parsed, dict) else None


def error_for(reply: Reply) -> RemoteError:
    """The exception for an unsuccessful reply, with the server's own explanation."""
    detail = _detail(reply.body)
    where = f"{reply.method} {reply.url}"
    status = reply.status
    if status == 401 or (status == 422 and _missing_key(reply.body)):
        message = f"the server refused the API key ({status} for {where}): {detail}"
        hint = ". Pass a valid api_key."
        return AuthenticationError(message + hint, reply.url, status, detail)
    if status == 403:
        message = f"the API key lacks the permission for {where} (403): {detail}"
        return PermissionDeniedError(message, reply.url, status, detail)
    if status in (400, 413, 422):
        message = f"the server rejected {where} ({status}): {detail}"
        return RequestRejectedError(message, reply.url, status, detail)
    if status in (404, 405):
        message = f"the server has no route for {where} ({status}): {detail}. {_WRONG_SERVER_HINT}"
        return RemoteError(message, reply.url, status, detail)
    message = f"the server failed {where} ({status}): {detail}"
    if _is_web_page(reply.body):
        message += f". {_WRONG_SERVER_HINT}"
    return RemoteError(message, reply.url, status, detail)


def _detail(body: bytes) -> str:
    """The server's explanation: ``{"detail": text}``, a list of field errors, or plain text."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return _page_summary(body) if _is_web_page(body) else _snippet(body)
    detail = parsed.get("detail", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(detail, str):
        return detail[:_DETAIL_LIMIT]
    if isinstance(detail, list) and all(isinstance(item, dict) for item in detail):
        return "; ".join(_field_error(item) for item in detail)[:_DETAIL_LIMIT]
    return json.dumps(detail)[:_DETAIL_LIMIT]


def _field_error(item: Mapping[str, Any]) -> str:
    """One entry of a 422 list: ``query.visibility_timeout: Input should be ...``."""
    location = item.get("loc")
    where = ".".join(map(str, location)) if isinstance(location, list) else ""
    message = str(item.get("msg", item))
    return f"{where}: {message}" if where else message


def _missing_key(body: bytes) -> bool:
    """Whether a 422 is the existing server's way of saying that no API key was sent."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    detail = parsed.get("detail") if isinstance(parsed, dict) else None
    if not isinstance(detail, list):
        return False
    return any(
        isinstance(item, dict)
        and [str(part).lower() for part in item.get("loc") or ()] == ["header", "x-api-key"]
        for item in detail
    )


def _is_web_page(body: bytes) -> bool:
    """Whether a body is an HTML page (a web server's or a proxy's, not a PyQueue server's)."""
    return _HTML_START.match(body[:1024]) is not None


def _page_summary(body: bytes) -> str:
    """An HTML page in a few words: its title, never the whole page."""
    import html  # noqa: PLC0415 - only for an error page, and slow to import

    found = _HTML_TITLE.search(body)
    title = found and " ".join(html.unescape(found.group(1).decode("utf-8", "replace")).split())
    if not title:
        return f"an HTML page of {len(body)} bytes"
    return f"an HTML page titled {title[:120]!r}"


def _snippet(body: bytes) -> str:
    return body.decode("utf-8", "replace").strip()[:_DETAIL_LIMIT]


# -- replies --------------------------------------------------------------------------------------


def decode(reply: Reply, read: Callable[[Any], _T]) -> _T:
    """Parse a reply's JSON with ``read``; a body of the wrong shape raises ``RemoteError``."""
    if _is_web_page(reply.body):
        summary = _page_summary(reply.body)
        raise RemoteError(
            f"the server answered {reply.method} {reply.url} ({reply.status}) with {summary}, "
            f"not JSON. {_WRONG_SERVER_HINT}",
            reply.url,
            reply.status,
            summary,
        )
    try:
        return read(json.loads(reply.body))
    except (ValueError, TypeError, KeyError) as exc:
        raise RemoteError(
            f"could not read the server's reply to {reply.method} {reply.url}: {exc}",
            reply.url,
            reply.status,
            _snippet(reply.body),
        ) from exc


def _pick(obj: Mapping[str, Any], key: str) -> Any:
    """The value of our ``key`` in a wire object, through :data:`WIRE_KEYS`."""
    for name in WIRE_KEYS[key]:
        if name in obj:
            return obj[name]
    return _MISSING


def _object(value: Any, what: str) -> _JsonObject:
    if not isinstance(value, dict):
        raise TypeError(f"{what} should be a JSON object, not {type(value).__name__}")
    return value


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = _pick(obj, key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key!r} should be a non-empty string, not {_shown(value)}")
    return value


def _optional_text(obj: Mapping[str, Any], key: str) -> Optional[str]:
    value = _pick(obj, key)
    return value if isinstance(value, str) and value else None


def _count(obj: Mapping[str, Any], key: str) -> int:
    value = _pick(obj, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key!r} should be a count, not {_shown(value)}")
    return value


def _time(obj: Mapping[str, Any], key: str) -> str:
    """A timestamp in our canonical naive UTC form, whichever form the server used."""
    value = _pick(obj, key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} should be a timestamp, not {_shown(value)}")
    return canonical_time(value)


def _optional_time(obj: Mapping[str, Any], key: str) -> Optional[str]:
    value = _pick(obj, key)
    return None if value is _MISSING or value is None else _time(obj, key)


def _body(obj: Mapping[str, Any]) -> MessageBody:
    """The message body; a text body is the server's ``{"content": text}``, as it stores them."""
    value = _pick(obj, "message_body")
    if isinstance(value, str):
        return {"content": value}
    return _object(value, "'message_body'")


def _shown(value: Any) -> str:
    return "nothing" if value is _MISSING else repr(value)[:80]


def message_id(obj: Any) -> str:
    """The id in an add's reply: the server's choice is the truth (one engine ignores ours)."""
    return _text(_object(obj, "the reply"), "id")


def page_of(obj: Any, read: Callable[[Any], _T]) -> Tuple[List[_T], Optional[bool]]:
    """One page of a listing, ``{"messages": [...], "has_more": ...}``.

    Returns each message read with ``read``, and ``has_more`` when the server said (else None).
    """
    envelope = _object(obj, "the reply")
    messages = envelope.get("messages")
    if not isinstance(messages, list):
        raise ValueError(f"'messages' should be a list, not {_shown(messages)}")
    has_more = envelope.get("has_more")
    return [read(item) for item in messages], has_more if isinstance(has_more, bool) else None


def stored_message(obj: Any) -> StoredMessage:
    """A message as the queue holds it; the server's receipt handle, if it sent one, is dropped."""
    message = _object(obj, "a message")
    return {
        "id": _text(message, "id"),
        "timestamp": _time(message, "timestamp"),
        "message_body": _body(message),
        "receive_count": _count(message, "receive_count"),
        "first_received_at": _optional_time(message, "first_received_at"),
        "invisible_until": _optional_time(message, "invisible_until"),
    }


def record(obj: Any) -> Record:
    """A message with its tracking fields, for copying a queue (with the handle, if sent)."""
    return record_from(stored_message(obj), _optional_text(obj, "current_receipt_handle"))


def received_message(obj: Any, visibility_seconds: int, now: datetime) -> ReceivedMessage:
    """A received message in our SQS-style shape.

    The existing server does not report ``first_received_at``: it is then the moment of this
    receive (its hiding time minus ``visibility_seconds``, else ``now``), which is exact for a
    first receive. A missing receipt handle (the existing server's ``delete_after_receive``)
    becomes ``""``, which deletes nothing.
    """
    message = _object(obj, "a message")
    first = _optional_time(message, "first_received_at")
    return {
        "Id": _text(message, "Id"),
        "ReceiptHandle": _optional_text(message, "ReceiptHandle") or "",
        "message_body": _body(message),
        "timestamp": _time(message, "timestamp"),
        "receive_count": _count(message, "receive_count"),
        "first_received_at": first or _receive_moment(message, visibility_seconds, now),
    }


def delivery(obj: Any, visibility_seconds: int, now: datetime) -> Delivery:
    """A received message and when it becomes visible again, as the server reported it."""
    until = _optional_time(_object(obj, "a message"), "invisible_until")
    return Delivery(received_message(obj, visibility_seconds, now), until)


def _receive_moment(message: Mapping[str, Any], visibility_seconds: int, now: datetime) -> str:
    until = _optional_time(message, "invisible_until")
    if until is None:
        return format_time(now)
    return format_time(parse_time(until) - timedelta(seconds=visibility_seconds))


def message_ids(obj: Any, count: int) -> List[str]:
    """The ids in a batch add's reply, ``{"ids": [...]}``: ``count`` of them, one per message
    sent, in the same order."""
    ids = _object(obj, "the reply").get("ids")
    if not isinstance(ids, list) or not all(isinstance(item, str) and item for item in ids):
        raise ValueError(f"'ids' should be a list of ids, not {_shown(ids)}")
    if len(ids) != count:
        raise ValueError(f"{len(ids)} ids for {count} messages")
    return ids


def handle_outcomes(obj: Any, sent: Sequence[str]) -> List[Optional[DeleteFailureReason]]:
    """Each sent receipt handle's outcome in a batch reply: None when it succeeded, else the
    reason it failed.

    The reply is ``{"Successful": [handle, ...], "Failed": [{"ReceiptHandle", "reason"}, ...]}``,
    each list in the order the handles were sent (the same handle may be in both, when it was
    sent twice), so one pass over the sent handles pairs every entry with its handle.
    """
    answer = _object(obj, "the reply")
    successful = answer.get("Successful")
    failed = answer.get("Failed")
    if not isinstance(successful, list) or not isinstance(failed, list):
        raise ValueError("the reply should have a 'Successful' and a 'Failed' list")
    outcomes: List[Optional[DeleteFailureReason]] = []
    done = undone = 0
    for handle in sent:
        if done < len(successful) and successful[done] == handle:
            outcomes.append(None)
            done += 1
        elif undone < len(failed) and _failed_handle(failed[undone]) == handle:
            outcomes.append(_reason(failed[undone]))
            undone += 1
        else:
            raise ValueError(f"the reply says nothing of the receipt handle {handle!r}")
    if done < len(successful) or undone < len(failed):
        raise ValueError("the reply names receipt handles that were not sent")
    return outcomes


def _failed_handle(entry: Any) -> Any:
    return entry.get("ReceiptHandle") if isinstance(entry, dict) else None


def _reason(entry: Mapping[str, Any]) -> DeleteFailureReason:
    reason = entry.get("reason")
    if reason not in ("not_found", "invalid"):
        raise ValueError(f"'reason' should be 'not_found' or 'invalid', not {_shown(reason)}")
    return cast(DeleteFailureReason, reason)


def attributes(obj: Any) -> QueueAttributes:
    """A queue's attributes, as ``pyqueue serve`` answers them (null: not set)."""
    answer = _object(obj, "the reply")
    return {
        "visibility_timeout": _seconds(answer, "visibility_timeout"),
        "delay_seconds": _seconds(answer, "delay_seconds"),
        "wait_time_seconds": _seconds(answer, "wait_time_seconds"),
        "retention_seconds": _or_none(answer, "retention_seconds", _seconds),
        "max_receive_count": _or_none(answer, "max_receive_count", _count),
        "dead_letter_queue": _or_none(answer, "dead_letter_queue", _text),
    }


def _or_none(
    obj: Mapping[str, Any], key: str, read: Callable[[Mapping[str, Any], str], _T]
) -> Optional[_T]:
    """``read``'s value of ``key``, or None when the key is there with a null."""
    return None if key in obj and obj[key] is None else read(obj, key)


def _seconds(obj: Mapping[str, Any], key: str) -> float:
    value = obj.get(key, _MISSING)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{key!r} should be a number of seconds, not {_shown(value)}")
    return value


def moved_count(obj: Any) -> int:
    """How many messages a redrive moved, ``{"moved": n}``."""
    return _count(_object(obj, "the reply"), "moved")


def existing_ids(obj: Any) -> List[str]:
    """The ids in a check-existence reply."""
    found = _object(obj, "the reply").get("existing_ids")
    if not isinstance(found, list) or not all(isinstance(item, str) for item in found):
        raise ValueError(f"'existing_ids' should be a list of strings, not {_shown(found)}")
    return found


def info_counts(obj: Any) -> Dict[str, int]:
    """The counting keys the server reported, by our names.

    The existing server reports only ``message_count`` and its available/in-flight split; the
    caller computes the missing counts (see :func:`queue_info`).
    """
    info = _object(obj, "the reply")
    return {key: _count(info, key) for key in COUNT_KEYS if _pick(info, key) is not _MISSING}


def queue_info(
    reported: Mapping[str, int], queue_name: str, computed: Optional[Counts]
) -> QueueInfo:
    """``get_queue_info``'s answer: the server's counts, and ``computed`` for those it lacks.

    ``computed`` may be None only when the server reported every counting key.
    """
    counts: Dict[str, object] = {} if computed is None else dict(computed.info("remote"))
    counts.update(reported)
    return cast(
        QueueInfo,
        {"queue_type": "remote", "queue_name": queue_name, **{k: counts[k] for k in COUNT_KEYS}},
    )


def queue_names(obj: Any) -> List[str]:
    """The queue names of a ``GET /queues`` reply."""
    entries = _object(obj, "the reply").get("queues")
    if not isinstance(entries, list):
        raise ValueError(f"'queues' should be a list, not {_shown(entries)}")
    return [_text(_object(entry, "a queue"), "queue_name") for entry in entries]


def features(obj: Any) -> FrozenSet[str]:
    """The features a health reply lists (``_rest.FEATURES``); none when it lists none."""
    listed = obj.get("features") if isinstance(obj, dict) else None
    if not isinstance(listed, list):
        return frozenset()
    return frozenset(item for item in listed if isinstance(item, str))


def is_healthy(obj: Any) -> bool:
    """Whether a health reply says ``{"status": "healthy"}``."""
    return isinstance(obj, dict) and obj.get("status") == "healthy"
