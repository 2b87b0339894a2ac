"""The remote backend against servers on 127.0.0.1: replies recorded from the existing PyQueue
server (``tests/data/remote_exchanges.json``), a forward proxy, TLS, and connections that drop.

Each test starts its own server on port 0 with a script of replies (see ``_replay_server``) and
checks both what the client returned and what it sent.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
import warnings
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import pytest

from pyqueue_client import (
    AuthenticationError,
    ConfigurationError,
    DeleteMessagesResult,
    InsecureApiKeyWarning,
    PermissionDeniedError,
    PyQueue,
    RemoteError,
    RequestRejectedError,
    ValidationError,
    copy_queue,
)
from pyqueue_client._backends.remote_http import RemoteHttpBackend
from pyqueue_client._transport import rest_calls as wire
from pyqueue_client._transport.auth import ApiKeyAuth
from pyqueue_client._transport.http_client import ConnectionPool, HttpTransport, _Target

from ._proxy import ForwardProxy
from ._replay_server import (
    TEST_KEYS,
    Exchange,
    ReplayServer,
    client_tls_context,
    load_exchanges,
    reply,
    server_tls_context,
)
from ._tls import TlsFiles

ADMIN = TEST_KEYS["admin"]
EXCHANGES = load_exchanges()
ORDERS = "/api/v1/queues/orders"
#: The recorded answer of a receive on an empty queue, given to a receive on ``orders``.
EMPTY_RECEIVE = EXCHANGES["json:receive-empty-queue"].at("POST", f"{ORDERS}/messages/receive")
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxy settings must not route these tests' requests anywhere."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def server_tls(tls_files: TlsFiles) -> ssl.SSLContext:
    """A replay server's TLS context, presenting the run's server certificate."""
    return server_tls_context(tls_files.cert, tls_files.key)


@pytest.fixture
def client_tls(tls_files: TlsFiles) -> ssl.SSLContext:
    """A client context trusting the run's certificate authority only."""
    return client_tls_context(tls_files.ca)


def _steps(*steps: Union[str, Exchange]) -> List[Exchange]:
    return [EXCHANGES[step] if isinstance(step, str) else step for step in steps]


def _queue(
    url: str,
    *,
    api_key: Optional[str] = ADMIN,
    queue_name: str = "orders",
    timeout: float = 5.0,
    ssl_context: Optional[ssl.SSLContext] = None,
) -> PyQueue:
    return PyQueue(
        queue_type="remote",
        server_url=url,
        api_key=api_key,
        queue_name=queue_name,
        timeout=timeout,
        ssl_context=ssl_context,
    )


@contextlib.contextmanager
def _replaying(
    steps: Sequence[Union[str, Exchange]],
    *,
    cycle: bool = False,
    idle_timeout: Optional[float] = None,
    tls: Optional[ssl.SSLContext] = None,
    **options: Any,
) -> Iterator[Tuple[ReplayServer, PyQueue]]:
    """A replay server answering with ``steps``, and a remote queue on it (``options``)."""
    server = ReplayServer(_steps(*steps), cycle=cycle, idle_timeout=idle_timeout, tls=tls)
    with server, _queue(server.url, **options) as queue:
        yield server, queue


def _wire_message(number: int, receive_count: int = 0, **fields: Any) -> Dict[str, Any]:
    """A message object shaped like the existing server's (see the captured listings)."""
    message = {
        "id": f"m{number:03d}",
        "message_body": {"n": number},
        "timestamp": "2026-11-28T04:34:43.629689+00:00",
        "status": "available",
        "visibility_timeout": None,
        "receipt_handle": None,
        "receive_count": receive_count,
    }
    message.update(fields)
    return message


def _listing(messages: List[Dict[str, Any]], has_more: Optional[bool], path: str) -> Exchange:
    envelope: Dict[str, Any] = {"messages": messages, "count": len(messages)}
    if has_more is not None:
        envelope["has_more"] = has_more
    return reply("GET", path, envelope)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- every method against recorded replies ----------------------------------------------------


def test_add_sends_our_id_and_returns_the_servers() -> None:
    # The JSON engine keeps our id; the SQLite engine ignores it and answers with a UUID.
    steps = _steps("json:add-custom-id", "sqlite:add-custom-id")
    with _replaying(steps) as (server, queue):
        assert queue.add_message({"order_id": 2}, item_id="order-0001") == "order-0001"
        assert queue.add_message({"order_id": 2}, item_id="order-0001") == (
            "b0ddbf7d-134f-4307-ace8-a464078c2d49"
        )
    sent = server.requests[0]
    assert sent.json() == {"id": "order-0001", "message_body": {"order_id": 2}}
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-api-key"] == ADMIN
    assert sent.headers["accept"] == "application/json"
    assert not server.errors


def test_add_without_an_id_sends_the_one_the_facade_chose() -> None:
    with _replaying(_steps("json:add-dict")) as (server, queue):
        returned = queue.add_message({"order_id": 1, "item": "widget", "qty": 2})
    assert returned == "0fe1de74-ac73-4ef9-9027-eb1d79ea15b8"
    sent_id = server.requests[0].json()["id"]
    assert isinstance(sent_id, str)
    assert len(sent_id) == 36


