"""The remote backend's SQS calls: delays, long polling, batches, visibility changes, attributes
and redrive, against ``pyqueue serve`` and against a server without those endpoints.

- The protocol without I/O: the requests these calls build and what their replies become.
- The backend's decisions against the existing PyQueue server, answered in process from its
  recorded replies (``tests/data/remote_exchanges.json``): per-message fallbacks, typed refusals
  naming the call, endpoints probed once, and long polling by repeated receives with growing
  pauses (a fake clock paces them).
- Every call against a real ``pyqueue serve`` on 127.0.0.1: one request per 100 entries, long
  polls the server holds and an add wakes, and the same answers as the SQLite backend gives for
  the same calls under the same clock.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest

from pyqueue_client import (
    DeleteMessagesResult,
    PermissionDeniedError,
    PyQueue,
    PyQueueError,
    RemoteError,
    RequestRejectedError,
    UnsupportedOperationError,
    ValidationError,
)
from pyqueue_client._backends.remote_http import RemoteStore
from pyqueue_client._transport import rest_calls as wire
from pyqueue_client._transport.rest_calls import ApiCall
from pyqueue_client.server import QueueServer

from ._replay_server import Exchange, ReplayTransport, load_exchanges, reply
from ._server_support import ADMIN_KEY, READER_KEY, HoldWatch, config, running
from .conftest import DEFAULTS, FakeClock

EXCHANGES = load_exchanges()
ORDERS = "/api/v1/queues/orders"
NOWHERE = "http://127.0.0.1:1"
#: Upper bound for any wait in these tests.
WAIT = 20.0
#: The existing server's answers for a path it does not serve at all (404), and for one it
#: serves under other methods only (405): recorded, given to the new endpoints' requests.
NO_ROUTE = EXCHANGES["json:unknown-route"]
WRONG_METHOD = EXCHANGES["json:method-not-allowed"]
EMPTY_RECEIVE = EXCHANGES["json:receive-empty-queue"].at("POST", f"{ORDERS}/messages/receive")


def _reply(status: int, payload: Any) -> wire.Reply:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return wire.Reply("GET", "http://x/api/v1/queues/q/attributes", status, body)


def _query(call: ApiCall) -> Dict[str, str]:
    return dict(parse_qsl(urlsplit(call.path).query))


def _json(call: ApiCall) -> Any:
    assert call.body is not None
    return json.loads(call.body)


# -- the protocol without I/O --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0"),
        (5, "5"),
        (20, "20"),
        (4.9, "4.9"),
        (0.125, "0.125"),
        (1.2341, "1.235"),
        (1e-9, "0.001"),
    ],
)
def test_seconds_travel_as_whole_milliseconds_rounded_up(seconds: float, text: str) -> None:
    assert wire.seconds_text(seconds) == text


def test_the_new_calls_and_their_bodies() -> None:
    entries = [wire.batch_entry("a", '{"n":1}'), wire.batch_entry("b", "{}")]
    assert wire.add_batch_call("orders", entries, None) == ApiCall(
        "POST",
        f"{ORDERS}/messages/batch",
        b'{"messages":[{"id":"a","message_body":{"n":1}},{"id":"b","message_body":{}}]}',
        True,
    )
    assert wire.add_batch_call("orders", entries[:1], 2.5).body == (
        b'{"messages":[{"id":"a","message_body":{"n":1}}],"delay_seconds":2.5}'
    )
    assert _json(wire.delete_batch_call("orders", ["h1", "h2"])) == {
        "receipt_handles": ["h1", "h2"]
    }
    visibility = wire.change_visibility_call("orders", ["h"], 0.5)
    assert (visibility.method, visibility.path, _json(visibility)) == (
        "POST",
        f"{ORDERS}/messages/visibility",
        {"receipt_handles": ["h"], "visibility_timeout": 0.5},
    )
    assert wire.get_attributes_call("orders") == ApiCall("GET", f"{ORDERS}/attributes", None, True)
    changes = wire.set_attributes_call(
        "orders", {"visibility_timeout": 5, "dead_letter_queue": None}
    )
    assert (changes.method, _json(changes), changes.idempotent) == (
        "PATCH",
        {"visibility_timeout": 5, "dead_letter_queue": None},
        True,
    )
    # A redrive is never repeated: a second one would move more messages.
    assert wire.redrive_call("orders", None) == ApiCall("POST", f"{ORDERS}/redrive", None, False)
    assert wire.redrive_call("orders", 7).path == f"{ORDERS}/redrive?max_messages=7"


def test_a_receive_says_how_long_the_server_may_hold_it() -> None:
    held = wire.receive_call("orders", 1, None, False, False, 4.5, 20)
    assert _query(held) == {
        "max_messages": "1",
        "delete_after_receive": "false",
        "only_new": "false",
        "wait_time_seconds": "4.5",
    }
    assert held.hold == 4.5
    # Left to the queue: nothing sent, and the longest wait allowed.
    assert wire.receive_call("orders", 1, 30, False, False, None, 20).hold == 20
    assert "wait_time_seconds" not in _query(wire.receive_call("orders", 1, 30, False, False))
    # Zero is sent: it overrides a queue's wait.
    no_wait = wire.receive_call("orders", 1, 30, False, False, 0, 20)
    assert (_query(no_wait)["wait_time_seconds"], no_wait.hold) == ("0", 0)


@pytest.mark.parametrize(
    ("status", "payload", "missing"),
    [
        (404, {"detail": "Not Found"}, True),
        (405, {"detail": "Method Not Allowed"}, True),
        (404, {"detail": "Message not found"}, False),
        (405, {"detail": "Not Found"}, False),
        (404, b"<html>Not Found</html>", False),
        (404, ["Not Found"], False),
        (500, {"detail": "Not Found"}, False),
        (200, {"detail": "Not Found"}, False),
    ],
)
def test_a_missing_endpoint_is_told_from_a_missing_message(
    status: int, payload: Any, missing: bool
) -> None:
    assert wire.is_missing_route(_reply(status, payload)) is missing


def test_batch_outcomes_pair_each_handle_sent_with_its_entry() -> None:
    answer = {
        "Successful": ["a", "c"],
        "Failed": [
            {"ReceiptHandle": "b", "reason": "not_found"},
            {"ReceiptHandle": "a", "reason": "not_found"},
            {"ReceiptHandle": "d", "reason": "invalid"},
        ],
    }
    assert wire.handle_outcomes(answer, ["a", "b", "a", "c", "d"]) == [
        None,
        "not_found",
        "not_found",
        None,
        "invalid",
    ]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"Successful": []}, "a 'Successful' and a 'Failed' list"),
        ({"Successful": ["x"], "Failed": []}, "says nothing of the receipt handle 'a'"),
        ({"Successful": ["a", "a"], "Failed": []}, "names receipt handles that were not sent"),
        (
            {"Successful": ["a"], "Failed": [{"ReceiptHandle": "z", "reason": "not_found"}]},
            "names receipt handles that were not sent",
        ),
        ({"Successful": [], "Failed": [{"ReceiptHandle": "a", "reason": "gone"}]}, "'gone'"),
        ({"Successful": [], "Failed": ["a"]}, "says nothing of the receipt handle 'a'"),
    ],
)
def test_a_batch_reply_that_does_not_match_is_a_remote_error(answer: Any, problem: str) -> None:
    read = lambda obj: wire.handle_outcomes(obj, ["a"])  # noqa: E731
    with pytest.raises(RemoteError, match=problem):
        wire.decode(_reply(200, answer), read)


def test_reading_ids_attributes_and_moves() -> None:
    assert wire.message_ids({"ids": ["a", "b"]}, 2) == ["a", "b"]
    for wrong in ({"ids": ["a"]}, {"ids": ["a", ""]}, {"ids": "ab"}, {}):
        with pytest.raises(RemoteError):
            wire.decode(_reply(200, wrong), lambda obj: wire.message_ids(obj, 2))
    full = {**DEFAULTS, "retention_seconds": 60.5, "max_receive_count": 3, "dead_letter_queue": "d"}
    assert wire.attributes(full) == full
    assert wire.attributes(DEFAULTS) == DEFAULTS
    for key, value in (
        ("visibility_timeout", None),
        ("delay_seconds", -1),
        ("wait_time_seconds", True),
        ("retention_seconds", "60"),
        ("max_receive_count", 1.5),
        ("dead_letter_queue", ""),
    ):
        with pytest.raises(RemoteError, match=key):
            wire.decode(_reply(200, {**DEFAULTS, key: value}), wire.attributes)
    with pytest.raises(RemoteError, match="delay_seconds"):
        wire.decode(_reply(200, {"visibility_timeout": 30}), wire.attributes)
    assert wire.moved_count({"moved": 4, "status": "success"}) == 4
    with pytest.raises(RemoteError, match="'moved'"):
        wire.decode(_reply(200, {"moved": -1}), wire.moved_count)


# -- against the existing server (recorded answers, in process) ----------------------------------


class FakePace:
    """A monotonic clock that only moves when slept on; the pauses are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: List[float] = []

    def monotonic(self) -> float:
        """The time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the pause and let that much time pass."""
        self.pauses.append(seconds)
        self.now += seconds


