"""One function per endpoint: read the call's inputs, run one storage call, shape the answer.

By the time a handler runs, the route matched, the API key was checked, the queue name is valid
and the key holds the route's permission (see ``_app``). Handlers raise ``HttpError`` for answers
other than 200; the library's ``ValidationError`` becomes a 422 there too.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, NamedTuple, Optional, Sequence

from .. import _validation as check
from .._contract import Delivery, Inspectable, QueueCore, Store
from .._errors import ValidationError
from .._rest import (
    API_KEY_HEADER,
    BATCH_LIMIT,
    ENDPOINTS,
    FEATURES,
    MESSAGE_NOT_FOUND,
    PAGE_SIZE,
    QUEUE_NAME_RULE,
    RECEIVE_ATTEMPT_PARAM,
    choose_message_id,
    is_queue_name,
)
from .._semantics import NewMessage, changed_attributes
from .._times import Clock, format_time
from .._types import DEFAULT_ATTRIBUTES, QueueAttributes
from . import _shapes as shapes
from ._attempts import MAX_ATTEMPT_ID, attempts_of
from ._auth import PERMISSIONS, WILDCARD, ApiKey
from ._params import (
    HttpError,
    JsonObject,
    bool_param,
    int_param,
    json_body,
    json_type,
    optional_int_param,
    optional_number_param,
    options,
    text_param,
)

__all__ = ["HOLD_SLICE", "MAX_OFFSET", "Context", "queue_names_for"]

#: The largest peek offset accepted (far beyond any real queue, within SQLite's integers).
MAX_OFFSET = 10**12
#: The longest ``consumer_id`` accepted (it is accepted for compatibility and not used).
MAX_CONSUMER_ID = 256
#: The most queues one page of ``GET /queues?limit=...`` lists.
MAX_QUEUE_PAGE = 1000
#: The longest ``next`` cursor of the queue list accepted (a queue name; far longer than any).
MAX_QUEUE_CURSOR = 256

#: A long-polling receive waits in slices this long, looking between two for a server stop, so
#: a graceful stop never waits for a whole long poll (a new message still wakes it at once).
HOLD_SLICE = 1.0

#: Attribute changes are read, checked against the queue's attributes and written under this
#: lock, so two changes at once cannot together break a rule that each one kept (a receive
#: count limit left without its dead-letter queue).
_ATTRIBUTE_CHANGES = threading.Lock()


class Context(NamedTuple):
    """What a handler works with: decoded path values, query, raw body, the caller and storage."""

    params: Mapping[str, str]
    query: Mapping[str, str]
    #: The query parameters the route reads (and a receive's options in its body).
    accepted: FrozenSet[str]
    body: bytes
    content_type: Optional[str]
    key: ApiKey
    store: Store
    clock: Clock
    #: Set when the server stops: requests held for long polling answer at once.
    stopping: threading.Event

    @property
    def queue(self) -> str:
        """The (already validated) queue name of the path."""
        return self.params["queue"]

    def open(self, name: Optional[str] = None) -> QueueCore:
        """The path's queue (or queue ``name``) in the store."""
        return self.store.open_queue(self.queue if name is None else name)

    def inspect(self) -> Inspectable:
        """The path's queue, for peeking and by-id calls (501 where the store cannot)."""
        queue = self.open()
        if not isinstance(queue, Inspectable):
            raise HttpError(501, "this server's storage cannot look inside a queue")
        return queue

    def now(self) -> str:
        """The current time, canonical."""
        return format_time(self.clock())


# -- service -------------------------------------------------------------------------------------


def root(call: Context) -> JsonObject:
    """``GET /``: where to go next."""
    return {
        "message": "PyQueue server",
        "health": ENDPOINTS["api_health"].template,
        "auth_header": API_KEY_HEADER,
        "user_info": ENDPOINTS["auth_me"].template,
    }


def health(call: Context) -> JsonObject:
    """``GET /health``: the service and its storage are up (no key needed)."""
    _require_storage(call)
    return {"status": "healthy", "service": "pyqueue-server", "features": list(FEATURES)}


