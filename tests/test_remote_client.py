"""The remote client, in three layers.

- The protocol without I/O (``_transport.rest_calls``): the request each call builds, and what
  replies (recorded from the existing PyQueue server, ``tests/data/remote_exchanges.json``) and
  statuses become.
- The remote backend's decisions (paging, chunking, counting, which reply means what), with its
  calls answered in process by :class:`ReplayTransport`: no socket.
- The HTTP transport on real connections to servers on 127.0.0.1 (:class:`ReplayServer`, a
  forward proxy, TLS): what goes on the wire, keep-alive, reconnects, retries, timeouts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import json
import logging
import os
import pickle
import re
import socket
import ssl
import threading
import time
import warnings
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

import pytest

from pyqueue_client import (
    AuthenticationError,
    ConfigurationError,
    DeleteMessagesResult,
    InsecureApiKeyWarning,
    PermissionDeniedError,
    PyQueue,
    ReceivedMessage,
    RemoteError,
    RequestRejectedError,
    StoredMessage,
    ValidationError,
    copy_queue,
)
from pyqueue_client._backends.remote_http import RemoteStore
from pyqueue_client._transport import rest_calls as wire
from pyqueue_client._transport.auth import ApiKeyAuth
from pyqueue_client._transport.http_client import ConnectionPool, HttpTransport, _Target
from pyqueue_client._transport.rest_calls import ApiCall

from ._proxy import ForwardProxy
from ._replay_server import (
    TEST_KEYS,
    Exchange,
    ReplayServer,
    ReplayTransport,
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
#: A message of the captures, and its recorded answer.
KNOWN_ID = "0fe1de74-ac73-4ef9-9027-eb1d79ea15b8"
GET_KNOWN = EXCHANGES["json:get-message-by-id"]
#: Where the in-process queues pretend to talk to (never connected to).
NOWHERE = "http://127.0.0.1:1"
#: An id and a receipt handle with characters that must be percent-encoded, and their encoding.
ODD = "a/b?c#d e ü"
ENCODED = "a%2Fb%3Fc%23d%20e%20%C3%BC"
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


def _listing(messages: List[Dict[str, Any]], has_more: Optional[bool] = None) -> Exchange:
    """A page of the ``orders`` listing (``has_more`` left out when None)."""
    envelope: Dict[str, Any] = {"messages": messages, "count": len(messages)}
    if has_more is not None:
        envelope["has_more"] = has_more
    return reply("GET", f"{ORDERS}/messages", envelope)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- the protocol without I/O: requests -----------------------------------------------------------


def test_calls_carry_their_bodies_queries_and_values_as_single_segments() -> None:
    # Method and path template come from the shared table (see test_rest.py).
    assert wire.add_call("orders", "o-1", '{"n":2}').body == b'{"id":"o-1","message_body":{"n":2}}'
    assert wire.check_existence_call("orders", ["a", "b"]).body == b'{"message_ids":["a","b"]}'
    assert wire.update_call("orders", ODD, {"v": 2}) == ApiCall(
        "PUT", f"{ORDERS}/messages/by-id/{ENCODED}", b'{"message_body":{"v":2}}', True
    )
    assert wire.peek_call("orders", 100, 3).path == f"{ORDERS}/messages?limit=100&offset=3"
    assert wire.receive_call("orders", 5, 1, False, True).path == (
        f"{ORDERS}/messages/receive"
        "?max_messages=5&visibility_timeout=1&delete_after_receive=false&only_new=true"
    )
    assert [wire.get_call("orders", ODD).path, wire.delete_call("orders", ODD).path] == [
        f"{ORDERS}/message/{ENCODED}",
        f"{ORDERS}/messages/{ENCODED}",
    ]


def test_every_call_but_receive_may_be_repeated() -> None:
    assert wire.receive_call("q", 1, 30, False, False).idempotent is False
    assert all(
        call.idempotent
        for call in (
            wire.add_call("q", "id", '{"k":1}'),  # our own id: adding twice adds once
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


def test_request_headers_and_whole_seconds() -> None:
    assert wire.base_headers(False) == {"Accept": "application/json", "User-Agent": wire.USER_AGENT}
    assert wire.base_headers(True)["Content-Type"] == "application/json"
    assert [wire.whole_seconds(value) for value in (0, 0.001, 1, 1.5, 43200)] == [0, 1, 1, 2, 43200]


def test_the_api_key_authenticator_adds_the_key_or_nothing() -> None:
    headers: Dict[str, str] = {}
    ApiKeyAuth(ADMIN).sign("GET", f"{NOWHERE}/health", headers, None)
    assert headers == {"X-API-Key": ADMIN}
    without: Dict[str, str] = {}
    ApiKeyAuth(None).sign("GET", f"{NOWHERE}/health", without, None)
    assert without == {}
    assert ApiKeyAuth(ADMIN).sends_secret is True
    assert ApiKeyAuth(None).sends_secret is False
    assert ADMIN not in repr(ApiKeyAuth(ADMIN))
    assert repr(ApiKeyAuth(None)) == "ApiKeyAuth(api_key=None)"


# -- the protocol without I/O: replies and statuses -----------------------------------------------


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


@pytest.mark.parametrize(
    ("recorded", "kind", "status", "said"),
    [
        # The existing server says "no key" as a 422 about the missing header.
        ("json:add-no-key", AuthenticationError, 422, "Pass a valid api_key"),
        ("json:add-no-key-and-bad-body", AuthenticationError, 422, "Pass a valid api_key"),
        ("json:add-wrong-key", AuthenticationError, 401, "Invalid API key"),
        ("json:add-reader-forbidden", PermissionDeniedError, 403, "write permission"),
        ("json:clear-reader-forbidden", PermissionDeniedError, 403, "manage permission"),
        (
            "json:receive-invalid-visibility_timeout=0",
            RequestRejectedError,
            422,
            "query.visibility_timeout: Input should be greater than or equal to 1",
        ),
        ("json:queues-nonascii-key", RemoteError, 500, "Internal Server Error"),
        ("json:odd-long-300-add", RemoteError, 500, "File name too long"),
        ("json:unknown-route", RemoteError, 404, "Is server_url a PyQueue server"),
        ("json:method-not-allowed", RemoteError, 405, "(405)"),
    ],
)
def test_recorded_error_answers_become_the_right_errors(
    recorded: str, kind: type, status: int, said: str
) -> None:
    exchange = EXCHANGES[recorded]
    error = wire.error_for(exchange.reply_to(NOWHERE + exchange.path))
    assert type(error) is kind
    assert error.status == status
    assert said in str(error)
    assert error.url == NOWHERE + exchange.path
    # Every answer is the server's (a ConnectionError); a rejected request is also a ValueError.
    assert isinstance(error, ConnectionError)
    assert isinstance(error, ValidationError) is (kind is RequestRejectedError)


def test_raise_for_status_lets_2xx_and_allowed_through() -> None:
    wire.raise_for_status(_reply(204, ""))
    wire.raise_for_status(_reply(404, ""), allowed=(404,))
    with pytest.raises(RemoteError):
        wire.raise_for_status(_reply(404, ""))


def test_errors_pickle_with_their_attributes() -> None:
    error = wire.error_for(_reply(422, '{"detail": "bad"}'))
    copied = pickle.loads(pickle.dumps(error))
    assert type(copied) is RequestRejectedError
    assert (copied.url, copied.status, copied.detail) == (error.url, 422, "bad")


def _page_of_one(**changes: Any) -> str:
    """A listing holding one message, changed by ``changes`` (None removes a key)."""
    message = {
        "id": "a",
        "message_body": {},
        "timestamp": "2026-01-01T00:00:00",
        "receive_count": 0,
    }
    message.update(changes)
    return json.dumps({"messages": [{k: v for k, v in message.items() if v is not None}]})


_READ_PAGE = functools.partial(wire.page_of, read=wire.stored_message)


@pytest.mark.parametrize(
    ("body", "read", "problem"),
    [
        ("not json", _READ_PAGE, "Expecting value"),
        ("[]", _READ_PAGE, "should be a JSON object"),
        ('{"messages": 5}', _READ_PAGE, "'messages' should be a list"),
        (_page_of_one(timestamp=None), _READ_PAGE, "'timestamp' should be a timestamp"),
        (_page_of_one(message_body=[]), _READ_PAGE, "'message_body' should be a JSON object"),
        (_page_of_one(timestamp="yesterday"), _READ_PAGE, "yesterday"),
        (_page_of_one(timestamp=5), _READ_PAGE, "'timestamp' should be a timestamp"),
        (_page_of_one(id=""), _READ_PAGE, "'id' should be a non-empty string"),
        (_page_of_one(receive_count=True), _READ_PAGE, "'receive_count' should be a count"),
        ('{"status": "success"}', wire.message_id, "'id' should be a non-empty string"),
        ('{"existing_ids": [1]}', wire.existing_ids, "'existing_ids' should be a list of str"),
    ],
)
def test_a_reply_we_cannot_read_is_a_remote_error(body: str, read: Any, problem: str) -> None:
    with pytest.raises(RemoteError, match="could not read the server's reply") as caught:
        wire.decode(_reply(200, body), read)
    assert problem in str(caught.value)
    assert caught.value.status == 200
    assert caught.value.detail == body


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
    [message], _ = wire.page_of(json.loads(_page_of_one(message_body="hi")), wire.stored_message)
    assert message["message_body"] == {"content": "hi"}


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
    message = wire.received_message(received, 30, datetime(2026, 1, 1))
    peeked = wire.stored_message(stored)
    assert message["ReceiptHandle"] == "receipt_new"
    assert message["first_received_at"] == "2026-01-22T12:00:01.000000"
    assert peeked["first_received_at"] == "2026-01-22T12:00:01.000000"
    assert peeked["invisible_until"] == "2026-01-22T12:01:00.000000"


# -- the backend's decisions, answered in process -------------------------------------------------


@contextlib.contextmanager
def _replayed(
    *steps: Union[str, Exchange], queue_name: str = "orders"
) -> Iterator[Tuple[ReplayTransport, PyQueue]]:
    """A remote queue whose calls ``steps`` answer in process; each step must be asked for."""
    transport = ReplayTransport(_steps(*steps), NOWHERE)
    with _queue(NOWHERE, queue_name=queue_name) as queue:
        queue._queue._transport = transport  # type: ignore[attr-defined]
        queue._store._transport = transport  # type: ignore[attr-defined]
        yield transport, queue
    transport.script.check_done()


def _query(call: ApiCall) -> Dict[str, str]:
    return dict(parse_qsl(urlsplit(call.path).query))


def _json(call: ApiCall) -> Any:
    assert call.body is not None
    return json.loads(call.body)


def test_add_sends_our_id_and_returns_the_servers() -> None:
    # The JSON engine keeps our id; the SQLite engine ignores it and answers with a UUID.
    with _replayed("json:add-custom-id", "sqlite:add-custom-id") as (transport, queue):
        assert queue.add_message({"order_id": 2}, item_id="order-0001") == "order-0001"
        assert queue.add_message({"order_id": 2}, item_id="order-0001") == (
            "b0ddbf7d-134f-4307-ace8-a464078c2d49"
        )
    assert _json(transport.calls[0]) == {"id": "order-0001", "message_body": {"order_id": 2}}


def test_add_without_an_id_sends_the_one_the_facade_chose() -> None:
    with _replayed("json:add-dict") as (transport, queue):
        returned = queue.add_message({"order_id": 1, "item": "widget", "qty": 2})
    assert returned == "0fe1de74-ac73-4ef9-9027-eb1d79ea15b8"
    sent_id = _json(transport.calls[0])["id"]
    assert isinstance(sent_id, str)
    assert len(sent_id) == 36


@pytest.mark.parametrize("engine", ["json", "sqlite"])
def test_get_messages_maps_and_normalizes(engine: str) -> None:
    with _replayed(f"{engine}:get-messages-default") as (transport, queue):
        messages = queue.get_messages()
    # The SQLite engine gave the duplicate add of the capture a new id, so it holds one more.
    assert len(messages) == (8 if engine == "json" else 9)
    first = messages[0]
    assert set(first) == set(StoredMessage.__annotations__)
    assert first["message_body"] == {"order_id": 1, "item": "widget", "qty": 2}
    # "+00:00" (JSON engine) and naive (SQLite engine) both become naive UTC with microseconds.
    assert first["timestamp"] == (
        "2026-11-28T04:34:43.629689" if engine == "json" else "2026-11-28T04:34:55.297611"
    )
    assert first["first_received_at"] is None
    assert first["invisible_until"] is None
    assert _query(transport.calls[0]) == {"limit": "100", "offset": "0"}


@pytest.mark.parametrize(
    ("pages", "wanted", "offset", "queries", "count"),
    [
        # has_more says when to stop
        (
            [([0, 100], True), ([100, 200], True), ([200, 250], False)],
            None,
            0,
            [("100", "0"), ("100", "100"), ("100", "200")],
            250,
        ),
        # no more than needed is asked for
        ([([3, 103], True), ([103, 153], True)], 150, 3, [("100", "3"), ("50", "103")], 150),
        # without has_more, a short page is the last
        ([([0, 100], None), ([100, 101], None)], None, 0, [("100", "0"), ("100", "100")], 101),
        # an empty page is the last; an overfull one is trimmed
        ([([0, 0], True)], None, 0, [("100", "0")], 0),
        ([([0, 5], True)], 2, 0, [("2", "0")], 2),
    ],
)
def test_peek_pages(
    pages: List[Tuple[List[int], Optional[bool]]],
    wanted: Optional[int],
    offset: int,
    queries: List[Tuple[str, str]],
    count: int,
) -> None:
    steps = [_listing([_wire_message(n) for n in range(*span)], more) for span, more in pages]
    with _replayed(*steps) as (transport, queue):
        messages = queue.get_messages(wanted, offset=offset)
        assert queue.get_messages(0) == []  # no request
    assert len(messages) == count
    assert [m["id"] for m in messages] == [f"m{n:03d}" for n in range(offset, offset + count)]
    assert [_query(call) for call in transport.calls] == [
        {"limit": limit, "offset": start} for limit, start in queries
    ]


def test_get_message_found_absent_and_text_body() -> None:
    steps = (
        "json:get-message-by-id",
        "json:get-message-unknown-id",
        "json:get-message-string-body",
    )
    with _replayed(*steps) as (_, queue):
        found = queue.get_message(KNOWN_ID)
        assert queue.get_message("does-not-exist") is None
        text = queue.get_message("55dfa41c-9c96-43bd-9ac1-968030333805")
    assert found is not None
    assert found["receive_count"] == 0
    assert text is not None
    assert text["message_body"] == {"content": "hello world"}


def test_get_message_in_flight_shows_its_hiding_time_but_never_its_handle() -> None:
    with _replayed("json:get-message-while-in-flight") as (_, queue):
        message = queue.get_message(KNOWN_ID)
    assert message is not None
    assert message["invisible_until"] == "2026-11-28T04:35:43.804977"
    assert message["receive_count"] == 1
    assert "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43" not in repr(message)


def test_check_existence_keeps_the_callers_order() -> None:
    ids = [KNOWN_ID, "order-0001", "nope", "order-0001"]
    with _replayed("json:check-existence") as (transport, queue):
        assert queue.check_existence(ids) == ["order-0001", "order-0001"]
        assert queue.check_existence([]) == []  # no request
    assert [_json(call) for call in transport.calls] == [{"message_ids": ids[:3]}]  # each once


def test_check_existence_ignores_the_servers_repeats_and_order() -> None:
    upd = "2b82032a-30e4-49eb-b294-1469717a8d4a"
    other = "85006047-6176-4d81-9dbf-e7414b990a13"
    with _replayed("sqlite:exist-check", "sqlite:exist-check", queue_name="upd") as (_, queue):
        assert queue.check_existence([other, "nope", upd]) == [other, upd]
        assert queue.has_message(upd) is True


def test_check_existence_sends_big_lists_in_chunks() -> None:
    path = f"{ORDERS}/messages/check-existence"
    steps = (
        reply("POST", path, {"existing_ids": ["id-0"]}),
        reply("POST", path, {"existing_ids": []}),
    )
    with _replayed(*steps) as (transport, queue):
        assert queue.check_existence([f"id-{n}" for n in range(600)]) == ["id-0"]
    assert [len(_json(call)["message_ids"]) for call in transport.calls] == [500, 100]


@pytest.mark.parametrize("engine", ["json", "sqlite"])
def test_receive_maps_to_sqs_shape(engine: str) -> None:
    with _replayed(f"{engine}:receive-2-vt60") as (transport, queue):
        received = queue.receive_messages(max_messages=2, visibility_timeout=60)
    assert len(received) == 2
    first = received[0]
    assert set(first) == set(ReceivedMessage.__annotations__)
    assert first["receive_count"] == 1
    if engine == "json":
        assert first["ReceiptHandle"] == "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43"
        assert first["timestamp"] == "2026-11-28T04:34:43.629689"
        # no first_received_at on the wire: the hiding time minus the visibility timeout
        assert first["first_received_at"] == "2026-11-28T04:34:43.804977"
    else:
        assert first["ReceiptHandle"] == "38fa0f85-908d-41b7-a9d5-ad4daf91d1d3"
        assert first["first_received_at"] == "2026-11-28T04:34:55.484253"
    # No wait asked for: the queue's applies, which a server may hold the request for.
    assert _sans_attempt(transport.calls[0]) == wire.receive_call(
        "orders", 2, 60, False, False, None, 20
    )
    assert transport.calls[0].hold == 20


def test_receive_sends_whole_seconds() -> None:
    with _replayed(EMPTY_RECEIVE) as (transport, queue):
        assert queue.receive_messages(5, visibility_timeout=0.5, only_new=True) == []
    assert _sans_attempt(transport.calls[0]) == wire.receive_call(
        "orders", 5, 1, False, True, None, 20
    )


def _sans_attempt(call: ApiCall) -> ApiCall:
    """A receive call as it would be without its attempt id (random, one per request)."""
    path = re.sub(r"&receive_request_attempt_id=[0-9a-f]{32}$", "", call.path)
    assert call.retry_unanswered
    return call._replace(path=path, retry_unanswered=False)


def test_delete_after_receive_on_the_existing_server_is_receive_then_delete() -> None:
    # Its engines delete undelivered messages too (JSON) or answer 500 (SQLite); its health
    # lists no features, so the client receives, then deletes what it was given.
    handles = (
        "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43",
        "receipt_4d66ccdf53e54bc489bffdee9d5a40e8",
    )
    steps = [
        EXCHANGES["json:health"],
        EXCHANGES["json:receive-2-vt60"].at("POST", f"{ORDERS}/messages/receive"),
        reply("POST", f"{ORDERS}/messages/batch-delete", {"detail": "Method Not Allowed"}, 405),
        *(reply("DELETE", f"{ORDERS}/messages/{h}", {"status": "success"}) for h in handles),
        EMPTY_RECEIVE,  # the health answer is read once per client
    ]
    with _replayed(*steps) as (transport, queue):
        received = queue.receive_messages(2, visibility_timeout=60, delete_after_receive=True)
        assert queue.receive_messages(2, delete_after_receive=True) == []
    assert [message["ReceiptHandle"] for message in received] == list(handles)
    assert _query(transport.calls[1])["delete_after_receive"] == "false"
    assert _query(transport.calls[5])["delete_after_receive"] == "false"


def test_delete_by_handle_never_raises_for_a_bad_handle() -> None:
    handle = "receipt_d1660f9e98d24db2aa9cd4f5bb29ed43"
    with _replayed("json:delete-by-receipt", "json:delete-by-receipt-again") as (transport, queue):
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
    assert len(transport.calls) == 2


def test_remove_and_update_by_id() -> None:
    message_id = "1e26ff0f-2cb8-4d78-96d9-5a92c83e8027"
    steps = ("json:delete-by-id", "json:delete-by-id-again", "json:update-unknown-id")
    with _replayed(*steps) as (_, queue):
        assert queue.remove_message(message_id) is True
        assert queue.remove_message(message_id) is False
        assert queue.update_message("nope", {"a": 1}) is False
    with _replayed("json:upd-put", queue_name="upd") as (transport, queue):
        assert queue.update_message("upd-1", {"v": 2}) is True
    assert transport.calls == [wire.update_call("upd", "upd-1", {"v": 2})]


def test_clear_and_a_forbidden_clear() -> None:
    with _replayed("json:clear-admin", "json:clear-reader-forbidden") as (_, queue):
        assert queue.clear_queue() is True
        with pytest.raises(PermissionDeniedError, match="manage permission") as caught:
            queue.clear_queue()
    assert isinstance(caught.value, AuthenticationError)


def test_info_maps_the_existing_servers_counts_and_computes_the_rest() -> None:
    listing = [_wire_message(n, receive_count=1 if n < 2 else 0) for n in range(6)]
    with _replayed("json:info", _listing(listing, False)) as (_, queue):
        info = queue.get_queue_info()
    assert info == {
        "queue_type": "remote",
        "queue_name": "orders",
        "message_count": 6,
        "visible_messages": 4,  # its available_messages
        "invisible_messages": 2,  # its in_flight_messages
        "never_received": 4,
        "total_receives": 2,
        "delayed_messages": 0,
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
        "delayed_messages": 0,
    }
    with _replayed(reply("GET", f"{ORDERS}/info", counts)) as (transport, queue):
        info = queue.get_queue_info()
    assert info["total_receives"] == 5
    assert info["never_received"] == 1
    assert len(transport.calls) == 1


def test_health_check() -> None:
    steps = (
        "json:queue-health",
        "json:queue-health-writer-forbidden",
        reply("GET", f"{ORDERS}/health", {"detail": "Not Found"}, 404),
        "json:health",
        reply("GET", f"{ORDERS}/health", {"status": "degraded"}),
        Exchange("GET", f"{ORDERS}/health", 200, "not json"),
        Exchange("GET", f"{ORDERS}/health", 0, "", action="drop"),
    )
    with _replayed(*steps) as (_, queue):
        assert queue.health_check() is True
        assert queue.health_check() is False  # 403
        assert queue.health_check() is True  # no queue health: the server's /health
        assert queue.health_check() is False
        assert queue.health_check() is False
        assert queue.health_check() is False  # unreachable


def test_cleanup_expired_messages_is_the_servers_business() -> None:
    warns = pytest.warns(UserWarning, match="does nothing on a remote queue")
    with _replayed() as (transport, queue), warns as caught:
        assert queue.cleanup_expired_messages() is False
    assert caught[0].filename == __file__
    assert transport.calls == []


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
    steps = (
        _listing(listing, False),
        reply("POST", f"{path}/check-existence", {"existing_ids": ["m001"]}),
        reply("POST", path, {"id": "m002", "status": "success", "receipt_handle": None}),
    )
    with _replayed(*steps) as (transport, remote), PyQueue(queue_type="memory") as memory:
        assert copy_queue(remote, memory) == 2
        copied = memory.get_message("m002")
        assert copied is not None
        assert copied["invisible_until"] == "2026-11-28T04:35:43.000000"
        assert memory.delete_message("receipt_x") is True  # the handle came along
        memory.add_message({"n": 1}, item_id="m001")
        memory.add_message({"n": 2}, item_id="m002")
        assert copy_queue(memory, remote) == 1  # m001 is already there
    assert _json(transport.calls[2]) == {"id": "m002", "message_body": {"n": 2}}


# -- configuration ------------------------------------------------------------------------------


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
        _queue(NOWHERE, api_key=key)


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


def test_repr_names_the_server() -> None:
    with _queue(NOWHERE) as queue:
        assert repr(queue) == (
            "PyQueue(queue_type='remote', server_url='http://127.0.0.1:1', queue_name='orders')"
        )


def test_the_backend_and_the_transport_can_be_built_alone() -> None:
    store = RemoteStore(NOWHERE, None, 1.0)
    store.open_queue("q")
    store.close()
    transport = HttpTransport("HTTPS://Example.com:8443/base/", ApiKeyAuth(None), 1.0)
    assert transport.base_url == "https://Example.com:8443/base"
    transport.close()


# -- the transport on real connections: what goes on the wire ----------------------------------


def test_a_request_on_the_wire() -> None:
    """Below the server URL's path, with the JSON headers, the key and the body as built."""
    step = reply("POST", "/pq/api/v1/queues/orders/messages", {"id": "order-0001"})
    with ReplayServer([step]) as server, _queue(server.url + "/pq/") as queue:
        assert queue.add_message({"order_id": 2}, item_id="order-0001") == "order-0001"
    [sent] = server.requests
    assert sent.body == b'{"id":"order-0001","message_body":{"order_id":2}}'
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["content-length"] == str(len(sent.body))
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["user-agent"] == wire.USER_AGENT
    assert sent.headers["x-api-key"] == ADMIN
    assert sent.headers["host"] == f"127.0.0.1:{server.port}"
    assert not server.errors