@contextlib.contextmanager
def replayed(*steps: Exchange) -> Iterator[Tuple[ReplayTransport, PyQueue, FakePace]]:
    """A remote ``orders`` queue whose calls ``steps`` answer in order; each must be asked for."""
    transport = ReplayTransport(steps, NOWHERE)
    pace = FakePace()
    with PyQueue(
        queue_type="remote", server_url=NOWHERE, api_key=ADMIN_KEY, queue_name="orders"
    ) as queue:
        queue._queue._transport = transport  # type: ignore[attr-defined]
        queue._store._transport = transport  # type: ignore[attr-defined]
        queue._queue._sleep = pace.sleep  # type: ignore[attr-defined]
        queue._queue._monotonic = pace.monotonic  # type: ignore[attr-defined]
        yield transport, queue, pace
    transport.script.check_done()


def added(item_id: str) -> Exchange:
    """The existing server's answer to a single add."""
    return reply(
        "POST", f"{ORDERS}/messages", {"id": item_id, "status": "success", "receipt_handle": None}
    )


def test_adds_fall_back_to_one_request_each_and_probe_the_batch_endpoint_once() -> None:
    steps = (
        WRONG_METHOD.at("POST", f"{ORDERS}/messages/batch"),
        added("a"),
        added("b"),
        added("c"),
        added("d"),
        added("e"),
    )
    with replayed(*steps) as (transport, queue, _):
        assert queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"]) == ["a", "b"]
        # Known now: no second probe. An explicit delay of 0 is what that server does anyway.
        assert queue.add_messages([{"n": 3}, {"n": 4}], ["c", "d"], delay_seconds=0) == ["c", "d"]
        assert queue.add_message({"n": 5}, "e", delay_seconds=0) == "e"
    assert [_json(call) for call in transport.calls[1:3]] == [
        {"id": "a", "message_body": {"n": 1}},
        {"id": "b", "message_body": {"n": 2}},
    ]


