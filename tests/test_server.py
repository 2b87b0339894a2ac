"""``pyqueue serve``: every endpoint over real HTTP, on a server on port 0 in this process.

Shapes are checked against PROTOCOL.md: the existing server's keys for the original client plus
this library's names (``Id``, ``ReceiptHandle``, ``first_received_at``, the counting keys). Time
is a fake clock, so visibility timeouts are tested without sleeping.
"""

from __future__ import annotations

import socketserver
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from pyqueue_client._rest import FEATURES
from pyqueue_client.server import QueueServer

from ._server_support import (
    READER_KEY,
    WRITER_KEY,
    PlainClient,
    config,
    running,
)
from .conftest import FakeClock

#: A message object as the existing server sends it (PROTOCOL.md) ...
EXISTING_SERVER_KEYS = {
    "id",
    "message_body",
    "timestamp",
    "status",
    "visibility_timeout",
    "receipt_handle",
    "receive_count",
}
#: ... and what ``pyqueue serve`` adds for peeked and for received messages.
STORED_KEYS = EXISTING_SERVER_KEYS | {"first_received_at", "invisible_until"}
RECEIVED_KEYS = EXISTING_SERVER_KEYS | {"Id", "ReceiptHandle", "first_received_at"}
ENVELOPE_KEYS = {"messages", "count", "total", "offset", "limit", "has_more"}
Q = "/api/v1/queues/orders"


@pytest.fixture
def server(tmp_path: Path, clock: FakeClock) -> Iterator[QueueServer]:
    """A server with the test keys, driven by the fake clock."""
    with running(config(tmp_path, clock=clock)) as started:
        yield started


@pytest.fixture
def client(server: QueueServer) -> Iterator[PlainClient]:
    """An admin client on one keep-alive connection."""
    with PlainClient(server.url) as made:
        yield made


def add(client: PlainClient, body: Any, item_id: Any = None, queue: str = "orders") -> str:
    """Add a message and return the id the server answered."""
    document: Dict[str, Any] = {"message_body": body}
    if item_id is not None:
        document["id"] = item_id
    reply = client.call("POST", f"/api/v1/queues/{queue}/messages", document)
    assert reply.status == 200, reply.json
    assert reply.json["status"] == "success"
    assert reply.json["receipt_handle"] is None
    identifier: str = reply.json["id"]
    return identifier


def receive(client: PlainClient, query: str = "", queue: str = "orders") -> List[Dict[str, Any]]:
    """Receive with the given query string; returns the messages."""
    reply = client.call("POST", f"/api/v1/queues/{queue}/messages/receive{query}")
    assert reply.status == 200, reply.json
    assert set(reply.json) == ENVELOPE_KEYS
    messages: List[Dict[str, Any]] = reply.json["messages"]
    return messages


# -- service endpoints ---------------------------------------------------------------------------


def test_health_and_root_need_no_key(server: QueueServer, clock: FakeClock) -> None:
    with PlainClient(server.url, key=None) as anonymous:
        assert anonymous.call("GET", "/health").json == {
            "status": "healthy",
            "service": "pyqueue-server",
            "features": list(FEATURES),
        }
        assert anonymous.call("GET", "/api/v1/health").json == {
            "status": "healthy",
            "queue_name": None,
            "timestamp": clock.now.isoformat(timespec="microseconds"),
        }
        root = anonymous.call("GET", "/")
        assert root.status == 200
        assert root.json["health"] == "/api/v1/health"


def test_health_reports_storage_failure(
    server: QueueServer, client: PlainClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "pyqueue_client._backends.sqlite.SqliteStore.health_check", lambda self: False
    )
    for path in ("/health", "/api/v1/health"):
        reply = client.call("GET", path)
        assert reply.status == 503
        assert reply.json == {"detail": "the queue storage is not available"}
        assert reply.headers["retry-after"] == "5"


def test_server_header_names_no_python_version(client: PlainClient) -> None:
    assert client.call("GET", "/health").headers["server"] == "pyqueue"


# -- adding and peeking --------------------------------------------------------------------------