class _Signer:
    """A request signer, as a SigV4 one would plug in: it signs method, URL and body."""

    sends_secret = False

    def __init__(self) -> None:
        self.signed: List[Tuple[str, str, Optional[bytes]]] = []

    def sign(self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes]) -> None:
        self.signed.append((method, url, body))
        headers["Authorization"] = _signature(method, url, body)


def _signature(method: str, url: str, body: Optional[bytes]) -> str:
    return "Test " + hashlib.sha256(f"{method} {url} ".encode() + (body or b"")).hexdigest()


def test_an_authenticator_signs_each_request_as_sent() -> None:
    signer = _Signer()
    calls = [wire.get_call("orders", KNOWN_ID), wire.check_existence_call("orders", ["a"])]
    with ReplayServer([GET_KNOWN, EXCHANGES["json:check-existence"]]) as server:
        transport = HttpTransport(server.url, signer, 5.0)
        assert [transport.send(call).status for call in calls] == [200, 200]
        transport.close()
    assert signer.signed == [(call.method, server.url + call.path, call.body) for call in calls]
    for sent, call in zip(server.requests, calls):
        assert sent.headers["authorization"] == _signature(
            call.method, server.url + call.path, call.body
        )
        assert sent.body == (call.body or b"")
        assert "x-api-key" not in sent.headers
    # No secret travels, so plain http to another machine is no reason to warn.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HttpTransport("http://queue.example.com", signer, 1.0).close()
    assert caught == []


