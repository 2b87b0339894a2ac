"""The HTTP layer's own pieces, where a real client cannot reach them on purpose: the connection
registry's races, errors on accepted sockets, refusals without blocking, and dropping the rest of
a refused body for a bounded time.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import time
from pathlib import Path
from typing import Any, Iterator, Set, Tuple, cast

import pytest

from pyqueue_client.server import ServerConfig
from pyqueue_client.server import _http_server as http_layer
from pyqueue_client.server._http_server import Connections, HttpServer

from ._server_support import (
    ADMIN_KEY,
    PlainClient,
    config,
    connect,
    port_of,
    read_answer,
    running,
    status_of,
)
from ._tls import TlsFiles

#: The names the run's server certificate must carry, as ``getpeercert`` lists them (IPv6 short).
SERVER_ALT_NAMES = {("DNS", "localhost"), ("IP Address", "127.0.0.1"), ("IP Address", "::1")}


def _tls_config(tmp_path: Path, tls_files: TlsFiles, **changes: Any) -> ServerConfig:
    """The test config with ``changes``, serving https with the run's server certificate."""
    return config(tmp_path, tls_cert=str(tls_files.cert), tls_key=str(tls_files.key), **changes)


def _presented(port: int, context: ssl.SSLContext) -> Tuple[bytes, Set[Tuple[str, str]]]:
    """The certificate the server on 127.0.0.1:``port`` presents in a handshake verified by
    ``context``: its DER bytes and its subjectAltName entries.
    """
    address = ("127.0.0.1", port)
    with socket.create_connection(address, timeout=10) as raw, context.wrap_socket(
        raw, server_hostname="127.0.0.1"
    ) as sock:
        der = sock.getpeercert(binary_form=True)
        details = sock.getpeercert()
    assert der is not None
    assert details is not None
    entries = cast(Tuple[Tuple[str, str], ...], details.get("subjectAltName", ()))
    return der, {(kind, _short_form(kind, value)) for kind, value in entries}


def _short_form(kind: str, value: str) -> str:
    """An IP entry in its shortest form: ``getpeercert`` spells ``::1`` as ``0:0:0:0:0:0:0:1``."""
    return str(ipaddress.ip_address(value)) if kind == "IP Address" else value


@pytest.fixture
def pair() -> Iterator[socket.socket]:
    """One end of a connected socket pair (stands for a client connection)."""
    left, right = socket.socketpair()
    with left, right:
        yield left


def test_connections_after_a_stop(pair: socket.socket) -> None:
    connections = Connections(limit=5)
    assert connections.admit(pair)
    assert connections.idle(pair)
    connections.stop()
    # The idle connection was shut down; a request that raced the stop is dropped unread.
    assert connections.busy(pair) is False
    assert connections.idle(pair) is False
    connections.closed(pair)
    assert connections.wait_closed(1.0)


def test_connections_finishing_a_request_during_a_stop(pair: socket.socket) -> None:
    connections = Connections(limit=5)
    assert connections.admit(pair)
    assert connections.idle(pair)
    assert connections.busy(pair) is True
    connections.stop()
    # A busy connection is left to finish, then may not wait for another request.
    assert connections.idle(pair) is False
    assert connections.wait_closed(0.01) is False
    connections.close_all()
    assert pair.recv(10) == b""


def test_connections_limit(pair: socket.socket) -> None:
    connections = Connections(limit=1)
    assert connections.admit(pair)
    assert connections.received(pair)  # serving a request: never pushed out
    with socket.socket() as other:
        assert connections.admit(other) is False


def test_refusing_a_connection_that_is_already_gone() -> None:
    gone = socket.socket()
    gone.close()
    http_layer._refuse(gone)  # no exception: there is nobody to tell


def test_connection_errors_are_logged_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running(config(tmp_path)) as server:
        httpd: HttpServer = server._httpd
        with caplog.at_level(logging.DEBUG, logger="pyqueue_client.server"):
            try:
                raise ConnectionResetError("reset by peer")
            except ConnectionResetError:
                httpd.handle_error(None, ("192.0.2.1", 1))
            try:
                raise KeyError("a bug")
            except KeyError:
                httpd.handle_error(None, ("192.0.2.1", 1))
    debug, error = caplog.records
    assert (debug.levelno, error.levelno) == (logging.DEBUG, logging.ERROR)
    assert "reset by peer" in debug.getMessage()
    assert error.exc_info is not None


def test_standard_library_messages_are_escaped_debug_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = http_layer._Handler.__new__(http_layer._Handler)
    handler.client_address = ("192.0.2.1", 1)
    with caplog.at_level(logging.DEBUG, logger="pyqueue_client.server"):
        handler.log_message("code %d, message %s", 400, "forged\nline")
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == "192.0.2.1: code 400, message forged\\nline"


def test_a_failed_tls_wrap_closes_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls_files: TlsFiles
) -> None:
    with running(_tls_config(tmp_path, tls_files)) as server:
        httpd: HttpServer = server._httpd
        assert httpd.tls is not None

        def failing(*args: object, **kwargs: object) -> ssl.SSLSocket:
            raise ssl.SSLError("no memory for TLS")

        monkeypatch.setattr(httpd.tls, "wrap_socket", failing)
        with socket.create_connection(("127.0.0.1", port_of(server.url)), timeout=10) as sock:
            assert sock.recv(10) == b""
        monkeypatch.undo()
        context = ssl.create_default_context(cafile=str(tls_files.ca))
        with PlainClient(server.url, context=context) as client:
            assert client.call("GET", "/health").status == 200


def test_the_server_presents_the_certificate_made_for_the_run(
    tmp_path: Path, tls_files: TlsFiles
) -> None:
    """The certificate a TLS server presents is the fixture's, names every address the tests use,
    and is trusted through the run's authority only: a default context refuses it.
    """
    with running(_tls_config(tmp_path, tls_files)) as server:
        port = port_of(server.url)
        trusting = ssl.create_default_context(cafile=str(tls_files.ca))
        der, names = _presented(port, trusting)
        with pytest.raises(ssl.SSLCertVerificationError):
            _presented(port, ssl.create_default_context())
    assert der == ssl.PEM_cert_to_DER_cert(tls_files.cert.read_text(encoding="ascii"))
    assert names == SERVER_ALT_NAMES


def test_the_rest_of_a_refused_body_is_dropped_for_a_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_layer, "_DRAIN_SECONDS", 0.3)
    head = (
        f"POST /api/v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: {ADMIN_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 99999999\r\n\r\n"
    ).encode()
    with running(config(tmp_path)) as server, connect(server.url) as sock:
        sock.sendall(head + b"x" * 100000)
        assert status_of(read_answer(sock)) == 413
        started = time.monotonic()
        # The client keeps the connection open and silent: the server closes it anyway.
        while sock.recv(65536):
            pass
        assert time.monotonic() - started < 5


def test_a_stop_right_after_an_answer_closes_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = http_layer._Handler._log_access

    def then_stop(handler: http_layer._Handler, status: int, size: int) -> None:
        answered(handler, status, size)
        handler.server.connections.stop()  # after the answer went out as keep-alive

    monkeypatch.setattr(http_layer._Handler, "_log_access", then_stop)
    with running(config(tmp_path)) as server, PlainClient(server.url) as client:
        reply = client.call("GET", "/health")
        assert reply.status == 200
        assert "connection" not in reply.headers
        assert client.connection.sock is not None
        assert client.connection.sock.recv(10) == b""