@pytest.mark.parametrize("engine", ["json", "sqlite"])
def test_get_messages_maps_and_normalizes(engine: str) -> None:
    steps = _steps(f"{engine}:get-messages-default")
    with _replaying(steps) as (server, queue):
        messages = queue.get_messages()
    # The SQLite engine gave the duplicate add of the capture a new id, so it holds one more.
    assert len(messages) == (8 if engine == "json" else 9)
    first = messages[0]
    assert set(first) == {
        "id",
        "timestamp",
        "message_body",
        "receive_count",
        "first_received_at",
        "invisible_until",
    }
    assert first["message_body"] == {"order_id": 1, "item": "widget", "qty": 2}
    # "+00:00" (JSON engine) and naive (SQLite engine) both become naive UTC with microseconds.
    assert first["timestamp"] == (
        "2026-11-28T04:34:43.629689" if engine == "json" else "2026-11-28T04:34:55.297611"
    )
    assert first["first_received_at"] is None
    assert first["invisible_until"] is None
    assert server.requests[0].query == {"limit": "100", "offset": "0"}


def test_peek_pages_through_everything() -> None:
    path = f"{ORDERS}/messages"
    pages = [
        _listing([_wire_message(n) for n in range(0, 100)], True, path),
        _listing([_wire_message(n) for n in range(100, 200)], True, path),
        _listing([_wire_message(n) for n in range(200, 250)], False, path),
    ]
    with _replaying(pages) as (server, queue):
        messages = queue.get_messages()
    assert [message["id"] for message in messages] == [f"m{n:03d}" for n in range(250)]
    assert [seen.query for seen in server.requests] == [
        {"limit": "100", "offset": "0"},
        {"limit": "100", "offset": "100"},
        {"limit": "100", "offset": "200"},
    ]


def test_peek_with_a_limit_and_an_offset_asks_for_no_more_than_needed() -> None:
    path = f"{ORDERS}/messages"
    pages = [
        _listing([_wire_message(n) for n in range(3, 103)], True, path),
        _listing([_wire_message(n) for n in range(103, 153)], True, path),
    ]
    with _replaying(pages) as (server, queue):
        messages = queue.get_messages(150, offset=3)
        assert queue.get_messages(0) == []
    assert len(messages) == 150
    assert messages[0]["id"] == "m003"
    assert [seen.query for seen in server.requests] == [
        {"limit": "100", "offset": "3"},
        {"limit": "50", "offset": "103"},
    ]


def test_peek_without_has_more_stops_at_a_short_page() -> None:
    path = f"{ORDERS}/messages"
    pages = [
        _listing([_wire_message(n) for n in range(100)], None, path),
        _listing([_wire_message(n) for n in range(100, 101)], None, path),
    ]
    with _replaying(pages) as (server, queue):
        assert len(queue.get_messages()) == 101
    assert len(server.requests) == 2


def test_peek_stops_at_an_empty_page_and_trims_an_overfull_one() -> None:
    path = f"{ORDERS}/messages"
    pages = [
        _listing([], True, path),
        _listing([_wire_message(n) for n in range(5)], True, path),
    ]
    with _replaying(pages) as (server, queue):
        assert queue.get_messages() == []
        assert len(queue.get_messages(2)) == 2  # the server sent 5
    assert not server.errors


def test_get_message_found_absent_and_text_body() -> None:
    steps = _steps(
        "json:get-message-by-id", "json:get-message-unknown-id", "json:get-message-string-body"
    )
    with _replaying(steps) as (server, queue):
        found = queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8")
        assert queue.get_message("does-not-exist") is None
        text = queue.get_message("55dfa41c-9c96-43bd-9ac1-968030333805")
    assert found is not None
    assert found["receive_count"] == 0
    assert text is not None
    assert text["message_body"] == {"content": "hello world"}
    assert not server.errors


def test_get_message_in_flight_shows_its_hiding_time_but_never_its_handle() -> None:
    with _replaying(["json:get-message-while-in-flight"]) as (_, queue):
        message = queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8")
    assert message is not None
    assert message["invisible_until"] == "2026-11-28T04:35:43.804977"
    assert message["receive_count"] == 1
    assert "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43" not in json.dumps(message)


def test_check_existence_keeps_the_callers_order() -> None:
    ids = ["0fe1de74-ac73-4ef9-9027-eb1d79ea15b8", "order-0001", "nope", "order-0001"]
    with _replaying(_steps("json:check-existence")) as (server, queue):
        assert queue.check_existence(ids) == ["order-0001", "order-0001"]
        assert queue.check_existence([]) == []  # no request
    assert server.requests[0].json() == {"message_ids": ids[:3]}  # each id asked once
    assert len(server.requests) == 1


def test_check_existence_ignores_the_servers_repeats_and_order() -> None:
    upd = "2b82032a-30e4-49eb-b294-1469717a8d4a"
    other = "85006047-6176-4d81-9dbf-e7414b990a13"
    steps = _steps("sqlite:exist-check", "sqlite:exist-check")
    with _replaying(steps, queue_name="upd") as (_, queue):
        assert queue.check_existence([other, "nope", upd]) == [other, upd]
        assert queue.has_message(upd) is True


def test_check_existence_sends_big_lists_in_chunks() -> None:
    path = f"{ORDERS}/messages/check-existence"
    steps = [
        reply("POST", path, {"existing_ids": ["id-0"]}),
        reply("POST", path, {"existing_ids": []}),
    ]
    with _replaying(steps) as (server, queue):
        assert queue.check_existence([f"id-{n}" for n in range(600)]) == ["id-0"]
    assert [len(seen.json()["message_ids"]) for seen in server.requests] == [500, 100]


