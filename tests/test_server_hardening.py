"""The server against hostile clients: slow and idle connections, header floods, HTTP/0.9,
secrets in the access log, and queue floods; each against a real server on port 0.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from pyqueue_client.server import QueueServer
from pyqueue_client.server._app import loggable_path
from pyqueue_client.server._config import ServerConfig, checked
from pyqueue_client.server._http_server import MAX_HEADER_BYTES, Connections, _DeadlineReader

from ._server_support import (
    ADMIN_KEY,
    CLIENT_TIMEOUT,
    PlainClient,
    body_of,
    config,
    connect,
    raw_exchange,
    read_answer,
    read_until_closed,
    running,
    status_of,
)
from ._tls import TlsFiles

Q = "/api/v1/queues/orders"
#: Attackers in the slow-client tests: a few dozen, against a server with far fewer slots.
ATTACKERS = 36
SLOTS = 12


def _head(path: str, *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (read until then; False if it stays open)."""
    try:
        while sock.recv(65536):
            continue
    except socket.timeout:
        return False
    except OSError:
        return True  # reset: closed all the same
    return True


class _Trickler:
    """Connections that send a request head one short header line at a time, for ever."""

    def __init__(self, url: str, count: int, pause: float) -> None:
        self.sockets: List[socket.socket] = []
        for _ in range(count):
            sock = connect(url, timeout=CLIENT_TIMEOUT)
            sock.sendall(b"GET /api/v1/queues HTTP/1.1\r\n")
            self.sockets.append(sock)
        self._stop = threading.Event()
        self._pause = pause
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._pause):
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(CLIENT_TIMEOUT)
        for sock in self.sockets:
            sock.close()


