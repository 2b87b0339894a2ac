"""The application, sans-IO: a complete :class:`Request` in, a :class:`Response` out.

The order of checks is the order of the answers a client can get: 400 for a path that is not
UTF-8, 404/405 for an unknown route, 401 for a missing or wrong key, 422 for a bad queue name
(before storage is touched), 403 for a missing permission, 422 for a query parameter the route
does not read or a body sent to a route that reads none, then the handler's own 415/422/404.
Anything unexpected is logged here with its traceback and answered with a bare 500. The
dashboard's paths and ``/metrics`` (``_dashboard``) are answered before the routing table, and
every answer is counted for ``/metrics`` and the dashboard's throughput chart (``_metrics``).
"""

from __future__ import annotations

import logging
import threading
import time
from email.message import Message
from typing import List, Optional
from urllib.parse import unquote

from .._contract import Store
from .._errors import LockTimeoutError, ValidationError
from .._rest import API_KEY_HEADER
from .._times import Clock
from ._auth import PERMISSIONS, ApiKey, KeyRing
from ._cors import Cors
from ._dashboard import Dashboard
from ._handlers import Context
from ._limits import QueueLimit
from ._metrics import Call, Monitor
from ._params import (
    HttpError,
    JsonObject,
    Request,
    Response,
    error_response,
    path_value,
    queue_name,
    route_query,
)
from ._routes import PUBLIC, ROUTES, match

__all__ = ["App", "Caller", "loggable_path"]

_log = logging.getLogger(__package__)

#: The caller of public routes: no permissions at all.
_ANONYMOUS = ApiKey("anonymous", {})
#: How much of a path a log line shows.
_LOGGED_PATH_LIMIT = 200
#: A path segment after one of these names a message (a receipt handle or an id), unless it is
#: a fixed word of some route: it is logged as the placeholder.
_SECRET_AFTER = {"messages": "<receipt handle>", "message": "<id>", "by-id": "<id>"}
#: Every fixed word of a route path (``receive``, ``by-id``...): never a secret.
_ROUTE_WORDS = frozenset(part for route in ROUTES for part in route.pattern if part[:1] != "{")
#: What the log shows of a path that no route serves, when the caller's key was not verified.
_UNKNOWN_ROUTE = "<unknown route>"


class App:
    """Routes, authenticates, authorizes and dispatches one request."""

    def __init__(
        self,
        keys: KeyRing,
        store: Store,
        clock: Clock,
        cors: Cors,
        queues: Optional[QueueLimit] = None,
        metrics_public: bool = False,
    ) -> None:
        self.keys = keys
        self.store = store
        self.clock = clock
        self.cors = cors
        #: The limit on how many queues the store holds (none when None).
        self.queues = queues
        #: The dashboard's pages and ``/metrics``, and the numbers they show.
        self.dashboard = Dashboard(store, clock, Monitor(), metrics_public)
        #: Set by a stop: requests held for long polling then answer at once.
        self.stopping = threading.Event()

    def handle(self, request: Request, caller: Optional[Caller] = None) -> Response:
        """The answer to ``request``; never raises for anything the request contains.

        ``caller``, when given, learns whether the request's API key was verified (and its
        route, which the server's metrics count it under).
        """
        started = time.perf_counter()
        caller = caller or Caller()
        origin = request.headers.get("Origin")
        response = self.cors.preflight(request.method, request.headers)
        if response is None:
            response = self._answer(request, caller)
        response.headers.update(self.cors.headers(origin))
        self.dashboard.monitor.observe(
            request.method, caller, response, time.perf_counter() - started
        )
        return response

    def _answer(self, request: Request, caller: Caller) -> Response:
        try:
            own = self.dashboard.answer(
                request, caller, lambda: self._authenticate(request.headers, caller)
            )
            if own is not None:
                return own
            return Response(200, self._dispatch(request, caller), {})
        except HttpError as exc:
            return error_response(exc)
        except ValidationError as exc:
            return error_response(HttpError(422, str(exc)))
        except LockTimeoutError:
            return error_response(
                HttpError(503, "the queue storage is busy; try again", {"Retry-After": "1"})
            )
        except Exception:
            # The traceback goes to the server's log only: it may name files and internals.
            _log.exception(
                "internal error answering %s %s",
                request.method,
                loggable_path(request.method, request.target, caller.verified),
            )
            return error_response(HttpError(500, "internal server error"))

    def _dispatch(self, request: Request, caller: Caller) -> JsonObject:
        path, _, raw_query = request.target.partition("?")
        route, params = match(request.method, _segments(path))
        caller.matched(route.method, route.pattern, params)
        key = _ANONYMOUS
        if route.access != PUBLIC:
            key = self._authenticate(request.headers, caller)
        if "queue" in params:
            queue_name(params["queue"])
        if route.access in PERMISSIONS and not key.allows(params["queue"], route.access):
            raise HttpError(
                403,
                f"Access denied: {route.access} permission required for queue '{params['queue']}'",
            )
        query = route_query(raw_query, request.body, route.query, route.takes_body)
        if self.queues is not None:
            self.queues.admit(route, params)
        context = Context(
            params,
            query,
            route.query,
            request.body,
            request.headers.get("Content-Type"),
            key,
            self.store,
            self.clock,
            self.stopping,
        )
        return route.handler(context)

    def _authenticate(self, headers: Message, caller: Caller) -> ApiKey:
        """The API key of a request's headers (``HttpError`` 401 when missing or unknown)."""
        key = self.keys.authenticate(_single(headers, API_KEY_HEADER))
        caller.verified = True
        return key


