"""``pyqueue serve``'s SQS endpoints over real HTTP: delays, long polling, batches, visibility
changes, queue attributes, dead letters and redrive, with their permissions and checks.

The server runs in this process on port 0 with a fake clock, so delays and visibility timeouts are
tested without sleeping. Long polling is real time (a server holds a request for real seconds):
those tests keep their waits short and bound every one.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from pyqueue_client._transport import rest_calls as wire
from pyqueue_client.server import QueueServer
from pyqueue_client.server._app import loggable_path
from pyqueue_client.server._handlers import HOLD_SLICE

from ._server_support import (
    ADMIN_KEY,
    READER_KEY,
    WRITER_KEY,
    HoldWatch,
    PlainClient,
    PlainReply,
    body_of,
    config,
    connect,
    read_until_closed,
    running,
    status_of,
)
from .conftest import DEFAULTS, FakeClock

Q = "/api/v1/queues/orders"
DLQ = "/api/v1/queues/dlq"
#: Upper bound for any wait in these tests.
WAIT = 20.0
DELETER_KEY = "pq-orders-deleter-0004"
MANAGER_KEY = "pq-orders-manager-0005"
#: The test keys, plus a deleter and a manager of ``orders`` who may write to ``dlq`` only.
KEYS: Dict[str, Any] = {
    ADMIN_KEY: {"description": "Admin", "queues": {"*": ["read", "write", "delete", "manage"]}},
    READER_KEY: {"description": "Orders reader", "queues": {"orders": ["read"]}},
    WRITER_KEY: {"description": "Orders writer", "queues": {"orders": ["write"]}},
    DELETER_KEY: {"description": "Orders deleter", "queues": {"orders": ["delete"]}},
    MANAGER_KEY: {
        "description": "Orders manager",
        "queues": {"orders": ["manage"], "dlq": ["write"]},
    },
}


@pytest.fixture
def server(tmp_path: Path, clock: FakeClock) -> Iterator[QueueServer]:
    """A server with the keys above, driven by the fake clock."""
    with running(config(tmp_path, KEYS, clock=clock)) as started:
        yield started


@pytest.fixture
def client(server: QueueServer) -> Iterator[PlainClient]:
    """An admin client on one keep-alive connection."""
    with PlainClient(server.url) as made:
        yield made


def ok(reply: PlainReply) -> Any:
    """The JSON of a 200 answer."""
    assert reply.status == 200, reply.raw
    return reply.json


def add_batch(client: PlainClient, messages: List[Any], **extra: Any) -> List[str]:
    """Add through the batch endpoint; returns the ids."""
    answer = ok(client.call("POST", f"{Q}/messages/batch", {"messages": messages, **extra}))
    assert answer["status"] == "success"
    ids: List[str] = answer["ids"]
    return ids


def receive(client: PlainClient, query: str = "", queue: str = Q) -> List[Dict[str, Any]]:
    """The messages of a receive with ``query``."""
    messages: List[Dict[str, Any]] = ok(client.call("POST", f"{queue}/messages/receive{query}"))[
        "messages"
    ]
    return messages


def handles_of(messages: List[Dict[str, Any]]) -> List[str]:
    """The receipt handles of received messages."""
    return [message["ReceiptHandle"] for message in messages]


def patch(client: PlainClient, changes: Dict[str, Any], queue: str = Q) -> PlainReply:
    """Change attributes with PATCH."""
    return client.call("PATCH", f"{queue}/attributes", changes)


def iso(clock: FakeClock, seconds: float = 0) -> str:
    """The fake clock's time plus ``seconds``, as the server writes times."""
    return (clock.now + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


# -- delays --------------------------------------------------------------------------------------


def test_an_add_with_a_delay_is_hidden_until_the_delay_ends(
    client: PlainClient, clock: FakeClock
) -> None:
    reply = ok(
        client.call(
            "POST", f"{Q}/messages", {"id": "late", "message_body": {}, "delay_seconds": 10}
        )
    )
    assert reply == {"id": "late", "status": "success", "receipt_handle": None}
    peeked = ok(client.call("GET", f"{Q}/message/late"))
    assert (peeked["invisible_until"], peeked["receive_count"]) == (iso(clock, 10), 0)
    info = ok(client.call("GET", f"{Q}/info"))
    assert (info["delayed_messages"], info["visible_messages"]) == (1, 0)
    assert receive(client) == []
    clock.advance(10)
    assert [m["id"] for m in receive(client)] == ["late"]


def test_an_explicit_delay_overrides_the_queues(client: PlainClient, clock: FakeClock) -> None:
    ok(patch(client, {"delay_seconds": 60}))
    ok(client.call("POST", f"{Q}/messages", {"id": "queue-delay", "message_body": {}}))
    ok(client.call("POST", f"{Q}/messages", {"id": "now", "message_body": {}, "delay_seconds": 0}))
    assert [m["id"] for m in receive(client, "?visibility_timeout=600")] == ["now"]
    clock.advance(60)
    assert [m["id"] for m in receive(client)] == ["queue-delay"]


@pytest.mark.parametrize(
    ("delay", "mentions"),
    [
        (901, "delay_seconds must be between 0 and 900 s, not 901"),
        (-1, "delay_seconds must be between 0 and 900 s, not -1"),
        ("5", "delay_seconds must be a number of seconds, not '5'"),
        (True, "delay_seconds must be a number of seconds, not True"),
    ],
)
def test_a_bad_delay_is_refused_and_adds_nothing(
    client: PlainClient, delay: Any, mentions: str
) -> None:
    for path, document in (
        (f"{Q}/messages", {"message_body": {}, "delay_seconds": delay}),
        (f"{Q}/messages/batch", {"messages": [{"message_body": {}}], "delay_seconds": delay}),
    ):
        reply = client.call("POST", path, document)
        assert (reply.status, reply.json) == (422, {"detail": mentions})
    assert ok(client.call("GET", f"{Q}/info"))["message_count"] == 0


# -- batch add -----------------------------------------------------------------------------------


def test_a_batch_add_adds_in_order_and_answers_the_ids(
    client: PlainClient, clock: FakeClock
) -> None:
    ids = add_batch(
        client,
        [
            {"id": "b1", "message_body": {"n": 1}},
            {"message_body": "text"},
            {"message_body": {"id": "from-body"}},
            {"id": "b1", "message_body": {"n": "duplicate"}},
        ],
    )
    assert ids[0] == "b1"
    assert len(ids[1]) == 36  # a UUID chosen by the server
    assert ids[2:] == ["from-body", "b1"]
    listing = ok(client.call("GET", f"{Q}/messages"))["messages"]
    assert [m["id"] for m in listing] == ids[:3]
    assert [m["message_body"] for m in listing] == [
        {"n": 1},
        {"content": "text"},
        {"id": "from-body"},
    ]
    # An id already present is a no-op, in a batch as alone.
    assert add_batch(client, [{"id": "b1", "message_body": {"n": 9}}]) == ["b1"]
    assert ok(client.call("GET", f"{Q}/message/b1"))["message_body"] == {"n": 1}


def test_a_batch_add_takes_a_delay_for_all_or_the_queues(
    client: PlainClient, clock: FakeClock
) -> None:
    add_batch(
        client,
        [{"id": "d1", "message_body": {}}, {"id": "d2", "message_body": {}}],
        delay_seconds=5,
    )
    ok(patch(client, {"delay_seconds": 30}))
    add_batch(client, [{"id": "d3", "message_body": {}}])
    assert receive(client) == []
    clock.advance(5)
    assert [m["id"] for m in receive(client)] == ["d1", "d2"]
    clock.advance(25)
    assert [m["id"] for m in receive(client)] == ["d3"]


def test_a_batch_holds_at_most_a_hundred(client: PlainClient) -> None:
    hundred = [{"id": f"m{n}", "message_body": {}} for n in range(100)]
    assert len(add_batch(client, hundred)) == 100
    for messages, shown in ((hundred + hundred[:1], "101 entries"), ([], "0 entries")):
        reply = client.call("POST", f"{Q}/messages/batch", {"messages": messages})
        detail = f"messages must be a list of 1 to 100 entries, not {shown}"
        assert (reply.status, reply.json) == (422, {"detail": detail})


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        ({}, "messages must be a list of 1 to 100 entries, not null"),
        (
            {"messages": {"message_body": {}}},
            "messages must be a list of 1 to 100 entries, not an object",
        ),
        (
            {"messages": [{"message_body": {}}, 5]},
            "messages[1] must be a JSON object, not a number",
        ),
        (
            {"messages": [{"body": {}}]},
            "messages[0]: message_body is required: a JSON object or a string",
        ),
        (
            {"messages": [{"message_body": {}, "id": 5}]},
            "messages[0]: id must be a string, not a number",
        ),
        (
            {"messages": [{"message_body": {"id": []}}]},
            'messages[0]: message["id"] must be a non-empty string, not []',
        ),
    ],
)
def test_a_bad_batch_adds_nothing(client: PlainClient, document: Any, detail: str) -> None:
    reply = client.call("POST", f"{Q}/messages/batch", document)
    assert (reply.status, reply.json) == (422, {"detail": detail})
    assert ok(client.call("GET", f"{Q}/info"))["message_count"] == 0


