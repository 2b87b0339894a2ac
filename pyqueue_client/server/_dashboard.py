"""The web dashboard, its one JSON summary, and ``/metrics``: the server's pages for people.

- ``GET /`` from a browser (``Accept: text/html``) is the dashboard's page; every other client
  keeps the JSON answer it always had. Its script and style come from ``/dashboard/<file>``,
  read once from the package's ``static`` folder: no CDN, no build step.
- The page holds no secret and no number: it signs in with an API key kept in the browser's
  ``sessionStorage`` and asks the JSON API for everything, as any client does, so the server
  checks every call again. A strict ``Content-Security-Policy`` allows only the package's own
  script, style and calls to this server.
- ``GET /api/v1/overview`` (any valid key): every queue the key may use, with its counts, its
  oldest message's age and its dead letters, and the throughput of the last 15 minutes, in one
  answer (four statements, however many queues). ``?queue=name`` narrows it to one queue.
- As on the API's routes, a query parameter a path does not read, or a request body, is a 422.
- ``GET /metrics``: Prometheus text format, for any valid key (or anyone with
  ``metrics_public``); queue gauges cover the queues the key may use.
"""

from __future__ import annotations

from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Protocol, Tuple, runtime_checkable

from .._contract import Store
from .._rest import API_PREFIX
from .._times import Clock, format_time, parse_time
from .._types import QueueAttributes
from ._auth import WILDCARD, ApiKey
from ._handlers import queue_names_for
from ._metrics import WINDOW_SECONDS, Call, Monitor, QueueGauges, render
from ._params import HttpError, JsonObject, Request, Response, queue_name, route_query

__all__ = ["ASSET_PREFIX", "METRICS_PATH", "OVERVIEW_PATH", "Dashboard", "QueueStats"]

#: Where the page's files are served.
ASSET_PREFIX = "/dashboard/"
#: The Prometheus page.
METRICS_PATH = "/metrics"
#: The dashboard's summary of every queue.
OVERVIEW_PATH = API_PREFIX + "/overview"

_STATIC = Path(__file__).parent / "static"
#: The files served, with their media types; nothing else in the folder is ever read.
_MEDIA_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
#: The page may load its own files and call this server, nothing else: no inline script or
#: style, no other origin, no frames, no forms posted anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@runtime_checkable
class QueueStats(Protocol):
    """A store that can count every queue at once (the SQLite store can)."""

    def queue_stats(self) -> Dict[str, Tuple[int, int, int, str]]:
        """Per queue holding messages: its messages, visible and delayed ones, and the
        timestamp of its head (the message waiting longest)."""

    def all_attributes(self) -> Dict[str, QueueAttributes]:
        """The attributes of every queue that has any set."""