@pytest.mark.parametrize(("count", "call"), [(1, "add_message"), (2, "add_messages")])
def test_a_delay_is_refused_where_the_server_has_no_batches_and_nothing_is_added(
    count: int, call: str
) -> None:
    with replayed(NO_ROUTE.at("POST", f"{ORDERS}/messages/batch")) as (transport, queue, _):
        with pytest.raises(UnsupportedOperationError) as refused:
            queue.add_messages([{"n": n} for n in range(count)], delay_seconds=5)
        with pytest.raises(NotImplementedError):  # known now: refused without a request
            queue.add_message({"n": 9}, delay_seconds=1)
    assert refused.value.operation == f"{call}(delay_seconds=...)"
    assert refused.value.queue_type == "remote"
    assert isinstance(refused.value, PyQueueError)
    assert f"{call}(delay_seconds=...)() is not supported" in str(refused.value)
    assert len(transport.calls) == 1


def test_deletes_fall_back_to_one_request_per_handle() -> None:
    handle = "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43"
    steps = (
        WRONG_METHOD.at("POST", f"{ORDERS}/messages/batch-delete"),
        EXCHANGES["json:delete-by-receipt"],
        EXCHANGES["json:delete-by-receipt-again"],
    )
    with replayed(*steps) as (transport, queue, _):
        result = queue.delete_messages([handle, 5, handle])  # type: ignore[list-item]
    assert result == {
        "Successful": [handle],
        "Failed": [
            {"ReceiptHandle": "5", "reason": "invalid"},
            {"ReceiptHandle": handle, "reason": "not_found"},
        ],
    }
    assert _json(transport.calls[0]) == {"receipt_handles": [handle, handle]}