@pytest.mark.parametrize("engine", ["json", "sqlite"])
def test_receive_maps_to_sqs_shape(engine: str) -> None:
    with _replaying(_steps(f"{engine}:receive-2-vt60")) as (server, queue):
        received = queue.receive_messages(max_messages=2, visibility_timeout=60)
    assert len(received) == 2
    first = received[0]
    assert set(first) == {
        "Id",
        "ReceiptHandle",
        "message_body",
        "timestamp",
        "receive_count",
        "first_received_at",
    }
    assert first["receive_count"] == 1
    if engine == "json":
        assert first["ReceiptHandle"] == "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43"
        assert first["timestamp"] == "2026-11-28T04:34:43.629689"
        # no first_received_at on the wire: the hiding time minus the visibility timeout
        assert first["first_received_at"] == "2026-11-28T04:34:43.804977"
    else:
        assert first["ReceiptHandle"] == "38fa0f85-908d-41b7-a9d5-ad4daf91d1d3"
        assert first["first_received_at"] == "2026-11-28T04:34:55.484253"
    assert server.requests[0].query == {
        "max_messages": "2",
        "visibility_timeout": "60",
        "delete_after_receive": "false",
        "only_new": "false",
    }


def test_receive_sends_whole_seconds_and_the_flags() -> None:
    with _replaying([EMPTY_RECEIVE]) as (server, queue):
        assert queue.receive_messages(5, visibility_timeout=0.5, only_new=True) == []
    assert server.requests[0].query == {
        "max_messages": "5",
        "visibility_timeout": "1",
        "delete_after_receive": "false",
        "only_new": "true",
    }


def test_receive_with_delete_after_receive_on_each_engine() -> None:
    # JSON engine: "processed" messages without handle or hiding time; SQLite engine: a 500.
    steps = _steps(
        "json:dar-receive-2-delete_after_receive", "sqlite:dar-receive-2-delete_after_receive"
    )
    before = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
    with _replaying(steps, queue_name="dar") as (server, queue):
        received = queue.receive_messages(2, delete_after_receive=True)
        with pytest.raises(RemoteError) as caught:
            queue.receive_messages(2, delete_after_receive=True)
    after = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
    assert [message["Id"] for message in received] == ["dar-0", "dar-1"]
    assert received[0]["ReceiptHandle"] == ""
    assert before <= received[0]["first_received_at"] <= after
    assert server.requests[0].query["delete_after_receive"] == "true"
    assert caught.value.status == 500
    assert "new_receive_count" in caught.value.detail
    assert len(server.requests) == 2  # a receive is never retried


def test_a_422_list_detail_is_a_validation_error_with_the_servers_words() -> None:
    steps = _steps("json:receive-invalid-visibility_timeout=0")
    with _replaying(steps) as (server, queue), pytest.raises(ValidationError) as caught:
        queue.receive_messages(visibility_timeout=0)
    error = caught.value
    assert isinstance(error, ValueError)
    assert isinstance(error, RemoteError)
    assert isinstance(error, RequestRejectedError)
    assert error.status == 422
    assert error.detail == "query.visibility_timeout: Input should be greater than or equal to 1"
    assert error.url == server.url + server.requests[0].path + "?" + (
        "max_messages=10&visibility_timeout=0&delete_after_receive=false&only_new=false"
    )


def test_delete_by_handle_never_raises_for_a_bad_handle() -> None:
    handle = "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43"
    steps = _steps("json:delete-by-receipt", "json:delete-by-receipt-again")
    with _replaying(steps) as (server, queue):
        assert queue.delete_message(handle) is True
        result = queue.delete_messages([handle, "", 5])  # type: ignore[list-item]
    expected: DeleteMessagesResult = {
        "Successful": [],
        "Failed": [
            {"ReceiptHandle": handle, "reason": "not_found"},
            {"ReceiptHandle": "", "reason": "invalid"},
            {"ReceiptHandle": "5", "reason": "invalid"},
        ],
    }
    assert result == expected
    assert len(server.requests) == 2


def test_remove_and_update_by_id() -> None:
    steps = _steps(
        "json:delete-by-id", "json:delete-by-id-again", "json:update-unknown-id", "json:upd-put"
    )
    message_id = "1e26ff0f-2cb8-4d78-96d9-5a92c83e8027"
    with ReplayServer(steps) as server:
        with _queue(server.url) as queue:
            assert queue.remove_message(message_id) is True
            assert queue.remove_message(message_id) is False
            assert queue.update_message("nope", {"a": 1}) is False
        with _queue(server.url, queue_name="upd") as queue:
            assert queue.update_message("upd-1", {"v": 2}) is True
    assert server.requests[3].method == "PUT"
    assert server.requests[3].json() == {"message_body": {"v": 2}}
    assert not server.errors


def test_clear_and_a_forbidden_clear() -> None:
    steps = _steps("json:clear-admin", "json:clear-reader-forbidden")
    with _replaying(steps) as (_, queue):
        assert queue.clear_queue() is True
        with pytest.raises(PermissionDeniedError) as caught:
            queue.clear_queue()
    assert caught.value.status == 403
    assert "manage permission" in caught.value.detail
    assert isinstance(caught.value, AuthenticationError)
    assert isinstance(caught.value, ConnectionError)


def test_info_maps_the_existing_servers_counts_and_computes_the_rest() -> None:
    listing = [_wire_message(n, receive_count=1 if n < 2 else 0) for n in range(6)]
    steps = [*_steps("json:info"), _listing(listing, False, f"{ORDERS}/messages")]
    with _replaying(steps) as (_, queue):
        info = queue.get_queue_info()
    assert info == {
        "queue_type": "remote",
        "queue_name": "orders",
        "message_count": 6,
        "visible_messages": 4,  # its available_messages
        "invisible_messages": 2,  # its in_flight_messages
        "never_received": 4,
        "total_receives": 2,
    }