# -- batch delete and visibility changes ---------------------------------------------------------


def test_a_batch_delete_reports_each_handle(client: PlainClient) -> None:
    add_batch(client, [{"id": f"m{n}", "message_body": {}} for n in range(3)])
    first, second, _ = handles_of(receive(client))
    answer = ok(
        client.call(
            "POST",
            f"{Q}/messages/batch-delete",
            {"receipt_handles": [first, "stale", first, "", second]},
        )
    )
    assert answer == {
        "Successful": [first, second],
        "Failed": [
            {"ReceiptHandle": "stale", "reason": "not_found"},
            {"ReceiptHandle": first, "reason": "not_found"},
            {"ReceiptHandle": "", "reason": "invalid"},
        ],
    }
    assert [m["id"] for m in ok(client.call("GET", f"{Q}/messages"))["messages"]] == ["m2"]


@pytest.mark.parametrize("path", [f"{Q}/messages/batch-delete", f"{Q}/messages/visibility"])
@pytest.mark.parametrize(
    ("handles", "detail"),
    [
        (None, "receipt_handles must be a list of 1 to 100 entries, not null"),
        ("h", "receipt_handles must be a list of 1 to 100 entries, not a string"),
        ([], "receipt_handles must be a list of 1 to 100 entries, not 0 entries"),
        (["h"] * 101, "receipt_handles must be a list of 1 to 100 entries, not 101 entries"),
        (["h", 5], "receipt_handles must be strings, not a number"),
        ('["\\ud800"]', "receipt_handles must be valid Unicode text (no lone surrogates)"),
    ],
)
def test_bad_receipt_handle_lists(
    client: PlainClient, path: str, handles: Any, detail: str
) -> None:
    if isinstance(handles, str) and handles.startswith("["):
        document: Any = '{"visibility_timeout": 1, "receipt_handles": ' + handles + "}"
    else:
        document = {"receipt_handles": handles, "visibility_timeout": 1}
    reply = client.call("POST", path, document)
    assert (reply.status, reply.json) == (422, {"detail": detail})


