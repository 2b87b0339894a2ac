"""HTTP for the remote backend: ``urllib.request`` with a keep-alive handler of our own.

``urllib.request`` gives what users expect of a standard-library program: ``HTTP_PROXY``,
``HTTPS_PROXY`` and ``NO_PROXY`` from the environment (https through a proxy goes in a CONNECT
tunnel), and certificates checked by ``ssl.create_default_context()`` unless a context is passed.
Its stock handlers open one connection per request and send ``Connection: close``; ours sends
requests over pooled ``http.client`` connections instead:

- Each target (scheme, host and the tunnelled host, if any) has a LIFO list of idle connections,
  at most ``pool_size`` long. A caller checks one out for the whole exchange, so concurrent
  callers each get their own, and the most recently used (least likely to be timed out by the
  server) goes first.
- An idle connection whose socket has become readable was closed by the server (an idle HTTP
  connection has nothing to read otherwise): it is discarded before use, so a dropped idle
  connection is reopened transparently, whatever the request.
- A request that fails because its connection dropped is retried once, on a new connection, only
  when that is safe: it was not sent whole, or it is idempotent, or it says a repeat is harmless
  when it provably got no answer (``ApiCall.retry_unanswered``) and its reused connection closed
  before any answer came (a server closing an idle connection as the request went out).
  Timeouts are not retried; the caller's ``timeout`` bounds connecting and every read.

Credentials come from an :class:`~.auth.Authenticator`, called for each request with its method,
URL, headers and body: the API key today, a request signature for other servers later.

Logging: DEBUG lines with the method and URL; never the credentials (they travel in headers) and
never a body.
"""

from __future__ import annotations

import http.client
import logging
import os
import select
import socket
import ssl
import sys
import threading
import time
import urllib.request
import warnings
import weakref
from typing import Dict, List, Mapping, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

from .._errors import ConfigurationError, InsecureApiKeyWarning, RemoteError
from .._rest import is_loopback
from .auth import Authenticator
from .rest_calls import ApiCall, Reply, base_headers

__all__ = ["POOL_SIZE", "ConnectionPool", "HttpTransport"]

_log = logging.getLogger(__name__)

#: Idle connections kept per target: also how many callers can run at once without reconnecting.
POOL_SIZE = 10
#: The connection was closed under us; ``http.client.RemoteDisconnected`` is a reset.
_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
#: What OpenSSL says when a TLS handshake gets a plain HTTP answer (it varies by version).
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)

if sys.platform == "win32":

    def _readable(sock: socket.socket) -> bool:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)

else:

    def _readable(sock: socket.socket) -> bool:
        # poll, not select: select cannot watch descriptors above FD_SETSIZE
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))


class _Target(NamedTuple):
    """Where a connection goes: the server or proxy, and the server behind a CONNECT tunnel."""

    scheme: str
    host: str
    tunnel: str


class _RetryableRequest(urllib.request.Request):
    """A request that knows whether repeating it is harmless."""

    def __init__(self, call: ApiCall, url: str, headers: Mapping[str, str], host: str) -> None:
        # origin_req_host given: urllib would parse the URL once more to find it
        super().__init__(
            url, data=call.body, headers=headers, origin_req_host=host, method=call.method
        )
        self.idempotent = call.idempotent
        self.retry_unanswered = call.retry_unanswered


