"""The PyQueue REST protocol's vocabulary, shared by the remote client and ``pyqueue serve``.

What both ends of the wire must agree on lives here once (PROTOCOL.md): the API prefix, every
endpoint's method and path template, the API-key header, the queue-name rule, the page size, the
choice of a new message's id, and which hosts are this machine. The client builds its request
paths from :data:`ENDPOINTS`; the server builds its routes from the same table. No I/O.
"""

from __future__ import annotations

import ipaddress
import re
from typing import List, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode

from ._ids import new_message_id
from ._validation import body_id

__all__ = [
    "API_KEY_HEADER",
    "API_PREFIX",
    "BATCH_LIMIT",
    "ENDPOINTS",
    "EXTENSIONS",
    "FEATURES",
    "FEATURE_ATTEMPT_ID",
    "FEATURE_BODY_OPTIONS",
    "FEATURE_DELETE_AFTER_RECEIVE",
    "MESSAGE_NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "PAGE_SIZE",
    "QUEUE_NAME_RULE",
    "RECEIVE_ATTEMPT_PARAM",
    "ROUTE_NOT_FOUND",
    "Endpoint",
    "QueryValue",
    "choose_message_id",
    "is_loopback",
    "is_queue_name",
]

#: Where the API lives below the server URL.
API_PREFIX = "/api/v1"
#: The header that carries the API key.
API_KEY_HEADER = "X-API-Key"
#: The most messages one page of a listing (or one receive) holds, on both servers.
PAGE_SIZE = 100
#: The most entries one batch request of ``pyqueue serve`` holds (messages to add, receipt
#: handles to delete or hide). SQS allows 10; a hundred keeps requests few and bodies small, and a
#: client splits longer batches into several requests.
BATCH_LIMIT = 100
#: The queue-name rule in words, for error messages on either side.
QUEUE_NAME_RULE = "1 to 80 letters, digits, '_', '.' or '-' (and not '.' or '..')"

#: The ``detail`` of both servers' 404 for a path no route serves (a missing message's 404 says
#: something else), and of their 405 for a path served under other methods only. A client tells
#: "this server lacks the endpoint" from "the message is absent" by these.
ROUTE_NOT_FOUND = "Not Found"
METHOD_NOT_ALLOWED = "Method Not Allowed"
#: The ``detail`` of both servers' 404 for a message, receipt handle or id that does not exist:
#: the only 404 a client may read as "absent" (any other means a wrong ``server_url``).
MESSAGE_NOT_FOUND = "Message not found"

#: What ``pyqueue serve`` does beyond the existing server's protocol, as its ``GET /health``
#: lists them under ``features`` (the existing server lists none): a client reads them once.
#: ``receive_attempt_id``: a receive that repeats an attempt id gets the first one's answer;
#: ``delete_after_receive``: a receive deletes what it delivers, and only that;
#: ``receive_body_options``: a receive takes its options from a JSON body too.
FEATURE_ATTEMPT_ID = "receive_attempt_id"
FEATURE_DELETE_AFTER_RECEIVE = "delete_after_receive"
FEATURE_BODY_OPTIONS = "receive_body_options"
FEATURES = (FEATURE_ATTEMPT_ID, FEATURE_DELETE_AFTER_RECEIVE, FEATURE_BODY_OPTIONS)
#: The receive parameter that carries the client's attempt id (see ``FEATURES``).
RECEIVE_ATTEMPT_PARAM = "receive_request_attempt_id"

#: A query parameter's value before encoding (booleans travel as ``true``/``false``).
QueryValue = Union[str, int, bool]

# A queue name is one path segment on both servers; "." and ".." are refused apart, since a
# path normalizer would read them as "this folder" and "the folder above".
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")
#: Segments that percent-encoding leaves as they are (checked first: quote() is slower).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


class Endpoint:
    """One endpoint: its HTTP method and its path's segments; a ``{name}`` segment is a value."""

    __slots__ = ("_pieces", "_tail", "method", "segments")

    def __init__(self, method: str, template: str) -> None:
        self.method = method
        self.segments: Tuple[str, ...] = tuple(part for part in template.split("/") if part)
        # The path as (literal text, value name) pieces and a literal tail, so filling it in is
        # one join: it runs for every request the client sends.
        pieces: List[Tuple[str, str]] = []
        literal = ""
        for segment in self.segments:
            literal += "/"
            if segment.startswith("{"):
                pieces.append((literal, segment[1:-1]))
                literal = ""
            else:
                literal += segment
        self._pieces = tuple(pieces)
        self._tail = literal

    @property
    def template(self) -> str:
        """The path template, e.g. ``/api/v1/queues/{queue}/message/{id}``."""
        return "/" + "/".join(self.segments)

    def path(self, query: Optional[Mapping[str, QueryValue]] = None, /, **values: str) -> str:
        """The path with ``values`` filled in, and ``query`` as its query string.

        Each value becomes one percent-encoded segment: a ``/`` inside it is ``%2F``, so an id or
        a receipt handle can never reach another route.
        """
        path = "".join([text + _encoded(values[name]) for text, name in self._pieces]) + self._tail
        if query:
            path += "?" + urlencode({name: _query_text(value) for name, value in query.items()})
        return path or "/"

    def __repr__(self) -> str:
        return f"Endpoint({self.method!r}, {self.template!r})"