def test_visibility_changes_hide_and_show_by_handle(client: PlainClient, clock: FakeClock) -> None:
    add_batch(client, [{"id": "a", "message_body": {}}, {"id": "b", "message_body": {}}])
    a, b = handles_of(receive(client, "?visibility_timeout=30"))
    answer = ok(
        client.call(
            "POST",
            f"{Q}/messages/visibility",
            {"receipt_handles": [a, "stale", ""], "visibility_timeout": 0},
        )
    )
    assert answer == {
        "Successful": [a],
        "Failed": [
            {"ReceiptHandle": "stale", "reason": "not_found"},
            {"ReceiptHandle": "", "reason": "invalid"},
        ],
    }
    assert [m["id"] for m in receive(client, "?visibility_timeout=600")] == ["a"]
    ok(
        client.call(
            "POST",
            f"{Q}/messages/visibility",
            {"receipt_handles": [b], "visibility_timeout": 100.5},
        )
    )
    assert ok(client.call("GET", f"{Q}/message/b"))["invisible_until"] == iso(clock, 100.5)
    clock.advance(100)
    assert receive(client) == []
    clock.advance(1)
    assert [m["id"] for m in receive(client)] == ["b"]
    # The handle of an earlier receive is stale now.
    stale = ok(
        client.call(
            "POST", f"{Q}/messages/visibility", {"receipt_handles": [b], "visibility_timeout": 5}
        )
    )
    assert stale["Failed"] == [{"ReceiptHandle": b, "reason": "not_found"}]


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        ({"receipt_handles": ["h"]}, "visibility_timeout is required: seconds from 0 to 43200"),
        (
            {"receipt_handles": ["h"], "visibility_timeout": 43201},
            "visibility_timeout must be between 0 and 43200 s, not 43201",
        ),
        (
            {"receipt_handles": ["h"], "visibility_timeout": None},
            "visibility_timeout must be a number of seconds, not None",
        ),
    ],
)
def test_a_visibility_change_needs_a_timeout_in_range(
    client: PlainClient, document: Any, detail: str
) -> None:
    reply = client.call("POST", f"{Q}/messages/visibility", document)
    assert (reply.status, reply.json) == (422, {"detail": detail})


