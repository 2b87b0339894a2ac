"""Helpers for the server tests: a server on port 0 in this process or in a child, and a client.

The client is plain ``http.client`` on one keep-alive connection, so the tests see exactly what
goes over the wire (status, headers, body) and nothing of the library's own remote backend.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Union

import pytest

from pyqueue_client._backends.sqlite import SqliteQueue
from pyqueue_client.server import QueueServer, ServerConfig

from .conftest import child_env

#: The test keys, as in the captures of the existing server.
ADMIN_KEY = "pq-admin-key-0001"
READER_KEY = "pq-orders-reader-0002"
WRITER_KEY = "pq-orders-writer-0003"
#: A key file in the existing server's format; permissions deliberately in mixed case.
KEY_FILE: Dict[str, Any] = {
    ADMIN_KEY: {"description": "Admin", "queues": {"*": ["READ", "write", "Delete", "MANAGE"]}},
    READER_KEY: {"description": "Orders reader", "queues": {"orders": ["READ"]}},
    WRITER_KEY: {"description": "Orders writer", "queues": {"orders": ["write"]}},
}
#: Upper bound for a child server to print its URL, or to exit once told to.
PROCESS_TIMEOUT = 30.0
#: Socket timeout of the test clients: far above any answer's time.
CLIENT_TIMEOUT = 20.0

_URL_LINE = re.compile(r"listening on (https?://\S+)")
_KEY_LINE = re.compile(r"shown once\): (\S+)")


def write_key_file(folder: Path, keys: Optional[Mapping[str, Any]] = None) -> Path:
    """A key file in ``folder`` (the test keys by default)."""
    path = folder / "api_keys.json"
    path.write_text(json.dumps(KEY_FILE if keys is None else keys), encoding="utf-8")
    return path


def config(
    tmp_path: Path, keys: Optional[Mapping[str, Any]] = None, **changes: Any
) -> ServerConfig:
    """A config for tests: port 0, data under ``tmp_path``, ``keys`` (the test keys), no fsync."""
    settings: Dict[str, Any] = {
        "port": 0,
        "data_dir": str(tmp_path / "data"),
        "api_keys_file": str(write_key_file(tmp_path, keys)),
        "durable": False,
        "socket_timeout": 10.0,
    }
    settings.update(changes)
    return ServerConfig(**settings)


@contextlib.contextmanager
def running(settings: ServerConfig) -> Iterator[QueueServer]:
    """A server serving on a thread of this process (so coverage sees it), stopped at the end."""
    server = QueueServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def port_of(url: str) -> int:
    """The port of a server URL."""
    return int(url.rsplit(":", 1)[1])


class PlainReply(NamedTuple):
    """One answer: status, headers (lower-case names), raw body and the body parsed as JSON."""

    status: int
    headers: Dict[str, str]
    raw: bytes
    json: Any


class PlainClient:
    """``http.client`` on one keep-alive connection; ``call`` returns a ``PlainReply``."""

    def __init__(
        self,
        url: str,
        key: Optional[str] = ADMIN_KEY,
        context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.key = key
        host = url.split("://", 1)[1].rsplit(":", 1)[0]
        self.connection: http.client.HTTPConnection
        if url.startswith("https:"):
            self.connection = http.client.HTTPSConnection(
                host, port_of(url), timeout=CLIENT_TIMEOUT, context=context
            )
        else:
            self.connection = http.client.HTTPConnection(host, port_of(url), timeout=CLIENT_TIMEOUT)

    def call(
        self,
        method: str,
        path: str,
        body: Union[bytes, str, Mapping[str, Any], List[Any], None] = None,
        *,
        key: Optional[str] = "default",
        headers: Optional[Mapping[str, str]] = None,
        content_type: Optional[str] = "application/json",
    ) -> PlainReply:
        """Send one request and read the whole answer."""
        sent: Dict[str, str] = {}
        chosen = self.key if key == "default" else key
        if chosen is not None:
            sent["X-API-Key"] = chosen
        payload: Optional[bytes] = None
        if body is not None:
            payload = body if isinstance(body, bytes) else _encoded(body)
            if content_type is not None:
                sent["Content-Type"] = content_type
        sent.update(headers or {})
        self.connection.request(method, path, body=payload, headers=sent)
        response = self.connection.getresponse()
        raw = response.read()
        names = {name.lower(): value for name, value in response.getheaders()}
        parsed = json.loads(raw) if raw and "json" in names.get("content-type", "") else None
        return PlainReply(response.status, names, raw, parsed)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> PlainClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _encoded(body: Union[str, Mapping[str, Any], List[Any]]) -> bytes:
    return (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")


def connect(url: str, timeout: float = CLIENT_TIMEOUT) -> socket.socket:
    """A plain TCP connection to the server at ``url``."""
    return socket.create_connection(("127.0.0.1", port_of(url)), timeout=timeout)


def raw_exchange(url: str, data: bytes, timeout: float = CLIENT_TIMEOUT) -> bytes:
    """Send raw bytes on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=timeout) as sock:
        sock.sendall(data)
        # Nothing more will come: a server dropping the rest of a refused request stops at once.
        sock.shutdown(socket.SHUT_WR)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks: List[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and a Content-Length body), leaving the connection open."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer."""
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> Any:
    """The JSON body of a raw HTTP answer."""
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


