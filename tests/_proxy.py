"""A small stdlib forward proxy for the remote client's tests: plain http forwarding and CONNECT.

It listens on 127.0.0.1 port 0, keeps client connections alive, and counts what it did:
``forwarded`` lists the absolute URLs of the http requests it relayed, ``tunnels`` the targets of
its CONNECT tunnels (``credentials`` their ``Proxy-Authorization`` headers), and
``connections_opened`` the client connections it accepted.
"""

from __future__ import annotations

import http.client
import select
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any, List, Optional
from urllib.parse import urlsplit

from ._replay_server import ManagedServer

__all__ = ["ForwardProxy"]

#: Headers that concern one hop only, never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_UPSTREAM_TIMEOUT = 10.0


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm holds the
    # body until the client's delayed ACK, 40 ms per request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on the counters instead."""

    @property
    def _proxy(self) -> ForwardProxy:
        owner = self.server.owner  # type: ignore[attr-defined]
        assert isinstance(owner, ForwardProxy)
        return owner

    def do_CONNECT(self) -> None:
        """Open a tunnel to ``host:port`` and relay bytes both ways until one side closes."""
        host, _, port = self.path.rpartition(":")
        self._proxy.tunnels.append(self.path)
        self._proxy.credentials.append(self.headers.get("Proxy-Authorization"))
        with socket.create_connection((host, int(port)), _UPSTREAM_TIMEOUT) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            self._relay(upstream)
        self.close_connection = True

    def _relay(self, upstream: socket.socket) -> None:
        client = self.connection
        while not self._proxy.stopping.is_set():
            readable, _, _ = select.select([client, upstream], [], [], 0.05)
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)

    def do_GET(self) -> None:
        """Forward an absolute-form request to its server and relay the answer."""
        target = urlsplit(self.path)
        self._proxy.forwarded.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP
        }
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream = http.client.HTTPConnection(target.netloc, timeout=_UPSTREAM_TIMEOUT)
        try:
            upstream.request(self.command, path, body, headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_DELETE = do_GET


class ForwardProxy(ManagedServer):
    """A forward proxy on 127.0.0.1 port 0 (``url``), started and stopped as a context manager."""

    def __init__(self) -> None:
        self.forwarded: List[str] = []
        self.tunnels: List[str] = []
        self.credentials: List[Optional[str]] = []
        super().__init__(_ProxyHandler)

    def __enter__(self) -> ForwardProxy:
        super().__enter__()
        return self
