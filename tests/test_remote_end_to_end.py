"""The remote backend end to end against a real ``pyqueue serve``: threads sharing one client or
each with its own, client processes, keep-alive reuse counted at the server, TLS, and a server
restarted under a client that keeps working.

The server runs on a thread of this process (``QueueServer`` on port 0, data under ``tmp_path``,
the test key file of ``_server_support``); the client processes are ``tests/_workers.py``
commands run with ``--queue-type=remote``. Every visibility timeout in the exactly-once checks
outlasts the test, so a message received twice, a refused delete or an id deleted twice is a
duplicated or lost update, never a legitimate redelivery.
"""

from __future__ import annotations

import ssl
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Set, Tuple

import pytest

from pyqueue_client import PyQueue, RemoteError
from pyqueue_client._transport.http_client import POOL_SIZE
from pyqueue_client.server import QueueServer, ServerConfig

from ._server_support import ADMIN_KEY, config, port_of, running
from ._tls import TlsFiles
from ._workers import (
    assert_exactly_once,
    consumed,
    consumer,
    producer,
    run_producers_then_consumers,
)
from .conftest import child_env

#: The queue every test uses on its server.
QUEUE = "e2e"
#: The client's timeout for connecting and each read: far above any answer's time.
CLIENT_TIMEOUT = 20.0
#: Upper bound for a group of threads or children to finish; far above the normal run time.
WAIT = 45.0
#: A visibility timeout that outlasts the test.
LONG_VISIBILITY = 600


def _client(server: QueueServer, **options: Any) -> PyQueue:
    """A remote ``PyQueue`` on ``server``'s test queue with the admin key."""
    return PyQueue(
        queue_type="remote",
        server_url=server.url,
        api_key=ADMIN_KEY,
        queue_name=QUEUE,
        timeout=CLIENT_TIMEOUT,
        **options,
    )


def _run_threads(bodies: Sequence[Callable[[], None]], timeout: float = WAIT) -> None:
    """Run each body on its own thread, all within ``timeout``; re-raise the first failure."""
    errors: List[BaseException] = []
    lock = threading.Lock()

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # reported to the test below
                with lock:
                    errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(body), daemon=True) for body in bodies]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} thread(s) did not finish within {timeout:g} s"
    if errors:
        raise errors[0]