def api_health(call: Context) -> JsonObject:
    """``GET /api/v1/health``: as ``/health``, in the existing server's shape."""
    _require_storage(call)
    return {"status": "healthy", "queue_name": None, "timestamp": call.now()}


def _require_storage(call: Context) -> None:
    if not call.store.health_check():
        raise HttpError(503, "the queue storage is not available", {"Retry-After": "5"})


# -- keys and queues -----------------------------------------------------------------------------


def list_queues(call: Context) -> JsonObject:
    """``GET /queues``: the queues this key may use, with their counts.

    Paged when asked: ``limit`` queues at most, after the queue named by ``next`` (the previous
    page's ``next``, null on the last page). Without either, every queue and no ``next``.
    """
    limit = optional_int_param(call.query, "limit", 1, MAX_QUEUE_PAGE)
    after = text_param(call.query, "next", MAX_QUEUE_CURSOR)
    entries: List[JsonObject] = []
    more = False
    for name in queue_names_for(call.key, call.store):
        permissions = call.key.permissions_on(name)
        if not permissions or (after is not None and name <= after):
            continue
        if limit is not None and len(entries) == limit:
            more = True
            break
        info = call.open(name).get_queue_info()
        entries.append(shapes.queue_summary(name, info, permissions))
    answer = {"queues": entries, "count": len(entries), "api_key_description": call.key.description}
    if limit is not None or after is not None:
        answer["next"] = entries[-1]["queue_name"] if more else None
    return answer


def queue_names_for(key: ApiKey, store: Store) -> List[str]:
    """The queues ``key`` names, and with ``*`` every queue of ``store``, sorted (some of them may
    grant it nothing: check ``permissions_on``)."""
    names = {name for name in key.queues if name != WILDCARD}
    if WILDCARD in key.queues:
        names.update(store.queue_names())
    return sorted(names)


def auth_me(call: Context) -> JsonObject:
    """``GET /auth/me``: this key's description and its permissions as configured."""
    return {
        "description": call.key.description,
        "accessible_queues": list(call.key.queues),
        "queue_permissions": {
            name: _permission_flags([p for p in PERMISSIONS if p in granted])
            for name, granted in call.key.queues.items()
        },
        "total_accessible_queues": len(call.key.queues),
    }


def auth_permissions(call: Context) -> JsonObject:
    """``GET /auth/permissions/{q}``: what this key may do on one queue."""
    permissions = call.key.permissions_on(call.queue)
    flags = _permission_flags(permissions)
    del flags["permissions"]
    return {"queue_name": call.queue, "has_access": bool(permissions), **flags}


def _permission_flags(permissions: List[str]) -> Dict[str, Any]:
    return {
        "permissions": permissions,
        **{f"can_{permission}": permission in permissions for permission in PERMISSIONS},
    }


# -- messages ------------------------------------------------------------------------------------


def add_message(call: Context) -> JsonObject:
    """``POST /queues/{q}/messages``: add one message; an id already present is a no-op.

    ``delay_seconds`` (0-900) hides it that long; left out, the queue's delay applies.
    """
    document = json_body(call.body, call.content_type)
    item = _new_message(document)
    call.open().add_messages([item], _delay(document))
    return {"id": item.id, "status": "success", "receipt_handle": None}


def add_messages(call: Context) -> JsonObject:
    """``POST /queues/{q}/messages/batch``: add 1 to 100 messages in one step, in order.

    ``{"messages": [{"id"?, "message_body"}, ...], "delay_seconds"?}``; answers their ids.
    """
    document = json_body(call.body, call.content_type)
    entries = _batch(document, "messages")
    items = [_entry(entry, index) for index, entry in enumerate(entries)]
    ids = call.open().add_messages(items, _delay(document))
    return {"ids": ids, "status": "success"}


def _entry(entry: object, index: int) -> NewMessage:
    """One message of a batch, checked as the single add checks its document."""
    where = f"messages[{index}]"
    if not isinstance(entry, dict):
        raise HttpError(422, f"{where} must be a JSON object, not {json_type(entry)}")
    try:
        return _new_message(entry)
    except HttpError as exc:
        raise HttpError(exc.status, f"{where}: {exc.detail}") from None
    except ValidationError as exc:
        raise HttpError(422, f"{where}: {exc}") from None


