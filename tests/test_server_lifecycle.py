"""Starting and stopping: a graceful stop finishes requests in flight, closes idle connections at
once and refuses new ones; ``serve`` runs until SIGINT/SIGTERM; the ``serve`` command line.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from pyqueue_client import cli
from pyqueue_client._backends.sqlite import SqliteQueue
from pyqueue_client.server import QueueServer, ServerConfig, serve
from pyqueue_client.server import _server as server_module

from ._server_support import PlainClient, PlainReply, config, port_of, running

#: Upper bound for any wait in these tests.
WAIT = 20.0
Q = "/api/v1/queues/orders"


class Gate:
    """Holds up ``SqliteQueue.add_messages`` until released, to keep a request in flight."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        original = SqliteQueue.add_messages

        def held(backend: SqliteQueue, items: Any, delay_seconds: Any = None) -> List[str]:
            self.entered.set()
            assert self.release.wait(WAIT)
            return original(backend, items, delay_seconds)

        monkeypatch.setattr(SqliteQueue, "add_messages", held)


def _in_thread(target: Any) -> Tuple[threading.Thread, Dict[str, Any]]:
    result: Dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = target()
        except BaseException as exc:  # checked by the test
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _refuses_connections(port: int) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_stop_finishes_the_request_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = config(tmp_path)
    server = QueueServer(settings)
    server.start()
    gate = Gate(monkeypatch)
    idle = PlainClient(server.url)
    busy = PlainClient(server.url)
    try:
        assert idle.call("GET", "/health").status == 200
        adding, added = _in_thread(
            lambda: busy.call("POST", f"{Q}/messages", {"id": "inflight", "message_body": {}})
        )
        assert gate.entered.wait(WAIT)
        stopping, stopped = _in_thread(lambda: server.stop(timeout=WAIT))
        assert _refuses_connections(port_of(server.url))
        # The idle keep-alive connection is closed at once, without waiting for the request.
        assert idle.connection.sock is not None
        idle.connection.sock.settimeout(WAIT)
        assert idle.connection.sock.recv(1024) == b""
        assert stopping.is_alive()
        gate.release.set()
        adding.join(WAIT)
        stopping.join(WAIT)
        reply: PlainReply = added["value"]
        assert (reply.status, reply.json["id"]) == (200, "inflight")
        assert reply.headers["connection"] == "close"
        assert stopped == {"value": True}
    finally:
        gate.release.set()
        idle.close()
        busy.close()
        server.stop()
    monkeypatch.undo()
    with running(settings) as again, PlainClient(again.url) as client:
        assert client.call("GET", f"{Q}/message/inflight").status == 200


def test_stop_gives_up_on_requests_that_take_too_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "_FORCED_CLOSE_SECONDS", 0.2)
    server = QueueServer(config(tmp_path))
    server.start()
    gate = Gate(monkeypatch)
    busy = PlainClient(server.url)
    try:
        adding, added = _in_thread(lambda: busy.call("POST", f"{Q}/messages", {"message_body": {}}))
        assert gate.entered.wait(WAIT)
        # The storage call finishes only after the stop gave up waiting for it.
        threading.Timer(1.0, gate.release.set).start()
        assert server.stop(timeout=0.2) is False
        adding.join(WAIT)
        assert "error" in added or added["value"].status == 200
    finally:
        gate.release.set()
        busy.close()


def test_stop_is_safe_before_start_and_twice(tmp_path: Path) -> None:
    server = QueueServer(config(tmp_path))
    assert server.stop() is True
    assert server.stop() is True
    server.serve_forever()  # returns at once: the server was stopped
    assert _refuses_connections(port_of(server.url))


def test_a_connection_arriving_during_the_stop_is_refused(tmp_path: Path) -> None:
    server = QueueServer(config(tmp_path))
    server._httpd.connections.stop()  # the stop has begun, the listener not yet closed
    try:
        with socket.socket() as newcomer:
            assert server._httpd.connections.admit(newcomer) is False
    finally:
        server.stop()


def test_context_manager(tmp_path: Path) -> None:
    with QueueServer(config(tmp_path)) as server, PlainClient(server.url) as client:
        assert client.call("GET", "/health").status == 200
    assert _refuses_connections(port_of(server.url))