@pytest.mark.parametrize(
    ("make_step", "call", "operation"),
    [
        (
            lambda: WRONG_METHOD.at("POST", f"{ORDERS}/messages/visibility"),
            lambda q: q.change_message_visibility("h", 5),
            "change_message_visibility",
        ),
        (
            lambda: WRONG_METHOD.at("POST", f"{ORDERS}/messages/visibility"),
            lambda q: q.change_messages_visibility(["h", "i"], 5),
            "change_messages_visibility",
        ),
        (
            lambda: NO_ROUTE.at("GET", f"{ORDERS}/attributes"),
            lambda q: q.get_queue_attributes(),
            "get_queue_attributes",
        ),
        (
            lambda: NO_ROUTE.at("POST", f"{ORDERS}/redrive"),
            lambda q: q.redrive_messages(),
            "redrive_messages",
        ),
    ],
)
def test_calls_without_an_endpoint_are_refused_naming_the_call(
    make_step: Callable[[], Exchange], call: Callable[[PyQueue], Any], operation: str
) -> None:
    with replayed(make_step()) as (transport, queue, _):
        for _attempt in range(2):  # the second is refused without a request
            with pytest.raises(UnsupportedOperationError) as refused:
                call(queue)
            assert refused.value.operation == operation
            assert str(refused.value).startswith(f"{operation}() is not supported")
    assert len(transport.calls) == 1


def test_setting_attributes_without_the_endpoint_is_refused_by_the_store() -> None:
    store = RemoteStore(NOWHERE, None, 1.0)
    transport = ReplayTransport([NO_ROUTE.at("PATCH", f"{ORDERS}/attributes")], NOWHERE)
    store._transport = transport  # type: ignore[assignment]
    for _attempt in range(2):  # the second is refused without a request
        with pytest.raises(UnsupportedOperationError, match="set_queue_attributes"):
            store.set_attributes("orders", {"visibility_timeout": 5})
    transport.script.check_done()


def test_what_is_learned_is_shared_by_the_stores_queues() -> None:
    store = RemoteStore(NOWHERE, None, 1.0)
    transport = ReplayTransport([NO_ROUTE.at("POST", "/api/v1/queues/first/redrive")], NOWHERE)
    store._transport = transport  # type: ignore[assignment]
    first, second = store.open_queue("first"), store.open_queue("second")
    first._transport = second._transport = transport  # type: ignore[assignment]
    for queue in (first, second):
        with pytest.raises(UnsupportedOperationError, match="redrive_messages"):
            queue.redrive_messages(None)
    transport.script.check_done()
    # Handles that are all invalid need no request, whatever the server has.
    expected: DeleteMessagesResult = {
        "Successful": [],
        "Failed": [
            {"ReceiptHandle": "", "reason": "invalid"},
            {"ReceiptHandle": "3", "reason": "invalid"},
        ],
    }
    assert first.change_visibility(["", 3], 5) == expected


