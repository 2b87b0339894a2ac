"""Recorded exchanges for the remote client's tests, replayed in process or by a stdlib server.

The exchanges come from ``tests/data/remote_exchanges.json``: replies of the existing PyQueue
server, copied verbatim from its protocol captures so these tests need nothing outside the
repository. A test gives a script, the replies to send in order; each request must have the
scripted method and path, and what was sent is recorded.

- :class:`ReplayTransport` answers the remote backend's calls in process, with no socket: for
  everything the client decides (which requests, and what it makes of the replies).
- :class:`ReplayServer` answers over HTTP on 127.0.0.1: for what the transport does on a real
  connection. A script step may also drop the connection unanswered, never answer, or send raw
  bytes.

:class:`ManagedServer` is the machinery shared with the test proxy: a ``ThreadingHTTPServer`` on
127.0.0.1 port 0 that counts the connections it accepts and closes, and shuts down completely
(every connection closed, every thread joined) so no test leaks a socket.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple, Type
from urllib.parse import parse_qsl, urlsplit

from pyqueue_client import RemoteError
from pyqueue_client._transport.rest_calls import ApiCall, Reply

__all__ = [
    "DATA",
    "TEST_KEYS",
    "Exchange",
    "ManagedServer",
    "ReplayServer",
    "ReplayTransport",
    "Script",
    "Seen",
    "load_exchanges",
    "reply",
]

#: The test fixtures, among them the recorded exchanges.
DATA = Path(__file__).resolve().parent / "data"
#: The API keys the captures were recorded with, by the name the captures use.
TEST_KEYS: Mapping[str, str] = {
    "admin": "pq-admin-key-0001",
    "reader": "pq-orders-reader-0002",
    "writer": "pq-orders-writer-0003",
}
#: The longest any server thread waits for anything, so a broken test cannot hang the suite.
_BOUND = 10.0


class Exchange(NamedTuple):
    """One scripted reply, and the request it answers (method and path, query ignored).

    ``action`` is ``"answer"`` (send ``status``, ``headers`` and ``body``), ``"drop"`` (read the
    request, then close the connection without answering), ``"hang"`` (never answer) or
    ``"raw"`` (send ``body`` as raw bytes, then close).
    """

    method: str
    path: str
    status: int
    body: str
    headers: Mapping[str, str] = {}
    action: str = "answer"

    def at(self, method: str, path: str) -> Exchange:
        """This recorded reply, given to another request."""
        return self._replace(method=method, path=path)

    def reply_to(self, url: str) -> Reply:
        """This answer as the transport hands it to the client, for a request to ``url``."""
        return Reply(self.method, url, self.status, self.body.encode("utf-8"))


class Seen(NamedTuple):
    """A request as the server received it."""

    method: str
    #: The raw path, still percent-encoded, without the query.
    path: str
    query: Dict[str, str]
    #: Header names in lower case.
    headers: Dict[str, str]
    body: bytes
    #: The client's port: requests with the same port came over the same connection.
    client_port: int

    def json(self) -> Any:
        """The request body, parsed."""
        return json.loads(self.body)


def load_exchanges() -> Dict[str, Exchange]:
    """The recorded exchanges of ``tests/data/remote_exchanges.json``, by ``engine:name``."""
    document = json.loads((DATA / "remote_exchanges.json").read_text(encoding="utf-8"))
    return {
        name: Exchange(item["method"], item["path"], item["status"], item["body"], item["headers"])
        for name, item in document["exchanges"].items()
    }


def reply(method: str, path: str, payload: Any, status: int = 200) -> Exchange:
    """A reply written for a test, JSON like the server's."""
    body = json.dumps(payload, separators=(",", ":"))
    return Exchange(method, path, status, body, {"content-type": "application/json"})


class Script:
    """Scripted steps handed out in order (over and over with ``cycle``), thread-safe.

    A request whose method or path differs from the next step's gets a 599 answer and is listed
    in ``errors``, as is a request after the last step.
    """

    def __init__(self, steps: Sequence[Exchange], cycle: bool = False) -> None:
        self.steps = list(steps)
        self.cycle = cycle
        self.errors: List[str] = []
        self.used = 0
        self._lock = threading.Lock()

    def next_step(self, method: str, path: str) -> Exchange:
        """The step that answers a request for ``path`` (still percent-encoded, no query)."""
        with self._lock:
            index = self.used
            self.used += 1
            if self.cycle and self.steps:
                index %= len(self.steps)
            if index >= len(self.steps):
                self.errors.append(f"unscripted request {method} {path}")
                return Exchange(method, path, 599, "no more scripted replies")
            step = self.steps[index]
            if step.action == "answer" and (step.method, urlsplit(step.path).path) != (
                method,
                path,
            ):
                self.errors.append(f"expected {step.method} {step.path}, got {method} {path}")
                return Exchange(method, path, 599, "unexpected request")
        return step

    def check_done(self) -> None:
        """Fail unless every request matched its step and every step was asked for."""
        assert self.errors == []
        assert self.used >= len(self.steps), f"{len(self.steps) - self.used} steps never asked for"


