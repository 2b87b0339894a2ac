"""``QueueServer`` (assembled from a ``ServerConfig``) and ``serve``, the ``pyqueue serve`` loop."""

from __future__ import annotations

import contextlib
import logging
import signal
import ssl
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, Callable, Dict, Optional, TextIO, Tuple, Type

from .._errors import ConfigurationError
from .._logs import logged_to_stderr
from .._times import utc_now
from . import _keys
from ._app import App
from ._auth import KeyRing
from ._config import ServerConfig, checked
from ._cors import Cors
from ._http_server import HttpServer
from ._limits import QueueLimit
from ._store import open_store

__all__ = ["QueueServer", "serve"]

_log = logging.getLogger(__package__)

#: How often the accept loop and ``serve`` check for a stop request (a stop waits this long).
_POLL_SECONDS = 0.05
#: How long a stop waits for connections it shut down by force to go.
_FORCED_CLOSE_SECONDS = 2.0


class QueueServer:
    """A PyQueue HTTP server: bound (and its storage opened) on construction.

    ``start()`` serves on a background thread, ``serve_forever()`` on the caller's; ``stop()``
    stops gracefully. As a context manager it starts on entry and stops on exit.
    ``generated_key`` is the admin key made at start-up when no key file was given.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = checked(config)
        self.keys, self.generated_key = _key_ring(config)
        tls = _tls_context(config)
        clock = config.clock or utc_now
        self._store = open_store(
            config.data_dir, clock, config.durable, config.lock_timeout, config.storage_workers
        )
        try:
            queues = QueueLimit(self._store, config.max_queues)
            cors = Cors(config.cors_origins)
            app = App(self.keys, self._store, clock, cors, queues, config.metrics_public)
            self._httpd = _listen(config, app, tls)
        except BaseException:
            self._store.close()
            raise
        self._lock = threading.Lock()
        self._serving = False
        self._stopped = False
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        """The base URL clients use, with the actual port (useful with port 0)."""
        host = self._httpd.server_name
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{shown}:{self._httpd.server_port}"

    @property
    def database(self) -> str:
        """The SQLite file holding every queue."""
        return self._store.path

    def serve_forever(self) -> None:
        """Serve on this thread until ``stop()`` (from another thread)."""
        with self._lock:
            if self._stopped:
                return
            self._serving = True
        self._httpd.serve_forever(poll_interval=_POLL_SECONDS)

    def start(self) -> None:
        """Serve on a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="pyqueue-server", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Stop gracefully; returns whether every request in flight finished in time.

        New connections are refused, idle ones closed at once, and requests in flight get up to
        ``timeout`` seconds (default: the config's ``shutdown_timeout``) to finish; then the
        storage is closed. Safe to call more than once.
        """
        with self._lock:
            if self._stopped:
                return True
            self._stopped = True
            serving = self._serving
        # Long polls answer now instead of holding their connections through the stop.
        self._httpd.app.stopping.set()
        if serving:
            self._httpd.shutdown()
        self._httpd.server_close()
        connections = self._httpd.connections
        connections.stop()
        finished = connections.wait_closed(
            self.config.shutdown_timeout if timeout is None else timeout
        )
        if not finished:
            _log.warning("stopping: closing connections whose requests did not finish in time")
            connections.close_all()
            connections.wait_closed(_FORCED_CLOSE_SECONDS)
        self._store.close()
        if self._thread is not None:
            self._thread.join(_FORCED_CLOSE_SECONDS)
        return finished

    def __enter__(self) -> QueueServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.stop()


def _key_ring(config: ServerConfig) -> Tuple[KeyRing, Optional[str]]:
    if config.no_auth:
        return KeyRing([], open_access=True), None
    if config.api_keys_file:
        return KeyRing.from_file(config.api_keys_file), None
    return _keys.load_or_create(config.data_dir)


def _tls_context(config: ServerConfig) -> Optional[ssl.SSLContext]:
    if not config.tls_cert or not config.tls_key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot load the TLS certificate {config.tls_cert!r} with key {config.tls_key!r}: "
            f"{exc}"
        ) from None
    return context


def _listen(config: ServerConfig, app: App, tls: Optional[ssl.SSLContext]) -> HttpServer:
    try:
        return HttpServer((config.host, config.port), app, config, tls)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigurationError(
            f"cannot listen on {config.host}:{config.port}: {reason}"
        ) from None


# -- the command's loop --------------------------------------------------------------------------

_Handler = Callable[[int, Optional[FrameType]], Any]


def serve(
    config: ServerConfig,
    *,
    log_level: str = "INFO",
    out: Optional[TextIO] = None,
    on_ready: Optional[Callable[[QueueServer], None]] = None,
) -> int:
    """Run a server until SIGINT or SIGTERM, then stop gracefully; returns the exit code (0).

    Prints the URL (and a generated admin key, once) to ``out`` (stdout), logs requests to
    stderr at ``log_level``. ``on_ready`` is called once the server accepts connections. Call it
    on the main thread (signals are only delivered there); elsewhere use :class:`QueueServer`.
    """
    out = out or sys.stdout
    stop = threading.Event()
    with contextlib.ExitStack() as cleanup:
        # Undone in reverse order: the log, then the server (gracefully), then the signals.
        cleanup.callback(_restore_signals, _on_signals(lambda number, frame: stop.set()))
        server = QueueServer(config)
        cleanup.callback(server.stop)
        cleanup.enter_context(logged_to_stderr(__package__, log_level))
        _announce(server, out)
        server.start()
        if on_ready is not None:
            on_ready(server)
        while not stop.wait(_POLL_SECONDS):
            continue
        print("Stopping: finishing requests in flight...", file=out, flush=True)
    print("PyQueue server stopped", file=out, flush=True)
    return 0


def _announce(server: QueueServer, out: TextIO) -> None:
    print(f"PyQueue server listening on {server.url}", file=out, flush=True)
    print(f"Queues are stored in {server.database}", file=out, flush=True)
    if server.generated_key:
        # Printed once, to the console only: never logged.
        print(
            f"API key (every permission on every queue; shown once): {server.generated_key}",
            file=out,
            flush=True,
        )


def _on_signals(handler: _Handler) -> Dict[int, Any]:
    """Install ``handler`` for SIGINT and SIGTERM; returns the previous ones.

    Python runs signal handlers on the main thread only, so this raises ``ValueError`` elsewhere.
    """
    previous: Dict[int, Any] = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        previous[number] = signal.signal(number, handler)
    return previous


def _restore_signals(previous: Dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)