# -- receiving with the queue's attributes -------------------------------------------------------


def test_a_receive_without_a_timeout_takes_the_queues(
    client: PlainClient, clock: FakeClock
) -> None:
    ok(patch(client, {"visibility_timeout": 90}))
    add_batch(client, [{"id": "a", "message_body": {}}, {"id": "b", "message_body": {}}])
    first = receive(client, "?max_messages=1")[0]
    assert first["visibility_timeout"] == iso(clock, 90)
    second = receive(client, "?max_messages=1&visibility_timeout=5")[0]
    assert second["visibility_timeout"] == iso(clock, 5)


# -- attributes ----------------------------------------------------------------------------------


def test_attributes_are_read_changed_in_part_and_cleared(client: PlainClient) -> None:
    assert ok(client.call("GET", f"{Q}/attributes")) == DEFAULTS
    changed = ok(patch(client, {"visibility_timeout": 60, "retention_seconds": 3600}))
    assert changed == {**DEFAULTS, "visibility_timeout": 60, "retention_seconds": 3600}
    # PUT changes in part too; null clears what may be cleared.
    replaced = ok(
        client.call("PUT", f"{Q}/attributes", {"retention_seconds": None, "wait_time_seconds": 2.5})
    )
    assert replaced == {**DEFAULTS, "visibility_timeout": 60, "wait_time_seconds": 2.5}
    assert ok(patch(client, {})) == replaced
    assert ok(client.call("GET", f"{Q}/attributes")) == replaced
    # Each queue has its own; a queue with attributes is listed.
    assert ok(client.call("GET", "/api/v1/queues/other/attributes")) == DEFAULTS
    assert "orders" in [q["queue_name"] for q in ok(client.call("GET", "/api/v1/queues"))["queues"]]


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        (
            {"colour": "red"},
            "unknown attribute 'colour'; the attributes are visibility_timeout, delay_seconds, "
            "wait_time_seconds, retention_seconds, max_receive_count, dead_letter_queue",
        ),
        (
            {"visibility_timeout": 43201},
            "visibility_timeout must be between 0 and 43200 s, not 43201",
        ),
        ({"visibility_timeout": None}, "visibility_timeout must be a number of seconds, not None"),
        ({"delay_seconds": 901}, "delay_seconds must be between 0 and 900 s, not 901"),
        ({"wait_time_seconds": 21}, "wait_time_seconds must be between 0 and 20 s, not 21"),
        ({"wait_time_seconds": True}, "wait_time_seconds must be a number of seconds, not True"),
        (
            {"retention_seconds": 59},
            "retention_seconds must be between 60 and 1209600 s, not 59",
        ),
        ({"max_receive_count": 0}, "max_receive_count must be between 1 and 1000, not 0"),
        ({"max_receive_count": 1.5}, "max_receive_count must be an integer, not 1.5"),
        (
            {"max_receive_count": 3},
            "max_receive_count needs a dead_letter_queue to move messages to",
        ),
        ({"dead_letter_queue": ""}, "dead_letter_queue must be a non-empty string, not ''"),
        ({"dead_letter_queue": 5}, "dead_letter_queue must be a non-empty string, not 5"),
        (
            {"dead_letter_queue": "a b"},
            "dead_letter_queue must be a queue name: "
            "1 to 80 letters, digits, '_', '.' or '-' (and not '.' or '..')",
        ),
        (
            {"dead_letter_queue": "orders"},
            "dead_letter_queue must be another queue, not this one ('orders')",
        ),
    ],
)
def test_bad_attribute_changes_change_nothing(
    client: PlainClient, changes: Dict[str, Any], detail: str
) -> None:
    ok(patch(client, {"visibility_timeout": 45}))
    reply = patch(client, {"delay_seconds": 7, **changes})
    assert (reply.status, reply.json) == (422, {"detail": detail})
    assert ok(client.call("GET", f"{Q}/attributes")) == {**DEFAULTS, "visibility_timeout": 45}


