"""The server's security rules, each against a real server on port 0 in this process.

Keys and permissions (constant-time, crash-free on any bytes, case-insensitive permissions),
queue names validated before storage, the body limit, socket timeouts, the connection cap, CORS
off by default, TLS, logs without keys or bodies, and errors without paths or tracebacks.
"""

from __future__ import annotations

import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from pyqueue_client import ConfigurationError, LockTimeoutError, StorageError
from pyqueue_client._backends.sqlite import SqliteQueue, SqliteStore
from pyqueue_client.server import QueueServer, ServerConfig
from pyqueue_client.server import _auth as auth
from pyqueue_client.server._params import HttpError

from ._server_support import (
    ADMIN_KEY,
    READER_KEY,
    WRITER_KEY,
    PlainClient,
    body_of,
    config,
    port_of,
    raw_exchange,
    read_answer,
    read_until_closed,
    running,
    status_of,
    write_key_file,
)
from ._tls import TlsFiles

Q = "/api/v1/queues/orders"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[QueueServer]:
    """A server with the test keys."""
    with running(config(tmp_path)) as started:
        yield started


@pytest.fixture
def client(server: QueueServer) -> Iterator[PlainClient]:
    """An admin client."""
    with PlainClient(server.url) as made:
        yield made


def _request(path: str, *headers: bytes, method: bytes = b"GET", body: bytes = b"") -> bytes:
    lines = [method + b" " + path.encode() + b" HTTP/1.1", b"Host: x", *headers]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# -- API keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        (None, "missing API key: send it in the X-API-Key header"),
        ("wrong", "invalid API key"),
        ("", "invalid API key"),
        (ADMIN_KEY + "x", "invalid API key"),
        (ADMIN_KEY[:-1], "invalid API key"),
    ],
)
def test_missing_or_wrong_keys_get_401(client: PlainClient, key: Any, detail: str) -> None:
    reply = client.call("GET", "/api/v1/queues", key=key)
    assert (reply.status, reply.json) == (401, {"detail": detail})
    assert reply.headers["www-authenticate"] == "ApiKey"


@pytest.mark.parametrize(
    "raw_key",
    [
        "pq-é".encode(),  # UTF-8: crashed the existing server with a plain-text 500
        "pq-é".encode("latin-1"),
        b"\xff\xfe\x00garbage",
        b"\x80" * 300,
        ADMIN_KEY.encode() + b"\xe9",
    ],
)
def test_keys_with_any_bytes_are_refused_without_a_crash(
    server: QueueServer, raw_key: bytes
) -> None:
    answer = raw_exchange(server.url, _request("/api/v1/queues", b"X-API-Key: " + raw_key))
    assert status_of(answer) == 401
    assert body_of(answer) == {"detail": "invalid API key"}


def test_the_key_is_only_taken_from_one_header(server: QueueServer, client: PlainClient) -> None:
    in_query = client.call("GET", f"/api/v1/queues?api_key={ADMIN_KEY}", key=None)
    assert in_query.status == 401
    twice = raw_exchange(
        server.url,
        _request("/api/v1/queues", b"X-API-Key: " + ADMIN_KEY.encode(), b"X-API-Key: other"),
    )
    assert status_of(twice) == 401
    # Header names are case-insensitive.
    lower = raw_exchange(
        server.url, _request("/api/v1/queues", b"x-api-key: " + ADMIN_KEY.encode())
    )
    assert status_of(lower) == 200