def test_info_from_a_server_that_reports_every_count_takes_one_request() -> None:
    counts = {
        "queue_name": "orders",
        "message_count": 3,
        "available_messages": 1,
        "in_flight_messages": 2,
        "visible_messages": 1,
        "invisible_messages": 2,
        "never_received": 1,
        "total_receives": 5,
    }
    with _replaying([reply("GET", f"{ORDERS}/info", counts)]) as (server, queue):
        info = queue.get_queue_info()
    assert info["total_receives"] == 5
    assert info["never_received"] == 1
    assert len(server.requests) == 1


def test_health_check() -> None:
    steps = [
        *_steps("json:queue-health", "json:queue-health-writer-forbidden"),
        reply("GET", f"{ORDERS}/health", {"detail": "Not Found"}, 404),
        EXCHANGES["json:health"],
        reply("GET", f"{ORDERS}/health", {"status": "degraded"}),
        Exchange("GET", f"{ORDERS}/health", 200, "not json"),
    ]
    with _replaying(steps) as (server, queue):
        assert queue.health_check() is True
        assert queue.health_check() is False  # 403
        assert queue.health_check() is True  # no queue health: the server's /health
        assert queue.health_check() is False
        assert queue.health_check() is False
    assert not server.errors
    with _queue(f"http://127.0.0.1:{_closed_port()}") as queue:
        assert queue.health_check() is False


def test_cleanup_expired_messages_is_the_servers_business() -> None:
    warns = pytest.warns(UserWarning, match="does nothing on a remote queue")
    with _replaying([]) as (server, queue), warns as caught:
        assert queue.cleanup_expired_messages() is False
    assert caught[0].filename == __file__
    assert server.requests == []


def test_copy_queue_both_ways() -> None:
    path = f"{ORDERS}/messages"
    listing = [
        _wire_message(1),
        _wire_message(
            2,
            receive_count=1,
            status="in_flight",
            visibility_timeout="2026-11-28T04:35:43Z",
            receipt_handle="receipt_x",
        ),
    ]
    steps = [
        _listing(listing, False, path),
        reply("POST", f"{path}/check-existence", {"existing_ids": ["m001"]}),
        reply("POST", path, {"id": "m002", "status": "success", "receipt_handle": None}),
    ]
    with _replaying(steps) as (server, remote), PyQueue(queue_type="memory") as memory:
        assert copy_queue(remote, memory) == 2
        copied = memory.get_message("m002")
        assert copied is not None
        assert copied["invisible_until"] == "2026-11-28T04:35:43.000000"
        assert memory.delete_message("receipt_x") is True  # the handle came along
        memory.add_message({"n": 1}, item_id="m001")
        memory.add_message({"n": 2}, item_id="m002")
        assert copy_queue(memory, remote) == 1  # m001 is already there
    assert server.requests[2].json() == {"id": "m002", "message_body": {"n": 2}}
    assert not server.errors


def test_the_seed_shapes_of_our_own_server_are_read_too() -> None:
    received = {
        "id": "a",
        "Id": "a",
        "message_body": {"k": 1},
        "timestamp": "2026-01-22T12:00:00.000000",
        "receive_count": 2,
        "receipt_handle": "receipt_new",
        "ReceiptHandle": "receipt_new",
        "first_received_at": "2026-01-22T12:00:01Z",
        "invisible_until": "2026-01-22T12:01:00.000000",
        "visibility_timeout": "2026-01-22T12:01:00.000000",
        "status": "in_flight",
    }
    stored = {key: value for key, value in received.items() if key[0].islower()}
    stored["receipt_handle"] = None
    steps = [
        reply("POST", f"{ORDERS}/messages/receive", {"messages": [received], "has_more": False}),
        reply("GET", f"{ORDERS}/message/a", stored),
    ]
    with _replaying(steps) as (_, queue):
        [message] = queue.receive_messages()
        peeked = queue.get_message("a")
    assert message["ReceiptHandle"] == "receipt_new"
    assert message["first_received_at"] == "2026-01-22T12:00:01.000000"
    assert peeked is not None
    assert peeked["first_received_at"] == "2026-01-22T12:00:01.000000"
    assert peeked["invisible_until"] == "2026-01-22T12:01:00.000000"


# -- errors -------------------------------------------------------------------------------------


def test_a_missing_key_is_an_authentication_error_even_as_a_422() -> None:
    steps = _steps("json:add-no-key", "json:add-no-key-and-bad-body")
    with _replaying(steps, api_key=None) as (server, queue):
        for _ in steps:
            with pytest.raises(AuthenticationError, match="api_key") as caught:
                queue.add_message({"x": 1})
            assert caught.value.status == 422
            assert not isinstance(caught.value, PermissionDeniedError)
    assert "x-api-key" not in server.requests[0].headers


def test_a_wrong_key_is_an_authentication_error_that_does_not_repeat_the_key() -> None:
    raises = pytest.raises(AuthenticationError)
    with _replaying(["json:add-wrong-key"], api_key="pq-not-a-key") as (_, queue), raises as caught:
        queue.add_message({"x": 1})
    assert caught.value.status == 401
    assert caught.value.detail == "Invalid API key"
    assert "pq-not-a-key" not in str(caught.value)
    assert isinstance(caught.value, ConnectionError)


def test_a_missing_permission_is_a_permission_error() -> None:
    steps = ["json:add-reader-forbidden"]
    raises = pytest.raises(PermissionDeniedError, match="write permission")
    with _replaying(steps, api_key=TEST_KEYS["reader"]) as (_, queue), raises:
        queue.add_message({"from": "reader"})