def test_debug_logs_name_method_and_url_never_the_key_or_bodies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyqueue_client")
    with ReplayServer(_steps("json:add-custom-id")) as server, _queue(server.url) as queue:
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


# -- connections: keep-alive, reconnects, retries, timeouts --------------------------------------


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


def test_one_connection_serves_many_calls() -> None:
    with _replaying([GET_KNOWN], cycle=True) as (server, queue):
        for _ in range(200):
            assert queue.get_message(KNOWN_ID) is not None
    assert len(server.requests) == 200
    assert server.connections_opened == 1
    assert not server.errors


def test_concurrent_callers_each_keep_one_connection() -> None:
    callers, calls = 4, 50
    failures: List[BaseException] = []

    def call_many(queue: PyQueue) -> None:
        try:
            for _ in range(calls):
                queue.get_message(KNOWN_ID)
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    with _replaying([GET_KNOWN], cycle=True) as (server, queue):
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
    with _replaying([drop, GET_KNOWN, drop, drop]) as (server, queue):
        assert queue.get_message(KNOWN_ID) is not None
        with pytest.raises(RemoteError):  # dropped twice: one retry only
            queue.get_message(KNOWN_ID)
    assert len(server.requests) == 4


def test_an_add_with_our_id_is_retried_after_a_dropped_connection() -> None:
    drop = Exchange("POST", "", 0, "", action="drop")
    with _replaying([drop, "json:add-custom-id"]) as (server, queue):
        assert queue.add_message({"order_id": 2}, item_id="order-0001") == "order-0001"
    assert [seen.json() for seen in server.requests] == [
        {"id": "order-0001", "message_body": {"order_id": 2}}
    ] * 2


