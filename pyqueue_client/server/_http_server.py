"""HTTP/1.1 over the standard library: framing, keep-alive, limits, TLS and graceful stopping.

``http.server.ThreadingHTTPServer`` gives one thread per connection; this module adds what a
server facing untrusted clients needs around it:

- request bodies framed by ``Content-Length`` only, refused with 413 from the header alone when
  over the limit (a refused body is then read and dropped for a bounded time, so the client can
  read the answer before the connection closes);
- a socket timeout on every read, a deadline for each whole request head and one for each whole
  body (a client trickling a byte at a time is dropped all the same); a cap on open connections
  where a new connection pushes out the oldest one still waiting for a request from a client
  that never sent a valid key, so idle and slow connections cannot shut real clients out; TLS
  handshakes on the connection's own thread (a slow client never holds up ``accept``);
- a cap on the whole header block (431), and HTTP/0.9 requests answered 400 at once;
- every answer JSON with ``Content-Length``, including the standard library's own errors;
- a graceful stop: idle keep-alive connections are closed at once, a request in flight finishes
  and its connection then closes.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import http.client
import io
import json
import logging
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Set, Tuple

from ._app import App, Caller, loggable_path
from ._config import ServerConfig
from ._params import HttpError, Request, Response, error_response

__all__ = ["MAX_HEADER_BYTES", "MIN_BODY_RATE", "HttpServer", "body_seconds"]

_log = logging.getLogger(__package__)
_access = logging.getLogger(f"{__package__}.access")

#: The longest request line and header line accepted, and the most header lines (as the
#: standard library's handler).
_MAX_REQUEST_LINE = 65536
_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 100
#: The most bytes of header lines one request may send (431 beyond): per-line and per-count
#: limits alone would let one request hold 6.4 MB of the server's memory.
MAX_HEADER_BYTES = 64 * 1024
#: The slowest a request body may arrive, in bytes a second, beyond the ``head_timeout`` every
#: body gets: 4 KiB/s (32 kbit/s) lets the default 256 KiB limit through a poor mobile link in
#: 74 s, while a client trickling a byte a second is dropped once its body's time is up.
MIN_BODY_RATE = 4096
#: The most empty lines skipped before a request line (RFC 9112 asks to ignore at least one).
_MAX_LEADING_BLANK_LINES = 8
_BLANK_LINES = (b"\r\n", b"\n")
#: A header name: an RFC 9110 token (so no spaces before the colon, no folded lines).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADERS_END = (b"\r\n", b"\n", b"")
#: How long, and how much of, a refused request body is read and dropped before closing.
_DRAIN_SECONDS = 2.0
_DRAIN_BYTES = 64 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024
_CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")
_BUSY = b'{"detail":"too many connections; try again"}'
_BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s" % (len(_BUSY), _BUSY)
)
#: Refused TLS connections answered at once (each needs a handshake on a thread of its own);
#: beyond this many, a refused TLS connection is closed unanswered.
_TLS_REFUSALS = 8
#: How long the handshake and answer of a refused TLS connection may take.
_TLS_REFUSAL_SECONDS = 2.0


class _ClientGone(Exception):
    """The client closed the connection in the middle of a request."""


class _Late(socket.timeout):
    """The reader's deadline passed: the request head or body took too long as a whole."""


def body_seconds(length: int, head_timeout: float) -> float:
    """The time a body of ``length`` bytes has to arrive whole, from the end of its head:
    ``head_timeout`` plus ``length`` at :data:`MIN_BODY_RATE`."""
    return head_timeout + length / MIN_BODY_RATE