def test_a_plain_text_500_is_a_remote_error_with_the_text() -> None:
    crash = EXCHANGES["json:queues-nonascii-key"].at("GET", f"{ORDERS}/info")
    leak = EXCHANGES["json:odd-long-300-add"].at("POST", f"{ORDERS}/messages")
    with _replaying([crash, leak]) as (server, queue):
        with pytest.raises(RemoteError) as caught:
            queue.get_queue_info()
        assert caught.value.status == 500
        assert caught.value.detail == "Internal Server Error"
        assert type(caught.value) is RemoteError
        with pytest.raises(RemoteError, match="File name too long"):
            queue.add_message({"q": 1}, item_id="x")
    assert len(server.requests) == 2  # a 500 is an answer, not a dropped connection


def test_wrong_routes_and_methods_are_remote_errors() -> None:
    not_found = EXCHANGES["json:unknown-route"].at("POST", f"{ORDERS}/messages")
    not_allowed = EXCHANGES["json:method-not-allowed"].at("DELETE", f"{ORDERS}/messages")
    with _replaying([not_found, not_allowed]) as (_, queue):
        with pytest.raises(RemoteError, match="Is server_url a PyQueue server"):
            queue.add_message({"q": 1}, item_id="x")
        with pytest.raises(RemoteError, match="405"):
            queue.clear_queue()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"messages": 5}',
        '{"messages": [{"id": "a"}]}',
        '{"messages": [{"id": "a", "message_body": [], "timestamp": "2026-01-01T00:00:00",'
        ' "receive_count": 0}]}',
        '{"messages": [{"id": "a", "message_body": {}, "timestamp": "yesterday",'
        ' "receive_count": 0}]}',
        '{"messages": [{"id": "a", "message_body": {}, "timestamp": 5, "receive_count": 0}]}',
        '{"messages": [{"id": "", "message_body": {}, "timestamp": "2026-01-01T00:00:00",'
        ' "receive_count": 0}]}',
        '{"messages": [{"id": "a", "message_body": {}, "timestamp": "2026-01-01T00:00:00",'
        ' "receive_count": true}]}',
    ],
)
def test_a_reply_we_cannot_read_is_a_remote_error(body: str) -> None:
    steps = [Exchange("GET", f"{ORDERS}/messages", 200, body)]
    raises = pytest.raises(RemoteError, match="could not read the server's reply")
    with _replaying(steps) as (_, queue), raises as caught:
        queue.get_messages()
    assert caught.value.status == 200


def test_unreadable_replies_to_the_other_calls() -> None:
    steps = [
        reply("POST", f"{ORDERS}/messages", {"status": "success"}),
        reply("POST", f"{ORDERS}/messages/check-existence", {"existing_ids": [1]}),
    ]
    with _replaying(steps) as (_, queue):
        with pytest.raises(RemoteError, match="'id' should be a non-empty string"):
            queue.add_message({"a": 1})
        with pytest.raises(RemoteError, match="'existing_ids' should be a list of strings"):
            queue.check_existence(["a"])


def test_garbage_instead_of_http_is_a_remote_error() -> None:
    garbage = Exchange("GET", "", 0, "HTTP/1.1 banana\r\n\r\n", action="raw")
    raises = pytest.raises(RemoteError, match="cannot reach the PyQueue server")
    with _replaying([garbage]) as (server, queue), raises:
        queue.get_message("a")
    assert len(server.requests) == 1


def test_an_unreachable_server_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    raises = pytest.raises(ConnectionError, match="cannot reach the PyQueue server")
    with _queue(url) as queue, raises as caught:
        queue.get_message("a")
    assert isinstance(caught.value, RemoteError)
    assert caught.value.status is None
    assert caught.value.url == f"{url}{ORDERS}/message/a"


# -- paths, names, options ----------------------------------------------------------------------


def test_ids_and_handles_are_single_percent_encoded_segments() -> None:
    odd = "a/b?c#d e ü"
    encoded = "a%2Fb%3Fc%23d%20e%20%C3%BC"
    missing = {"detail": "Message not found"}
    steps = [
        reply("GET", f"{ORDERS}/message/{encoded}", missing, 404),
        reply("DELETE", f"{ORDERS}/messages/by-id/{encoded}", missing, 404),
        reply("PUT", f"{ORDERS}/messages/by-id/{encoded}", missing, 404),
        reply("DELETE", f"{ORDERS}/messages/{encoded}", missing, 404),
    ]
    with _replaying(steps) as (server, queue):
        assert queue.get_message(odd) is None
        assert queue.remove_message(odd) is False
        assert queue.update_message(odd, {"a": 1}) is False
        assert queue.delete_message(odd) is False
    assert [seen.path for seen in server.requests] == [step.path for step in steps]
    assert not server.errors


def test_a_server_url_with_a_path_prefix_and_a_trailing_slash() -> None:
    server = ReplayServer([reply("GET", "/pq/api/v1/queues/a.b-c_9/message/x", {}, 404)])
    with server, _queue(server.url + "/pq/", queue_name="a.b-c_9") as queue:
        assert queue.get_message("x") is None
    assert not server.errors


@pytest.mark.parametrize("name", ["a b", "..", ".", "x" * 81, "a/b", "ümläut", "a%b"])
def test_a_remote_queue_name_must_be_one_safe_segment(name: str) -> None:
    with pytest.raises(ConfigurationError, match="queue_name"):
        _queue("http://127.0.0.1:1", queue_name=name)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1",
        "127.0.0.1:8000",
        "http://",
        "http://user:secret@127.0.0.1",
        "http://127.0.0.1/?key=1",
        "http://127.0.0.1/#top",
        "http://127.0.0.1:99999",
        5,
    ],
)
def test_a_bad_server_url_is_a_configuration_error(url: Any) -> None:
    with pytest.raises(ConfigurationError, match="server_url"):
        _queue(url)


