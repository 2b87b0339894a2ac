"""One function per endpoint: read the call's inputs, run one storage call, shape the answer.

By the time a handler runs, the route matched, the API key was checked, the queue name is valid
and the key holds the route's permission (see ``_app``). Handlers raise ``HttpError`` for answers
other than 200; the library's ``ValidationError`` becomes a 422 there too.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional

from .. import _validation as check
from .._contract import Inspectable, QueueCore, Store
from .._rest import API_KEY_HEADER, ENDPOINTS, PAGE_SIZE, choose_message_id
from .._semantics import NewMessage
from .._times import Clock, format_time
from . import _shapes as shapes
from ._auth import PERMISSIONS, WILDCARD, ApiKey
from ._params import (
    HttpError,
    JsonObject,
    bool_param,
    int_param,
    json_body,
    json_type,
    number_param,
    text_param,
)

__all__ = ["MAX_OFFSET", "Context"]

#: The largest peek offset accepted (far beyond any real queue, within SQLite's integers).
MAX_OFFSET = 10**12
#: The longest ``consumer_id`` accepted (it is accepted for compatibility and not used).
MAX_CONSUMER_ID = 256

_NOT_FOUND = "Message not found"


class Context(NamedTuple):
    """What a handler works with: decoded path values, query, raw body, the caller and storage."""

    params: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    content_type: Optional[str]
    key: ApiKey
    store: Store
    clock: Clock

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
    return {"status": "healthy", "service": "pyqueue-server"}


def api_health(call: Context) -> JsonObject:
    """``GET /api/v1/health``: as ``/health``, in the existing server's shape."""
    _require_storage(call)
    return {"status": "healthy", "queue_name": None, "timestamp": call.now()}


def _require_storage(call: Context) -> None:
    if not call.store.health_check():
        raise HttpError(503, "the queue storage is not available", {"Retry-After": "5"})


# -- keys and queues -----------------------------------------------------------------------------


def list_queues(call: Context) -> JsonObject:
    """``GET /queues``: the queues this key may use, with their counts."""
    names = {name for name in call.key.queues if name != WILDCARD}
    if WILDCARD in call.key.queues:
        names.update(call.store.queue_names())
    entries = []
    for name in sorted(names):
        permissions = call.key.permissions_on(name)
        if permissions:
            info = call.open(name).get_queue_info()
            entries.append(shapes.queue_summary(name, info, permissions))
    return {"queues": entries, "count": len(entries), "api_key_description": call.key.description}


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
    """``POST /queues/{q}/messages``: add one message; an id already present is a no-op."""
    document = json_body(call.body, call.content_type)
    body = _message_body(document)
    chosen = choose_message_id(_given_id(document), body)
    # The request's id was checked by _given_id; what is left to check is the body's.
    _storable(chosen, 'message_body["id"]')
    item = NewMessage(chosen, check.body_json(body, "message_body"))
    call.open().add_messages([item])
    return {"id": chosen, "status": "success", "receipt_handle": None}


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
        raise HttpError(404, _NOT_FOUND)
    return shapes.peeked(message, call.now())


def receive_messages(call: Context) -> JsonObject:
    """``POST /queues/{q}/messages/receive``: receive SQS-style (query parameters only)."""
    max_messages = int_param(call.query, "max_messages", 10, 1, check.MAX_RECEIVE)
    timeout = number_param(call.query, "visibility_timeout", 30, 0, check.MAX_VISIBILITY_TIMEOUT)
    delete = bool_param(call.query, "delete_after_receive")
    only_new = bool_param(call.query, "only_new")
    text_param(call.query, "consumer_id", MAX_CONSUMER_ID)
    deliveries = call.open().receive_messages(max_messages, timeout, delete, only_new)
    messages = [shapes.received(d.message, d.invisible_until) for d in deliveries]
    return shapes.envelope(messages, len(messages), 0, max_messages)


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
        raise HttpError(404, _NOT_FOUND)
    return {"status": "success", "message": "Message updated"}


def delete_message(call: Context) -> JsonObject:
    """``DELETE /queues/{q}/messages/{receipt_handle}``: 404 if the handle is unknown or stale."""
    handle = call.params["handle"]
    result = call.open().delete_messages([handle])
    if not result["Successful"]:
        raise HttpError(404, _NOT_FOUND)
    return {"status": "success", "message": "Message deleted"}


def remove_message(call: Context) -> JsonObject:
    """``DELETE /queues/{q}/messages/by-id/{id}``: delete by id; 404 if absent."""
    item_id = call.params["id"]
    if not call.inspect().remove_message(item_id):
        raise HttpError(404, _NOT_FOUND)
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