def test_each_answer_goes_out_in_one_write(
    client: PlainClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status line, headers and body together: one segment and one wake-up for the client."""
    writes: List[bytes] = []
    real_write = socketserver._SocketWriter.write  # type: ignore[attr-defined]

    def recording(self: Any, data: bytes) -> int:
        writes.append(bytes(data))
        return int(real_write(self, data))

    monkeypatch.setattr(socketserver._SocketWriter, "write", recording)  # type: ignore[attr-defined]
    added = client.call("POST", f"{Q}/messages", {"message_body": {"n": 1}})
    assert added.status == 200
    missing = client.call("GET", f"{Q}/message/absent")
    assert missing.status == 404
    assert len(writes) == 2
    for answer, reply in zip(writes, (added, missing)):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d " % reply.status)
        assert body
        assert body == reply.raw


def test_add_chooses_ids_like_the_library(client: PlainClient) -> None:
    assert add(client, {"n": 1}, "given") == "given"
    assert add(client, {"id": "in-body", "n": 2}) == "in-body"
    assert add(client, {"id": 7}) == "7"
    generated = add(client, {"n": 3})
    assert str(uuid.UUID(generated)) == generated
    # An empty id counts as none, as the existing server treats it.
    assert add(client, {"n": 4}, "") != ""


def test_add_is_idempotent_by_id(client: PlainClient) -> None:
    assert add(client, {"v": 1}, "same") == "same"
    assert add(client, {"v": 2}, "same") == "same"
    reply = client.call("GET", f"{Q}/message/same")
    assert reply.json["message_body"] == {"v": 1}
    assert client.call("GET", f"{Q}/info").json["message_count"] == 1


def test_add_string_body_is_stored_as_content(client: PlainClient) -> None:
    item = add(client, "hello world")
    assert client.call("GET", f"{Q}/message/{item}").json["message_body"] == {
        "content": "hello world"
    }


def test_add_ignores_unknown_fields_and_the_clients_timestamp(
    client: PlainClient, clock: FakeClock
) -> None:
    document = {
        "id": "x",
        "message_body": {"k": "v"},
        "timestamp": "2000-01-01T00:00:00Z",
        "priority": 5,
    }
    assert client.call("POST", f"{Q}/messages", document).status == 200
    stored = client.call("GET", f"{Q}/message/x").json
    assert stored["timestamp"] == clock.now.isoformat(timespec="microseconds")


def test_unicode_survives_the_round_trip(client: PlainClient) -> None:
    body = {"text": "café ☃ \U0001f4e6", "nested": {"list": [1, 2.5, None, True]}}
    item = add(client, body)
    assert client.call("GET", f"{Q}/message/{item}").json["message_body"] == body


def test_ids_are_single_percent_encoded_segments(client: PlainClient) -> None:
    assert add(client, {"n": 1}, "a/b c") == "a/b c"
    assert client.call("GET", f"{Q}/message/a%2Fb%20c").status == 200
    assert client.call("GET", f"{Q}/message/a/b%20c").status == 404


def test_peek_shape_and_paging(client: PlainClient, clock: FakeClock) -> None:
    ids = [add(client, {"i": i}, f"m{i}") for i in range(12)]
    page = client.call("GET", f"{Q}/messages").json
    assert set(page) == ENVELOPE_KEYS
    assert (page["count"], page["total"], page["offset"], page["limit"], page["has_more"]) == (
        10,
        12,
        0,
        10,
        True,
    )
    first = page["messages"][0]
    assert set(first) == STORED_KEYS
    assert first == {
        "id": "m0",
        "message_body": {"i": 0},
        "timestamp": clock.now.isoformat(timespec="microseconds"),
        "status": "available",
        "visibility_timeout": None,
        "receipt_handle": None,
        "receive_count": 0,
        "first_received_at": None,
        "invisible_until": None,
    }
    rest = client.call("GET", f"{Q}/messages?limit=5&offset=10").json
    assert [m["id"] for m in rest["messages"]] == ids[10:]
    assert rest["has_more"] is False
    past = client.call("GET", f"{Q}/messages?offset=1000").json
    assert (past["messages"], past["total"], past["has_more"]) == ([], 12, False)


def test_peek_takes_max_messages_as_the_original_client_sends_it(client: PlainClient) -> None:
    for i in range(5):
        add(client, {"i": i})
    assert client.call("GET", f"{Q}/messages?max_messages=2").json["count"] == 2
    # ``limit`` wins when both are given.
    assert client.call("GET", f"{Q}/messages?max_messages=2&limit=3").json["count"] == 3


def test_peek_of_a_queue_never_used(client: PlainClient) -> None:
    page = client.call("GET", "/api/v1/queues/never_used/messages").json
    assert page == {
        "messages": [],
        "count": 0,
        "total": 0,
        "offset": 0,
        "limit": 10,
        "has_more": False,
    }


def test_get_message(client: PlainClient) -> None:
    add(client, {"a": 1}, "one")
    assert client.call("GET", f"{Q}/message/one").json["message_body"] == {"a": 1}
    missing = client.call("GET", f"{Q}/message/nope")
    assert (missing.status, missing.json) == (404, {"detail": "Message not found"})
    assert client.call("GET", "/api/v1/queues/other/message/one").status == 404


def test_check_existence_keeps_the_given_order(client: PlainClient) -> None:
    add(client, {}, "a")
    add(client, {}, "b")
    reply = client.call(
        "POST", f"{Q}/messages/check-existence", {"message_ids": ["b", "nope", "a", "b"]}
    )
    assert reply.json == {"existing_ids": ["b", "a", "b"]}
    empty = client.call("POST", f"{Q}/messages/check-existence", {"message_ids": []})
    assert empty.json == {"existing_ids": []}


# -- receiving -----------------------------------------------------------------------------------


def test_receive_shape_visibility_and_redelivery(client: PlainClient, clock: FakeClock) -> None:
    add(client, {"n": 1}, "m1")
    add(client, {"n": 2}, "m2")
    start = clock.now
    got = receive(client, "?max_messages=1&visibility_timeout=60")
    assert len(got) == 1
    message = got[0]
    assert set(message) == RECEIVED_KEYS
    assert message["id"] == message["Id"] == "m1"
    assert message["receipt_handle"] == message["ReceiptHandle"]
    assert message["status"] == "in_flight"
    assert message["receive_count"] == 1
    assert message["first_received_at"] == start.isoformat(timespec="microseconds")
    until = (start + timedelta(seconds=60)).isoformat(timespec="microseconds")
    assert message["visibility_timeout"] == until

    peeked = client.call("GET", f"{Q}/message/m1").json
    assert peeked["status"] == "in_flight"
    assert peeked["invisible_until"] == peeked["visibility_timeout"] == until
    # A live receipt handle is never shown to peekers.
    assert peeked["receipt_handle"] is None
    assert message["ReceiptHandle"] not in client.call("GET", f"{Q}/messages").raw.decode()

    assert [m["id"] for m in receive(client)] == ["m2"]
    assert receive(client) == []
    clock.advance(61)
    again = receive(client, "?max_messages=5")
    assert [m["id"] for m in again] == ["m1", "m2"]
    assert again[0]["receive_count"] == 2
    assert again[0]["first_received_at"] == message["first_received_at"]
    assert again[0]["ReceiptHandle"] != message["ReceiptHandle"]
    stale = client.call("DELETE", f"{Q}/messages/{message['ReceiptHandle']}")
    assert (stale.status, stale.json) == (404, {"detail": "Message not found"})
    fresh = client.call("DELETE", f"{Q}/messages/{again[0]['ReceiptHandle']}")
    assert (fresh.status, fresh.json) == (200, {"status": "success", "message": "Message deleted"})
    assert client.call("GET", f"{Q}/info").json["message_count"] == 1


def test_receive_defaults_and_envelope(client: PlainClient) -> None:
    for i in range(12):
        add(client, {"i": i})
    reply = client.call("POST", f"{Q}/messages/receive").json
    assert (reply["count"], reply["total"], reply["offset"], reply["limit"]) == (10, 10, 0, 10)
    assert reply["has_more"] is False


def test_receive_only_new(client: PlainClient, clock: FakeClock) -> None:
    add(client, {}, "old")
    receive(client, "?visibility_timeout=1")
    add(client, {}, "new")
    clock.advance(2)
    assert [m["id"] for m in receive(client, "?only_new=true")] == ["new"]


def test_receive_with_delete_after_receive(client: PlainClient) -> None:
    for i in range(3):
        add(client, {"i": i}, f"d{i}")
    got = receive(client, "?max_messages=2&delete_after_receive=true")
    assert [m["id"] for m in got] == ["d0", "d1"]
    assert all(m["status"] == "processed" and m["visibility_timeout"] is None for m in got)
    assert all(m["receive_count"] == 1 for m in got)
    info = client.call("GET", f"{Q}/info").json
    assert (info["message_count"], info["visible_messages"]) == (1, 1)


def test_receive_with_zero_and_fractional_timeouts(client: PlainClient, clock: FakeClock) -> None:
    add(client, {}, "z")
    assert len(receive(client, "?visibility_timeout=0")) == 1
    assert len(receive(client, "?visibility_timeout=0.5&consumer_id=worker-1")) == 1
    assert receive(client) == []
    clock.advance(0.5)
    assert [m["receive_count"] for m in receive(client)] == [3]


def test_receive_reads_a_body_and_refuses_a_contradiction(client: PlainClient) -> None:
    for _ in range(3):
        add(client, {})
    reply = client.call("POST", f"{Q}/messages/receive?max_messages=1", {"max_messages": 5})
    assert reply.status == 422
    assert "max_messages is given twice" in reply.json["detail"]
    reply = client.call("POST", f"{Q}/messages/receive", {"max_messages": 2, "only_new": True})
    assert reply.json["count"] == 2


# -- changing ------------------------------------------------------------------------------------


def test_update_keeps_tracking_and_refreshes_timestamp(
    client: PlainClient, clock: FakeClock
) -> None:
    add(client, {"v": 1}, "u")
    receive(client, "?visibility_timeout=60")
    clock.advance(5)
    reply = client.call(
        "PUT", f"{Q}/messages/by-id/u", {"message_body": {"v": 2}, "timestamp": "ignored"}
    )
    assert reply.json == {"status": "success", "message": "Message updated"}
    stored = client.call("GET", f"{Q}/message/u").json
    assert stored["message_body"] == {"v": 2}
    assert stored["timestamp"] == clock.now.isoformat(timespec="microseconds")
    assert (stored["receive_count"], stored["status"]) == (1, "in_flight")
    client.call("PUT", f"{Q}/messages/by-id/u", {"message_body": "text"})
    assert client.call("GET", f"{Q}/message/u").json["message_body"] == {"content": "text"}
    missing = client.call("PUT", f"{Q}/messages/by-id/nope", {"message_body": {}})
    assert (missing.status, missing.json) == (404, {"detail": "Message not found"})


def test_remove_by_id(client: PlainClient) -> None:
    add(client, {}, "r")
    reply = client.call("DELETE", f"{Q}/messages/by-id/r")
    assert reply.json == {"status": "success", "message": "Message deleted"}
    assert client.call("DELETE", f"{Q}/messages/by-id/r").status == 404


def test_delete_path_names_are_receipt_handles(client: PlainClient) -> None:
    # As on the existing server: ``messages/by-id`` alone is an (unknown) receipt handle.
    assert client.call("DELETE", f"{Q}/messages/by-id").status == 404
    assert client.call("DELETE", f"{Q}/messages/receive").status == 404


def test_clear(client: PlainClient) -> None:
    add(client, {})
    add(client, {}, queue="kept")
    reply = client.call("DELETE", f"{Q}/messages")
    assert reply.json == {"status": "success", "message": "Queue cleared"}
    assert client.call("GET", f"{Q}/info").json["message_count"] == 0
    assert client.call("GET", "/api/v1/queues/kept/info").json["message_count"] == 1
    assert client.call("DELETE", "/api/v1/queues/never_used/messages").status == 200


# -- statistics ----------------------------------------------------------------------------------


def test_info_has_both_servers_keys_and_no_path(
    server: QueueServer, client: PlainClient, clock: FakeClock
) -> None:
    for i in range(3):
        add(client, {"i": i})
    receive(client, "?max_messages=1")
    reply = client.call("GET", f"{Q}/info")
    now = clock.now.isoformat(timespec="microseconds")
    assert reply.json == {
        "queue_name": "orders",
        "message_count": 3,
        "available_messages": 2,
        "in_flight_messages": 1,
        "queue_size_bytes": 0,
        "created_timestamp": now,
        "last_modified": now,
        "visible_messages": 2,
        "invisible_messages": 1,
        "never_received": 2,
        "total_receives": 1,
        "delayed_messages": 0,
    }
    assert "queues.db" not in reply.raw.decode()
    assert server.database.endswith("queues.db")


def test_queue_health(client: PlainClient, clock: FakeClock) -> None:
    assert client.call("GET", f"{Q}/health").json == {
        "status": "healthy",
        "queue_name": "orders",
        "timestamp": clock.now.isoformat(timespec="microseconds"),
    }


def test_queue_health_failure(client: PlainClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "pyqueue_client._backends.sqlite.SqliteQueue.health_check", lambda self: False
    )
    assert client.call("GET", f"{Q}/health").status == 503


def test_list_queues_per_key(server: QueueServer, client: PlainClient) -> None:
    add(client, {}, queue="orders")
    add(client, {}, queue="payments")
    receive(client, queue="payments")
    admin = client.call("GET", "/api/v1/queues").json
    assert admin["api_key_description"] == "Admin"
    assert admin["count"] == 2
    assert admin["queues"][1] == {
        "queue_name": "payments",
        "message_count": 1,
        "available_messages": 0,
        "in_flight_messages": 1,
        "permissions": ["read", "write", "delete", "manage"],
    }
    with PlainClient(server.url, READER_KEY) as reader:
        listed = reader.call("GET", "/api/v1/queues").json
    assert [(q["queue_name"], q["permissions"]) for q in listed["queues"]] == [("orders", ["read"])]


def test_list_queues_shows_named_queues_even_when_empty(server: QueueServer) -> None:
    with PlainClient(server.url, WRITER_KEY) as writer:
        listed = writer.call("GET", "/api/v1/queues").json
    assert listed["queues"] == [
        {
            "queue_name": "orders",
            "message_count": 0,
            "available_messages": 0,
            "in_flight_messages": 0,
            "permissions": ["write"],
        }
    ]


def test_list_queues_skips_queues_without_permissions(tmp_path: Path) -> None:
    key = "k" * 20
    keys = {key: {"description": "nothing", "queues": {"orders": []}}}
    with running(config(tmp_path, keys)) as started, PlainClient(started.url, key) as client:
        assert client.call("GET", "/api/v1/queues").json["queues"] == []
        assert client.call("GET", "/api/v1/auth/permissions/orders").json["has_access"] is False


def test_auth_me(server: QueueServer) -> None:
    with PlainClient(server.url, READER_KEY) as reader:
        me = reader.call("GET", "/api/v1/auth/me").json
    assert me == {
        "description": "Orders reader",
        "accessible_queues": ["orders"],
        "queue_permissions": {
            "orders": {
                "permissions": ["read"],
                "can_read": True,
                "can_write": False,
                "can_delete": False,
                "can_manage": False,
            }
        },
        "total_accessible_queues": 1,
    }


def test_auth_permissions(server: QueueServer, client: PlainClient) -> None:
    flags = ("can_read", "can_write", "can_delete", "can_manage")
    admin = client.call("GET", "/api/v1/auth/permissions/orders").json
    assert admin["queue_name"] == "orders"
    assert admin["has_access"] is True
    assert all(admin[flag] for flag in flags)
    with PlainClient(server.url, WRITER_KEY) as writer:
        own = writer.call("GET", "/api/v1/auth/permissions/orders").json
        other = writer.call("GET", "/api/v1/auth/permissions/payments").json
    assert [own[flag] for flag in flags] == [False, True, False, False]
    assert other == {
        "queue_name": "payments",
        "has_access": False,
        **dict.fromkeys(flags, False),
    }


# -- the connection ------------------------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(client: PlainClient) -> None:
    client.call("GET", "/health")
    first = client.connection.sock
    assert first is not None
    for i in range(20):
        add(client, {"i": i})
        assert client.call("GET", f"{Q}/info").status == 200
        assert client.call("GET", "/api/v1/nope").status == 404
    assert client.connection.sock is first
    assert client.call("GET", f"{Q}/info").json["message_count"] == 20


def test_every_answer_has_content_length_and_json(client: PlainClient) -> None:
    replies = [
        client.call("GET", "/health"),
        client.call("POST", f"{Q}/messages", {"message_body": {}}),
        client.call("GET", f"{Q}/messages"),
        client.call("GET", "/api/v1/nope"),
        client.call("PATCH", f"{Q}/messages"),
        client.call("GET", "/api/v1/queues", key="wrong"),
        client.call("POST", f"{Q}/messages", "{"),
    ]
    for reply in replies:
        assert int(reply.headers["content-length"]) == len(reply.raw)
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["cache-control"] == "no-store"
        assert isinstance(reply.json, dict)


def test_a_generated_admin_key_when_there_is_no_key_file(tmp_path: Path) -> None:
    with running(config(tmp_path, api_keys_file=None)) as started:
        key = started.generated_key
        assert key is not None
        assert key.startswith("pq-")
        assert len(key) > 40
        with PlainClient(started.url, key) as admin:
            assert add(admin, {"x": 1}) != ""
            assert admin.call("GET", "/api/v1/auth/me").json["accessible_queues"] == ["*"]
        with PlainClient(started.url, "pq-admin-key-0001") as other:
            assert other.call("GET", "/api/v1/queues").status == 401


def test_no_generated_key_with_a_key_file(server: QueueServer) -> None:
    assert server.generated_key is None
    assert server.url.startswith("http://127.0.0.1:")


def test_no_auth_on_loopback(tmp_path: Path) -> None:
    with running(config(tmp_path, api_keys_file=None, no_auth=True)) as started:
        assert started.generated_key is None
        with PlainClient(started.url, key=None) as anyone:
            assert add(anyone, {"open": True}) != ""
            me = anyone.call("GET", "/api/v1/auth/me").json
            assert me["description"].startswith("no authentication")
            assert anyone.call("GET", "/api/v1/queues", key="anything").status == 200


def test_messages_survive_a_restart(tmp_path: Path) -> None:
    settings = config(tmp_path)
    with running(settings) as first, PlainClient(first.url) as client:
        add(client, {"kept": True}, "k")
    with running(settings) as second, PlainClient(second.url) as client:
        assert client.call("GET", f"{Q}/message/k").json["message_body"] == {"kept": True}


# -- concurrency ---------------------------------------------------------------------------------


def test_eight_clients_exactly_once(tmp_path: Path) -> None:
    """Four producers and four consumers on one server: every message delivered exactly once."""
    producers, consumers, per_producer = 4, 4, 60
    total = producers * per_producer
    delivered: List[str] = []
    lock = threading.Lock()
    errors: List[BaseException] = []
    done_adding = threading.Event()

    with running(config(tmp_path, storage_workers=4)) as started:

        def produce(number: int) -> None:
            with PlainClient(started.url) as client:
                for i in range(per_producer):
                    add(client, {"p": number, "i": i}, f"p{number}-{i}")

        def consume() -> None:
            with PlainClient(started.url) as client:
                while True:
                    got = receive(client, "?max_messages=7&visibility_timeout=600")
                    for message in got:
                        deleted = client.call("DELETE", f"{Q}/messages/{message['ReceiptHandle']}")
                        assert deleted.status == 200
                    with lock:
                        delivered.extend(message["Id"] for message in got)
                        finished = len(delivered) >= total
                    if finished or (not got and done_adding.is_set() and _empty(client)):
                        return

        def guarded(target: Any, *args: Any) -> threading.Thread:
            def run() -> None:
                try:
                    target(*args)
                except BaseException as exc:  # reported by the main thread
                    errors.append(exc)

            thread = threading.Thread(target=run)
            thread.start()
            return thread

        adding = [guarded(produce, n) for n in range(producers)]
        taking = [guarded(consume) for _ in range(consumers)]
        for thread in adding:
            thread.join(60)
        done_adding.set()
        for thread in taking:
            thread.join(60)
        assert not any(thread.is_alive() for thread in adding + taking)
        assert errors == []
        with PlainClient(started.url) as client:
            assert client.call("GET", f"{Q}/info").json["message_count"] == 0
    counts = Counter(delivered)
    assert len(counts) == total
    assert set(counts.values()) == {1}


def _empty(client: PlainClient) -> bool:
    return bool(client.call("GET", f"{Q}/info").json["message_count"] == 0)