@pytest.mark.parametrize("key", ["", " pq-admin-key-0001 ", "pq-é", "a\r\nX-Evil: 1", 5])
def test_an_api_key_must_fit_in_a_header(key: Any) -> None:
    with pytest.raises(ConfigurationError, match="api_key"):
        _queue("http://127.0.0.1:1", api_key=key)


def test_ssl_context_must_be_an_ssl_context() -> None:
    with pytest.raises(ConfigurationError, match="ssl_context"):
        _queue("https://127.0.0.1:1", ssl_context="yes")  # type: ignore[arg-type]


def test_an_api_key_over_plain_http_to_another_host_warns() -> None:
    with pytest.warns(InsecureApiKeyWarning, match="unencrypted to queue.example.com") as caught:
        queue = _queue("http://queue.example.com:8000")
    queue.close()
    assert caught[0].filename == __file__  # the line that built the queue
    assert issubclass(InsecureApiKeyWarning, UserWarning)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://127.0.0.1:8000", ADMIN),
        ("http://127.8.9.10:8000", ADMIN),
        ("http://localhost:8000", ADMIN),
        ("http://[::1]:8000", ADMIN),
        ("https://queue.example.com", ADMIN),
        ("http://queue.example.com", None),
    ],
)
def test_no_warning_on_this_machine_over_https_or_without_a_key(
    url: str, key: Optional[str]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _queue(url, api_key=key).close()
    assert caught == []


def test_debug_logs_name_method_and_url_never_the_key_or_bodies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyqueue_client")
    with _replaying(_steps("json:add-custom-id")) as (server, queue):
        queue.add_message({"secret_body_marker": 1}, item_id="order-0001")
    transport_lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "pyqueue_client._transport.http_client"
    ]
    assert f"POST {server.url}{ORDERS}/messages" in transport_lines
    assert any(
        line.startswith(f"POST {server.url}{ORDERS}/messages -> 200") for line in transport_lines
    )
    everything = " ".join(record.getMessage() for record in caplog.records)
    assert ADMIN not in everything
    assert "secret_body_marker" not in everything


# -- connections: keep-alive, reconnects, retries, timeouts ------------------------------------


def test_one_connection_serves_a_thousand_calls() -> None:
    step = EXCHANGES["json:get-message-by-id"]
    with _replaying([step], cycle=True) as (server, queue):
        for _ in range(1000):
            assert queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8") is not None
    assert len(server.requests) == 1000
    assert server.connections_opened == 1
    assert not server.errors


def test_concurrent_callers_each_keep_one_connection() -> None:
    step = EXCHANGES["json:get-message-by-id"]
    callers, calls = 4, 250
    failures: List[BaseException] = []

    def call_many(queue: PyQueue) -> None:
        try:
            for _ in range(calls):
                queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8")
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    with _replaying([step], cycle=True) as (server, queue):
        threads = [threading.Thread(target=call_many, args=(queue,)) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert failures == []
    assert len(server.requests) == callers * calls
    assert server.connections_opened <= callers


def test_the_pool_keeps_at_most_its_size_idle() -> None:
    pool = ConnectionPool(None, size=1)
    target = _Target("http", "127.0.0.1:1", "")
    first = http.client.HTTPConnection("127.0.0.1", 1)
    second = http.client.HTTPConnection("127.0.0.1", 1)
    pool.checkin(target, first)
    pool.checkin(target, second)  # closed: one is idle already
    assert pool.checkout(target) is first
    assert pool.checkout(target) is None
    pool.close()


def test_a_forked_child_does_not_reuse_its_parents_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = ConnectionPool(None)
    target = _Target("http", "127.0.0.1:1", "")
    pool.checkin(target, http.client.HTTPConnection("127.0.0.1", 1))
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)
    assert pool.checkout(target) is None


def test_an_idle_connection_the_server_closed_is_replaced_even_for_a_receive() -> None:
    with _replaying([EMPTY_RECEIVE], cycle=True, idle_timeout=0.2) as (server, queue):
        assert queue.receive_messages() == []
        assert server.wait_closed(1), "the server did not close the idle connection"
        time.sleep(0.05)  # let the server's FIN reach our socket
        assert queue.receive_messages() == []  # not retryable: it worked on a new connection
    assert len(server.requests) == 2
    assert server.connections_opened == 2


def test_a_safe_request_is_retried_once_after_a_dropped_connection() -> None:
    drop = Exchange("GET", "", 0, "", action="drop")
    steps = [drop, EXCHANGES["json:get-message-by-id"], drop, drop]
    with _replaying(steps) as (server, queue):
        assert queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8") is not None
        with pytest.raises(RemoteError):  # dropped twice: one retry only
            queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8")
    assert len(server.requests) == 4


def test_an_add_with_our_id_is_retried_after_a_dropped_connection() -> None:
    drop = Exchange("POST", "", 0, "", action="drop")
    with _replaying([drop, "json:add-custom-id"]) as (server, queue):
        assert queue.add_message({"order_id": 2}, item_id="order-0001") == "order-0001"
    assert [seen.json() for seen in server.requests] == [
        {"id": "order-0001", "message_body": {"order_id": 2}}
    ] * 2


def test_a_receive_is_not_retried_after_a_dropped_connection() -> None:
    drop = Exchange("POST", "", 0, "", action="drop")
    raises = pytest.raises(RemoteError, match="cannot reach")
    with _replaying([drop, EMPTY_RECEIVE]) as (server, queue), raises:
        queue.receive_messages()
    assert len(server.requests) == 1