class Ledger:
    """What the consumers saw, shared between threads: received, deleted and refused ids."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: Dict[str, List[str]] = {"received": [], "deleted": [], "stale": []}

    def note(self, event: str, item_id: str) -> None:
        """Record one event."""
        with self.lock:
            self.events[event].append(item_id)


def _assert_empty(queue: PyQueue) -> None:
    """Nothing left on the server: no message counted, none to receive."""
    info = queue.get_queue_info()
    assert info["message_count"] == 0, info
    assert queue.receive_messages(max_messages=10, visibility_timeout=0) == []


# -- threads -------------------------------------------------------------------------------------


def _producers_and_consumers(
    queue_of: Callable[[int], PyQueue], producers: int, consumers: int, per_producer: int
) -> Tuple[Set[str], Dict[str, List[str]]]:
    """Run ``producers`` adding threads and ``consumers`` receiving-and-deleting threads at once.

    Thread ``i`` uses ``queue_of(i)``. Consumers stop once every producer is done and the server
    counts no message. Returns the ids sent and the consumers' events.
    """
    ledger = Ledger()
    start_line = threading.Barrier(producers + consumers, timeout=WAIT)
    producing = [threading.Event() for _ in range(producers)]

    def produce(index: int) -> Callable[[], None]:
        def body() -> None:
            queue = queue_of(index)
            start_line.wait()
            for number in range(per_producer):
                item_id = f"p{index}-{number}"
                assert queue.add_message({"producer": index, "n": number}, item_id) == item_id
            producing[index].set()

        return body

    def consume(index: int) -> Callable[[], None]:
        def body() -> None:
            queue = queue_of(producers + index)
            start_line.wait()
            deadline = time.monotonic() + WAIT - 5
            while time.monotonic() < deadline:
                received = queue.receive_messages(
                    max_messages=5, visibility_timeout=LONG_VISIBILITY
                )
                for message in received:
                    ledger.note("received", message["Id"])
                    deleted = queue.delete_message(message["ReceiptHandle"])
                    ledger.note("deleted" if deleted else "stale", message["Id"])
                if received:
                    continue
                produced = all(event.is_set() for event in producing)
                if produced and queue.get_queue_info()["message_count"] == 0:
                    return
                time.sleep(0.005)
            raise TimeoutError("a consumer did not see the queue drained in time")

        return body

    bodies = [produce(index) for index in range(producers)]
    bodies += [consume(index) for index in range(consumers)]
    _run_threads(bodies)
    sent = {f"p{index}-{number}" for index in range(producers) for number in range(per_producer)}
    return sent, ledger.events


@pytest.mark.slow
def test_threads_sharing_one_client_consume_each_message_exactly_once(tmp_path: Path) -> None:
    """4 producer and 4 consumer threads share one remote ``PyQueue``: 600 messages, once each."""
    with running(config(tmp_path)) as server, _client(server) as queue:
        sent, events = _producers_and_consumers(lambda index: queue, 4, 4, 150)
        assert_exactly_once(events, sent, "remote")
        _assert_empty(queue)


@pytest.mark.slow
def test_threads_each_with_its_own_client_consume_each_message_exactly_once(
    tmp_path: Path,
) -> None:
    """8 threads, each with its own remote ``PyQueue`` on one server: 600 messages, once each."""
    with running(config(tmp_path)) as server:
        queues = [_client(server) for _ in range(8)]
        try:
            sent, events = _producers_and_consumers(lambda index: queues[index], 4, 4, 150)
            assert_exactly_once(events, sent, "remote")
            _assert_empty(queues[0])
        finally:
            for queue in queues:
                queue.close()


# -- processes -----------------------------------------------------------------------------------


def _remote_options() -> List[str]:
    """The ``_workers.py`` options for a remote queue: the test queue, key and timeout."""
    return [
        "--queue-type=remote",
        f"--queue-name={QUEUE}",
        f"--api-key={ADMIN_KEY}",
        f"--timeout={CLIENT_TIMEOUT:g}",
    ]


@pytest.mark.slow
def test_client_processes_consume_each_message_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2 producer and 2 consumer processes, each with the remote client: 600 messages, once each.

    The server runs in this process; the children get its URL and key on the command line. The
    server's accept count shows every child really talked to it.
    """
    barrier, done = tmp_path / "barrier", tmp_path / "producers-done"
    barrier.mkdir()
    with running(config(tmp_path)) as server:
        accepted = AcceptCounter(server, monkeypatch)
        env, options = child_env(), _remote_options()
        producers = [
            producer(env, tmp_path, server.url, barrier, f"producer{i}", f"p{i}", 300, *options)
            for i in range(2)
        ]
        consumers = [
            consumer(env, tmp_path, server.url, barrier, done, f"consumer{i}", *options)
            for i in range(2)
        ]
        run_producers_then_consumers(barrier, done, producers, consumers)
        events = consumed(tmp_path, consumers)
        sent = {f"p{index}-{number}" for index in range(2) for number in range(300)}
        assert_exactly_once(events, sent, "remote")
        assert accepted.count >= len(producers) + len(consumers)
        with _client(server) as queue:
            _assert_empty(queue)


# -- keep-alive ----------------------------------------------------------------------------------