def test_the_dead_letter_rules_hold_across_changes(client: PlainClient) -> None:
    ok(patch(client, {"max_receive_count": 2, "dead_letter_queue": "dlq"}))
    # Clearing the dead-letter queue alone would leave the receive limit without a target.
    reply = patch(client, {"dead_letter_queue": None})
    assert (reply.status, reply.json["detail"]) == (
        422,
        "max_receive_count needs a dead_letter_queue to move messages to",
    )
    cleared = ok(patch(client, {"dead_letter_queue": None, "max_receive_count": None}))
    assert cleared == DEFAULTS


def test_dead_letters_and_redrive(client: PlainClient) -> None:
    ok(patch(client, {"max_receive_count": 2, "dead_letter_queue": "dlq", "visibility_timeout": 0}))
    add_batch(client, [{"id": f"m{n}", "message_body": {"n": n}} for n in range(3)])
    assert len(receive(client)) == 3
    assert len(receive(client)) == 3
    # The third receive finds every message received twice: all move to the dead-letter queue.
    assert receive(client) == []
    assert ok(client.call("GET", f"{DLQ}/info"))["message_count"] == 3
    assert ok(client.call("POST", f"{DLQ}/redrive?max_messages=1")) == {
        "moved": 1,
        "status": "success",
    }
    back = ok(client.call("GET", f"{Q}/messages"))["messages"]
    assert [(m["id"], m["receive_count"]) for m in back] == [("m0", 0)]
    assert ok(client.call("POST", f"{DLQ}/redrive")) == {"moved": 2, "status": "success"}
    assert ok(client.call("POST", f"{DLQ}/redrive")) == {"moved": 0, "status": "success"}
    assert [m["id"] for m in receive(client)] == ["m0", "m1", "m2"]
    reply = client.call("POST", f"{DLQ}/redrive?max_messages=-1")
    assert (reply.status, reply.json) == (
        422,
        {"detail": "max_messages must be between 0 and 1000000000000, not -1"},
    )


# -- permissions ---------------------------------------------------------------------------------

#: Each new endpoint: method, path, a valid body, and the permission it needs.
NEW_ROUTES: List[Tuple[str, str, Optional[Dict[str, Any]], str]] = [
    ("POST", f"{Q}/messages/batch", {"messages": [{"message_body": {}}]}, "write"),
    ("POST", f"{Q}/messages/batch-delete", {"receipt_handles": ["h"]}, "delete"),
    (
        "POST",
        f"{Q}/messages/visibility",
        {"receipt_handles": ["h"], "visibility_timeout": 1},
        "read",
    ),
    ("GET", f"{Q}/attributes", None, "read"),
    ("PATCH", f"{Q}/attributes", {"visibility_timeout": 5}, "manage"),
    ("PUT", f"{Q}/attributes", {"visibility_timeout": 5}, "manage"),
    ("POST", f"{Q}/redrive", None, "manage"),
]
KEY_OF = {"read": READER_KEY, "write": WRITER_KEY, "delete": DELETER_KEY, "manage": MANAGER_KEY}


@pytest.mark.parametrize(("method", "path", "body", "permission"), NEW_ROUTES)
def test_each_new_endpoint_needs_its_permission(
    server: QueueServer,
    method: str,
    path: str,
    body: Optional[Dict[str, Any]],
    permission: str,
) -> None:
    with PlainClient(server.url) as client:
        for key, status in ((None, 401), ("wrong-key", 401)):
            reply = client.call(method, path, body, key=key)
            assert reply.status == status, reply.raw
            assert reply.headers["www-authenticate"] == "ApiKey"
        for name, key in KEY_OF.items():
            reply = client.call(method, path, body, key=key)
            if name == permission:
                assert reply.status == 200, reply.raw
            else:
                detail = f"Access denied: {permission} permission required for queue 'orders'"
                assert (reply.status, reply.json) == (403, {"detail": detail})
        # A bad queue name is refused before the permission is looked at.
        bad = path.replace("/orders/", "/bad%20name/")
        assert client.call(method, bad, body).status == 422