def _segments(path: str) -> List[str]:
    if not path.startswith("/"):
        raise HttpError(400, "the request target must be a path starting with '/'")
    if path == "/":
        return []
    return [path_value(segment) for segment in path[1:].split("/")]


def _single(headers: Message, name: str) -> Optional[str]:
    values = headers.get_all(name) or []
    if len(values) > 1:
        raise HttpError(
            401, f"send one {name} header, not {len(values)}", {"WWW-Authenticate": "ApiKey"}
        )
    return values[0] if values else None


class Caller(Call):
    """What answering one request learned about its sender, for the HTTP layer (and, as a
    :class:`Call`, its route, for the server's metrics)."""

    __slots__ = ("verified",)

    def __init__(self) -> None:
        super().__init__()
        #: The request carried a valid API key (checked because its route needs one).
        self.verified = False


def loggable_path(method: str, target: str, verified: bool) -> str:
    """The path of a request target, fit for a log line.

    The query string is dropped (a client may put anything there, keys included). Of a request
    whose key was not verified, only its route's template is shown (the client may have put a
    secret anywhere in the path). Otherwise every segment that names a message (after
    ``messages``, ``message`` or ``by-id``) is replaced by a placeholder: whoever holds a receipt
    handle may delete the message. Characters that could forge log lines are escaped, and long
    paths are cut.
    """
    path = target.partition("?")[0]
    path = _redacted(path) if verified else _route_template(method, path)
    if len(path) > _LOGGED_PATH_LIMIT:
        path = path[:_LOGGED_PATH_LIMIT] + "..."
    return path.encode("unicode_escape").decode("ascii")


def _redacted(path: str) -> str:
    """``path`` with each segment after a message-naming one replaced by a placeholder."""
    parts = path.split("/")
    placeholder: Optional[str] = None
    for index, part in enumerate(parts):
        # Compared decoded: a route matches ``m%65ssages`` as ``messages``.
        word = unquote(part, errors="replace")
        if placeholder is not None and part and word not in _ROUTE_WORDS:
            parts[index] = placeholder
        placeholder = _SECRET_AFTER.get(word, placeholder)
    return "/".join(parts)


def _route_template(method: str, path: str) -> str:
    """The template of the route serving ``path`` (under ``method`` or, failing that, another)."""
    try:
        segments = _segments(path)
    except HttpError:
        return _UNKNOWN_ROUTE
    for candidate in dict.fromkeys([method, *(route.method for route in ROUTES)]):
        try:
            route, _ = match(candidate, segments)
        except HttpError:
            continue
        return "/" + "/".join(route.pattern)
    return _UNKNOWN_ROUTE