def test_a_receive_or_an_error_status_is_not_retried() -> None:
    drop = Exchange("POST", "", 0, "", action="drop")
    crash = EXCHANGES["json:queues-nonascii-key"].at("GET", f"{ORDERS}/info")
    with _replaying([drop, crash, EMPTY_RECEIVE]) as (server, queue):
        with pytest.raises(RemoteError, match="cannot reach"):
            queue.receive_messages()
        with pytest.raises(RemoteError, match="500"):
            queue.get_queue_info()  # an answer, not a dropped connection
    assert len(server.requests) == 2


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
    with _queue(NOWHERE) as queue, pytest.raises(KeyboardInterrupt):
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
    with ReplayServer([GET_KNOWN], cycle=True) as server:
        queue = _queue(server.url)
        queue.get_message(KNOWN_ID)
        queue.close()
        assert server.wait_closed(1)
        queue.close()  # twice is fine
        queue.get_message(KNOWN_ID)  # and it reconnects
        queue.close()
    assert server.connections_opened == 2


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
    with _queue(url) as queue:
        assert queue.health_check() is False


# -- proxies ------------------------------------------------------------------------------------


def test_http_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    with ForwardProxy() as proxy, ReplayServer([GET_KNOWN], cycle=True) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with _queue(server.url) as queue:
            for _ in range(3):
                assert queue.get_message(KNOWN_ID) is not None
    assert proxy.forwarded == [f"{server.url}{ORDERS}/message/{KNOWN_ID}"] * 3
    assert proxy.connections_opened == 1  # kept alive to the proxy too
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"
    assert server.requests[0].headers["x-api-key"] == ADMIN