def test_naming_a_dead_letter_queue_needs_write_permission_on_it(server: QueueServer) -> None:
    with PlainClient(server.url, MANAGER_KEY) as manager:
        reply = patch(manager, {"max_receive_count": 1, "dead_letter_queue": "secret"})
        detail = (
            "Access denied: write permission required for queue 'secret' (the dead_letter_queue)"
        )
        assert (reply.status, reply.json) == (403, {"detail": detail})
        assert (
            ok(patch(manager, {"max_receive_count": 1, "dead_letter_queue": "dlq"}))[
                "dead_letter_queue"
            ]
            == "dlq"
        )
        # Changing another attribute does not name the dead-letter queue again.
        assert ok(patch(manager, {"max_receive_count": 4}))["max_receive_count"] == 4


# -- long polling (real time) ---------------------------------------------------------------------


def in_thread(target: Callable[[], Any]) -> Tuple[threading.Thread, Dict[str, Any]]:
    """Run ``target`` on a thread; the dict gets its ``value`` and ``seconds`` it took."""
    result: Dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        result["value"] = target()
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_a_held_receive_is_woken_by_an_add(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = HoldWatch(monkeypatch)
    with PlainClient(server.url) as consumer, PlainClient(server.url) as producer:
        thread, result = in_thread(lambda: receive(consumer, "?wait_time_seconds=10"))
        assert watch.holding.wait(WAIT)
        ok(producer.call("POST", f"{Q}/messages", {"id": "wake", "message_body": {}}))
        thread.join(WAIT)
    assert [m["id"] for m in result["value"]] == ["wake"]
    assert result["seconds"] < 5  # woken by the add, far before the 10 s wait


def test_an_empty_wait_answers_when_it_is_over(client: PlainClient) -> None:
    started = time.monotonic()
    assert receive(client, "?wait_time_seconds=1.2") == []
    assert 1.2 <= time.monotonic() - started < 5


def test_the_queues_wait_applies_unless_the_receive_names_one(client: PlainClient) -> None:
    ok(patch(client, {"wait_time_seconds": 1}))
    started = time.monotonic()
    assert receive(client) == []
    held = time.monotonic() - started
    assert receive(client, "?wait_time_seconds=0") == []
    immediate = time.monotonic() - started - held
    assert 1 <= held < 5
    assert immediate < 0.5


def test_a_stop_answers_held_receives_at_once(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = HoldWatch(monkeypatch)
    server = QueueServer(config(tmp_path, KEYS, clock=clock))
    server.start()
    try:
        with PlainClient(server.url) as consumer:
            thread, result = in_thread(
                lambda: consumer.call("POST", f"{Q}/messages/receive?wait_time_seconds=20")
            )
            assert watch.holding.wait(WAIT)
            started = time.monotonic()
            assert server.stop() is True
            stopped_in = time.monotonic() - started
            thread.join(WAIT)
    finally:
        server.stop()
    assert stopped_in < HOLD_SLICE + 2
    reply = result["value"]
    assert (reply.status, reply.json["messages"], reply.headers["connection"]) == (200, [], "close")


def test_held_receives_count_against_the_connection_cap(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = HoldWatch(monkeypatch)
    settings = config(tmp_path, KEYS, clock=clock, max_connections=1)
    with running(settings) as server, PlainClient(server.url) as consumer:
        thread, result = in_thread(lambda: receive(consumer, "?wait_time_seconds=1"))
        assert watch.holding.wait(WAIT)
        with connect(server.url) as sock:
            answer = read_until_closed(sock)
        thread.join(WAIT)
    assert status_of(answer) == 503
    assert body_of(answer) == {"detail": "too many connections; try again"}
    assert result["value"] == []


# -- what a client sees of the routes -------------------------------------------------------------


def test_a_client_tells_a_missing_route_from_a_missing_message(client: PlainClient) -> None:
    def as_reply(reply: PlainReply) -> wire.Reply:
        return wire.Reply("GET", "http://x", reply.status, reply.raw)

    assert wire.is_missing_route(as_reply(client.call("GET", f"{Q}/nope")))
    assert wire.is_missing_route(as_reply(client.call("POST", f"{Q}/attributes", {})))
    assert not wire.is_missing_route(as_reply(client.call("DELETE", f"{Q}/messages/stale")))
    assert not wire.is_missing_route(as_reply(client.call("GET", f"{Q}/attributes")))


def test_logs_show_the_new_paths_as_they_are() -> None:
    for tail in ("batch", "batch-delete", "visibility"):
        assert loggable_path("POST", f"{Q}/messages/{tail}", True) == f"{Q}/messages/{tail}"
    assert loggable_path("DELETE", f"{Q}/messages/receipt_x", True) == (
        f"{Q}/messages/<receipt handle>"
    )