def _new_message(document: JsonObject) -> NewMessage:
    """The message of an add document: its id (chosen as the library does) and checked body."""
    body = _message_body(document)
    chosen = choose_message_id(_given_id(document), body)
    # The request's id was checked by _given_id; what is left to check is the body's.
    _storable(chosen, 'message_body["id"]')
    return NewMessage(check.item_id(chosen, "id"), check.body_json(body, "message_body"))


def _delay(document: JsonObject) -> Optional[float]:
    """The document's ``delay_seconds`` (0-900), or None for the queue's delay."""
    value = document.get("delay_seconds")
    return None if value is None else check.seconds(value, "delay_seconds", check.MAX_DELAY)


def peek_messages(call: Context) -> JsonObject:
    """``GET /queues/{q}/messages``: a page of messages in queue order, visibility unchanged.

    ``limit`` (``max_messages``, as the original client sends, when ``limit`` is absent).
    """
    name = "limit" if "limit" in call.query or "max_messages" not in call.query else "max_messages"
    limit = int_param(call.query, name, 10, 1, PAGE_SIZE)
    offset = int_param(call.query, "offset", 0, 0, MAX_OFFSET)
    queue = call.inspect()
    messages = queue.get_messages(limit, offset)
    total = call.open().get_queue_info()["message_count"]
    now = call.now()
    return shapes.envelope([shapes.peeked(m, now) for m in messages], total, offset, limit)


def get_message(call: Context) -> JsonObject:
    """``GET /queues/{q}/message/{id}``: one message, or 404."""
    item_id = call.params["id"]
    message = call.inspect().get_message(item_id)
    if message is None:
        raise HttpError(404, MESSAGE_NOT_FOUND)
    return shapes.peeked(message, call.now())


def receive_messages(call: Context) -> JsonObject:
    """``POST /queues/{q}/messages/receive``: receive SQS-style.

    The options come from the query string, a JSON object body, or both (an unknown option, or
    one given twice with different values, is a 422). ``visibility_timeout`` and
    ``wait_time_seconds`` left out: the queue's attributes. When no message is visible, the
    request is held until one comes or the wait is over. A repeat of a receive with the same
    ``receive_request_attempt_id`` answers the same messages and receipt handles (``_attempts``).
    """
    given = options(call.query, call.body, call.content_type, call.accepted)
    max_messages = int_param(given, "max_messages", 10, 1, check.MAX_RECEIVE)
    timeout = optional_number_param(given, "visibility_timeout", 0, check.MAX_VISIBILITY_TIMEOUT)
    wait = optional_number_param(given, "wait_time_seconds", 0, check.MAX_WAIT)
    delete = bool_param(given, "delete_after_receive")
    only_new = bool_param(given, "only_new")
    text_param(given, "consumer_id", MAX_CONSUMER_ID)
    attempt = text_param(given, RECEIVE_ATTEMPT_PARAM, MAX_ATTEMPT_ID)
    queue = call.open()

    def receive(wait_seconds: float) -> List[Delivery]:
        return queue.receive_messages(max_messages, timeout, delete, only_new, wait_seconds)

    def serve() -> JsonObject:
        deliveries = _held(call, receive, wait)
        messages = [shapes.received(d.message, d.invisible_until) for d in deliveries]
        return shapes.envelope(messages, len(messages), 0, max_messages)

    if attempt is None:
        return serve()
    return attempts_of(call.store).answer(call.queue, attempt, serve)


def _held(
    call: Context, receive: Callable[[float], List[Delivery]], wait: Optional[float]
) -> List[Delivery]:
    """``receive`` now, then, while nothing came, for up to ``wait`` seconds (None: the queue's
    wait) in slices of :data:`HOLD_SLICE`, until the server stops."""
    started = time.monotonic()
    deliveries = receive(0)
    if deliveries:
        return deliveries
    if wait is None:
        # Read only now: a receive that finds messages at once needs no attributes.
        wait = call.store.get_attributes(call.queue)["wait_time_seconds"]
    deadline = started + wait
    while not deliveries and not call.stopping.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        deliveries = receive(min(left, HOLD_SLICE))
    return deliveries