def _encoded(value: str) -> str:
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def _query_text(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_QUEUE = API_PREFIX + "/queues/{queue}"

#: Every endpoint by name (PROTOCOL.md). The server tries its routes in this order, so an
#: endpoint with a literal segment comes before one with a value in the same place.
#: The existing PyQueue server lacks those in :data:`EXTENSIONS`.
ENDPOINTS: Mapping[str, Endpoint] = {
    "root": Endpoint("GET", "/"),
    "health": Endpoint("GET", "/health"),
    "api_health": Endpoint("GET", API_PREFIX + "/health"),
    "openapi": Endpoint("GET", "/openapi.json"),
    "list_queues": Endpoint("GET", API_PREFIX + "/queues"),
    "auth_me": Endpoint("GET", API_PREFIX + "/auth/me"),
    "auth_permissions": Endpoint("GET", API_PREFIX + "/auth/permissions/{queue}"),
    "add": Endpoint("POST", _QUEUE + "/messages"),
    "peek": Endpoint("GET", _QUEUE + "/messages"),
    "clear": Endpoint("DELETE", _QUEUE + "/messages"),
    "receive": Endpoint("POST", _QUEUE + "/messages/receive"),
    "check_existence": Endpoint("POST", _QUEUE + "/messages/check-existence"),
    "add_batch": Endpoint("POST", _QUEUE + "/messages/batch"),
    "delete_batch": Endpoint("POST", _QUEUE + "/messages/batch-delete"),
    "change_visibility": Endpoint("POST", _QUEUE + "/messages/visibility"),
    "update": Endpoint("PUT", _QUEUE + "/messages/by-id/{id}"),
    "remove": Endpoint("DELETE", _QUEUE + "/messages/by-id/{id}"),
    "delete": Endpoint("DELETE", _QUEUE + "/messages/{handle}"),
    "get": Endpoint("GET", _QUEUE + "/message/{id}"),
    "info": Endpoint("GET", _QUEUE + "/info"),
    "queue_health": Endpoint("GET", _QUEUE + "/health"),
    "get_attributes": Endpoint("GET", _QUEUE + "/attributes"),
    "set_attributes": Endpoint("PATCH", _QUEUE + "/attributes"),
    "put_attributes": Endpoint("PUT", _QUEUE + "/attributes"),
    "redrive": Endpoint("POST", _QUEUE + "/redrive"),
}

#: The endpoints only ``pyqueue serve`` has (batches, visibility changes, attributes, redrive).
#: The existing PyQueue server answers them 404 or 405, which tells a client they are missing.
EXTENSIONS = frozenset(
    {
        "add_batch",
        "delete_batch",
        "change_visibility",
        "get_attributes",
        "set_attributes",
        "put_attributes",
        "redrive",
    }
)


def is_queue_name(name: str) -> bool:
    """Whether ``name`` is a queue name both servers accept (see :data:`QUEUE_NAME_RULE`)."""
    return bool(_QUEUE_NAME.fullmatch(name)) and name not in (".", "..")


def choose_message_id(given: Optional[str], body: Mapping[str, object]) -> str:
    """A new message's id: ``given``, else the body's ``"id"``, else a new UUID4.

    ``given`` is the caller's ``item_id`` (client) or the request's ``id`` (server); an empty one
    counts as none, as the existing server treats it. A body ``"id"`` that is an integer becomes
    its decimal text; one that is neither a string nor an integer raises ``ValidationError``.
    """
    return given or body_id(body) or new_message_id()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is certainly this machine: ``localhost`` or a loopback address literal.

    Loopback addresses are 127.0.0.0/8 and ``::1`` (also in brackets, ``[::1]``, and IPv4-mapped,
    ``::ffff:127.0.0.1``). Names under ``.localhost`` are not counted: the standard library
    resolves them through the system resolver, and many resolvers send them to DNS, which may
    answer with any address. The client skips its warning about an API key sent unencrypted,
    and the server allows running without authentication, only for these hosts.
    """
    if host.lower() == "localhost":
        return True
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "%" in literal:
        return False  # a scoped IPv6 address parses only on some Python versions
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # Mapped addresses count as loopback only on recent Python versions: decide here.
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