class Dashboard:
    """Answers the dashboard's paths and ``/metrics``; every other request passes through."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        monitor: Optional[Monitor] = None,
        metrics_public: bool = False,
    ) -> None:
        self.store = store
        self.clock = clock
        self.monitor = monitor or Monitor()
        self.metrics_public = metrics_public
        self._files = {name: (_STATIC / name).read_bytes() for name in _MEDIA_TYPES}

    def answer(
        self, request: Request, call: Call, authenticate: Callable[[], ApiKey]
    ) -> Optional[Response]:
        """The answer if ``request`` is for the dashboard or ``/metrics``, else None.

        ``authenticate`` returns the request's API key (or raises ``HttpError`` 401).
        """
        path, _, raw_query = request.target.partition("?")
        if path == "/":
            if request.method != "GET" or not _wants_html(request.headers):
                return None
            call.label = "/ (dashboard)"
            route_query(raw_query, request.body, (), False)
            return self._file("index.html")
        if path.startswith(ASSET_PREFIX):
            call.label = ASSET_PREFIX + "{file}"
            _only_get(request)
            name = path[len(ASSET_PREFIX) :]
            if name not in self._files:
                raise HttpError(404, "Not Found")
            route_query(raw_query, request.body, (), False)
            return self._file(name)
        if path == METRICS_PATH:
            call.label = METRICS_PATH
            _only_get(request)
            key = None if self.metrics_public else authenticate()
            route_query(raw_query, request.body, (), False)
            return self._metrics(key)
        if path == OVERVIEW_PATH:
            call.label = OVERVIEW_PATH
            _only_get(request)
            key = authenticate()
            query = route_query(raw_query, request.body, ("queue",), False)
            return Response(200, self.overview(key, query.get("queue")), {})
        return None

    def _file(self, name: str) -> Response:
        headers = {"Content-Type": _MEDIA_TYPES[name], **_PAGE_HEADERS}
        return Response(200, None, headers, self._files[name])

    # -- the summary ----------------------------------------------------------------------------

    def overview(self, key: ApiKey, only: Optional[str] = None) -> JsonObject:
        """Every queue ``key`` may use (or just ``only``) with its numbers, and the throughput."""
        if only is not None:
            queue_name(only)
            if not key.permissions_on(only):
                raise HttpError(403, f"Access denied: no permission on queue '{only}'")
        store = self.store
        if not isinstance(store, QueueStats):
            raise HttpError(501, "this server's storage cannot summarize its queues")
        stats = store.queue_stats()
        attributes = store.all_attributes()
        names = [only] if only is not None else _usable(key, self.store)
        now = self.clock()
        users = _dead_letter_users(attributes)
        queues = [
            _row(name, key, stats, attributes.get(name), users.get(name, []), now) for name in names
        ]
        everything = only is None and bool(key.permissions_on(WILDCARD))
        end, series = self.monitor.throughput.series(None if everything else names)
        return {
            "queues": queues,
            "count": len(queues),
            "generated_at": format_time(now),
            "throughput": {
                "window_seconds": WINDOW_SECONDS,
                "interval_seconds": 1,
                "ends_at": end,
                **series,
            },
        }

    # -- /metrics -------------------------------------------------------------------------------

    def _metrics(self, key: Optional[ApiKey]) -> Response:
        """The Prometheus page: the queues ``key`` may use (every queue when None)."""
        names = None if key is None else _usable(key, self.store)
        store = self.store
        if not isinstance(store, QueueStats):
            raise HttpError(501, "this server's storage cannot summarize its queues")
        stats = store.queue_stats()
        now = self.clock()
        gauges = {
            name: _gauges(stats.get(name), now)
            for name in (sorted(stats) if names is None else names)
        }
        totals = self.monitor.throughput.totals()
        page = render(gauges, totals, self.monitor.request_lines())
        return Response(200, None, {"Content-Type": _PROMETHEUS_TYPE}, page)


def _usable(key: ApiKey, store: Store) -> List[str]:
    """The queues ``key`` has some permission on."""
    return [name for name in queue_names_for(key, store) if key.permissions_on(name)]


def _dead_letter_users(attributes: Mapping[str, QueueAttributes]) -> Dict[str, List[str]]:
    """Dead-letter queue -> the queues that send their dead letters there."""
    users: Dict[str, List[str]] = {}
    for name, policy in sorted(attributes.items()):
        target = policy["dead_letter_queue"]
        if target is not None:
            users.setdefault(target, []).append(name)
    return users


def _row(
    name: str,
    key: ApiKey,
    stats: Mapping[str, Tuple[int, int, int, str]],
    attributes: Optional[QueueAttributes],
    users: List[str],
    now: datetime,
) -> JsonObject:
    """One queue of the overview; dead-letter numbers only for queues the key may see."""
    gauges = _gauges(stats.get(name), now)
    target = None if attributes is None else attributes["dead_letter_queue"]
    dead_letters = None
    if target is not None and key.permissions_on(target):
        dead_letters = _gauges(stats.get(target), now).total
    return {
        "queue_name": name,
        "message_count": gauges.total,
        "visible_messages": gauges.visible,
        "in_flight_messages": gauges.in_flight,
        "delayed_messages": gauges.delayed,
        "oldest_message_age_seconds": gauges.oldest_age if gauges.total else None,
        "dead_letter_queue": target,
        "dead_letter_messages": dead_letters,
        "dead_letter_for": [user for user in users if key.permissions_on(user)],
        "permissions": key.permissions_on(name),
    }


def _gauges(found: Optional[Tuple[int, int, int, str]], now: datetime) -> QueueGauges:
    """A queue's numbers from its counts and head's timestamp (zeros for no messages)."""
    if found is None:
        return QueueGauges(0, 0, 0, 0, 0.0)
    total, visible, delayed, head = found
    age = max(round((now - parse_time(head)).total_seconds(), 3), 0.0)
    return QueueGauges(visible, total - visible - delayed, delayed, total, age)


def _wants_html(headers: Message) -> bool:
    """Whether the client asked for a web page (a browser does; API clients do not)."""
    return "text/html" in (headers.get("Accept") or "")


def _only_get(request: Request) -> None:
    if request.method != "GET":
        raise HttpError(405, "Method Not Allowed", {"Allow": "GET"})