# -- a server in a child process -------------------------------------------------------------------


class ServerProcess:
    """``python -m pyqueue_client serve`` in a child process, with its URL and generated key."""

    def __init__(self, args: List[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pyqueue_client", "serve", "--port", "0", *args],
            cwd=str(cwd),
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[Optional[str]] = queue.Queue()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            _reader(self.process.stdout, self.lines),
            _reader(self.process.stderr, queue.Queue()),
        ]
        self.url = self.wait_for(_URL_LINE).group(1)
        self.key: Optional[str] = None

    def wait_for(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """The first stdout line matching ``pattern`` (bounded wait)."""
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"the server exited early: {self.process.wait(5)}")
            found = pattern.search(line)
            if found:
                return found

    def read_key(self) -> str:
        """The generated admin key it printed."""
        self.key = self.wait_for(_KEY_LINE).group(1)
        return self.key

    def output(self) -> List[str]:
        """The stdout lines printed so far and not yet read by ``wait_for``."""
        lines: List[str] = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return lines
            if line is not None:
                lines.append(line)

    def finish(self) -> int:
        """Wait for the process to exit (bounded) and for its output to be read."""
        code = self.process.wait(PROCESS_TIMEOUT)
        for reader in self._readers:
            reader.join(PROCESS_TIMEOUT)
        return code

    def kill(self) -> None:
        """Kill it if it is still running, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.finish()


def _reader(stream: IO[str], lines: queue.Queue[Optional[str]]) -> threading.Thread:
    def read() -> None:
        with stream:
            for line in stream:
                lines.put(line)
        lines.put(None)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def server_process(args: List[str], cwd: Path) -> Iterator[ServerProcess]:
    """A child server, killed at the end if still running."""
    child = ServerProcess(args, cwd)
    try:
        yield child
    finally:
        child.kill()


@contextlib.contextmanager
def admin_of_new_server(
    args: List[str], cwd: Path, key: Optional[str] = None
) -> Iterator[PlainClient]:
    """A child server and an admin client of it: with ``key`` (the admin key a server made in
    the same data folder before), else with the admin key it generates and prints."""
    with server_process(args, cwd) as child, PlainClient(
        child.url, key or child.read_key()
    ) as client:
        yield client


class HoldWatch:
    """Sets ``holding`` when the server starts holding a receive (a try with a wait)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.holding = threading.Event()
        original = SqliteQueue.receive_messages

        def watched(queue: SqliteQueue, *args: Any) -> Any:
            if args[-1]:
                self.holding.set()
            return original(queue, *args)

        monkeypatch.setattr(SqliteQueue, "receive_messages", watched)