def check_existence(call: Context) -> JsonObject:
    """``POST /queues/{q}/messages/check-existence``: which of the given ids exist."""
    document = json_body(call.body, call.content_type)
    ids = document.get("message_ids")
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise HttpError(422, "message_ids must be a list of strings")
    for item in ids:
        _storable(item, "message_ids")
    existing = call.inspect().check_existence(ids)
    return {"existing_ids": existing}


def update_message(call: Context) -> JsonObject:
    """``PUT /queues/{q}/messages/by-id/{id}``: replace a body, keep the tracking; 404 if absent."""
    body = check.body(_message_body(json_body(call.body, call.content_type)), "message_body")
    item_id = call.params["id"]
    if not call.inspect().update_message(item_id, body):
        raise HttpError(404, MESSAGE_NOT_FOUND)
    return {"status": "success", "message": "Message updated"}


def delete_message(call: Context) -> JsonObject:
    """``DELETE /queues/{q}/messages/{receipt_handle}``: 404 if the handle is unknown or stale."""
    handle = call.params["handle"]
    result = call.open().delete_messages([handle])
    if not result["Successful"]:
        raise HttpError(404, MESSAGE_NOT_FOUND)
    return {"status": "success", "message": "Message deleted"}


def delete_messages(call: Context) -> JsonObject:
    """``POST /queues/{q}/messages/batch-delete``: delete by 1 to 100 receipt handles.

    ``{"receipt_handles": [...]}``; each one succeeds or fails alone (``delete_messages``).
    """
    handles = _handles(json_body(call.body, call.content_type))
    return dict(call.open().delete_messages(handles))


def change_visibility(call: Context) -> JsonObject:
    """``POST /queues/{q}/messages/visibility``: hide the messages of 1 to 100 receipt handles
    for ``visibility_timeout`` seconds from now (0: visible at once); per-handle results."""
    document = json_body(call.body, call.content_type)
    handles = _handles(document)
    if "visibility_timeout" not in document:
        raise HttpError(422, "visibility_timeout is required: seconds from 0 to 43200")
    timeout = check.visibility_timeout(document["visibility_timeout"])
    return dict(call.open().change_visibility(handles, timeout))


def remove_message(call: Context) -> JsonObject:
    """``DELETE /queues/{q}/messages/by-id/{id}``: delete by id; 404 if absent."""
    item_id = call.params["id"]
    if not call.inspect().remove_message(item_id):
        raise HttpError(404, MESSAGE_NOT_FOUND)
    return {"status": "success", "message": "Message deleted"}


def clear_queue(call: Context) -> JsonObject:
    """``DELETE /queues/{q}/messages``: remove every message of the queue."""
    call.open().clear_queue()
    return {"status": "success", "message": "Queue cleared"}


def queue_info(call: Context) -> JsonObject:
    """``GET /queues/{q}/info``: counts (zeros for a queue never used)."""
    info = call.open().get_queue_info()
    return shapes.queue_info(call.queue, info, call.now())


def queue_health(call: Context) -> JsonObject:
    """``GET /queues/{q}/health``: the queue can be read now."""
    if not call.open().health_check():
        raise HttpError(503, "the queue storage is not available", {"Retry-After": "5"})
    return {"status": "healthy", "queue_name": call.queue, "timestamp": call.now()}


# -- attributes and dead letters -----------------------------------------------------------------


def get_attributes(call: Context) -> JsonObject:
    """``GET /queues/{q}/attributes``: the queue's attributes (defaults for a queue never set)."""
    return dict(call.store.get_attributes(call.queue))


def set_attributes(call: Context) -> JsonObject:
    """``PATCH`` (or ``PUT``) ``/queues/{q}/attributes``: change the attributes in the body;
    those left out stay, null clears those that allow it. Answers all of them.

    Checked as ``PyQueue.set_queue_attributes`` checks them; naming a dead-letter queue also
    needs the write permission on it, since messages will be written there.
    """
    changes = check.attribute_changes(_attribute_document(call))
    target = changes.get("dead_letter_queue")
    if isinstance(target, str):
        _dead_letter_target(call, target)
    with _ATTRIBUTE_CHANGES:
        merged = changed_attributes(call.store.get_attributes(call.queue), changes)
        _check_dead_letters(merged, call.queue)
        attributes = call.store.set_attributes(call.queue, changes)
    return dict(attributes)


