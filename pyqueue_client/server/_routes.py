"""The routing table: the shared endpoints (``_rest.ENDPOINTS``) -> handler and the access needed.

A pattern is the endpoint's tuple of path segments; ``{name}`` segments capture one non-empty,
percent-decoded segment (so an encoded ``/`` stays inside a value). The first route whose pattern
and method both match wins; a path that matches only under other methods gets 405 with ``Allow``.

What a route reads beyond its path comes from ``_openapi``'s tables (``QUERY_PARAMETERS``,
``BODIES``), which the OpenAPI document is made from too: the application refuses (422) any other
query parameter, and a body sent to a route that reads none, so the document and the check
cannot drift apart.
"""

from __future__ import annotations

from typing import (
    Callable,
    Dict,
    FrozenSet,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

from .._rest import ENDPOINTS, METHOD_NOT_ALLOWED, ROUTE_NOT_FOUND
from . import _handlers as handlers
from ._openapi import BODIES, QUERY_PARAMETERS, document
from ._params import HttpError, JsonObject

__all__ = ["ANY_KEY", "PUBLIC", "ROUTES", "ROUTES_BY_NAME", "Route", "match", "openapi_json"]

#: Access of routes anyone may call.
PUBLIC = "public"
#: Access of routes any valid API key may call (otherwise a route needs a queue permission).
ANY_KEY = "any key"

Handler = Callable[[handlers.Context], JsonObject]


class Route(NamedTuple):
    """One endpoint: ``access`` is ``PUBLIC``, ``ANY_KEY`` or a permission on ``{queue}``."""

    method: str
    pattern: Tuple[str, ...]
    handler: Handler
    access: str
    #: The query parameters the route reads; any other is refused.
    query: FrozenSet[str] = frozenset()
    #: Whether the route reads a JSON body; a body sent to a route that reads none is refused.
    takes_body: bool = False


def openapi_json(call: handlers.Context) -> JsonObject:
    """``GET /openapi.json``: the OpenAPI 3.1 document of every route (no key needed)."""
    return document(ROUTES_BY_NAME, PUBLIC, ANY_KEY)


#: Endpoint name -> its handler and access; routes are tried in the order of ``ENDPOINTS``.
_SERVED: Dict[str, Tuple[Handler, str]] = {
    "root": (handlers.root, PUBLIC),
    "health": (handlers.health, PUBLIC),
    "api_health": (handlers.api_health, PUBLIC),
    "openapi": (openapi_json, PUBLIC),
    "list_queues": (handlers.list_queues, ANY_KEY),
    "auth_me": (handlers.auth_me, ANY_KEY),
    "auth_permissions": (handlers.auth_permissions, ANY_KEY),
    "add": (handlers.add_message, "write"),
    "peek": (handlers.peek_messages, "read"),
    "clear": (handlers.clear_queue, "manage"),
    "receive": (handlers.receive_messages, "read"),
    "check_existence": (handlers.check_existence, "read"),
    "update": (handlers.update_message, "write"),
    "remove": (handlers.remove_message, "delete"),
    "delete": (handlers.delete_message, "delete"),
    "get": (handlers.get_message, "read"),
    "info": (handlers.queue_info, "read"),
    "queue_health": (handlers.queue_health, "read"),
    "add_batch": (handlers.add_messages, "write"),
    "delete_batch": (handlers.delete_messages, "delete"),
    "change_visibility": (handlers.change_visibility, "read"),
    "get_attributes": (handlers.get_attributes, "read"),
    "set_attributes": (handlers.set_attributes, "manage"),
    "put_attributes": (handlers.set_attributes, "manage"),
    "redrive": (handlers.redrive_messages, "manage"),
}

#: Every route by its endpoint's name, in the order they are tried.
ROUTES_BY_NAME: Mapping[str, Route] = {
    name: Route(
        endpoint.method,
        endpoint.segments,
        *_SERVED[name],
        query=frozenset(parameter[0] for parameter in QUERY_PARAMETERS.get(name, ())),
        takes_body=name in BODIES,
    )
    for name, endpoint in ENDPOINTS.items()
}
ROUTES: Tuple[Route, ...] = tuple(ROUTES_BY_NAME.values())


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
        raise HttpError(405, METHOD_NOT_ALLOWED, {"Allow": ", ".join(sorted(set(allowed)))})
    raise HttpError(404, ROUTE_NOT_FOUND)


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