def test_no_proxy_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with ForwardProxy() as proxy, ReplayServer([GET_KNOWN]) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with _queue(server.url) as queue:
            assert queue.get_message(KNOWN_ID) is not None
    assert proxy.forwarded == []
    assert proxy.connections_opened == 0
    assert len(server.requests) == 1


def test_https_goes_through_a_connect_tunnel(
    monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with ForwardProxy() as proxy, ReplayServer([GET_KNOWN], cycle=True, tls=server_tls) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with _queue(server.url, ssl_context=client_tls) as queue:
            for _ in range(3):
                assert queue.get_message(KNOWN_ID) is not None
    assert proxy.tunnels == [f"127.0.0.1:{server.port}"]  # one tunnel, kept alive
    assert proxy.forwarded == []
    assert len(server.requests) == 3


def test_proxy_credentials_go_to_the_proxy_only(
    monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with ForwardProxy() as proxy, ReplayServer([GET_KNOWN], tls=server_tls) as server:
        address = proxy.url.replace("http://", "http://user:pass@")
        monkeypatch.setenv("HTTPS_PROXY", address)
        with _queue(server.url, ssl_context=client_tls) as queue:
            assert queue.get_message(KNOWN_ID) is not None
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
    with ReplayServer([GET_KNOWN, GET_KNOWN], tls=server_tls) as server:
        url = f"https://{host}:{server.port}"
        with _queue(url, ssl_context=client_tls) as queue:
            assert queue.get_message(KNOWN_ID) is not None
            assert queue.get_message(KNOWN_ID) is not None
    assert server.connections_opened == 1
    assert not server.errors
