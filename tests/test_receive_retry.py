"""A receive on a connection the server is closing: repeated once, safely.

- The transport repeats a receive that provably got no answer on a reused connection (the
  connection closed before a byte of answer came), on a new connection, with the same attempt id;
  never one whose answer had begun, and never an at-most-once receive on a server that does not
  answer a repeated attempt as it answered the first.
- ``pyqueue serve`` answers a repeated attempt id with the same messages and receipt handles
  (``server._attempts``), so a repeat whose first answer was lost on the way hides nothing twice
  and loses nothing deleted on receive.
- A consumer polling at exactly the interval after which the server closes idle connections gets
  every message, and no error.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import pytest

from pyqueue_client import PyQueue, RemoteError
from pyqueue_client._rest import RECEIVE_ATTEMPT_PARAM
from pyqueue_client._transport import rest_calls as wire
from pyqueue_client.server import QueueServer, _attempts
from pyqueue_client.server._attempts import Attempts

from ._replay_server import (
    TEST_KEYS,
    Exchange,
    ManagedServer,
    ReplayServer,
    load_exchanges,
    reply,
)
from ._server_support import ADMIN_KEY, PlainClient, config, running

EXCHANGES = load_exchanges()
ORDERS = "/api/v1/queues/orders"
RECEIVE = f"{ORDERS}/messages/receive"
EMPTY = EXCHANGES["json:receive-empty-queue"].at("POST", RECEIVE)
TWO = EXCHANGES["json:receive-2-vt60"].at("POST", RECEIVE)
DROP = Exchange("POST", RECEIVE, 0, "", action="drop")


def _remote(url: str, queue_name: str = "orders") -> PyQueue:
    return PyQueue(
        queue_type="remote", server_url=url, api_key=TEST_KEYS["admin"], queue_name=queue_name
    )


# -- the transport's choice -----------------------------------------------------------------------


def test_an_unanswered_receive_on_a_reused_connection_is_sent_once_more() -> None:
    with ReplayServer([EMPTY, DROP, TWO]) as server, _remote(server.url) as queue:
        assert queue.receive_messages(2) == []
        received = queue.receive_messages(2, visibility_timeout=60)
    assert len(received) == 2
    first, dropped, repeat = server.requests
    assert dropped.client_port == first.client_port  # the reused connection
    assert repeat.client_port != dropped.client_port  # the repeat went on a new one
    assert repeat.query[RECEIVE_ATTEMPT_PARAM] == dropped.query[RECEIVE_ATTEMPT_PARAM]
    assert first.query[RECEIVE_ATTEMPT_PARAM] != dropped.query[RECEIVE_ATTEMPT_PARAM]


def test_a_receive_call_sends_one_attempt_id() -> None:
    # A server that does not hold receives is asked again until a message comes: one call, one
    # attempt id (an empty answer is never kept, so asking again receives afresh).
    with ReplayServer([EMPTY, TWO]) as server, _remote(server.url) as queue:
        assert len(queue.receive_messages(2, wait_time_seconds=10)) == 2
    first, second = server.requests
    assert first.query[RECEIVE_ATTEMPT_PARAM] == second.query[RECEIVE_ATTEMPT_PARAM]


def test_a_receive_whose_answer_had_begun_is_not_repeated() -> None:
    partial = Exchange(
        "POST",
        RECEIVE,
        0,
        'HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n{"messages"',
        action="raw",
    )
    with ReplayServer([EMPTY, partial]) as server, _remote(server.url) as queue:
        assert queue.receive_messages(2) == []
        with pytest.raises(RemoteError):
            queue.receive_messages(2)
    assert len(server.requests) == 2


def test_an_at_most_once_receive_is_not_repeated_without_attempt_ids() -> None:
    # The server deletes on receive itself, but does not promise to answer a repeat the same.
    health = reply("GET", "/health", {"status": "healthy", "features": ["delete_after_receive"]})
    steps = [health, EMPTY, Exchange("POST", RECEIVE, 0, "", action="drop")]
    with ReplayServer(steps) as server, _remote(server.url) as queue:
        assert queue.receive_messages(2, delete_after_receive=True) == []
        with pytest.raises(RemoteError):
            queue.receive_messages(2, delete_after_receive=True)
    assert len(server.requests) == 3
    assert server.requests[1].query["delete_after_receive"] == "true"


# -- pyqueue serve answers a repeated attempt the same ---------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[QueueServer]:
    """A ``pyqueue serve`` on 127.0.0.1 with the test keys."""
    with running(config(tmp_path)) as started:
        yield started


def _receive(client: PlainClient, query: str) -> List[Dict[str, Any]]:
    answer = client.call("POST", f"{RECEIVE}?{query}")
    assert answer.status == 200, answer.json
    messages: List[Dict[str, Any]] = answer.json["messages"]
    return messages


def test_a_repeated_attempt_id_gets_the_same_messages_and_handles(server: QueueServer) -> None:
    with PlainClient(server.url, key=ADMIN_KEY) as client, _remote(server.url) as queue:
        queue.add_messages([{"n": n} for n in range(3)])
        first = _receive(client, f"max_messages=2&{RECEIVE_ATTEMPT_PARAM}=a-1")
        repeat = _receive(client, f"max_messages=2&{RECEIVE_ATTEMPT_PARAM}=a-1")
        other = _receive(client, f"max_messages=2&{RECEIVE_ATTEMPT_PARAM}=a-2")
        assert [m["receipt_handle"] for m in repeat] == [m["receipt_handle"] for m in first]
        assert len(first) == 2
        assert len(other) == 1  # the repeat hid nothing more
        assert [m["receive_count"] for m in queue.get_messages()] == [1, 1, 1]
        gone = _receive(client, f"delete_after_receive=true&{RECEIVE_ATTEMPT_PARAM}=d-1")
        assert _receive(client, f"delete_after_receive=true&{RECEIVE_ATTEMPT_PARAM}=d-1") == gone
        # the attempt id is per queue
        other_queue = client.call(
            "POST", f"/api/v1/queues/other/messages/receive?{RECEIVE_ATTEMPT_PARAM}=a-1"
        )
        assert other_queue.json["messages"] == []
        answer = client.call("POST", f"{RECEIVE}?{RECEIVE_ATTEMPT_PARAM}=" + "x" * 129)
        assert answer.status == 422


class _LossyHandler(BaseHTTPRequestHandler):
    """Forwards each request to the relay's upstream server; loses the answers it is told to."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """Forward, then answer (or close without answering)."""
        relay = self.server.owner  # type: ignore[attr-defined]
        assert isinstance(relay, LossyRelay)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        lose = relay.seen(self.command, self.path)
        upstream = http.client.HTTPConnection(relay.upstream, timeout=10)
        try:
            upstream.request(self.command, self.path, body, dict(self.headers.items()))
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        if lose:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET


class LossyRelay(ManagedServer):
    """Relays to ``upstream`` (host:port); the answers of the requests numbered in ``lose``
    (from 0) reach the server but never come back."""

    def __init__(self, upstream: str, lose: Set[int]) -> None:
        self.upstream = upstream
        self.lose = lose
        self.paths: List[str] = []
        self._lock = threading.Lock()
        super().__init__(_LossyHandler)

    def __enter__(self) -> LossyRelay:
        super().__enter__()
        return self

    def seen(self, method: str, path: str) -> bool:
        """Record a request; whether its answer is to be lost."""
        with self._lock:
            self.paths.append(f"{method} {path}")
            return len(self.paths) - 1 in self.lose


@pytest.mark.parametrize("delete_after_receive", [False, True])
def test_a_lost_answer_is_repeated_and_the_server_answers_the_same(
    server: QueueServer, delete_after_receive: bool
) -> None:
    upstream = server.url.split("://", 1)[1]
    # requests: 0 add, (1 health with delete_after_receive), then the receive whose answer is lost
    lost = 2 if delete_after_receive else 1
    with LossyRelay(upstream, {lost}) as relay, _remote(relay.url) as queue:
        queue.add_messages([{"n": n} for n in range(3)])
        received = queue.receive_messages(2, delete_after_receive=delete_after_receive)
        with _remote(server.url) as direct:
            left = direct.get_messages()
    assert [m["message_body"] for m in received] == [{"n": 0}, {"n": 1}]
    assert relay.paths[lost] == relay.paths[lost + 1]  # the same request, attempt id included
    if delete_after_receive:
        assert [m["message_body"] for m in left] == [{"n": 2}]
    else:
        assert [m["receive_count"] for m in left] == [1, 1, 0]


# -- the server's memory of attempts ---------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_attempts_are_kept_a_while_and_bounded() -> None:
    clock = _Clock()
    attempts = Attempts(keep_seconds=10, limit=2, monotonic=clock)
    served: List[str] = []

    def serve(name: str) -> Dict[str, Any]:
        served.append(name)
        return {"messages": [name]}

    assert attempts.answer("q", "a", lambda: serve("a1")) == {"messages": ["a1"]}
    assert attempts.answer("q", "a", lambda: serve("a2")) == {"messages": ["a1"]}
    assert attempts.answer("other", "a", lambda: serve("o")) == {"messages": ["o"]}
    assert attempts.answer("q", "b", lambda: serve("b")) == {"messages": ["b"]}
    assert len(attempts) == 2  # the oldest went
    assert attempts.answer("q", "a", lambda: serve("a3")) == {"messages": ["a3"]}
    clock.now = 11
    assert attempts.answer("q", "b", lambda: serve("b2")) == {"messages": ["b2"]}
    assert attempts.answer("q", "e", lambda: {"messages": []}) == {"messages": []}
    assert len(attempts) == 1  # an empty answer is not kept, the expired ones went
    assert served == ["a1", "o", "b", "a3", "b2"]