class _BrokenPipe(http.client.HTTPConnection):
    """A connection that fails while sending, so the request never reached the server."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        raise BrokenPipeError("the connection broke while sending")


def test_a_request_that_was_not_sent_is_retried_even_when_unsafe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_connect = ConnectionPool.connect
    made: List[http.client.HTTPConnection] = []

    def connect(
        pool: ConnectionPool, target: _Target, timeout: Optional[float]
    ) -> http.client.HTTPConnection:
        connection = (
            _BrokenPipe(target.host, timeout=timeout)
            if not made
            else real_connect(pool, target, timeout)
        )
        made.append(connection)
        return connection

    monkeypatch.setattr(ConnectionPool, "connect", connect)
    with ReplayServer([EMPTY_RECEIVE]) as server, _queue(server.url) as queue:
        assert queue.receive_messages() == []
    assert len(made) == 2
    assert len(server.requests) == 1


class _Interrupted(http.client.HTTPConnection):
    """A connection whose exchange is cut short by something other than the network."""

    closed = False

    def request(self, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    def close(self) -> None:
        self.closed = True
        super().close()


def test_an_interrupted_exchange_closes_its_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    made: List[_Interrupted] = []

    def connect(
        pool: ConnectionPool, target: _Target, timeout: Optional[float]
    ) -> http.client.HTTPConnection:
        made.append(_Interrupted(target.host, timeout=timeout))
        return made[-1]

    monkeypatch.setattr(ConnectionPool, "connect", connect)
    with _queue("http://127.0.0.1:1") as queue, pytest.raises(KeyboardInterrupt):
        queue.get_message("a")
    assert [connection.closed for connection in made] == [True]


def test_a_server_that_never_answers_times_out() -> None:
    hang = Exchange("GET", "", 0, "", action="hang")
    with _replaying([hang], timeout=0.5) as (server, queue):
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"no answer .* within 0.5 s"):
            queue.get_message("a")
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 3.0
    assert len(server.requests) == 1  # a timeout is not retried


def test_close_closes_the_pooled_connections() -> None:
    step = EXCHANGES["json:get-message-by-id"]
    with ReplayServer([step], cycle=True) as server:
        queue = _queue(server.url)
        queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8")
        queue.close()
        assert server.wait_closed(1)
        queue.close()  # twice is fine
        queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8")  # and it reconnects
        queue.close()
    assert server.connections_opened == 2


# -- proxies ------------------------------------------------------------------------------------


def test_http_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    step = EXCHANGES["json:get-message-by-id"]
    message_id = "0fe1de74-ac73-4ef9-9027-eb1d79ea15b8"
    with ForwardProxy() as proxy, ReplayServer([step], cycle=True) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with _queue(server.url) as queue:
            for _ in range(3):
                assert queue.get_message(message_id) is not None
    assert proxy.forwarded == [f"{server.url}{ORDERS}/message/{message_id}"] * 3
    assert proxy.connections_opened == 1  # kept alive to the proxy too
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"
    assert server.requests[0].headers["x-api-key"] == ADMIN


def test_no_proxy_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    step = EXCHANGES["json:get-message-by-id"]
    with ForwardProxy() as proxy, ReplayServer([step]) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with _queue(server.url) as queue:
            assert queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8") is not None
    assert proxy.forwarded == []
    assert proxy.connections_opened == 0
    assert len(server.requests) == 1


def test_https_goes_through_a_connect_tunnel(
    monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    step = EXCHANGES["json:get-message-by-id"]
    with ForwardProxy() as proxy, ReplayServer([step], cycle=True, tls=server_tls) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with _queue(server.url, ssl_context=client_tls) as queue:
            for _ in range(3):
                assert queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8") is not None
    assert proxy.tunnels == [f"127.0.0.1:{server.port}"]  # one tunnel, kept alive
    assert proxy.forwarded == []
    assert len(server.requests) == 3


def test_proxy_credentials_go_to_the_proxy_only(
    monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    step = EXCHANGES["json:get-message-by-id"]
    with ForwardProxy() as proxy, ReplayServer([step], tls=server_tls) as server:
        address = proxy.url.replace("http://", "http://user:pass@")
        monkeypatch.setenv("HTTPS_PROXY", address)
        with _queue(server.url, ssl_context=client_tls) as queue:
            assert queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8") is not None
    assert proxy.credentials == ["Basic dXNlcjpwYXNz"]  # user:pass
    assert "proxy-authorization" not in server.requests[0].headers


# -- TLS ----------------------------------------------------------------------------------------


def test_tls_is_verified_by_default(server_tls: ssl.SSLContext) -> None:
    raises = pytest.raises(RemoteError, match="pass ssl_context=")
    with _replaying([], tls=server_tls) as (server, queue), raises as caught:
        queue.get_message("a")
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert server.requests == []
    assert server.connections_opened == 1  # not retried


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_passed_ssl_context_that_trusts_the_server_works(
    host: str, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    step = EXCHANGES["json:get-message-by-id"]
    with ReplayServer([step, step], tls=server_tls) as server:
        url = f"https://{host}:{server.port}"
        with _queue(url, ssl_context=client_tls) as queue:
            assert queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8") is not None
            assert queue.get_message("0fe1de74-ac73-4ef9-9027-eb1d79ea15b8") is not None
    assert server.connections_opened == 1
    assert not server.errors


# -- the protocol rules, without sockets -------------------------------------------------------


def _reply(status: int, body: Union[str, bytes]) -> wire.Reply:
    data = body.encode() if isinstance(body, str) else body
    return wire.Reply("GET", "http://server/api/v1/x", status, data)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ('{"detail": "Invalid API key"}', "Invalid API key"),
        ('{"detail": [{"loc": ["query", "limit"], "msg": "too big"}]}', "query.limit: too big"),
        ('{"detail": [{"msg": "no location"}, {"loc": 5, "msg": "odd"}]}', "no location; odd"),
        ('{"detail": {"nested": true}}', '{"nested": true}'),
        ('{"error": "other shape"}', '{"error": "other shape"}'),
        ('["a", 1]', '["a", 1]'),
        ("  Internal Server Error\n", "Internal Server Error"),
        (b"\xff\xfe broken", "\ufffd\ufffd broken"),
    ],
)
def test_error_details_in_every_shape(body: Union[str, bytes], detail: str) -> None:
    error = wire.error_for(_reply(502, body))
    assert error.detail == detail
    assert error.status == 502
    assert error.url == "http://server/api/v1/x"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, "{}", AuthenticationError),
        (403, "{}", PermissionDeniedError),
        (
            422,
            '{"detail": [{"loc": ["HEADER", "X-API-Key"], "msg": "missing"}]}',
            AuthenticationError,
        ),
        (422, '{"detail": [{"loc": ["body"], "msg": "missing"}]}', RequestRejectedError),
        (422, "not json", RequestRejectedError),
        (422, '{"detail": "text"}', RequestRejectedError),
        (422, "[1]", RequestRejectedError),
        (413, "too large", RequestRejectedError),
        (400, "{}", RequestRejectedError),
        (404, "{}", RemoteError),
        (500, "{}", RemoteError),
    ],
)
def test_status_to_exception(status: int, body: str, kind: type) -> None:
    assert type(wire.error_for(_reply(status, body))) is kind


def test_raise_for_status_lets_2xx_and_allowed_through() -> None:
    wire.raise_for_status(_reply(204, ""))
    wire.raise_for_status(_reply(404, ""), allowed=(404,))
    with pytest.raises(RemoteError):
        wire.raise_for_status(_reply(404, ""))


def test_errors_pickle_with_their_attributes() -> None:
    import pickle

    error = wire.error_for(_reply(422, '{"detail": "bad"}'))
    copied = pickle.loads(pickle.dumps(error))
    assert type(copied) is RequestRejectedError
    assert (copied.url, copied.status, copied.detail) == (error.url, 422, "bad")


def test_timestamps_in_every_form_become_canonical() -> None:
    base = {"id": "a", "message_body": {}, "receive_count": 0}
    for text, canonical in [
        ("2026-11-28T04:34:43.629689+00:00", "2026-11-28T04:34:43.629689"),
        ("2026-11-28T04:34:43Z", "2026-11-28T04:34:43.000000"),
        ("2026-11-28T04:34:43.5", "2026-11-28T04:34:43.500000"),
        ("2026-11-28T05:34:43.629689+01:00", "2026-11-28T04:34:43.629689"),
    ]:
        assert wire.stored_message({**base, "timestamp": text})["timestamp"] == canonical


def test_a_text_body_is_read_as_the_servers_content_object() -> None:
    message = {
        "id": "a",
        "message_body": "hi",
        "timestamp": "2026-01-01T00:00:00",
        "receive_count": 0,
    }
    assert wire.stored_message(message)["message_body"] == {"content": "hi"}


def test_whole_seconds_round_up() -> None:
    assert [wire.whole_seconds(value) for value in (0, 0.001, 1, 1.5, 43200)] == [0, 1, 1, 2, 43200]


def test_calls_say_which_requests_may_be_repeated() -> None:
    assert wire.add_call("q", "id", '{"k":1}').idempotent is True
    assert wire.receive_call("q", 1, 30, False, False).idempotent is False
    assert all(
        call.idempotent
        for call in (
            wire.peek_call("q", 1, 0),
            wire.get_call("q", "i"),
            wire.check_existence_call("q", ["i"]),
            wire.delete_call("q", "h"),
            wire.remove_call("q", "i"),
            wire.update_call("q", "i", {"k": 1}),
            wire.clear_call("q"),
            wire.info_call("q"),
            wire.queue_health_call("q"),
            wire.server_health_call(),
        )
    )
    assert wire.server_health_call().path == "/health"
    assert wire.base_headers(False) == {
        "Accept": "application/json",
        "User-Agent": wire.USER_AGENT,
    }


def test_repr_names_the_server() -> None:
    with _queue("http://127.0.0.1:1") as queue:
        assert repr(queue) == (
            "PyQueue(queue_type='remote', server_url='http://127.0.0.1:1', queue_name='orders')"
        )


def test_the_backend_can_be_built_alone() -> None:
    backend = RemoteHttpBackend("http://127.0.0.1:1", "q", None, 1.0)
    backend.close()
    transport = HttpTransport("HTTPS://Example.com:8443/base/", ApiKeyAuth(None), 1.0)
    assert transport.base_url == "https://Example.com:8443/base"
    transport.close()


class _RecordingSocket:
    """Stands in for a connected socket: records each ``sendall``."""

    def __init__(self) -> None:
        self.writes: List[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))


@pytest.mark.parametrize("body", [b'{"id":"a","message_body":{"n":1}}', None])
def test_a_request_goes_out_in_one_write(body: Optional[bytes]) -> None:
    """Headers and body together: one segment, one wake-up of the server per request."""
    pool = ConnectionPool(None)
    connection = pool.connect(_Target("http", "127.0.0.1:1", ""), timeout=1)
    sock = _RecordingSocket()
    connection.sock = sock
    connection.request("POST", "/api/v1/queues/q/messages", body, {"X-API-Key": "k"})
    assert len(sock.writes) == 1
    head, _, sent_body = sock.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/v1/queues/q/messages HTTP/1.1\r\n")
    assert b"\r\nX-API-Key: k" in head
    assert sent_body == (body or b"")
    assert connection._held is None  # type: ignore[attr-defined]  # nothing held over