def test_other_errors_of_the_new_endpoints_are_raised_not_taken_for_missing() -> None:
    steps = (
        reply("GET", f"{ORDERS}/attributes", {"detail": "Message not found"}, 404),
        EXCHANGES["json:clear-reader-forbidden"].at("POST", f"{ORDERS}/redrive"),
        reply("GET", f"{ORDERS}/attributes", DEFAULTS),
    )
    with replayed(*steps) as (_, queue, _pace):
        with pytest.raises(RemoteError) as absent:
            queue.get_queue_attributes()
        assert not isinstance(absent.value, UnsupportedOperationError)
        assert absent.value.status == 404
        with pytest.raises(PermissionDeniedError):
            queue.redrive_messages()
        assert queue.get_queue_attributes() == DEFAULTS  # still asked: it was not missing


def test_a_long_poll_asks_again_with_growing_pauses_until_a_message_comes() -> None:
    found = EXCHANGES["json:receive-2-vt60"].at("POST", f"{ORDERS}/messages/receive")
    with replayed(EMPTY_RECEIVE, EMPTY_RECEIVE, EMPTY_RECEIVE, found) as (transport, queue, pace):
        received = queue.receive_messages(wait_time_seconds=5)
    assert len(received) == 2  # the recorded answer's two messages
    assert pace.pauses == [0.125, 0.25, 0.5]
    assert [_query(call)["wait_time_seconds"] for call in transport.calls] == [
        "5",
        "4.875",
        "4.625",
        "4.125",
    ]
    assert [call.hold for call in transport.calls] == [5, 4.875, 4.625, 4.125]


def test_a_long_poll_of_an_empty_queue_ends_at_its_deadline() -> None:
    with replayed(*[EMPTY_RECEIVE] * 6) as (transport, queue, pace):
        assert queue.receive_messages(wait_time_seconds=2) == []
    # Doubling up to a second, the last pause cut to the deadline; never a busy loop.
    assert pace.pauses == [0.125, 0.25, 0.5, 1.0, 0.125]
    assert pace.now == 2
    assert [_query(call)["wait_time_seconds"] for call in transport.calls] == [
        "2",
        "1.875",
        "1.625",
        "1.125",
        "0.125",
        "0",
    ]


def test_a_receive_without_a_wait_is_one_request() -> None:
    with replayed(EMPTY_RECEIVE, EMPTY_RECEIVE) as (transport, queue, pace):
        assert queue.receive_messages() == []
        assert queue.receive_messages(wait_time_seconds=0) == []
    assert pace.pauses == []
    assert "wait_time_seconds" not in _query(transport.calls[0])
    assert _query(transport.calls[1])["wait_time_seconds"] == "0"


# -- against pyqueue serve -----------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, clock: FakeClock) -> Iterator[QueueServer]:
    """A server with the test keys, driven by the fake clock."""
    with running(config(tmp_path, clock=clock)) as started:
        yield started


def remote(
    server: QueueServer, name: str = "orders", key: str = ADMIN_KEY, timeout: float = 10
) -> PyQueue:
    """A remote queue of ``server``."""
    return PyQueue(
        queue_type="remote", server_url=server.url, api_key=key, queue_name=name, timeout=timeout
    )


@contextlib.contextmanager
def recorded(queue: PyQueue, monkeypatch: pytest.MonkeyPatch) -> Iterator[List[ApiCall]]:
    """The calls ``queue`` sends while the block runs."""
    transport = queue._store._transport  # type: ignore[attr-defined]
    original = transport.send
    calls: List[ApiCall] = []

    def send(call: ApiCall) -> wire.Reply:
        calls.append(call)
        answer: wire.Reply = original(call)
        return answer

    monkeypatch.setattr(transport, "send", send)
    yield calls
    monkeypatch.setattr(transport, "send", original)