def test_an_answer_pushed_out_while_served_is_still_given() -> None:
    attempts = Attempts(limit=1)

    def first() -> Dict[str, Any]:
        # Another attempt comes meanwhile: within the limit, the older one goes.
        assert attempts.answer("q", "b", lambda: {"messages": ["b"]}) == {"messages": ["b"]}
        return {"messages": ["a"]}

    assert attempts.answer("q", "a", first) == {"messages": ["a"]}
    assert len(attempts) == 1
    assert attempts.answer("q", "a", lambda: {"messages": ["again"]}) == {"messages": ["again"]}


class _WatchedEvent(threading.Event):
    """An event that tells when somebody waits on it."""

    waiting = threading.Event()

    def wait(self, timeout: Optional[float] = None) -> bool:
        _WatchedEvent.waiting.set()
        return super().wait(timeout)


def _race(
    monkeypatch: pytest.MonkeyPatch, first: Callable[[], Dict[str, Any]]
) -> Tuple[object, Dict[str, Any]]:
    """The outcome of ``first`` on attempt ``a``, and of a repeat (which would answer
    ``{"messages": ["repeat"]}``) that arrived while ``first`` was being served."""
    monkeypatch.setattr(_attempts, "_new_event", _WatchedEvent)
    _WatchedEvent.waiting.clear()
    attempts = Attempts()
    release = threading.Event()
    outcomes: List[object] = []

    def held() -> Dict[str, Any]:
        release.wait(10)
        return first()

    def run_first() -> None:
        try:
            outcomes.append(attempts.answer("q", "a", held))
        except RuntimeError as exc:
            outcomes.append(exc)

    thread = threading.Thread(target=run_first)
    thread.start()
    repeat: List[Dict[str, Any]] = []
    second = threading.Thread(
        target=lambda: repeat.append(attempts.answer("q", "a", lambda: {"messages": ["repeat"]}))
    )
    second.start()
    assert _WatchedEvent.waiting.wait(10)  # the repeat waits for the first
    release.set()
    thread.join(10)
    second.join(10)
    return outcomes[0], repeat[0]


def test_a_repeat_during_the_first_attempt_gets_its_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    first, repeat = _race(monkeypatch, lambda: {"messages": ["first"]})
    assert first == repeat == {"messages": ["first"]}


def test_a_repeat_of_a_failed_attempt_is_served_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> Dict[str, Any]:
        raise RuntimeError("storage")

    first, repeat = _race(monkeypatch, fail)
    assert isinstance(first, RuntimeError)
    assert repeat == {"messages": ["repeat"]}


# -- a server closing idle connections at the poll interval ----------------------------------------


def test_polling_at_the_servers_idle_timeout_loses_nothing_and_fails_never(tmp_path: Path) -> None:
    interval = 0.3
    polls = 12
    settings = config(tmp_path, socket_timeout=interval)
    with running(settings) as started, _remote(started.url) as queue:
        queue.add_messages([{"n": n} for n in range(polls)])
        seen: List[int] = []
        for _ in range(polls):
            for message in queue.receive_messages(1, visibility_timeout=60):
                seen.append(message["message_body"]["n"])
                assert queue.delete_message(message["ReceiptHandle"])
            time.sleep(interval)
        assert sorted(seen) == list(range(polls))
        assert queue.get_queue_info()["message_count"] == 0


# -- the receive's options in a JSON body ----------------------------------------------------------


def test_receive_options_come_from_a_json_body_too(server: QueueServer) -> None:
    with PlainClient(server.url, key=ADMIN_KEY) as client, _remote(server.url) as queue:
        queue.add_messages([{"n": n} for n in range(3)])
        body = {
            "max_messages": 2,
            "visibility_timeout": 0.5,
            "consumer_id": "w-1",
            "only_new": None,
        }
        answer = client.call("POST", RECEIVE, body)
        assert answer.status == 200, answer.json
        assert answer.json["count"] == 2
        [hidden] = [m for m in queue.get_messages() if m["invisible_until"]][:1]
        assert hidden["receive_count"] == 1
        refused = client.call("POST", RECEIVE, {"max_messages": [2]})
        assert refused.status == 422
        assert "max_messages must be a boolean, a number or a string" in refused.json["detail"]
        unknown = client.call("POST", RECEIVE, {"maxMessages": 2})
        assert unknown.status == 422
        assert "unknown parameter" in unknown.json["detail"]


def test_a_message_without_a_hiding_time_was_received_now() -> None:
    # The existing server's delete_after_receive answers messages with no hiding time.
    recorded = EXCHANGES["json:dar-receive-2-delete_after_receive"]
    first = json.loads(recorded.body)["messages"][0]
    now = datetime(2026, 1, 2, 3, 4, 5)
    message = wire.received_message(first, 30, now)
    assert message["first_received_at"] == "2026-01-02T03:04:05.000000"
    assert message["ReceiptHandle"] == ""
