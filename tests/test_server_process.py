"""``python -m pyqueue_client serve`` as a real child process: start-up output, SIGTERM with a
request in flight, TLS, and a SIGKILL under load that loses no acknowledged message.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Set

import pytest

from ._server_support import (
    PlainClient,
    ServerProcess,
    admin_of_new_server,
    port_of,
    read_answer,
    server_process,
    status_of,
)
from ._tls import TlsFiles
from .conftest import PYTHON, child_env

pytestmark = pytest.mark.slow

Q = "/api/v1/queues/orders"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM and SIGKILL are POSIX")


def test_serve_prints_its_url_and_a_key_once(tmp_path: Path) -> None:
    with server_process(["--data", str(tmp_path / "data"), "--no-fsync"], tmp_path) as child:
        key = child.read_key()
        assert child.url.startswith("http://127.0.0.1:")
        with PlainClient(child.url, key) as client:
            reply = client.call("POST", f"{Q}/messages", {"message_body": {"hello": 1}})
            assert reply.status == 200
            assert client.call("GET", f"{Q}/info").json["message_count"] == 1
            assert client.call("GET", "/api/v1/queues", key="wrong").status == 401
        child.kill()
        assert key not in "".join(child.output())
    assert (tmp_path / "data" / "queues.db").is_file()


def test_serve_refuses_no_auth_off_loopback(tmp_path: Path) -> None:
    done = subprocess.run(
        [PYTHON, "-m", "pyqueue_client", "serve", "--no-auth", "--host", "0.0.0.0"],
        cwd=str(tmp_path),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1  # a library error (2 is for the command line itself)
    assert "refusing to run without authentication" in done.stderr
    assert not (tmp_path / "pyqueue-data").exists()


@posix_only
def test_sigterm_finishes_the_request_in_flight(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    with server_process(["--data", data, "--no-fsync"], tmp_path) as child:
        key = child.read_key()
        idle = PlainClient(child.url, key)
        assert idle.call("GET", "/health").status == 200
        body = json.dumps({"id": "inflight", "message_body": {"x": "y" * 1000}}).encode()
        head = (
            f"POST {Q}/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port_of(child.url)), timeout=30) as sock:
            sock.sendall(head + body[:100])
            time.sleep(0.5)  # the server reads the request line and waits for the body
            child.process.send_signal(signal.SIGTERM)
            child.wait_for(re.compile("Stopping"))
            assert idle.connection.sock is not None
            idle.connection.sock.settimeout(30)
            assert idle.connection.sock.recv(1024) == b""  # idle connections close at once
            idle.close()
            sock.sendall(body[100:])
            answer = read_answer(sock)
        assert status_of(answer) == 200
        assert b"Connection: close" in answer
        assert child.finish() == 0
        assert any("stopped" in line for line in child.output())
    # The restarted server reads the admin key it made at first start: clients keep working.
    with admin_of_new_server(["--data", data, "--no-fsync"], tmp_path, key) as client:
        assert client.call("GET", f"{Q}/message/inflight").status == 200


def test_serve_with_tls(tmp_path: Path, tls_files: TlsFiles) -> None:
    args = [
        "--data",
        str(tmp_path / "data"),
        "--tls-cert",
        str(tls_files.cert),
        "--tls-key",
        str(tls_files.key),
    ]
    with server_process(args, tmp_path) as child:
        key = child.read_key()
        assert child.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(tls_files.ca))
        with PlainClient(child.url, key, context=context) as client:
            assert client.call("GET", "/api/v1/auth/me").status == 200


@posix_only
def test_sigkill_under_load_loses_no_acknowledged_message(tmp_path: Path) -> None:
    """Producers and consumers run until the server is killed. A restarted server still has every
    message whose add was answered 200 and that no consumer received (a received one may have
    been deleted just before the kill, its answer lost), and none whose delete was answered 200.
    """
    data = str(tmp_path / "data")
    added: Set[str] = set()
    received: Set[str] = set()
    deleted: Set[str] = set()
    lock = threading.Lock()

    child = ServerProcess(["--data", data, "--log-level", "warning"], tmp_path)
    key = child.read_key()

    def produce(number: int) -> None:
        with PlainClient(child.url, key) as client:
            for i in range(100000):
                item = f"p{number}-{i}"
                try:
                    reply = client.call("POST", f"{Q}/messages", {"id": item, "message_body": {}})
                except (OSError, http.client.HTTPException):
                    return
                if reply.status == 200:
                    with lock:
                        added.add(item)

    def consume() -> None:
        with PlainClient(child.url, key) as client:
            while True:
                try:
                    got = client.call("POST", f"{Q}/messages/receive?visibility_timeout=1")
                    for message in (got.json or {}).get("messages", []):
                        with lock:
                            received.add(message["Id"])
                        handle = message["ReceiptHandle"]
                        if client.call("DELETE", f"{Q}/messages/{handle}").status == 200:
                            with lock:
                                deleted.add(message["Id"])
                except (OSError, http.client.HTTPException):
                    return

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=consume) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(added) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        child.process.kill()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        child.kill()
    assert len(added) >= 200
    assert deleted <= received <= added
    assert deleted, "the consumers should have taken some messages before the kill"

    with admin_of_new_server(["--data", data], tmp_path, key) as client:
        existing: List[str] = []
        ordered = sorted(added)
        for start in range(0, len(ordered), 1000):
            reply = client.call(
                "POST",
                f"{Q}/messages/check-existence",
                {"message_ids": ordered[start : start + 1000]},
            )
            existing.extend(reply.json["existing_ids"])
    assert added - received <= set(existing)
    assert not deleted & set(existing)
