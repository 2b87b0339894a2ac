"""The routing table: method and path pattern -> handler and the access it needs.

A pattern is a tuple of path segments; ``{name}`` segments capture one non-empty, percent-decoded
segment (so an encoded ``/`` stays inside a value). The first route whose pattern and method both
match wins; a path that matches only under other methods gets 405 with ``Allow``.
"""

from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import _handlers as handlers
from ._wire import HttpError, JsonObject

__all__ = ["ANY_KEY", "PUBLIC", "ROUTES", "Route", "match"]

#: Access of routes anyone may call.
PUBLIC = "public"
#: Access of routes any valid API key may call (otherwise a route needs a queue permission).
ANY_KEY = "any key"

Handler = Callable[[handlers.Call], JsonObject]


class Route(NamedTuple):
    """One endpoint: ``access`` is ``PUBLIC``, ``ANY_KEY`` or a permission on ``{queue}``."""

    method: str
    pattern: Tuple[str, ...]
    handler: Handler
    access: str


_API = ("api", "v1")
_QUEUE = (*_API, "queues", "{queue}")

ROUTES: Tuple[Route, ...] = (
    Route("GET", (), handlers.root, PUBLIC),
    Route("GET", ("health",), handlers.health, PUBLIC),
    Route("GET", (*_API, "health"), handlers.api_health, PUBLIC),
    Route("GET", (*_API, "queues"), handlers.list_queues, ANY_KEY),
    Route("GET", (*_API, "auth", "me"), handlers.auth_me, ANY_KEY),
    Route("GET", (*_API, "auth", "permissions", "{queue}"), handlers.auth_permissions, ANY_KEY),
    Route("POST", (*_QUEUE, "messages"), handlers.add_message, "write"),
    Route("GET", (*_QUEUE, "messages"), handlers.peek_messages, "read"),
    Route("DELETE", (*_QUEUE, "messages"), handlers.clear_queue, "manage"),
    Route("POST", (*_QUEUE, "messages", "receive"), handlers.receive_messages, "read"),
    Route("POST", (*_QUEUE, "messages", "check-existence"), handlers.check_existence, "read"),
    Route("PUT", (*_QUEUE, "messages", "by-id", "{id}"), handlers.update_message, "write"),
    Route("DELETE", (*_QUEUE, "messages", "by-id", "{id}"), handlers.remove_message, "delete"),
    Route("DELETE", (*_QUEUE, "messages", "{handle}"), handlers.delete_message, "delete"),
    Route("GET", (*_QUEUE, "message", "{id}"), handlers.get_message, "read"),
    Route("GET", (*_QUEUE, "info"), handlers.queue_info, "read"),
    Route("GET", (*_QUEUE, "health"), handlers.queue_health, "read"),
)


def match(method: str, segments: Sequence[str]) -> Tuple[Route, Dict[str, str]]:
    """The route for ``method`` on the decoded path ``segments`` and its captured values.

    Raises ``HttpError`` 404 for an unknown path and 405 (with ``Allow``) for a known path
    under another method.
    """
    allowed: List[str] = []
    for route in ROUTES:
        values = _captured(route.pattern, segments)
        if values is None:
            continue
        if route.method == method:
            return route, values
        allowed.append(route.method)
    if allowed:
        raise HttpError(405, "Method Not Allowed", {"Allow": ", ".join(sorted(set(allowed)))})
    raise HttpError(404, "Not Found")


def _captured(pattern: Tuple[str, ...], segments: Sequence[str]) -> Optional[Dict[str, str]]:
    if len(pattern) != len(segments):
        return None
    values: Dict[str, str] = {}
    for expected, segment in zip(pattern, segments):
        if expected.startswith("{"):
            if not segment:
                return None
            values[expected[1:-1]] = segment
        elif expected != segment:
            return None
    return values
