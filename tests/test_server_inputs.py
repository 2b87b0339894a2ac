"""Every kind of bad input gets the right status and a JSON ``{"detail": string}`` answer.

Validation problems are 422 with a detail naming the field (as PROTOCOL.md asks); a wrong media
type is 415, unknown routes 404, wrong methods 405 with ``Allow``, broken HTTP 400/411/414/431.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Iterator, Optional

import pytest

from pyqueue_client.server import QueueServer

from ._server_support import (
    ADMIN_KEY,
    PlainClient,
    PlainReply,
    body_of,
    config,
    raw_exchange,
    running,
    status_of,
)

Q = "/api/v1/queues/orders"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueServer]:
    """One server for the module: bad input never changes its state."""
    with running(config(tmp_path_factory.mktemp("inputs"))) as started:
        yield started


@pytest.fixture
def client(server: QueueServer) -> Iterator[PlainClient]:
    """An admin client."""
    with PlainClient(server.url) as made:
        yield made


def assert_error(reply: PlainReply, status: int, mentions: str = "") -> None:
    """``reply`` is a JSON error with ``status`` whose detail contains ``mentions``."""
    assert reply.status == status, reply.raw
    assert isinstance(reply.json, dict)
    assert list(reply.json) == ["detail"]
    assert isinstance(reply.json["detail"], str)
    assert mentions in reply.json["detail"]
    assert int(reply.headers["content-length"]) == len(reply.raw)


# -- bodies --------------------------------------------------------------------------------------

BODY_ROUTES = [
    ("POST", f"{Q}/messages"),
    ("PUT", f"{Q}/messages/by-id/x"),
    ("POST", f"{Q}/messages/check-existence"),
    ("POST", f"{Q}/messages/batch"),
    ("POST", f"{Q}/messages/batch-delete"),
    ("POST", f"{Q}/messages/visibility"),
    ("PATCH", f"{Q}/attributes"),
    ("PUT", f"{Q}/attributes"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ("{not json", "request body is not valid JSON"),
        ('{"a": 1,}', "request body is not valid JSON"),
        ('{"a": NaN}', "request body is not valid JSON: NaN is not a JSON number"),
        ('{"a": -Infinity}', "request body is not valid JSON"),
        ("[]", "request body must be a JSON object, not an array"),
        ('"text"', "request body must be a JSON object, not a string"),
        ("42", "request body must be a JSON object, not a number"),
        ("true", "request body must be a JSON object, not a boolean"),
        ("null", "request body must be a JSON object, not null"),
        (b"\xff\xfe{}", "request body is not valid UTF-8"),
        ("[" * 100000 + "]" * 100000, "request body is nested too deeply"),
        (b"", "request body is missing"),
    ],
)
def test_bad_bodies(client: PlainClient, method: str, path: str, body: Any, mentions: str) -> None:
    assert_error(client.call(method, path, body), 422, mentions)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_wrong_content_types_get_415(
    client: PlainClient, method: str, path: str, content_type: Optional[str]
) -> None:
    reply = client.call(method, path, {"message_body": {}}, content_type=content_type)
    assert_error(reply, 415)


def test_json_media_type_parameters(client: PlainClient) -> None:
    for content_type in ("application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"'):
        reply = client.call(
            "POST", f"{Q}/messages", {"message_body": {}}, content_type=content_type
        )
        assert reply.status == 200


@pytest.mark.parametrize(
    ("document", "mentions"),
    [
        ({}, "message_body is required"),
        ({"message": {"content": "README style"}}, "message_body is required"),
        ({"message_body": [1, 2, 3]}, "message_body must be a JSON object or a string, not an"),
        ({"message_body": 42}, "message_body must be a JSON object or a string, not a number"),
        ({"message_body": None}, "message_body must be a JSON object or a string, not null"),
        ({"message_body": {}, "id": 5}, "id must be a string, not a number"),
        ({"message_body": {}, "id": ["x"]}, "id must be a string"),
        ({"message_body": {}, "timestamp": 5}, "timestamp must be a string"),
        ({"message_body": {"id": ["x"]}}, 'message["id"] must be a non-empty string'),
        ('{"message_body": {}, "id": "a\\ud800"}', "id must be valid Unicode text"),
        ('{"message_body": {"id": "\\udfff"}}', 'message_body["id"] must be valid Unicode'),
        ('{"message_body": {"big": 1e999}}', "message_body must be JSON-serializable"),
        ('{"message_body": ' + '{"a": ' * 65 + "1" + "}" * 66, "nested more than 64"),
        # 980 deep: json.loads gives up on most versions ("nested too deeply"); where it does
        # not (3.12's C stack limit), the body's own limit answers ("nested more than 64")
        ('{"message_body": ' + '{"a": [' * 490 + "1" + "]}" * 490 + "}", "is nested"),
        ('{"message_body": ' + "[" * 5000 + "]" * 5000 + "}", ""),
        ({"message_body": {}, "id": "x" * 513}, "id must be at most 512 bytes"),
        ({"message_body": {}, "id": "a\u0000b"}, "id must not contain control characters"),
        ({"message_body": {"id": "tab\there"}}, 'message["id"] must not contain control'),
    ],
)
def test_bad_add_documents(client: PlainClient, document: Any, mentions: str) -> None:
    assert_error(client.call("POST", f"{Q}/messages", document), 422, mentions)


def test_bad_update_documents(client: PlainClient) -> None:
    client.call("POST", f"{Q}/messages", {"id": "u", "message_body": {}})
    assert_error(client.call("PUT", f"{Q}/messages/by-id/u", {"msg": 1}), 422, "message_body")
    assert_error(
        client.call("PUT", f"{Q}/messages/by-id/u", {"message_body": []}), 422, "message_body"
    )


@pytest.mark.parametrize(
    "document",
    [{}, {"ids": ["a"]}, {"message_ids": "a"}, {"message_ids": [1, 2]}, {"message_ids": None}],
)
def test_bad_check_existence_documents(client: PlainClient, document: Dict[str, Any]) -> None:
    reply = client.call("POST", f"{Q}/messages/check-existence", document)
    assert_error(reply, 422, "message_ids must be a list of strings")


def test_check_existence_of_ids_that_are_not_unicode(client: PlainClient) -> None:
    reply = client.call("POST", f"{Q}/messages/check-existence", '{"message_ids": ["\\ud800"]}')
    assert_error(reply, 422, "message_ids must be valid Unicode text")


def test_odd_but_valid_ids(client: PlainClient) -> None:
    for item in (" ", "\U0001f600", "é" * 256, "a/b%2F"):
        reply = client.call("POST", f"{Q}/messages", {"id": item, "message_body": {"v": item}})
        assert reply.json["id"] == item
    found = client.call("POST", f"{Q}/messages/check-existence", {"message_ids": ["é" * 256]})
    assert found.json == {"existing_ids": ["é" * 256]}
    assert client.call("GET", f"{Q}/message/%20").json["message_body"] == {"v": " "}


def test_ids_with_control_characters_or_too_long_are_refused(client: PlainClient) -> None:
    """An id travels into logs and paths: at most 512 bytes, no control characters."""
    for item, mentions in (("a\u0000b", "control"), ("\n", "control"), ("x" * 100000, "512")):
        reply = client.call("POST", f"{Q}/messages", {"id": item, "message_body": {"v": 1}})
        assert_error(reply, 422, mentions)
        assert len(reply.raw) < 300  # the id is not echoed whole


def test_bodies_keep_escaped_surrogates(client: PlainClient) -> None:
    reply = client.call("POST", f"{Q}/messages", '{"id": "s", "message_body": {"t": "\\ud83d"}}')
    assert reply.status == 200
    assert client.call("GET", f"{Q}/message/s").json["message_body"] == {"t": "\ud83d"}


@pytest.mark.skipif(
    not hasattr(sys, "get_int_max_str_digits"), reason="this Python parses integers of any length"
)
def test_integers_too_long_to_parse(client: PlainClient) -> None:
    reply = client.call("POST", f"{Q}/messages", '{"message_body": {"n": ' + "9" * 5000 + "}}")
    assert_error(reply, 422, "request body is not valid JSON")


# -- query parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("limit=0", "limit must be between 1 and 100, not 0"),
        ("limit=101", "limit must be between 1 and 100, not 101"),
        ("limit=abc", "limit must be an integer, not 'abc'"),
        ("limit=1.5", "limit must be an integer"),
        ("limit=", "limit must be an integer, not ''"),
        ("limit=%201", "limit must be an integer"),
        ("limit=1e2", "limit must be an integer"),
        ("limit=" + "9" * 40, "limit must be an integer"),
        ("offset=-1", "offset must be between 0 and 1000000000000, not -1"),
        ("offset=x", "offset must be an integer"),
        ("max_messages=0", "max_messages must be between 1 and 100"),
        ("offset=%FF", "query string is not valid UTF-8"),
        ("&".join(f"p{n}=1" for n in range(40)), "query string has more than 32 parameters"),
    ],
)
def test_bad_peek_queries(client: PlainClient, query: str, mentions: str) -> None:
    assert_error(client.call("GET", f"{Q}/messages?{query}"), 422, mentions)


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("max_messages=0", "max_messages must be between 1 and 100, not 0"),
        ("max_messages=101", "max_messages must be between 1 and 100"),
        ("max_messages=ten", "max_messages must be an integer"),
        ("visibility_timeout=-1", "visibility_timeout must be between 0 and 43200, not -1"),
        ("visibility_timeout=43201", "visibility_timeout must be between 0 and 43200"),
        ("visibility_timeout=nan", "visibility_timeout must be a number, not 'nan'"),
        ("visibility_timeout=inf", "visibility_timeout must be a number"),
        ("visibility_timeout=1e3", "visibility_timeout must be a number"),
        ("visibility_timeout=abc", "visibility_timeout must be a number"),
        ("delete_after_receive=maybe", "delete_after_receive must be true or false, not 'maybe'"),
        ("only_new=2", "only_new must be true or false, not '2'"),
        ("consumer_id=", "consumer_id must be 1 to 256 characters long"),
        ("consumer_id=" + "c" * 257, "consumer_id must be 1 to 256 characters long"),
        ("wait_time_seconds=21", "wait_time_seconds must be between 0 and 20, not 21"),
        ("wait_time_seconds=-1", "wait_time_seconds must be between 0 and 20"),
        ("wait_time_seconds=1e1", "wait_time_seconds must be a number, not '1e1'"),
        ("wait_time_seconds=", "wait_time_seconds must be a number, not ''"),
    ],
)
def test_bad_receive_queries(client: PlainClient, query: str, mentions: str) -> None:
    assert_error(client.call("POST", f"{Q}/messages/receive?{query}"), 422, mentions)


def test_good_query_spellings(client: PlainClient) -> None:
    for query in (
        "only_new=TRUE&delete_after_receive=no",
        "only_new=on&visibility_timeout=.5",
        "only_new=0&visibility_timeout=12.25&max_messages=100",
        "consumer_id=a+b%20c&&max_messages=2",
    ):
        assert client.call("POST", f"{Q}/messages/receive?{query}").status == 200, query


def test_an_unknown_receive_parameter_is_refused_not_ignored(client: PlainClient) -> None:
    for query in ("unknown=ignored", "flag", "maxMessages=5"):
        reply = client.call("POST", f"{Q}/messages/receive?{query}")
        assert_error(reply, 422, "unknown parameter")


# -- paths and methods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api",
        "/api/v1",
        "/api/v1/queues/",
        "/api/v1/queues/orders",
        "/api/v1/queues/orders/messages/",
        "/api/v1/queues//messages",
        "/api/v1/queues/orders/message",
        "/api/v1/queues/orders/message/",
        "/api/v1/queues/../x/messages",
        "/api/v2/queues",
        "/api/v1/queues/orders/attributes/x",
        "/api/v1/queues/orders/redrive/x",
        "/docs",
        "/API/V1/HEALTH",
    ],
)
def test_unknown_routes_get_404(client: PlainClient, path: str) -> None:
    assert_error(client.call("GET", path), 404, "Not Found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", f"{Q}/messages", "DELETE, GET, POST"),
        ("PUT", f"{Q}/messages", "DELETE, GET, POST"),
        ("GET", f"{Q}/messages/receive", "DELETE, POST"),
        ("DELETE", "/health", "GET"),
        ("POST", "/api/v1/queues", "GET"),
        ("GET", f"{Q}/messages/by-id/x", "DELETE, PUT"),
        ("OPTIONS", f"{Q}/info", "GET"),
        ("BREW", "/health", "GET"),
        ("GET", f"{Q}/messages/batch", "DELETE, POST"),
        ("GET", f"{Q}/messages/visibility", "DELETE, POST"),
        ("POST", f"{Q}/attributes", "GET, PATCH, PUT"),
        ("DELETE", f"{Q}/attributes", "GET, PATCH, PUT"),
        ("GET", f"{Q}/redrive", "POST"),
    ],
)
def test_wrong_methods_get_405_with_allow(
    client: PlainClient, method: str, path: str, allow: str
) -> None:
    reply = client.call(method, path)
    assert_error(reply, 405, "Method Not Allowed")
    assert reply.headers["allow"] == allow


def test_head_gets_405_without_a_body(client: PlainClient) -> None:
    reply = client.call("HEAD", "/health")
    assert reply.status == 405
    assert reply.raw == b""
    assert reply.headers["allow"] == "GET"
    # The connection stays in step for the next request.
    assert client.call("GET", "/health").status == 200


def test_paths_that_are_not_utf8(client: PlainClient, server: QueueServer) -> None:
    assert_error(client.call("GET", f"{Q}/message/%FF"), 400, "not valid UTF-8")
    raw = raw_exchange(server.url, b"GET /api/v1/queues/or\xffders/info HTTP/1.1\r\n\r\n")
    assert status_of(raw) == 400


def test_non_ascii_ids_round_trip(client: PlainClient) -> None:
    reply = client.call("POST", f"{Q}/messages", {"id": "id-é-☃", "message_body": {}})
    assert reply.json["id"] == "id-é-☃"
    assert client.call("GET", f"{Q}/message/id-%C3%A9-%E2%98%83").status == 200


def test_request_targets_that_are_not_paths(server: QueueServer) -> None:
    raw = raw_exchange(server.url, b"GET http://example.com/health HTTP/1.1\r\n\r\n")
    assert status_of(raw) == 400
    assert "must be a path" in body_of(raw)["detail"]


# -- HTTP framing --------------------------------------------------------------------------------


def _raw(server: QueueServer, head: bytes) -> bytes:
    return raw_exchange(server.url, head)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET /health HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 120 + b"\r\n", 431),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /health HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET /health HTTX/1.1\r\n\r\n", 400),
        (b"GET /health HTTP/2.0\r\n\r\n", 505),
        (b"GET /health HTTP/1.1\r\nNoColonHere\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nX-A : 1\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\n: no name\r\n\r\n", 400),
        (b"GET /health HTTP/1.\xd9\xa1\r\n\r\n", 400),
        (b"GET /health\r\n\r\n", 400),
        (b"POST /health\r\n\r\n", 400),
        (
            b"POST /api/v1/queues/orders/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            411,
        ),
        (b"POST /api/v1/queues/orders/messages HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST /api/v1/queues/orders/messages HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
        (
            b"POST /api/v1/queues/orders/messages HTTP/1.1\r\n"
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            400,
        ),
    ],
)
def test_broken_http_gets_a_json_error(
    server: QueueServer, request_bytes: bytes, status: int
) -> None:
    answer = _raw(server, request_bytes)
    assert status_of(answer) == status
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"Content-Type: application/json" in head
    assert b"Content-Length: %d" % len(body) in head
    assert b"Connection: close" in head
    assert isinstance(body_of(answer)["detail"], str)


def test_an_empty_request_line_closes_quietly(server: QueueServer) -> None:
    assert _raw(server, b"\r\n") == b""


def test_the_same_content_length_twice_is_fine(server: QueueServer) -> None:
    body = b'{"message_body": {}}'
    answer = _raw(
        server,
        b"POST /api/v1/queues/orders/messages HTTP/1.1\r\nX-API-Key: "
        + ADMIN_KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), len(body), body),
    )
    assert status_of(answer) == 200


def test_http_1_0_closes_after_the_answer(server: QueueServer) -> None:
    answer = _raw(server, b"GET /health HTTP/1.0\r\n\r\n")
    assert status_of(answer) == 200
    assert b"Connection: close" in answer