class ReplayTransport:
    """Stands in for the HTTP transport: answers calls from a :class:`Script`, in process.

    ``calls`` records each call as the backend made it. A ``"drop"`` step raises the
    ``RemoteError`` of a connection that failed; other steps are answered as scripted.
    """

    def __init__(self, steps: Sequence[Exchange], base_url: str) -> None:
        self.script = Script(steps)
        self.base_url = base_url
        self.calls: List[ApiCall] = []

    def send(self, call: ApiCall) -> Reply:
        """The scripted reply to ``call``."""
        self.calls.append(call)
        url = self.base_url + call.path
        step = self.script.next_step(call.method, urlsplit(call.path).path)
        if step.action == "drop":
            raise RemoteError(
                f"cannot reach the PyQueue server ({call.method} {url}): dropped", url
            )
        return step.reply_to(url)

    def close(self) -> None:
        """Nothing to close."""


class _Server(ThreadingHTTPServer):
    """Counts connections, tracks them, and runs each on a thread the owner can join."""

    daemon_threads = True

    def __init__(
        self,
        handler: Type[BaseHTTPRequestHandler],
        owner: ManagedServer,
        tls: Optional[ssl.SSLContext],
    ) -> None:
        self.owner = owner
        self.tls = tls
        super().__init__(("127.0.0.1", 0), handler)

    def get_request(self) -> Tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            # The handshake happens on the connection's own thread (see _ReplayHandler.setup), so a
            # client that fails it never blocks the accepting thread.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.owner.opened(sock)
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        self.owner.threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.owner.closed(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up (a failed TLS handshake, a reset) is part of some tests.
        self.owner.errors.append(f"connection from {client_address} failed")


class ManagedServer:
    """A threaded HTTP server on 127.0.0.1 port 0 that tests start and stop as a context manager.

    ``connections_opened``/``connections_closed`` count accepted and finished connections.
    """

    def __init__(
        self, handler: Type[BaseHTTPRequestHandler], tls: Optional[ssl.SSLContext] = None
    ) -> None:
        self.threads: List[threading.Thread] = []
        self.errors: List[str] = []
        self.stopping = threading.Event()
        self.connections_opened = 0
        self.connections_closed = 0
        self._open: Set[socket.socket] = set()
        self._changed = threading.Condition()
        self._server = _Server(handler, self, tls)
        self._loop = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        scheme = "https" if tls is not None else "http"
        self.port: int = self._server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> ManagedServer:
        self._loop.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def opened(self, sock: socket.socket) -> None:
        """Called by the server for each accepted connection."""
        with self._changed:
            self.connections_opened += 1
            self._open.add(sock)
            self._changed.notify_all()

    def closed(self, sock: socket.socket) -> None:
        """Called by the server when a connection is finished."""
        with self._changed:
            self.connections_closed += 1
            self._open.discard(sock)
            self._changed.notify_all()

    def wait_closed(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` connections have finished; False if that took over ``timeout``."""
        with self._changed:
            return self._changed.wait_for(lambda: self.connections_closed >= count, timeout)

    def close(self) -> None:
        """Stop accepting, end every connection, join every thread, close the listening socket."""
        self.stopping.set()
        if self._loop.is_alive():
            self._server.shutdown()
            self._loop.join(_BOUND)
        with self._changed:
            still_open = list(self._open)
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading it
        for thread in self.threads:
            thread.join(_BOUND)
        self._server.server_close()


class _ReplayHandler(BaseHTTPRequestHandler):
    """Answers every request with the next step of its server's script."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm holds the
    # body until the client's delayed ACK, 40 ms per request.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        owner = self.server.owner
        assert isinstance(owner, ReplayServer)
        super().setup()
        if owner.idle_timeout is not None:
            # a connection idle this long times out, and the server closes it
            self.connection.settimeout(owner.idle_timeout)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on what the server recorded instead."""

    def do_GET(self) -> None:
        """Serve the next scripted step."""
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        owner = self.server.owner
        assert isinstance(owner, ReplayServer)
        length = int(self.headers.get("Content-Length") or 0)
        parts = urlsplit(self.path)
        seen = Seen(
            self.command,
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            {name.lower(): value for name, value in self.headers.items()},
            self.rfile.read(length),
            self.client_address[1],
        )
        step = owner.next_step(seen)
        if step.action == "drop":
            self.close_connection = True
        elif step.action == "hang":
            owner.stopping.wait(_BOUND)
            self.close_connection = True
        elif step.action == "raw":
            self.wfile.write(step.body.encode("utf-8"))
            self.close_connection = True
        else:
            self._answer(step)

    def _answer(self, step: Exchange) -> None:
        data = step.body.encode("utf-8")
        self.send_response(step.status)
        for name, value in step.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ReplayServer(ManagedServer):
    """Answers requests with ``script``, in order (over and over with ``cycle``).

    A request whose method or path differs from the next step's gets a 599 and is listed in
    ``errors``. ``idle_timeout`` makes the server close a connection idle for that long.
    ``tls`` serves https with that server-side context.
    """

    def __init__(
        self,
        script: Sequence[Exchange],
        *,
        cycle: bool = False,
        idle_timeout: Optional[float] = None,
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.script = Script(script, cycle)
        self.idle_timeout = idle_timeout
        self.requests: List[Seen] = []
        super().__init__(_ReplayHandler, tls)
        # One list of problems: the connections' and the script's.
        self.script.errors = self.errors

    def __enter__(self) -> ReplayServer:
        super().__enter__()
        return self

    def next_step(self, seen: Seen) -> Exchange:
        """Record ``seen`` and return the step that answers it."""
        self.requests.append(seen)
        return self.script.next_step(seen.method, seen.path)


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context presenting the certificate ``cert`` with its key ``key``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def client_tls_context(ca: Path) -> ssl.SSLContext:
    """A client context that trusts the certificate authority ``ca`` (and nothing else)."""
    return ssl.create_default_context(cafile=str(ca))