class _BadHeaders(Exception):
    """The header block cannot be read: ``status`` and ``reason`` say why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Connections:
    """The open connections, and which of them wait for a request (idle) or serve one (busy).

    A graceful stop closes the idle ones at once; a busy one finishes its request and closes.
    The lock makes "a request arrived" and "the stop closed this idle connection" exclusive, so
    a request is either served or dropped unread, never half done.

    A connection is *trusted* once a request on it carried a valid API key. An untrusted one is
    *waiting* from its opening, or from the end of its last answer, until its next request has
    been read whole; when every slot is taken, a new connection pushes out the connection that
    has waited longest. Idle and slow clients without a key thus cannot keep real clients out,
    and a real client's own keep-alive connection is never pushed out.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.stopping = False
        self._lock = threading.Condition()
        self._open: Set[socket.socket] = set()
        self._idle: Set[socket.socket] = set()
        self._dropped: Set[socket.socket] = set()
        self._trusted: Set[socket.socket] = set()
        #: Untrusted connections waiting for a whole request -> since when (monotonic).
        self._waiting: Dict[socket.socket, float] = {}

    def admit(self, connection: socket.socket) -> bool:
        """Count a new connection in; False when at the limit (and none can go) or stopping."""
        with self._lock:
            if self.stopping:
                return False
            if len(self._open) >= self.limit and not self._push_out_one():
                return False
            self._open.add(connection)
            self._waiting[connection] = time.monotonic()
            return True

    def _push_out_one(self) -> bool:
        """Drop the connection waiting longest for a request; False if none is waiting."""
        if not self._waiting:
            return False
        oldest = min(self._waiting, key=self._waiting.__getitem__)
        del self._waiting[oldest]
        # No longer counted: its thread only closes it (``received`` says it was dropped).
        self._open.discard(oldest)
        self._idle.discard(oldest)
        self._dropped.add(oldest)
        _shut(oldest)
        _log.debug("dropped a connection waiting for a request to make room for a new one")
        return True

    def idle(self, connection: socket.socket) -> bool:
        """The connection waits for its next request; False when it should close instead."""
        with self._lock:
            if self.stopping or connection in self._dropped:
                return False
            self._idle.add(connection)
            if connection not in self._trusted:
                self._waiting.setdefault(connection, time.monotonic())
            return True

    def busy(self, connection: socket.socket) -> bool:
        """A request arrived; False if the stop closed the connection first (drop it unread)."""
        with self._lock:
            self._idle.discard(connection)
            return connection not in self._dropped

    def received(self, connection: socket.socket) -> bool:
        """A whole request was read; False if it was pushed out first (drop it unanswered)."""
        with self._lock:
            self._waiting.pop(connection, None)
            return connection not in self._dropped

    def trust(self, connection: socket.socket) -> None:
        """A request on the connection carried a valid API key: it is never pushed out."""
        with self._lock:
            self._trusted.add(connection)
            self._waiting.pop(connection, None)

    def closed(self, connection: socket.socket) -> None:
        """The connection is gone."""
        with self._lock:
            for group in (self._open, self._idle, self._dropped, self._trusted):
                group.discard(connection)
            self._waiting.pop(connection, None)
            self._lock.notify_all()

    def stop(self) -> None:
        """Refuse new connections and requests; close the idle connections now."""
        with self._lock:
            self.stopping = True
            for connection in self._idle:
                self._dropped.add(connection)
                _shut(connection)
            self._idle.clear()

    def wait_closed(self, timeout: float) -> bool:
        """Wait until every connection is closed; False if some are still open at ``timeout``."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._open, timeout)

    def close_all(self) -> None:
        """Shut every connection down, busy or not (when a stop has waited long enough)."""
        with self._lock:
            for connection in self._open:
                _shut(connection)


def _shut(connection: socket.socket) -> None:
    """Shut a socket down so a thread blocked reading it wakes up (the thread then closes it)."""
    # Already closed by the client: nothing to wake up.
    with contextlib.suppress(OSError):
        # The plain socket's method also for TLS: SSLSocket.shutdown would drop its TLS state
        # under the thread still reading from it.
        socket.socket.shutdown(connection, socket.SHUT_RDWR)


class HttpServer(ThreadingHTTPServer):
    """The listening socket and its connection threads, answering through an :class:`App`."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: Tuple[str, int],
        app: App,
        config: ServerConfig,
        tls: Optional[ssl.SSLContext],
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self.config = config
        self.tls = tls
        self.connections = Connections(config.max_connections)
        self._tls_refusals = threading.BoundedSemaphore(_TLS_REFUSALS)
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer`` does (it can take seconds)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> Tuple[socket.socket, Any]:
        """Accept a connection; with TLS, wrap it (the handshake happens on its own thread)."""
        connection, address = self.socket.accept()
        if self.tls is None:
            return connection, address
        try:
            return self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            ), address
        except BaseException:
            connection.close()
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on a new thread, or refuse it when too many are open."""
        if not self.connections.admit(request):
            if isinstance(request, ssl.SSLSocket):
                self._refuse_tls(request)
            else:
                _refuse(request)
                self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def _refuse_tls(self, connection: ssl.SSLSocket) -> None:
        """Answer a TLS connection over the limit as a plain one, on a short-lived thread (its
        handshake must not hold up ``accept``); close it unanswered when many already wait."""
        if not self._tls_refusals.acquire(blocking=False):
            self.shutdown_request(connection)
            return

        def answer() -> None:
            try:
                connection.settimeout(_TLS_REFUSAL_SECONDS)
                connection.do_handshake()
                connection.sendall(_BUSY_ANSWER)
                # Closing over unread bytes resets the connection, and the client could lose
                # the answer: read its request first (or wait for it to close, bounded).
                connection.recv(_DRAIN_CHUNK)
            except OSError as exc:
                _log.debug("refused TLS connection failed: %s", exc)
            finally:
                self.shutdown_request(connection)
                self._tls_refusals.release()

        threading.Thread(target=answer, name="pyqueue-refusal", daemon=True).start()

    def shutdown_request(self, request: Any) -> None:
        """Close the connection and count it out."""
        try:
            super().shutdown_request(request)
        finally:
            self.connections.closed(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection failures are the client's business; anything else is a bug to log."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            _log.debug("connection from %s failed: %s", client_address[0], error)
        else:
            _log.error("unexpected error on a connection", exc_info=True)


def _refuse(connection: socket.socket) -> None:
    """Tell a connection over the limit to come back later, without blocking the accept loop."""
    try:
        connection.setblocking(False)
        connection.send(_BUSY_ANSWER)
    except OSError:
        pass


class _DeadlineReader(io.RawIOBase):
    """The connection's bytes, each read waiting at most ``timeout`` and never past ``deadline``.

    A socket timeout alone bounds each read, so a client sending a byte every few seconds could
    hold a request head or body open for ever; the deadline bounds the whole head, then the
    whole body.
    """

    def __init__(self, connection: socket.socket, timeout: float) -> None:
        super().__init__()
        self._connection = connection
        self.timeout = timeout
        #: A ``time.monotonic()`` value, or None for no deadline.
        self.deadline: Optional[float] = None
        self._applied: Optional[float] = None

    def readable(self) -> bool:
        """Always: this is the reading side of the connection."""
        return True

    def readinto(self, buffer: Any) -> int:
        """One read from the connection into ``buffer``; ``socket.timeout`` past the deadline."""
        timeout = self.timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise _Late("the deadline passed")
            timeout = min(timeout, left)
        if timeout != self._applied:
            self._connection.settimeout(timeout)
            self._applied = timeout
        try:
            return self._connection.recv_into(buffer)
        except socket.timeout:
            if timeout < self.timeout:
                raise _Late("the deadline passed") from None
            raise


class _Handler(BaseHTTPRequestHandler):
    """One connection: requests one after another (keep-alive) until either side closes."""

    server: HttpServer
    protocol_version = "HTTP/1.1"
    server_version = "pyqueue"
    # Errors before the version is known are answered with a status line and headers too.
    default_request_version = "HTTP/1.0"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        config = self.server.config
        # Every read and write waits at most this long: a silent client cannot hold a thread.
        self.connection.settimeout(config.socket_timeout)
        self._refused_bytes = 0
        self._started = time.monotonic()
        self._caller = Caller()
        # The first request head (and a TLS handshake) is due within head_timeout of opening.
        self._reader = _DeadlineReader(self.connection, config.socket_timeout)
        self._reader.deadline = self._started + config.head_timeout
        self._served = False
        self._trusted = False
        self.rfile.close()  # the standard one, replaced by one that keeps the deadline
        self._input = io.BufferedReader(self._reader)
        self.rfile = self._input

    def version_string(self) -> str:
        """The ``Server`` header: no Python version for strangers."""
        return self.server_version

    def handle(self) -> None:
        """Serve requests until the connection closes; connection failures end it quietly."""
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self._handshake()
            super().handle()
            self._drop_refused_body()
        except (OSError, _ClientGone) as exc:
            _log.debug("connection from %s ended: %s", self.client_address[0], exc)

    def _handshake(self) -> None:
        """The TLS handshake, within what is left of the first request head's time."""
        assert self._reader.deadline is not None  # set by setup
        left = self._reader.deadline - time.monotonic()
        self.connection.settimeout(max(min(left, self.server.config.socket_timeout), 0.001))
        self.connection.do_handshake()

    def handle_one_request(self) -> None:
        """Wait for a request (as an idle connection), then read and answer it."""
        self.close_connection = True
        connections = self.server.connections
        if not connections.idle(self.connection):
            return
        try:
            line = self._request_line()
        except socket.timeout:
            return  # idle, or slow to send the head, for too long
        if not line or not connections.busy(self.connection):
            return
        self._started = time.monotonic()
        self._caller = Caller()
        self.raw_requestline = line
        if len(line) > _MAX_REQUEST_LINE:
            self.requestline = self.command = ""
            self.request_version = self.default_request_version
            self.send_error(414, "request line too long")
            return
        if not self.parse_request():
            return  # parse_request answered
        self._reader.deadline = None  # the head is in: the body has a deadline of its own
        try:
            self._respond(self._answer())
        except socket.timeout:
            self.send_error(408, "the client sent nothing for too long")
        self._served = True

    def _request_line(self) -> bytes:
        """The request line (empty lines before it skipped), b"" if the client closed first.

        A connection's first head is due within ``head_timeout`` of its opening; a later one
        within ``head_timeout`` of its first byte. Until then the connection is idle: for the
        socket timeout once it sent a valid key, else for ``head_timeout`` only.
        """
        if self._served:
            head_timeout = self.server.config.head_timeout
            idle_until = None if self._trusted else time.monotonic() + head_timeout
            self._reader.deadline = idle_until
            if not self._input.peek(1):
                return b""
            self._reader.deadline = time.monotonic() + head_timeout
        for _ in range(_MAX_LEADING_BLANK_LINES + 1):
            line: bytes = self.rfile.readline(_MAX_REQUEST_LINE + 1)
            if line not in _BLANK_LINES:
                return line
        return b""

    def parse_request(self) -> bool:
        """Read the request line and headers; on failure answer and return False.

        The standard library's checks and answers, but headers are read line by line into an
        ``HTTPMessage`` instead of through the ``email`` parser, which cost about a tenth of a
        millisecond per request. Stricter too: a header line that is not ``name: value`` (a
        folded line, a space before the colon) is refused with 400.
        """
        if not self._parse_request_line():
            return False
        try:
            self.headers = _read_headers(self.rfile)
        except _BadHeaders as exc:
            self.send_error(exc.status, exc.reason)
            return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def _parse_request_line(self) -> bool:
        """Method, target and version, as ``BaseHTTPRequestHandler.parse_request`` checks them."""
        self.command = None  # type: ignore[assignment]  # as the standard library, until known
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) >= 3:
            version = words[-1]
            number = _http_version(version)
            if number is None or number >= (2, 0):
                if number is None:
                    self.send_error(400, f"Bad request version ({version!r})")
                else:
                    self.send_error(505, f"Invalid HTTP version ({version[5:]})")
                return False
            self.close_connection = number < (1, 1)
            self.request_version = version
        if not 2 <= len(words) <= 3 or (len(words) == 2 and words[0] != "GET"):
            self.send_error(400, f"Bad request syntax ({self.requestline!r})")
            return False
        self.command, self.path = words[:2]
        if len(words) == 2:
            # HTTP/0.9 has no headers to wait for: answer (with a status line, which an HTTP/0.9
            # client shows as text) and close at once.
            self.send_error(400, "the request line must end with an HTTP version", drain=False)
            return False
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        return True

    def _answer(self) -> Response:
        try:
            body = self._read_body()
        except HttpError as exc:
            return error_response(exc)
        if not self.server.connections.received(self.connection):
            raise _ClientGone("pushed out to make room for another connection")
        response = self.server.app.handle(
            Request(self.command, self.path, self.headers, body), self._caller
        )
        if self._caller.verified and not self._trusted:
            self._trusted = True
            self.server.connections.trust(self.connection)
        return response

    def _read_body(self) -> bytes:
        """The whole body, framed by Content-Length and within the limit; else ``HttpError``.

        It must arrive within :func:`body_seconds` of the head's end (408 otherwise).
        """
        if self.headers.get("Transfer-Encoding") is not None:
            self._refuse_body(_DRAIN_BYTES)
            raise HttpError(411, "send the body with a Content-Length header, not chunked")
        declared = self._content_length()
        if declared > self.server.config.max_body_bytes:
            self._refuse_body(declared)
            raise self._too_large()
        seconds = body_seconds(declared, self.server.config.head_timeout)
        self._reader.deadline = time.monotonic() + seconds
        try:
            body = self.rfile.read(declared)
        except _Late:
            self.close_connection = True  # the rest of the body is not waited for
            raise HttpError(
                408, f"the request body ({declared} bytes) did not arrive within {seconds:.1f} s"
            ) from None
        finally:
            self._reader.deadline = None
        if len(body) < declared:
            raise _ClientGone("closed in the middle of the request body")
        return body

    def _too_large(self) -> HttpError:
        limit = self.server.config.max_body_bytes
        return HttpError(413, f"request body is larger than the server's limit of {limit} bytes")

    def _refuse_body(self, size: int) -> None:
        """Answer without reading the body: then drop up to ``size`` bytes of it and close."""
        self.close_connection = True
        self._refused_bytes = size

    def _content_length(self) -> int:
        values = [value.strip() for value in self.headers.get_all("Content-Length") or []]
        if not values:
            return 0
        if len(set(values)) > 1 or not _CONTENT_LENGTH.fullmatch(values[0]):
            self._refuse_body(_DRAIN_BYTES)
            raise HttpError(400, "Content-Length must be one whole number of bytes")
        return int(values[0])

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it."""
        try:
            declared = self._content_length()
        except HttpError as exc:
            self._respond(error_response(exc))
            return False
        if declared > self.server.config.max_body_bytes:
            self.close_connection = True  # the body was not sent: nothing to drop
            self._respond(error_response(self._too_large()))
            return False
        return super().handle_expect_100()

    def send_error(
        self,
        code: int,
        message: Optional[str] = None,
        explain: Optional[str] = None,
        drain: bool = True,
    ) -> None:
        """The standard library's own errors (bad request line, headers too large...) as JSON."""
        self.close_connection = True
        if code != 408 and drain:
            # The rest of the request (headers, body) may still be on its way.
            self._refuse_body(_DRAIN_BYTES)
        detail = message or self.responses.get(code, ("error",))[0]
        self._respond(Response(code, {"detail": detail}, {}))

    def _respond(self, response: Response) -> None:
        if self.server.connections.stopping:
            self.close_connection = True
        payload = b"" if response.body is None else _encode(response.body)
        if response.raw is not None:
            payload = response.raw
        # Logged before the answer leaves, so the line exists once the client has the answer.
        if _access.isEnabledFor(logging.INFO):
            self._log_access(response.status, len(payload))
        answer = b"" if self.request_version == "HTTP/0.9" else self._head(response, len(payload))
        if payload and self.command != "HEAD":
            answer += payload
        # Status line, headers and body in one write: one segment to send and one wake-up for
        # the client (send_response, end_headers and a write of the body would cost two).
        self.wfile.write(answer)

    def _head(self, response: Response, length: int) -> bytes:
        """The status line and headers of an answer, through the blank line."""
        reason = self.responses.get(response.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {response.status} {reason}",
            f"Server: {self.version_string()}",
            f"Date: {_http_date()}",
        ]
        if response.body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {length}")
        lines.append("Cache-Control: no-store")
        lines.append("X-Content-Type-Options: nosniff")
        lines.extend(f"{name}: {value}" for name, value in response.headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("latin-1", "strict")

    def _drop_refused_body(self) -> None:
        """Read and drop what is left of a refused body, for a bounded time.

        Closing a socket that still has unread data makes the kernel reset the connection, and
        the client may then lose the 413 before reading it.
        """
        left = min(self._refused_bytes, _DRAIN_BYTES)
        self._reader.deadline = time.monotonic() + _DRAIN_SECONDS
        while left > 0:
            try:
                chunk = self._input.read1(min(left, _DRAIN_CHUNK))
            except socket.timeout:
                return
            if not chunk:
                return
            left -= len(chunk)

    # -- logging: one access line per request, without query strings, keys or bodies -------------

    def _log_access(self, status: int, size: int) -> None:
        _access.info(
            '%s "%s %s" %d %d %.1fms',
            self.client_address[0],
            self.command or "-",
            loggable_path(self.command or "", getattr(self, "path", ""), self._caller.verified),
            status,
            size,
            (time.monotonic() - self._started) * 1000,
        )

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Replaced by the access line written after each answer."""

    def log_message(self, format: str, *args: Any) -> None:
        """The standard library's own messages, at debug level (they may quote request lines)."""
        text = (format % args).encode("unicode_escape").decode("ascii")
        _log.debug("%s: %s", self.client_address[0], text)


def _http_date() -> str:
    """The ``Date`` header's value for now, formatted once per second."""
    return _formatted_date(int(time.time()))


@functools.lru_cache(maxsize=2)
def _formatted_date(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)


def _http_version(text: str) -> Optional[Tuple[int, int]]:
    """``HTTP/1.1`` as ``(1, 1)``; None for anything that is not an HTTP version."""
    if not text.startswith("HTTP/"):
        return None
    parts = text[5:].split(".")
    if len(parts) != 2 or not all(
        part.isdigit() and part.isascii() and len(part) <= 10 for part in parts
    ):
        return None
    return int(parts[0]), int(parts[1])


def _read_headers(rfile: Any) -> http.client.HTTPMessage:
    """The header lines up to the blank line, as the message ``BaseHTTPRequestHandler`` makes."""
    headers = http.client.HTTPMessage()
    count = 0
    left = MAX_HEADER_BYTES
    while True:
        line: bytes = rfile.readline(min(_MAX_HEADER_LINE, left) + 1)
        if line in _HEADERS_END:
            return headers
        left -= len(line)
        if left < 0:
            limit = "Line too long" if len(line) > _MAX_HEADER_LINE else "Header block too large"
            raise _BadHeaders(431, f"{limit}: at most {MAX_HEADER_BYTES} bytes of headers")
        count += 1
        if count > _MAX_HEADERS:
            raise _BadHeaders(431, "Too many headers")
        name, colon, value = line.decode("iso-8859-1").partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise _BadHeaders(400, "a header line must be 'Name: value'")
        headers[name] = value.strip(" \t\r\n")


def _encode(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("ascii")
