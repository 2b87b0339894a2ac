"""The application, sans-IO: a complete :class:`Request` in, a :class:`Response` out.

The order of checks is the order of the answers a client can get: 400 for a path that is not
UTF-8, 404/405 for an unknown route, 401 for a missing or wrong key, 422 for a bad queue name
(before storage is touched), 403 for a missing permission, then the handler's own 415/422/404.
Anything unexpected is logged here with its traceback and answered with a bare 500.
"""

from __future__ import annotations

import logging
import re
import threading
from email.message import Message
from typing import List, Optional

from .._contract import Store
from .._errors import LockTimeoutError, ValidationError
from .._rest import API_KEY_HEADER, API_PREFIX
from .._times import Clock
from ._auth import PERMISSIONS, ApiKey, KeyRing
from ._cors import Cors
from ._handlers import Context
from ._params import (
    HttpError,
    JsonObject,
    Request,
    Response,
    error_response,
    parse_query,
    path_value,
    queue_name,
)
from ._routes import PUBLIC, match

__all__ = ["App", "loggable_path"]

_log = logging.getLogger(__package__)

#: The caller of public routes: no permissions at all.
_ANONYMOUS = ApiKey("anonymous", {})
#: How much of a path a log line shows.
_LOGGED_PATH_LIMIT = 200
#: ``.../messages/{receipt_handle}``: the one path that carries a secret.
_RECEIPT_HANDLE_PATH = re.compile(
    f"^({re.escape(API_PREFIX)}/queues/[^/]*/messages/)"
    r"(?!(?:receive|check-existence|by-id|batch|batch-delete|visibility)$)[^/]+$"
)


class App:
    """Routes, authenticates, authorizes and dispatches one request."""

    def __init__(self, keys: KeyRing, store: Store, clock: Clock, cors: Cors) -> None:
        self.keys = keys
        self.store = store
        self.clock = clock
        self.cors = cors
        #: Set by a stop: requests held for long polling then answer at once.
        self.stopping = threading.Event()

    def handle(self, request: Request) -> Response:
        """The answer to ``request``; never raises for anything the request contains."""
        origin = request.headers.get("Origin")
        response = self.cors.preflight(request.method, request.headers)
        if response is None:
            response = self._answer(request)
        response.headers.update(self.cors.headers(origin))
        return response

    def _answer(self, request: Request) -> Response:
        try:
            return Response(200, self._dispatch(request), {})
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
                "internal error answering %s %s", request.method, loggable_path(request.target)
            )
            return error_response(HttpError(500, "internal server error"))

    def _dispatch(self, request: Request) -> JsonObject:
        path, _, raw_query = request.target.partition("?")
        route, params = match(request.method, _segments(path))
        key = _ANONYMOUS
        if route.access != PUBLIC:
            key = self.keys.authenticate(_single(request.headers, API_KEY_HEADER))
        if "queue" in params:
            queue_name(params["queue"])
        if route.access in PERMISSIONS and not key.allows(params["queue"], route.access):
            raise HttpError(
                403,
                f"Access denied: {route.access} permission required for queue '{params['queue']}'",
            )
        context = Context(
            params,
            parse_query(raw_query),
            request.body,
            request.headers.get("Content-Type"),
            key,
            self.store,
            self.clock,
            self.stopping,
        )
        return route.handler(context)


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


def loggable_path(target: str) -> str:
    """The path of a request target, fit for a log line.

    The query string is dropped (a client may put anything there, keys included), a receipt
    handle is replaced by a placeholder (whoever holds it may delete the message), characters
    that could forge log lines are escaped, and long paths are cut.
    """
    path = _RECEIPT_HANDLE_PATH.sub(r"\1<receipt handle>", target.partition("?")[0])
    if len(path) > _LOGGED_PATH_LIMIT:
        path = path[:_LOGGED_PATH_LIMIT] + "..."
    return path.encode("unicode_escape").decode("ascii")