class _Answer:
    """A whole response, as the opener hands it back: status, headers and the body read.

    What ``addinfourl`` gives here, without its file-wrapper machinery (which builds a wrapper
    function on every attribute access).
    """

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.code = status
        self.headers = headers
        self._body = body

    def read(self) -> bytes:
        """The body."""
        return self._body

    def close(self) -> None:
        """Nothing to release: the connection is back in the pool already."""

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Failure(Exception):
    """An exchange failed; ``sent`` says whether the request may have reached the server,
    ``answered`` whether any of its answer came back."""

    def __init__(self, cause: Exception, sent: bool, answered: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.sent = sent
        self.answered = answered

    def may_retry(self, idempotent: bool, unanswered_ok: bool, reused: bool) -> bool:
        """Whether one more attempt on a new connection is safe and may help.

        ``unanswered_ok``: the request may be repeated when a reused connection was closed
        before any answer came, which is what a server closing an idle connection just as the
        request went out looks like.
        """
        if not isinstance(self.cause, _DROPPED):
            return False
        unanswered = unanswered_ok and reused and not self.answered
        return idempotent or not self.sent or unanswered


class _OneWrite(http.client.HTTPConnection):
    """Sends a request's headers and its body in one write.

    ``http.client`` writes them apart: two segments, and the server wakes twice and reads twice
    for every request. Only public methods are overridden: ``endheaders`` holds the body back,
    and ``send``, which writes the headers, writes the body with them.
    """

    _held: Optional[bytes] = None

    def endheaders(
        self, message_body: Optional[object] = None, *, encode_chunked: bool = False
    ) -> None:
        """End the headers; a ``bytes`` body goes out in the same write."""
        if isinstance(message_body, bytes) and message_body and not encode_chunked:
            self._held = message_body
            try:
                super().endheaders()
            finally:
                self._held = None
        else:
            super().endheaders(message_body, encode_chunked=encode_chunked)  # type: ignore[arg-type]

    def send(self, data: object) -> None:
        """Write ``data`` (and the held body, if any) to the socket."""
        # Taken before writing: connecting may send a proxy's CONNECT through here first.
        held, self._held = self._held, None
        if held is not None and isinstance(data, bytes):
            data += held
        super().send(data)  # type: ignore[arg-type]


class _HttpConnection(_OneWrite):
    """A plain connection that writes each request once."""


class _HttpsConnection(_OneWrite, http.client.HTTPSConnection):
    """A TLS connection that writes each request once."""


class ConnectionPool:
    """Idle keep-alive connections per target: LIFO, thread-safe, at most ``size`` per target."""

    def __init__(self, ssl_context: Optional[ssl.SSLContext], size: int = POOL_SIZE) -> None:
        self._ssl_context = ssl_context
        self._size = size
        self._idle: Dict[_Target, List[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def connect(self, target: _Target, timeout: Optional[float]) -> http.client.HTTPConnection:
        """A new connection to ``target`` (it connects when first used)."""
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            connection = _HttpsConnection(target.host, timeout=timeout, context=self._tls_context())
        else:
            connection = _HttpConnection(target.host, timeout=timeout)
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # Made on first use: an http:// server may never need it, and loading the system's
            # certificate authorities takes a while.
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def checkout(self, target: _Target) -> Optional[http.client.HTTPConnection]:
        """The most recently returned idle connection to ``target`` that is still open, or None."""
        while True:
            with self._lock:
                self._forget_after_fork()
                idle = self._idle.get(target)
                if not idle:
                    return None
                connection = idle.pop()
            if connection.sock is None or not _readable(connection.sock):
                return connection
            _log.debug("discarding a connection to %s that the server closed", target.host)
            connection.close()

    def checkin(self, target: _Target, connection: http.client.HTTPConnection) -> None:
        """Keep ``connection`` for the next caller, or close it when enough are idle."""
        with self._lock:
            self._forget_after_fork()
            idle = self._idle.setdefault(target, [])
            if len(idle) < self._size:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection. The pool stays usable and reconnects when asked."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _forget_after_fork(self) -> None:
        if self._pid != os.getpid():
            # A child must not talk over its parent's sockets. Closing the child's copies of the
            # descriptors leaves the parent's connections open.
            self._pid = os.getpid()
            idle, self._idle = self._idle, {}
            for connections in idle.values():
                for connection in connections:
                    connection.close()


class KeepAliveHandler(urllib.request.AbstractHTTPHandler):
    """Opens ``http`` and ``https`` requests over a :class:`ConnectionPool`, with safe retries."""

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__()
        self._pool = pool

    # The stock preparation: Host (the server's, also through a proxy), Content-Length.
    http_request = urllib.request.AbstractHTTPHandler.do_request_
    https_request = urllib.request.AbstractHTTPHandler.do_request_

    def http_open(self, req: urllib.request.Request) -> _Answer:
        """Send ``req`` and read its whole response."""
        return self._send(req)

    def https_open(self, req: urllib.request.Request) -> _Answer:
        """Send ``req`` over TLS (through a CONNECT tunnel behind a proxy)."""
        return self._send(req)

    def _send(self, req: urllib.request.Request) -> _Answer:
        tunnel: str = getattr(req, "_tunnel_host", None) or ""
        target = _Target(req.type, req.host, tunnel)
        headers, tunnel_headers = _split_headers(req, tunnel)
        # Requests from elsewhere than HttpTransport are never retried after being sent.
        idempotent = isinstance(req, _RetryableRequest) and req.idempotent
        unanswered_ok = isinstance(req, _RetryableRequest) and req.retry_unanswered
        retrying = False
        while True:
            # A retry always gets a new connection: the other idle ones may be as stale.
            connection = None if retrying else self._pool.checkout(target)
            reused = connection is not None
            if connection is None:
                connection = self._pool.connect(target, req.timeout)
                if tunnel:
                    connection.set_tunnel(tunnel, headers=tunnel_headers)
            try:
                response = _exchange(connection, req, headers)
            except _Failure as failure:
                connection.close()
                if retrying or not failure.may_retry(idempotent, unanswered_ok, reused):
                    raise failure.cause from None
                _log.debug(
                    "connection dropped (%s); retrying %s %s on a new connection",
                    type(failure.cause).__name__,
                    req.get_method(),
                    req.full_url,
                )
                retrying = True
                continue
            except BaseException:
                connection.close()  # half an exchange (an interrupt?) leaves it unusable
                raise
            self._pool.checkin(target, connection)
            return response


def _split_headers(
    req: urllib.request.Request, tunnel: str
) -> Tuple[Dict[str, str], Dict[str, str]]:
    """The request's headers, and those for the proxy's CONNECT (its credentials) apart."""
    merged = dict(req.unredirected_hdrs)
    merged.update((name, value) for name, value in req.headers.items() if name not in merged)
    headers = {name.title(): value for name, value in merged.items()}
    tunnel_headers: Dict[str, str] = {}
    if tunnel and "Proxy-Authorization" in headers:
        # The proxy's credentials go in the CONNECT, never through the tunnel to the server.
        tunnel_headers["Proxy-Authorization"] = headers.pop("Proxy-Authorization")
    return headers, tunnel_headers


def _exchange(
    connection: http.client.HTTPConnection,
    req: urllib.request.Request,
    headers: Mapping[str, str],
) -> _Answer:
    """One request and its whole response, so the connection is free again afterwards."""
    connection.timeout = req.timeout
    # settimeout() costs a system call even when nothing changes
    if connection.sock is not None and connection.sock.gettimeout() != req.timeout:
        connection.sock.settimeout(req.timeout)
    try:
        connection.request(req.get_method(), req.selector, req.data, headers)
    except OSError as exc:
        raise _Failure(exc, sent=False) from exc
    try:
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        raise _Failure(exc, sent=True) from exc
    try:
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise _Failure(exc, sent=True, answered=True) from exc
    return _Answer(response.status, response.msg, body)


class HttpTransport:
    """Sends :class:`ApiCall`\\ s to one PyQueue server and returns whole :class:`Reply`\\ s.

    ``server_url`` is ``http://`` or ``https://``, with an optional path prefix. ``auth`` adds
    the credentials to each request. ``timeout`` bounds connecting and each read, plus the
    seconds a call says the server may hold it (``ApiCall.hold``). Any status comes back as a
    reply; only failing to get one raises (``RemoteError``).
    """

    def __init__(
        self,
        server_url: str,
        auth: Authenticator,
        timeout: float,
        ssl_context: Optional[ssl.SSLContext] = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self._base, scheme, host = _base_url(server_url)
        self._host = host
        self._auth = auth
        self._timeout = timeout
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ConfigurationError(
                f"ssl_context must be an ssl.SSLContext, not {type(ssl_context).__name__}"
            )
        if auth.sends_secret and scheme == "http" and not is_loopback(host):
            warnings.warn(
                f"the API key will travel unencrypted to {host} over http://; "
                "use an https:// server_url",
                InsecureApiKeyWarning,
                stacklevel=5,  # the code that built the PyQueue
            )
        self._pool = ConnectionPool(ssl_context, pool_size)
        # A queue never closed must not leave open sockets to the garbage collector (each one
        # a ResourceWarning): its connections close when it is collected or the program exits.
        weakref.finalize(self, self._pool.close)
        # made once: each request starts from a copy of one of these two
        self._headers = {has_body: base_headers(has_body) for has_body in (False, True)}
        self._opener = urllib.request.OpenerDirector()
        # ProxyHandler reads the proxy variables now, as every urllib opener does.
        for handler in (
            urllib.request.ProxyHandler(),
            KeepAliveHandler(self._pool),
            urllib.request.UnknownHandler(),
        ):
            self._opener.add_handler(handler)

    @property
    def base_url(self) -> str:
        """The server URL requests are sent below (no trailing slash)."""
        return self._base

    def send(self, call: ApiCall) -> Reply:
        """Send ``call`` and read the whole reply, whatever its status."""
        url = self._base + call.path
        sent = dict(self._headers[call.body is not None])
        if call.headers:
            sent.update(call.headers)
        self._auth.sign(call.method, url, sent, call.body)
        request = _RetryableRequest(call, url, sent, self._host)
        _log.debug("%s %s", call.method, url)
        # A request the server may hold (long polling) gets that much longer to be answered.
        timeout = self._timeout + call.hold
        started = time.perf_counter()
        try:
            response: _Answer = self._opener.open(request, timeout=timeout)
            with response:
                body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            message = _failure_message(call.method, url, exc, timeout, self._base)
            raise RemoteError(message, url) from exc
        status = response.code or 0
        elapsed = (time.perf_counter() - started) * 1000
        _log.debug("%s %s -> %d in %.1f ms", call.method, url, status, elapsed)
        return Reply(call.method, url, status, body)

    def close(self) -> None:
        """Close the idle connections."""
        self._pool.close()


def _base_url(server_url: object) -> Tuple[str, str, str]:
    """``(base URL, scheme, host)`` from ``server_url``, or a ``ConfigurationError``."""
    example = "e.g. 'https://queue.example.com' or 'http://127.0.0.1:8000'"
    if not isinstance(server_url, str):
        raise ConfigurationError(f"server_url must be a URL ({example}), not {server_url!r}")
    parts = urlsplit(server_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"server_url must be an http:// or https:// URL with a host ({example}), "
            f"not {server_url!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("server_url must not hold credentials; pass the key as api_key")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"server_url must not have a query or fragment: {server_url!r}")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ConfigurationError(f"server_url has an invalid port: {server_url!r}") from None
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}", scheme, parts.hostname


def _failure_message(
    method: str, url: str, exc: BaseException, timeout: float, base_url: str
) -> str:
    """What went wrong when no reply came, and what to check (``base_url``: the server URL)."""
    if isinstance(exc, socket.timeout):
        return f"no answer from the PyQueue server within {timeout:g} s ({method} {url})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"cannot verify the TLS certificate of {url} ({exc.verify_message}); if the server "
            "uses a private certificate authority, pass ssl_context= trusting it"
        )
    if isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None) in _NOT_TLS:
        plain = "http://" + base_url[len("https://") :]
        return (
            f"the server at {base_url} does not speak TLS ({exc.reason} for {method} {url}): "
            f"if it speaks plain HTTP, use server_url={plain!r}"
        )
    return f"cannot reach the PyQueue server ({method} {url}): {exc}"