def paths(calls: Sequence[ApiCall]) -> List[str]:
    """Method and path (no query) of each call."""
    return [f"{call.method} {urlsplit(call.path).path}" for call in calls]


def test_adds_and_deletes_take_one_request_per_hundred(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with remote(server) as queue, recorded(queue, monkeypatch) as calls:
        ids = queue.add_messages([{"n": n} for n in range(250)], [f"m{n:03d}" for n in range(250)])
        assert ids == [f"m{n:03d}" for n in range(250)]
        assert paths(calls) == [f"POST {ORDERS}/messages/batch"] * 3
        assert [len(_json(call)["messages"]) for call in calls] == [100, 100, 50]
        received = queue.receive_messages(100) + queue.receive_messages(20)
        handles: List[Any] = [message["ReceiptHandle"] for message in received]
        del calls[:]
        result = queue.delete_messages([*handles[:60], "stale", "", *handles[60:], handles[0]])
        assert paths(calls) == [f"POST {ORDERS}/messages/batch-delete"] * 2
        assert result["Successful"] == handles
        assert result["Failed"] == [
            {"ReceiptHandle": "stale", "reason": "not_found"},
            {"ReceiptHandle": "", "reason": "invalid"},
            {"ReceiptHandle": handles[0], "reason": "not_found"},
        ]
        assert queue.get_queue_info()["message_count"] == 130
        # One message and one handle keep the endpoints every server has.
        del calls[:]
        queue.add_message({"one": 1}, "one")
        assert queue.delete_message("stale") is False
        assert paths(calls) == [f"POST {ORDERS}/messages", f"DELETE {ORDERS}/messages/stale"]


def test_big_batches_are_split_to_fit_the_body_limit(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = "x" * (100 * 1024)
    with remote(server) as queue, recorded(queue, monkeypatch) as calls:
        assert len(queue.add_messages([{"big": big}] * 5, [f"b{n}" for n in range(5)])) == 5
        assert [len(_json(call)["messages"]) for call in calls] == [2, 2, 1]
        assert all(len(call.body or b"") < server.config.max_body_bytes for call in calls)
        assert queue.check_existence([f"b{n}" for n in range(5)]) == [f"b{n}" for n in range(5)]
        # Handles are measured as they travel: a non-ASCII character takes six bytes.
        del calls[:]
        handles = ["é" * 20_000 + str(n) for n in range(3)]
        result = queue.delete_messages(handles)
        assert [len(_json(call)["receipt_handles"]) for call in calls] == [2, 1]
        assert [failure["reason"] for failure in result["Failed"]] == ["not_found"] * 3


def test_delays_attributes_visibility_and_redrive_on_the_server(
    server: QueueServer, clock: FakeClock
) -> None:
    with remote(server) as queue, remote(server, "dlq") as dead_letters:
        assert queue.get_queue_attributes() == DEFAULTS
        queue.add_message({"n": 0}, "late", delay_seconds=5)
        assert queue.receive_messages() == []
        assert queue.get_queue_info()["delayed_messages"] == 1
        clock.advance(5)
        changed = queue.set_queue_attributes(
            visibility_timeout=60, max_receive_count=1, dead_letter_queue="dlq"
        )
        assert changed == {
            **DEFAULTS,
            "visibility_timeout": 60,
            "max_receive_count": 1,
            "dead_letter_queue": "dlq",
        }
        (message,) = queue.receive_messages()
        stored = queue.get_message("late")
        assert stored is not None
        hidden_until = clock.now + timedelta(seconds=60)  # the queue's visibility timeout
        assert stored["invisible_until"] == hidden_until.isoformat(timespec="microseconds")
        assert queue.change_message_visibility(message["ReceiptHandle"], 0) is True
        assert queue.change_message_visibility("stale", 0) is False
        # Received once already: the next receive moves it to the dead-letter queue.
        assert queue.receive_messages() == []
        assert [m["id"] for m in dead_letters.get_messages()] == ["late"]
        assert dead_letters.redrive_messages() == 1
        assert [(m["id"], m["receive_count"]) for m in queue.get_messages()] == [("late", 0)]


def test_the_server_checks_attributes_and_permissions(server: QueueServer) -> None:
    with remote(server) as queue, remote(server, key=READER_KEY) as reader:
        with pytest.raises(
            RequestRejectedError, match="dead_letter_queue must be a queue name"
        ) as bad:
            queue.set_queue_attributes(dead_letter_queue="no such/name")
        assert isinstance(bad.value, ValidationError)
        assert bad.value.status == 422
        assert reader.get_queue_attributes() == DEFAULTS
        with pytest.raises(PermissionDeniedError, match="manage permission required"):
            reader.set_queue_attributes(visibility_timeout=5)
        with pytest.raises(PermissionDeniedError, match="manage permission required"):
            reader.redrive_messages()


def test_a_waiting_consumer_is_woken_by_another_clients_add(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = HoldWatch(monkeypatch)
    result: Dict[str, Any] = {}
    with remote(server) as consumer, remote(server) as producer:

        def consume() -> None:
            started = time.monotonic()
            result["messages"] = consumer.receive_messages(wait_time_seconds=5)
            result["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=consume)
        thread.start()
        assert watch.holding.wait(WAIT)
        producer.add_message({"wake": True}, "wake")
        thread.join(WAIT)
    assert not thread.is_alive()
    assert [message["Id"] for message in result["messages"]] == ["wake"]
    assert result["seconds"] < 3  # well before the 5 s wait


def test_an_empty_wait_is_one_held_request_that_outlasts_the_read_timeout(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read timeout (0.5 s) is far below the wait: the wait is added to it.
    with remote(server, timeout=0.5) as queue, recorded(queue, monkeypatch) as calls:
        started = time.monotonic()
        assert queue.receive_messages(wait_time_seconds=1.5) == []
        waited = time.monotonic() - started
    assert 1.5 <= waited < 4
    assert paths(calls) == [f"POST {ORDERS}/messages/receive"]


def test_the_queues_wait_is_held_by_the_server(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with remote(server, timeout=0.5) as queue:
        queue.set_queue_attributes(wait_time_seconds=1)
        with recorded(queue, monkeypatch) as calls:
            started = time.monotonic()
            assert queue.receive_messages() == []
            waited = time.monotonic() - started
    assert 1 <= waited < 4
    assert len(calls) == 1


# -- the same answers as the local backends ------------------------------------------------------


def scenario(queue: PyQueue, dead_letters: PyQueue, target: str, clock: FakeClock) -> List[Any]:
    """Delays, attributes, visibility changes, dead letters (into ``dead_letters``, which the
    queue's attributes call ``target``), redrive and retention: what each call gave, with
    receipt handles replaced by their positions and ``target`` by a placeholder."""
    seen: List[Any] = []

    def attributes(found: Dict[str, Any]) -> Dict[str, Any]:
        named = found["dead_letter_queue"] == target
        return {**found, "dead_letter_queue": "<dead letters>" if named else None}

    seen.append(queue.set_queue_attributes(visibility_timeout=10, delay_seconds=2))
    seen.append(queue.add_messages([{"n": n} for n in range(3)], ["a", "b", "c"]))
    seen.append(queue.add_message({"n": 3}, "d", delay_seconds=0))
    seen.append([m["Id"] for m in queue.receive_messages(10)])
    seen.append(counted(queue.get_queue_info()))
    clock.advance(2)
    received = queue.receive_messages(2)
    handles = [m["ReceiptHandle"] for m in received]
    seen.append([(m["Id"], m["receive_count"]) for m in received])
    # Hidden until when; an expired time may or may not be cleared yet, depending on the backend.
    now = clock.now.isoformat(timespec="microseconds")
    seen.append([hidden_until(m["invisible_until"], now) for m in queue.get_messages()])
    result = queue.change_messages_visibility([handles[0], "stale", "", handles[1]], 0)
    position = {handle: f"handle {n}" for n, handle in enumerate(handles)}
    seen.append([position[handle] for handle in result["Successful"]])
    seen.append(
        [
            (position.get(f["ReceiptHandle"], f["ReceiptHandle"]), f["reason"])
            for f in result["Failed"]
        ]
    )
    seen.append([m["Id"] for m in queue.receive_messages(10, visibility_timeout=0)])
    changed = queue.set_queue_attributes(max_receive_count=2, dead_letter_queue=target)
    seen.append(attributes(dict(changed)))
    seen.append([m["Id"] for m in queue.receive_messages(10)])
    seen.append([m["id"] for m in dead_letters.get_messages()])
    seen.append(dead_letters.redrive_messages(1))
    seen.append(dead_letters.redrive_messages())
    seen.append([(m["id"], m["receive_count"]) for m in queue.get_messages()])
    seen.append(attributes(dict(queue.get_queue_attributes())))
    with pytest.raises(ValidationError) as refused:
        queue.set_queue_attributes(dead_letter_queue=None)
    seen.append(str(refused.value))
    # Retention: a receive drops messages older than it, whatever else they are.
    cleared = queue.set_queue_attributes(
        retention_seconds=60, max_receive_count=None, dead_letter_queue=None, delay_seconds=0
    )
    seen.append(attributes(dict(cleared)))
    clock.advance(59)
    queue.add_message({"n": 4}, "e")
    clock.advance(2)
    seen.append([m["Id"] for m in queue.receive_messages(10)])
    seen.append(counted(queue.get_queue_info()))
    return seen


def hidden_until(until: Optional[str], now: str) -> Optional[str]:
    """``until`` if it is still ahead of ``now``, else None (visible)."""
    return until if until is not None and until > now else None


def counted(info: Any) -> Dict[str, int]:
    """The counting keys of a ``get_queue_info``."""
    return {key: info[key] for key in wire.COUNT_KEYS}


#: A pair of queues of one local backend: a queue and its dead-letter queue, and the name the
#: queue's attributes give the dead-letter queue.
LocalPair = Callable[[Path, FakeClock], ContextManager[Tuple[PyQueue, PyQueue, str]]]


@contextlib.contextmanager
def _sqlite_pair(tmp_path: Path, clock: FakeClock) -> Iterator[Tuple[PyQueue, PyQueue, str]]:
    database = tmp_path / "queue.db"
    with PyQueue(database, "sqlite", queue_name="orders", durable=False, clock=clock) as q, PyQueue(
        database, "sqlite", queue_name="dlq", durable=False, clock=clock
    ) as d:
        yield q, d, "dlq"


@contextlib.contextmanager
def _local_pair(tmp_path: Path, clock: FakeClock) -> Iterator[Tuple[PyQueue, PyQueue, str]]:
    target = tmp_path / "dlq.json"
    with PyQueue(tmp_path / "orders.json", durable=False, clock=clock) as q, PyQueue(
        target, durable=False, clock=clock
    ) as d:
        yield q, d, str(target)


@pytest.mark.parametrize("pair", [_sqlite_pair, _local_pair], ids=["sqlite", "local"])
def test_the_remote_queue_answers_as_the_local_ones(tmp_path: Path, pair: LocalPair) -> None:
    local_clock, remote_clock = FakeClock(), FakeClock()
    with pair(tmp_path, local_clock) as (queue, dead_letters, target):
        local = scenario(queue, dead_letters, target, local_clock)
    (tmp_path / "server").mkdir()
    settings = config(tmp_path / "server", clock=remote_clock)
    with running(settings) as started, remote(started) as q, remote(started, "dlq") as d:
        far = scenario(q, d, "dlq", remote_clock)
    assert far == local