# -- serve(): the command's loop -----------------------------------------------------------------


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_serve_runs_until_a_signal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signal_number: int
) -> None:
    out = io.StringIO()
    seen: Dict[str, Any] = {}
    before = signal.getsignal(signal_number)

    def ready(server: QueueServer) -> None:
        assert server.generated_key is not None
        with PlainClient(server.url, server.generated_key) as client:
            seen["status"] = client.call("POST", f"{Q}/messages", {"message_body": {}}).status
        seen["key"] = server.generated_key
        signal.raise_signal(signal_number)

    settings = config(tmp_path, api_keys_file=None)
    assert serve(settings, out=out, on_ready=ready, log_level="info") == 0
    assert seen["status"] == 200
    printed = out.getvalue()
    assert "listening on http://127.0.0.1:" in printed
    assert printed.count(seen["key"]) == 1
    assert printed.rstrip().endswith("PyQueue server stopped")
    logged = capsys.readouterr().err
    assert '"POST /api/v1/queues/orders/messages" 200' in logged
    assert seen["key"] not in logged
    assert signal.getsignal(signal_number) == before


def test_serve_reports_a_bad_config_before_anything(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="refusing to run without authentication"):
        serve(ServerConfig(host="0.0.0.0", no_auth=True, data_dir=str(tmp_path)))


# -- the command line ----------------------------------------------------------------------------


def _parsed(monkeypatch: pytest.MonkeyPatch, *argv: str) -> Tuple[ServerConfig, str]:
    captured: Dict[str, Any] = {}

    def fake_serve(settings: ServerConfig, log_level: str = "INFO", **_: Any) -> int:
        captured["config"] = settings
        captured["log_level"] = log_level
        return 0

    monkeypatch.setattr("pyqueue_client.server.serve", fake_serve)
    assert cli.main(["serve", *argv]) == 0
    return captured["config"], captured["log_level"]


def test_serve_command_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings, level = _parsed(monkeypatch)
    assert settings == ServerConfig()
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8000, "pyqueue-data")
    assert level == "info"


def test_serve_command_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings, level = _parsed(
        monkeypatch,
        "--host=::1",
        "--port=0",
        f"--data={tmp_path}",
        "--api-keys=keys.json",
        "--tls-cert=c.pem",
        "--tls-key=k.pem",
        "--cors-origin=https://a.example",
        "--cors-origin=https://b.example",
        "--max-body-bytes=1000",
        "--socket-timeout=2.5",
        "--max-connections=9",
        "--no-fsync",
        "--log-level=debug",
    )
    assert settings == ServerConfig(
        host="::1",
        port=0,
        data_dir=str(tmp_path),
        api_keys_file="keys.json",
        tls_cert="c.pem",
        tls_key="k.pem",
        cors_origins=("https://a.example", "https://b.example"),
        max_body_bytes=1000,
        socket_timeout=2.5,
        max_connections=9,
        durable=False,
    )
    assert level == "debug"
    no_auth, _ = _parsed(monkeypatch, "--no-auth")
    assert no_auth.no_auth is True


@pytest.mark.parametrize("port", ["65536", "-1", "abc", "²", ""])
def test_serve_command_refuses_bad_ports(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--port", port])
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_serve_command_reports_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["serve", "--no-auth", "--host", "0.0.0.0", "--data", str(tmp_path)])
    assert code == cli.EXIT_ERROR
    assert "refusing to run without authentication" in capsys.readouterr().err


def test_serve_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "serve" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGTERM) ends a Windows process")
def test_serve_until_a_signal_from_elsewhere(tmp_path: Path) -> None:
    out = io.StringIO()

    def signal_when_listening() -> None:
        deadline = time.monotonic() + WAIT
        while "listening" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # let the loop wait a few rounds
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=signal_when_listening)
    sender.start()
    try:
        assert serve(config(tmp_path), out=out) == 0
    finally:
        sender.join(WAIT)
    assert "API key" not in out.getvalue()  # the key file's keys are never printed


def test_serve_needs_the_main_thread(tmp_path: Path) -> None:
    thread, result = _in_thread(lambda: serve(config(tmp_path)))
    thread.join(WAIT)
    assert isinstance(result["error"], ValueError)
    assert not (tmp_path / "data").exists()