def _attribute_document(call: Context) -> JsonObject:
    """The body's attribute changes; a name that is not an attribute is refused."""
    document = json_body(call.body, call.content_type)
    unknown = sorted(set(document) - set(DEFAULT_ATTRIBUTES))
    if unknown:
        raise HttpError(
            422,
            f"unknown attribute {unknown[0]!r}; the attributes are "
            + ", ".join(DEFAULT_ATTRIBUTES),
        )
    return document


def _dead_letter_target(call: Context, target: str) -> None:
    """A dead-letter queue must be a valid queue name this key may write to."""
    if not is_queue_name(target):
        raise HttpError(422, f"dead_letter_queue must be a queue name: {QUEUE_NAME_RULE}")
    if not call.key.allows(target, "write"):
        raise HttpError(
            403,
            f"Access denied: write permission required for queue '{target}' "
            "(the dead_letter_queue)",
        )


def _check_dead_letters(attributes: QueueAttributes, queue: str) -> None:
    """The rules ``PyQueue.set_queue_attributes`` keeps for the attributes as they would be."""
    target = attributes["dead_letter_queue"]
    if attributes["max_receive_count"] is not None and target is None:
        raise HttpError(422, "max_receive_count needs a dead_letter_queue to move messages to")
    if target == queue:
        raise HttpError(422, f"dead_letter_queue must be another queue, not this one ({target!r})")


def redrive_messages(call: Context) -> JsonObject:
    """``POST /queues/{q}/redrive``: move this dead-letter queue's messages back to the queues
    they came from, as new, oldest first; ``max_messages`` of them (all when left out)."""
    limit = optional_int_param(call.query, "max_messages", 0, MAX_OFFSET)
    return {"moved": call.open().redrive_messages(limit), "status": "success"}


# -- request documents ---------------------------------------------------------------------------


def _message_body(document: JsonObject) -> Mapping[str, Any]:
    """``message_body``: an object, or a string stored as ``{"content": string}`` (unchecked)."""
    # The original client sends its own timestamp; the server stamps messages itself.
    _optional_text(document, "timestamp")
    if "message_body" not in document:
        raise HttpError(422, "message_body is required: a JSON object or a string")
    value = document["message_body"]
    if isinstance(value, str):
        return {"content": value}
    if not isinstance(value, dict):
        raise HttpError(
            422, f"message_body must be a JSON object or a string, not {json_type(value)}"
        )
    return value


def _batch(document: JsonObject, name: str) -> List[Any]:
    """The document's list ``name`` of 1 to :data:`BATCH_LIMIT` entries."""
    entries = document.get(name)
    if not isinstance(entries, list) or not 1 <= len(entries) <= BATCH_LIMIT:
        shown = f"{len(entries)} entries" if isinstance(entries, list) else json_type(entries)
        raise HttpError(422, f"{name} must be a list of 1 to {BATCH_LIMIT} entries, not {shown}")
    return entries


def _handles(document: JsonObject) -> Sequence[str]:
    """The document's ``receipt_handles``: 1 to 100 strings (an empty one fails as invalid)."""
    handles = _batch(document, "receipt_handles")
    for handle in handles:
        if not isinstance(handle, str):
            raise HttpError(422, f"receipt_handles must be strings, not {json_type(handle)}")
        _storable(handle, "receipt_handles")
    return handles


def _given_id(document: JsonObject) -> Optional[str]:
    """The request's ``id``; an empty one counts as none, as the existing server treats it."""
    return _storable(_optional_text(document, "id"), "id") or None


def _storable(text: Optional[str], name: str) -> Optional[str]:
    """``text`` if the database can store it: JSON escapes can spell lone surrogates (``\\ud800``),
    which are not Unicode text."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        raise HttpError(422, f"{name} must be valid Unicode text (no lone surrogates)") from None
    return text


def _optional_text(document: JsonObject, name: str) -> Optional[str]:
    value = document.get(name)
    if value is not None and not isinstance(value, str):
        raise HttpError(422, f"{name} must be a string, not {json_type(value)}")
    return value