def test_every_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check compares equal-length digests against every known key, match or not."""
    compared: List[Tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    ring = auth.KeyRing([(f"key-{n}", auth.ADMIN) for n in range(5)])
    for known in ("key-0", "key-4"):
        compared.clear()
        assert ring.authenticate(known) is auth.ADMIN
        assert len(compared) == 5
    for unknown in ("nope", "é" * 1000, "\udcff", "key-0 "):
        compared.clear()
        with pytest.raises(HttpError) as refused:
            ring.authenticate(unknown)
        assert refused.value.status == 401
        assert len(compared) == 5
        assert all(isinstance(a, bytes) and len(a) == len(b) == 32 for a, b in compared)


def test_permissions_are_per_queue_and_case_insensitive(server: QueueServer) -> None:
    body = {"message_body": {"x": 1}}
    with PlainClient(server.url, WRITER_KEY) as writer, PlainClient(
        server.url, READER_KEY
    ) as reader:
        assert writer.call("POST", f"{Q}/messages", body).status == 200
        denied = reader.call("POST", f"{Q}/messages", body)
        assert (denied.status, denied.json) == (
            403,
            {"detail": "Access denied: write permission required for queue 'orders'"},
        )
        assert writer.call("GET", f"{Q}/messages").status == 403
        assert writer.call("POST", "/api/v1/queues/payments/messages", body).status == 403
        assert reader.call("GET", f"{Q}/messages").json["count"] == 1
        assert reader.call("POST", f"{Q}/messages/receive").status == 200
        assert reader.call("DELETE", f"{Q}/messages/handle").status == 403
        assert reader.call("DELETE", f"{Q}/messages/by-id/x").status == 403
        cleared = writer.call("DELETE", f"{Q}/messages")
        assert cleared.json == {
            "detail": "Access denied: manage permission required for queue 'orders'"
        }
        assert reader.call("GET", "/api/v1/queues/payments/info").status == 403


def test_wildcard_permissions_add_to_named_ones(tmp_path: Path) -> None:
    keys = {"mixed-key-000": {"queues": {"*": ["read"], "orders": ["WRITE"]}}}
    with running(config(tmp_path, keys)) as started, PlainClient(started.url, "mixed-key-000") as c:
        assert c.call("POST", f"{Q}/messages", {"message_body": {}}).status == 200
        assert c.call("GET", "/api/v1/queues/anything/info").status == 200
        assert (
            c.call("POST", "/api/v1/queues/anything/messages", {"message_body": {}}).status == 403
        )
        assert c.call("GET", "/api/v1/auth/me").json["description"] == ""


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[]", "at least one key"),
        ("{}", "at least one key"),
        ('{"k-0000": {"queues": {"q": ["read"]}}, "k-0000": {"queues": {}}}', "twice"),
        ('{"has space": {"queues": {}}}', "printable ASCII"),
        ('{"caf\\u00e9-key": {"queues": {}}}', "printable ASCII"),
        ('{"k-0000": {"description": "d"}}', '"queues" object'),
        ('{"k-0000": []}', '"queues" object'),
        ('{"k-0000": {"description": 5, "queues": {}}}', "description must be a string"),
        ('{"k-0000": {"queues": {"q": "read"}}}', "must be a list"),
        ('{"k-0000": {"queues": {"q": ["admin"]}}}', "unknown permission 'admin'"),
        ('{"k-0000": {"queues": {"q": [1]}}}', "unknown permission 1"),
        ('{"k-0000": {"queues": {"../etc": ["read"]}}}', "queue name must be"),
    ],
)
def test_bad_key_files_are_refused_at_start(tmp_path: Path, document: str, problem: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=problem) as caught:
        QueueServer(config(tmp_path, api_keys_file=str(path)))
    assert "k-0000" not in str(caught.value)
    assert not (tmp_path / "data").exists()


def test_a_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read API key file"):
        QueueServer(config(tmp_path, api_keys_file=str(tmp_path / "absent.json")))


def test_no_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="refusing to run without authentication"):
        QueueServer(config(tmp_path, api_keys_file=None, no_auth=True, host="0.0.0.0"))
    with pytest.raises(ConfigurationError, match="not both"):
        QueueServer(config(tmp_path, no_auth=True))
    assert not (tmp_path / "data").exists()


# -- queue names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "%2E%2E",
        ".",
        "..%2Fx",
        "a%20b",
        "a+b",
        "%C3%BCml%C3%A4ut",
        "%F0%9F%93%A6box",
        "q" * 81,
        "a%00b",
        "a%5Cb",
        "*",
        "a%27b",
        "a%25b",
    ],
)
def test_bad_queue_names_get_422_before_storage(
    client: PlainClient, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    def untouchable(*args: object) -> None:
        raise AssertionError("storage was touched")

    monkeypatch.setattr(SqliteStore, "open_queue", untouchable)
    for method, path in [
        ("POST", f"/api/v1/queues/{name}/messages"),
        ("GET", f"/api/v1/queues/{name}/messages"),
        ("GET", f"/api/v1/queues/{name}/info"),
        ("DELETE", f"/api/v1/queues/{name}/messages"),
        ("GET", f"/api/v1/auth/permissions/{name}"),
    ]:
        reply = client.call(method, path, {"message_body": {}} if method == "POST" else None)
        assert reply.status == 422, (method, path)
        assert reply.json["detail"].startswith("queue name must be")


def test_good_queue_names(client: PlainClient) -> None:
    for name in ("q" * 80, "a.b", ".hidden", "q.json", "A-Z_0-9", "..."):
        path = f"/api/v1/queues/{name}/messages"
        assert client.call("POST", path, {"message_body": {}}).status == 200, name
    assert client.call("GET", "/api/v1/queues").json["count"] == 6


# -- body size -----------------------------------------------------------------------------------


def test_an_oversized_body_is_refused_from_its_header_alone(server: QueueServer) -> None:
    """The server answers 413 as soon as it has read the headers: it never waits for the body."""
    head = (
        f"POST {Q}/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: {ADMIN_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port_of(server.url)), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"message_body": "')
        started = time.monotonic()
        answer = read_answer(sock)
        assert time.monotonic() - started < 5
    assert status_of(answer) == 413
    assert b"Connection: close" in answer
    assert body_of(answer) == {
        "detail": "request body is larger than the server's limit of 262144 bytes"
    }


def test_an_oversized_body_sent_whole_still_gets_its_answer(client: PlainClient) -> None:
    blob = "x" * (300 * 1024)
    reply = client.call("POST", f"{Q}/messages", {"message_body": {"blob": blob}})
    assert reply.status == 413
    assert reply.headers["connection"] == "close"


def test_a_body_at_the_limit_is_accepted(tmp_path: Path) -> None:
    document = json.dumps({"message_body": {"blob": ""}})
    limit = 2048
    padded = document.replace('""', '"' + "y" * (limit - len(document)) + '"')
    assert len(padded) == limit
    with running(config(tmp_path, max_body_bytes=limit)) as started, PlainClient(started.url) as c:
        assert c.call("POST", f"{Q}/messages", padded).status == 200
        assert c.call("POST", f"{Q}/messages", padded + " ").status == 413


def test_expect_continue_is_refused_before_the_body(server: QueueServer) -> None:
    head = _request(
        f"{Q}/messages",
        b"X-API-Key: " + ADMIN_KEY.encode(),
        b"Content-Type: application/json",
        b"Content-Length: 999999999",
        b"Expect: 100-continue",
        method=b"POST",
    )
    answer = raw_exchange(server.url, head)
    assert status_of(answer) == 413
    assert b"100 Continue" not in answer


def test_expect_continue_within_the_limit(server: QueueServer) -> None:
    body = json.dumps({"message_body": {"ok": 1}}).encode()
    head = _request(
        f"{Q}/messages",
        b"X-API-Key: " + ADMIN_KEY.encode(),
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
        b"Expect: 100-continue",
        method=b"POST",
    )
    with socket.create_connection(("127.0.0.1", port_of(server.url)), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert status_of(read_until_closed(sock)) == 200


def test_expect_continue_with_a_bad_length(server: QueueServer) -> None:
    head = _request(
        f"{Q}/messages", b"Content-Length: lots", b"Expect: 100-continue", method=b"POST"
    )
    assert status_of(raw_exchange(server.url, head)) == 400


# -- slow and numerous clients -------------------------------------------------------------------


def test_a_silent_client_is_disconnected(tmp_path: Path) -> None:
    with running(config(tmp_path, socket_timeout=0.3)) as started:
        with socket.create_connection(("127.0.0.1", port_of(started.url)), timeout=10) as sock:
            started_at = time.monotonic()
            assert sock.recv(1024) == b""  # idle before its first request
            assert time.monotonic() - started_at < 5
        with socket.create_connection(("127.0.0.1", port_of(started.url)), timeout=10) as sock:
            sock.sendall(b"GET /hea")  # a request line that never ends
            assert sock.recv(1024) == b""
        with PlainClient(started.url) as client:
            assert client.call("GET", "/health").status == 200
            time.sleep(0.6)  # longer than the timeout: the idle keep-alive connection is closed
            assert client.connection.sock is not None
            assert client.connection.sock.recv(1024) == b""


def test_a_client_too_slow_with_its_body_gets_408(tmp_path: Path) -> None:
    with running(config(tmp_path, socket_timeout=0.3)) as started:
        head = _request(
            f"{Q}/messages",
            b"X-API-Key: " + ADMIN_KEY.encode(),
            b"Content-Type: application/json",
            b"Content-Length: 100",
            method=b"POST",
        )
        with socket.create_connection(("127.0.0.1", port_of(started.url)), timeout=10) as sock:
            sock.sendall(head + b'{"message')
            answer = read_until_closed(sock)
    assert status_of(answer) == 408


def test_a_client_leaving_mid_body_is_forgotten(server: QueueServer, client: PlainClient) -> None:
    head = _request(f"{Q}/messages", b"Content-Length: 100", method=b"POST")
    with socket.create_connection(("127.0.0.1", port_of(server.url)), timeout=10) as sock:
        sock.sendall(head + b"{")
    assert client.call("GET", f"{Q}/info").json["message_count"] == 0


def test_connections_over_the_cap_get_503(tmp_path: Path) -> None:
    with running(config(tmp_path, max_connections=1)) as started, PlainClient(started.url) as first:
        # A valid key: this idle keep-alive connection is not pushed out for a new one.
        assert first.call("GET", f"{Q}/info").status == 200
        with socket.create_connection(("127.0.0.1", port_of(started.url)), timeout=10) as sock:
            answer = read_until_closed(sock)
        assert status_of(answer) == 503
        assert body_of(answer) == {"detail": "too many connections; try again"}
        assert first.call("GET", "/health").status == 200


# -- CORS ----------------------------------------------------------------------------------------

PREFLIGHT = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}


def test_no_cors_unless_configured(client: PlainClient) -> None:
    reply = client.call("GET", "/health", headers={"Origin": "http://evil.example"})
    assert not [name for name in reply.headers if name.startswith("access-control")]
    preflight = client.call("OPTIONS", f"{Q}/messages", headers=PREFLIGHT)
    assert preflight.status == 405
    assert not [name for name in preflight.headers if name.startswith("access-control")]


def test_cors_for_configured_origins_only(tmp_path: Path) -> None:
    settings = config(tmp_path, cors_origins=("https://app.example.com",))
    with running(settings) as started, PlainClient(started.url) as client:
        allowed = client.call("GET", "/health", headers={"Origin": "https://app.example.com"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        assert allowed.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in allowed.headers
        other = client.call("GET", "/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = client.call("OPTIONS", f"{Q}/messages", headers=PREFLIGHT)
        assert preflight.status == 204
        assert preflight.raw == b""
        assert preflight.headers["access-control-allow-headers"] == "X-API-Key, Content-Type"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        evil = dict(PREFLIGHT, Origin="http://evil.example")
        assert client.call("OPTIONS", f"{Q}/messages", headers=evil).status == 405


def test_cors_for_any_origin(tmp_path: Path) -> None:
    with running(config(tmp_path, cors_origins=("*",))) as started, PlainClient(started.url) as c:
        reply = c.call("GET", "/health", headers={"Origin": "http://anywhere.example"})
        assert reply.headers["access-control-allow-origin"] == "*"
        assert c.call("OPTIONS", "/health", headers=PREFLIGHT).status == 204
        assert c.call("OPTIONS", "/health", headers={"Origin": "http://x.example"}).status == 405


# -- errors and logs -----------------------------------------------------------------------------


def test_internal_errors_show_no_path_or_traceback(
    server: QueueServer,
    client: PlainClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: SqliteQueue) -> None:
        raise StorageError(f"cannot use queue file {server.database!r}: disk I/O error", "x")

    monkeypatch.setattr(SqliteQueue, "get_queue_info", broken)
    with caplog.at_level(logging.ERROR, logger="pyqueue_client.server"):
        reply = client.call("GET", f"{Q}/info?api_key=secret-in-query")
    assert (reply.status, reply.json) == (500, {"detail": "internal server error"})
    assert reply.raw == b'{"detail":"internal server error"}'
    [record] = caplog.records
    assert record.exc_info is not None
    assert "internal error answering GET /api/v1/queues/orders/info" in record.getMessage()
    assert "secret-in-query" not in caplog.text
    # The server stays up.
    assert client.call("GET", "/health").status == 200


def test_a_busy_storage_gets_503(client: PlainClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(self: SqliteQueue, items: object, delay_seconds: object = None) -> None:
        raise LockTimeoutError("/secret/path/queues.db", 10)

    monkeypatch.setattr(SqliteQueue, "add_messages", busy)
    reply = client.call("POST", f"{Q}/messages", {"message_body": {}})
    assert (reply.status, reply.json) == (503, {"detail": "the queue storage is busy; try again"})
    assert reply.headers["retry-after"] == "1"


def test_logs_never_hold_keys_or_bodies(
    server: QueueServer, client: PlainClient, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "body-marker-7f3a"
    with caplog.at_level(logging.DEBUG, logger="pyqueue_client"):
        client.call("POST", f"{Q}/messages", {"message_body": {"secret": marker}, "id": "m"})
        client.call("GET", f"{Q}/messages?api_key={ADMIN_KEY}")
        client.call("POST", f"{Q}/messages/receive")
        client.call("PUT", f"{Q}/messages/by-id/m", {"message_body": marker})
        client.call("GET", "/api/v1/queues", key="wrong-key-" + marker)
        client.call("POST", f"{Q}/messages", "{" + marker)
        raw_exchange(server.url, b"BAD REQUEST LINE " + marker.encode() + b"\r\n\r\n")
        raw_exchange(server.url, _request("/x", b"X-API-Key: " + ADMIN_KEY.encode() + b"\xe9"))
    text = caplog.text
    assert ADMIN_KEY not in text
    assert marker not in text
    access = [r.getMessage() for r in caplog.records if r.name.endswith(".access")]
    assert any('"POST /api/v1/queues/orders/messages" 200' in line for line in access)
    assert any('"GET /api/v1/queues/orders/messages" 200' in line for line in access)


def test_logs_never_hold_receipt_handles(
    client: PlainClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.call("POST", f"{Q}/messages", {"message_body": {}})
    handle = client.call("POST", f"{Q}/messages/receive").json["messages"][0]["ReceiptHandle"]
    with caplog.at_level(logging.DEBUG, logger="pyqueue_client"):
        assert client.call("DELETE", f"{Q}/messages/{handle}").status == 200
        client.call("DELETE", f"{Q}/messages/by-id/some-id")
        client.call("POST", f"{Q}/messages/receive")
    assert handle not in caplog.text
    lines = [r.getMessage() for r in caplog.records if r.name.endswith(".access")]
    assert '"DELETE /api/v1/queues/orders/messages/<receipt handle>" 200' in lines[0]
    assert '"DELETE /api/v1/queues/orders/messages/by-id/<id>" 404' in lines[1]
    assert '"POST /api/v1/queues/orders/messages/receive" 200' in lines[2]


def test_log_lines_cannot_be_forged(server: QueueServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pyqueue_client.server.access"):
        raw_exchange(server.url, _request("/a%0Ab\x1b[31m" + "z" * 300))
    [line] = [r.getMessage() for r in caplog.records]
    assert "\n" not in line
    assert "\x1b" not in line
    assert "z" * 201 not in line


# -- TLS -----------------------------------------------------------------------------------------


def test_tls(tmp_path: Path, tls_files: TlsFiles) -> None:
    settings = config(tmp_path, tls_cert=str(tls_files.cert), tls_key=str(tls_files.key))
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    with running(settings) as started:
        assert started.url.startswith("https://127.0.0.1:")
        with PlainClient(started.url, context=context) as client:
            assert client.call("POST", f"{Q}/messages", {"message_body": {"tls": 1}}).status == 200
            assert client.call("GET", f"{Q}/info").json["message_count"] == 1
        # Plain HTTP on the TLS port fails that connection only.
        plain_url = started.url.replace("https:", "http:")
        with pytest.raises((http.client.HTTPException, OSError)), PlainClient(plain_url) as plain:
            plain.call("GET", "/health")
        untrusting = ssl.create_default_context()
        with pytest.raises(ssl.SSLError), PlainClient(started.url, context=untrusting) as other:
            other.call("GET", "/health")
        with PlainClient(started.url, context=context) as client:
            assert client.call("GET", "/health").status == 200


def test_tls_needs_a_loadable_pair(tmp_path: Path, tls_files: TlsFiles) -> None:
    cert, key = str(tls_files.cert), str(tls_files.key)
    with pytest.raises(ConfigurationError, match="both a certificate file and a key file"):
        QueueServer(config(tmp_path, tls_cert=cert))
    with pytest.raises(ConfigurationError, match="cannot load the TLS certificate"):
        QueueServer(config(tmp_path, tls_cert=cert, tls_key=str(tmp_path / "no.pem")))
    with pytest.raises(ConfigurationError, match="cannot load the TLS certificate"):
        QueueServer(config(tmp_path, tls_cert=key, tls_key=key))


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"port": 70000}, "port must be between"),
        ({"port": -1}, "port must be between"),
        ({"host": ""}, "host must not be empty"),
        ({"cors_origins": ("example.com",)}, "is not an origin"),
        ({"cors_origins": ("https://a.example/path",)}, "is not an origin"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"max_connections": True}, "max_connections"),
        ({"storage_workers": 0}, "storage_workers"),
        ({"socket_timeout": 0}, "socket_timeout"),
        ({"shutdown_timeout": float("inf")}, "shutdown_timeout"),
        ({"lock_timeout": "1"}, "lock_timeout"),
    ],
)
def test_bad_configs_are_refused(tmp_path: Path, changes: Any, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        QueueServer(config(tmp_path, **changes))


def test_ipv6_loopback(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with running(config(tmp_path, host="::1", api_keys_file=None, no_auth=True)) as started:
        assert started.url.startswith("http://[::1]:")
        connection = http.client.HTTPConnection("::1", port_of(started.url), timeout=10)
        try:
            connection.request("GET", "/health")
            assert connection.getresponse().status == 200
        finally:
            connection.close()


def test_a_port_in_use_is_a_clear_error(server: QueueServer, tmp_path: Path) -> None:
    taken = port_of(server.url)
    with pytest.raises(ConfigurationError, match=f"cannot listen on 127.0.0.1:{taken}"):
        QueueServer(config(tmp_path, port=taken, data_dir=str(tmp_path / "other")))


def test_an_unusable_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot create the data folder"):
        QueueServer(config(tmp_path, data_dir=str(blocker / "data")))


def test_server_config_is_documented() -> None:
    assert ServerConfig.__doc__ is not None
    assert ServerConfig().host == "127.0.0.1"


def test_key_ring_written_keys_round_trip(tmp_path: Path) -> None:
    ring = auth.KeyRing.from_file(str(write_key_file(tmp_path)))
    assert ring.authenticate(READER_KEY).permissions_on("orders") == ["read"]
    assert ring.authenticate(ADMIN_KEY).allows("anything", "manage")