class AcceptCounter:
    """Counts the connections ``server`` accepts, by wrapping its listening socket's accept."""

    def __init__(self, server: QueueServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self._lock = threading.Lock()
        self._count = 0
        httpd = server._httpd
        accept = httpd.get_request

        def counting() -> Tuple[Any, Any]:
            accepted = accept()
            with self._lock:
                self._count += 1
            return accepted

        monkeypatch.setattr(httpd, "get_request", counting)

    @property
    def count(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._count


def _round_trips(queue: PyQueue, prefix: str, rounds: int) -> None:
    """``rounds`` times: add, receive, delete and count, four calls each, checking every answer."""
    for number in range(rounds):
        item_id = f"{prefix}-{number}"
        assert queue.add_message({"n": number}, item_id) == item_id
        received = queue.receive_messages(max_messages=1, visibility_timeout=LONG_VISIBILITY)
        assert len(received) == 1, received
        assert queue.delete_message(received[0]["ReceiptHandle"])
        assert queue.get_queue_info()["message_count"] >= 0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[QueueServer]:
    """A server on this process's thread, with the test keys and data under ``tmp_path``."""
    with running(config(tmp_path)) as started:
        yield started


@pytest.mark.slow
def test_sequential_calls_reuse_one_connection(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 calls from one thread: the server accepts exactly one connection."""
    accepted = AcceptCounter(server, monkeypatch)
    with _client(server) as queue:
        _round_trips(queue, "one", 250)
        _assert_empty(queue)
    assert accepted.count == 1


@pytest.mark.slow
def test_concurrent_threads_open_at_most_one_connection_each(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 threads sharing a client, 400 calls each: at most 4 connections (within the pool)."""
    threads = 4
    assert threads <= POOL_SIZE
    accepted = AcceptCounter(server, monkeypatch)
    with _client(server) as queue:
        _run_threads(
            [partial(_add_get_remove, queue, f"t{index}", 100) for index in range(threads)]
        )
        _assert_empty(queue)
    assert 1 <= accepted.count <= threads


def _add_get_remove(queue: PyQueue, prefix: str, rounds: int) -> None:
    """Four calls a round on this thread's own ids: add, get, has, remove."""
    for number in range(rounds):
        item_id = f"{prefix}-{number}"
        assert queue.add_message({"n": number}, item_id) == item_id
        stored = queue.get_message(item_id)
        assert stored is not None
        assert stored["message_body"] == {"n": number}, stored
        assert queue.has_message(item_id)
        assert queue.remove_message(item_id)


# -- TLS -----------------------------------------------------------------------------------------


def _tls_config(tmp_path: Path, tls_files: TlsFiles) -> ServerConfig:
    """The test config, serving https with the run's server certificate."""
    return config(tmp_path, tls_cert=str(tls_files.cert), tls_key=str(tls_files.key))


def test_tls_with_a_context_trusting_the_test_authority(
    tmp_path: Path, tls_files: TlsFiles
) -> None:
    """Over https with ``ssl_context`` trusting the test CA, the whole message cycle works."""
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    with running(_tls_config(tmp_path, tls_files)) as server, _client(
        server, ssl_context=context
    ) as queue:
        assert server.url.startswith("https://127.0.0.1:")
        assert queue.health_check()
        assert queue.add_message({"secret": "over tls"}, "tls-1") == "tls-1"
        received = queue.receive_messages(max_messages=1, visibility_timeout=LONG_VISIBILITY)
        assert [message["Id"] for message in received] == ["tls-1"]
        assert received[0]["message_body"] == {"secret": "over tls"}
        assert queue.delete_message(received[0]["ReceiptHandle"])
        _assert_empty(queue)


def test_tls_without_trusting_the_authority_fails_verification(
    tmp_path: Path, tls_files: TlsFiles
) -> None:
    """Without ``ssl_context``, the test certificate is not trusted: a ``RemoteError`` says so."""
    with running(_tls_config(tmp_path, tls_files)) as server, _client(server) as queue:
        with pytest.raises(RemoteError, match="verify the TLS certificate") as raised:
            queue.add_message({"n": 1}, "never-sent")
        assert isinstance(raised.value.__cause__, ssl.SSLCertVerificationError)
        assert "ssl_context=" in str(raised.value)
        assert raised.value.status is None
    # Nothing reached the queue: check with a client that trusts the server.
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    with running(_tls_config(tmp_path, tls_files)) as server, _client(
        server, ssl_context=context
    ) as queue:
        assert queue.get_message("never-sent") is None


# -- restarts ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_client_keeps_working_across_server_restarts(tmp_path: Path) -> None:
    """The server is stopped and started again on the same data folder and port between calls.

    The same ``PyQueue`` goes on working (its pooled connection was closed by the server; a new
    one is opened transparently), and nothing acknowledged is lost: added messages are still
    there, deleted ones stay deleted, and a message received before the restart is still
    invisible and deleted with its receipt handle afterwards.
    """
    server = QueueServer(config(tmp_path))
    server.start()
    port = port_of(server.url)
    try:
        with _client(server) as queue:
            sent = [f"m-{number}" for number in range(20)]
            for item_id in sent:
                assert queue.add_message({"id": item_id}, item_id) == item_id
            taken = queue.receive_messages(max_messages=5, visibility_timeout=LONG_VISIBILITY)
            assert len(taken) == 5
            for message in taken[:3]:
                assert queue.delete_message(message["ReceiptHandle"])
            deleted = {message["Id"] for message in taken[:3]}
            pending = taken[3:]

            server.stop()
            server = QueueServer(config(tmp_path, port=port))
            server.start()

            info = queue.get_queue_info()
            assert (info["message_count"], info["invisible_messages"]) == (17, 2), info
            assert queue.check_existence(sent) == [i for i in sent if i not in deleted]
            for message in pending:
                assert queue.delete_message(message["ReceiptHandle"])
            assert queue.add_message({"id": "after"}, "after") == "after"

            server.stop()
            server = QueueServer(config(tmp_path, port=port))
            server.start()

            left = set(sent) - deleted - {message["Id"] for message in pending} | {"after"}
            seen: List[str] = []
            for _ in range(10):
                batch = queue.receive_messages(max_messages=10, visibility_timeout=LONG_VISIBILITY)
                if not batch:
                    break
                for message in batch:
                    seen.append(message["Id"])
                    assert queue.delete_message(message["ReceiptHandle"])
            assert sorted(seen) == sorted(left)
            _assert_empty(queue)
    finally:
        server.stop()