@contextlib.contextmanager
def _attack(url: str, count: int) -> Iterator[List[socket.socket]]:
    """``count`` connections: half idle (connected, nothing sent), half trickling a head."""
    idle = [connect(url) for _ in range(count // 2)]
    trickler = _Trickler(url, count - count // 2, pause=0.2)
    try:
        yield idle + trickler.sockets
    finally:
        trickler.close()
        for sock in idle:
            sock.close()


# -- slow and idle clients -----------------------------------------------------------------------


def test_slow_and_idle_connections_do_not_shut_real_clients_out(tmp_path: Path) -> None:
    """Three times more slow and idle connections than slots; a new client is served all the
    same, again and again, and so is a client whose connection was open before the attack."""
    settings = config(tmp_path, max_connections=SLOTS, head_timeout=60.0, socket_timeout=60.0)
    with running(settings) as server, PlainClient(server.url) as regular:
        assert regular.call("POST", f"{Q}/messages", {"message_body": {"n": 1}}).status == 200
        with _attack(server.url, ATTACKERS):
            for attempt in range(5):
                with PlainClient(server.url) as newcomer:
                    reply = newcomer.call("GET", f"{Q}/info")
                    assert (attempt, reply.status) == (attempt, 200)
                    assert reply.json["message_count"] == 1
            # The keep-alive connection of a client with a valid key was never pushed out.
            assert regular.call("GET", f"{Q}/info").status == 200


def test_a_whole_head_has_a_deadline(tmp_path: Path) -> None:
    """A socket timeout bounds each read; the head deadline bounds a head sent a byte at a time,
    and a connection that sends nothing at all."""
    settings = config(tmp_path, head_timeout=1.0, socket_timeout=60.0)
    with running(settings) as server:
        trickler = _Trickler(server.url, 1, pause=0.1)
        try:
            with connect(server.url) as idle:
                assert _closed_by_server(idle)
            assert _closed_by_server(trickler.sockets[0])
        finally:
            trickler.close()


def test_a_keep_alive_connection_with_a_key_may_idle_between_requests(tmp_path: Path) -> None:
    """The head deadline runs from a request's first byte: a client that sent a valid key may
    idle longer than it between two requests (the socket timeout governs that wait); one that
    never did may not."""
    settings = config(tmp_path, head_timeout=1.5, socket_timeout=60.0)
    with running(settings) as server:
        with connect(server.url) as sock:
            for _ in range(2):
                sock.sendall(_head(f"{Q}/info", f"X-API-Key: {ADMIN_KEY}"))
                assert status_of(read_answer(sock)) == 200
                time.sleep(2.0)  # longer than the head deadline, idle between requests
            # A head split in two parts within the deadline is one request.
            sock.sendall(b"GET /health HTTP/1.1\r\n")
            sock.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
            assert status_of(read_until_closed(sock)) == 200
        with connect(server.url) as other:
            other.sendall(_head("/health"))
            assert status_of(read_answer(other)) == 200
            assert _closed_by_server(other)  # no key: dropped once idle for the head deadline


def test_a_connection_pushed_out_while_reading_a_request_is_not_answered(
    tmp_path: Path,
) -> None:
    """A connection sending its body slowly is pushed out for a new one; its request never
    runs."""
    with running(config(tmp_path, max_connections=1)) as server, connect(server.url) as slow:
        slow.sendall(_head(f"{Q}/messages", "Content-Length: 100", method="POST") + b"{")
        with PlainClient(server.url) as newcomer:
            assert newcomer.call("GET", f"{Q}/info").json["message_count"] == 0
        assert read_until_closed(slow) == b""


def test_connections_push_out_the_one_waiting_longest() -> None:
    connections = Connections(limit=2)
    first, second, third = (socket.socket() for _ in range(3))
    with first, second, third:
        assert connections.admit(first)
        assert connections.admit(second)
        connections.trust(second)
        assert connections.admit(third)  # pushes ``first`` out: it waited longest
        assert connections.idle(first) is False
        assert connections.received(first) is False
        assert connections.received(third) is True
        # ``second`` is trusted and ``third`` serves a request: nobody can go.
        with socket.socket() as fourth:
            assert connections.admit(fourth) is False
        assert connections.idle(third)
        assert connections.idle(second)
        with socket.socket() as fifth:
            assert connections.admit(fifth)  # ``third`` waits again, untrusted; ``second`` stays
        assert connections.idle(second)
        assert connections.idle(third) is False


def test_a_read_past_the_head_deadline_times_out() -> None:
    left, right = socket.socketpair()
    with left, right:
        reader = _DeadlineReader(left, timeout=60.0)
        right.sendall(b"GET")
        buffer = bytearray(10)
        reader.deadline = time.monotonic() + 60.0
        assert reader.readinto(buffer) == 3
        reader.deadline = time.monotonic() - 1.0
        with pytest.raises(socket.timeout):
            reader.readinto(buffer)


def _tls_config(tmp_path: Path, tls_files: TlsFiles, max_connections: int) -> ServerConfig:
    return config(
        tmp_path,
        tls_cert=str(tls_files.cert),
        tls_key=str(tls_files.key),
        max_connections=max_connections,
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connections_over_the_cap_get_503_with_or_without_tls(
    tmp_path: Path, tls_files: TlsFiles, scheme: str
) -> None:
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    if scheme == "https":
        settings = _tls_config(tmp_path, tls_files, max_connections=1)
    else:
        settings = config(tmp_path, max_connections=1)
    with running(settings) as server, PlainClient(server.url, context=context) as first:
        assert first.call("GET", f"{Q}/info").status == 200  # trusted: stays
        with PlainClient(server.url, context=context) as second:
            reply = second.call("GET", "/health")
            assert (reply.status, reply.json) == (
                503,
                {"detail": "too many connections; try again"},
            )
            assert reply.headers["retry-after"] == "1"
        assert first.call("GET", f"{Q}/info").status == 200


def test_refused_tls_connections_beyond_a_few_are_closed_unanswered(
    tmp_path: Path, tls_files: TlsFiles
) -> None:
    """Each answered refusal needs a thread for its handshake: past a few waiting handshakes,
    a refused TLS connection is closed at once."""
    settings = _tls_config(tmp_path, tls_files, max_connections=1)
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    with running(settings) as server, PlainClient(server.url, context=context) as first:
        assert first.call("GET", f"{Q}/info").status == 200
        stalled = [connect(server.url) for _ in range(8)]  # no handshake: the refusals wait
        try:
            with connect(server.url) as extra:
                assert _closed_by_server(extra)
        finally:
            for sock in stalled:
                sock.close()


# -- the request head ----------------------------------------------------------------------------


def test_a_header_block_over_the_cap_gets_431(server: QueueServer) -> None:
    """Each line and the count of lines are within their limits; together they are not."""
    line = "X-Filler: " + "a" * 1000
    count = MAX_HEADER_BYTES // len(line) + 1
    assert count < 100
    answer = raw_exchange(server.url, _head("/health", *[line] * count))
    assert status_of(answer) == 431
    assert "at most 65536 bytes of headers" in body_of(answer)["detail"]
    fitting = raw_exchange(server.url, _head("/health", *[line] * (count - 2), "Connection: close"))
    assert status_of(fitting) == 200


def test_blank_lines_before_the_request_line_are_skipped(server: QueueServer) -> None:
    answer = raw_exchange(server.url, b"\r\n\n" * 4 + _head("/health", "Connection: close"))
    assert status_of(answer) == 200
    nothing_but_blank = raw_exchange(server.url, b"\r\n" * 20)
    assert nothing_but_blank == b""


def test_an_http_0_9_request_is_answered_at_once(server: QueueServer) -> None:
    with connect(server.url) as sock:
        sock.sendall(b"GET /\r\n")  # nothing more: no headers follow in HTTP/0.9
        answer = read_until_closed(sock)
    assert status_of(answer) == 400
    assert body_of(answer) == {"detail": "the request line must end with an HTTP version"}


# -- secrets in the access log -------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[QueueServer]:
    """A server with the test keys."""
    with running(config(tmp_path)) as started:
        yield started


def _access_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name.endswith(".access")]


def _requests_of(lines: List[str]) -> List[str]:
    """The quoted request and the status of each access line."""
    return [line.split(" ", 1)[1].rsplit(" ", 2)[0] for line in lines]


def test_no_route_shape_logs_a_receipt_handle_or_id(
    server: QueueServer, caplog: pytest.LogCaptureFixture
) -> None:
    handle = "AQEB-secret-handle-5e1f"
    item = "secret-id-77c2"
    paths = [
        f"{Q}/messages/{handle}",
        f"{Q}/messages/{handle}/",
        f"{Q}/messages/{handle}/extra",
        f"{Q}/messages/by-id/{item}",
        f"{Q}/messages/by-id/{item}/",
        f"{Q}/message/{item}",
        f"{Q}/message/{item}/x",
        f"{Q}/m%65ssages/{handle}",
        f"{Q}/messages/{handle}?x=1",
    ]
    with PlainClient(server.url) as client, caplog.at_level(logging.INFO, logger="pyqueue_client"):
        for path in paths:
            for method in ("GET", "DELETE", "PUT"):
                client.call(method, path)
        client.call("POST", f"{Q}/messages/receive")
    lines = _access_lines(caplog)
    assert len(lines) == len(paths) * 3 + 1
    assert handle not in caplog.text
    assert item not in caplog.text
    # Paths no route serves show nothing; served ones with their message segments hidden.
    shown = _requests_of(lines)
    assert [shown[index] for index in (1, 2, 3, 10, 15, 22)] == [
        '"DELETE /api/v1/queues/orders/messages/<receipt handle>" 404',
        '"PUT /api/v1/queues/{queue}/messages/{handle}" 405',
        '"GET <unknown route>" 404',
        '"DELETE /api/v1/queues/orders/messages/by-id/<id>" 404',
        '"GET /api/v1/queues/orders/message/<id>" 404',
        '"DELETE /api/v1/queues/orders/m%65ssages/<receipt handle>" 404',
    ]
    assert any('"POST /api/v1/queues/orders/messages/receive" 200' in line for line in lines)


def test_a_key_in_the_path_is_not_logged(
    server: QueueServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A request whose key was not verified logs its route's template only, or a placeholder
    when no route serves the path."""
    with PlainClient(server.url, key=None) as client, caplog.at_level(logging.INFO):
        client.call("GET", f"/api/v1/queues/{ADMIN_KEY}/info")  # 401: no key header
        client.call("GET", f"/api/v1/{ADMIN_KEY}")  # 404: no such route
        client.call("PATCH", f"/api/v1/queues/{ADMIN_KEY}/info")  # 405
        client.call("GET", f"/api/v1/queues/{ADMIN_KEY}/info", key="wrong")  # 401
        client.call("GET", "/health")  # public
        client.call("POST", f"/api/v1/{ADMIN_KEY}", b"x" * 300_000)  # 413, never reached the app
    assert ADMIN_KEY not in caplog.text
    assert _requests_of(_access_lines(caplog)) == [
        '"GET /api/v1/queues/{queue}/info" 401',
        '"GET <unknown route>" 404',
        '"PATCH /api/v1/queues/{queue}/info" 405',
        '"GET /api/v1/queues/{queue}/info" 401',
        '"GET /health" 200',
        '"POST <unknown route>" 413',
    ]


@pytest.mark.parametrize(
    ("path", "verified", "logged"),
    [
        ("/api/v1/queues/%ff/info", False, "<unknown route>"),
        ("/a/messages/%ff", True, "/a/messages/<receipt handle>"),
        ("/a/messages/H/x/", True, "/a/messages/<receipt handle>/<receipt handle>/"),
        ("/a/messages/by-id/I/", True, "/a/messages/by-id/<id>/"),
        ("/a/message/I/info", True, "/a/message/<id>/info"),
        ("/a/messages/batch-delete", True, "/a/messages/batch-delete"),
        ("/a/by-id/I?api_key=K", True, "/a/by-id/<id>"),
    ],
)
def test_loggable_paths(path: str, verified: bool, logged: str) -> None:
    assert loggable_path("GET", path, verified) == logged


# -- queue floods --------------------------------------------------------------------------------


def test_the_number_of_queues_is_limited(tmp_path: Path) -> None:
    with running(config(tmp_path, max_queues=3)) as server, PlainClient(server.url) as client:
        for name in ("a", "b", "c"):
            reply = client.call("POST", f"/api/v1/queues/{name}/messages", {"message_body": {}})
            assert reply.status == 200
        refused = client.call("POST", "/api/v1/queues/d/messages", {"message_body": {}})
        assert refused.status == 422
        assert "at most 3 queues" in refused.json["detail"]
        batch: Dict[str, Any] = {"messages": [{"message_body": {}}]}
        refused = client.call("POST", "/api/v1/queues/d/messages/batch", batch)
        assert refused.status == 422
        assert "at most 3 queues" in refused.json["detail"]
        # Existing queues keep working; reads never make a queue.
        assert client.call("POST", "/api/v1/queues/a/messages", {"message_body": {}}).status == 200
        assert client.call("GET", "/api/v1/queues/d/info").status == 200
        # A cleared queue no longer counts (once the server reads its list again: at most once
        # a second, so refused requests cannot make it read the list over and over).
        assert client.call("DELETE", "/api/v1/queues/c/messages").status == 200
        deadline = time.monotonic() + CLIENT_TIMEOUT
        statuses = []
        while 200 not in statuses and time.monotonic() < deadline:
            add = client.call("POST", "/api/v1/queues/d/messages", {"message_body": {}})
            statuses.append(add.status)
            time.sleep(0.1)
        assert set(statuses) <= {200, 422}
        assert statuses[-1] == 200
        names = [
            entry["queue_name"] for entry in client.call("GET", "/api/v1/queues").json["queues"]
        ]
        assert names == ["a", "b", "d"]


def test_max_queues_must_be_a_positive_whole_number() -> None:
    with pytest.raises(ValueError, match="max_queues"):
        checked(ServerConfig(max_queues=0))
    with pytest.raises(ValueError, match="head_timeout"):
        checked(ServerConfig(head_timeout=0))


def test_the_queue_list_pages(tmp_path: Path) -> None:
    with running(config(tmp_path)) as server, PlainClient(server.url) as client:
        for name in ("q1", "q2", "q3", "q4", "q5"):
            client.call("POST", f"/api/v1/queues/{name}/messages", {"message_body": {}})
        whole = client.call("GET", "/api/v1/queues").json
        assert set(whole) == {"queues", "count", "api_key_description"}  # today's shape
        assert whole["count"] == 5
        seen: List[str] = []
        query = "limit=2"
        pages = 0
        while True:
            page = client.call("GET", f"/api/v1/queues?{query}").json
            pages += 1
            seen.extend(entry["queue_name"] for entry in page["queues"])
            assert page["count"] == len(page["queues"])
            if page["next"] is None:
                break
            query = f"limit=2&next={page['next']}"
        assert (seen, pages) == (["q1", "q2", "q3", "q4", "q5"], 3)
        tail = client.call("GET", "/api/v1/queues?next=q3").json
        assert [entry["queue_name"] for entry in tail["queues"]] == ["q4", "q5"]
        assert tail["next"] is None
        assert client.call("GET", "/api/v1/queues?limit=0").status == 422
        assert client.call("GET", "/api/v1/queues?next=" + "x" * 300).status == 422
