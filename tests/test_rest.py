"""The REST vocabulary both ends share (``_rest``): endpoints, queue names, ids and loopback hosts.

Client and server import the same table and rules; these tests pin the rules down once and check
that each side really uses them.
"""

from __future__ import annotations

import uuid
from typing import Dict
from urllib.parse import unquote

import pytest

from pyqueue_client import PyQueue, ValidationError
from pyqueue_client._rest import (
    API_PREFIX,
    ENDPOINTS,
    EXTENSIONS,
    choose_message_id,
    is_loopback,
    is_queue_name,
)
from pyqueue_client._transport import rest_calls
from pyqueue_client.server._params import HttpError, queue_name
from pyqueue_client.server._routes import ROUTES, match

#: The endpoints of PROTOCOL.md, as method and path template ...
PROTOCOL: Dict[str, str] = {
    "root": "GET /",
    "health": "GET /health",
    "api_health": "GET /api/v1/health",
    "openapi": "GET /openapi.json",  # the existing server's framework serves one too
    "list_queues": "GET /api/v1/queues",
    "auth_me": "GET /api/v1/auth/me",
    "auth_permissions": "GET /api/v1/auth/permissions/{queue}",
    "add": "POST /api/v1/queues/{queue}/messages",
    "peek": "GET /api/v1/queues/{queue}/messages",
    "clear": "DELETE /api/v1/queues/{queue}/messages",
    "receive": "POST /api/v1/queues/{queue}/messages/receive",
    "check_existence": "POST /api/v1/queues/{queue}/messages/check-existence",
    "update": "PUT /api/v1/queues/{queue}/messages/by-id/{id}",
    "remove": "DELETE /api/v1/queues/{queue}/messages/by-id/{id}",
    "delete": "DELETE /api/v1/queues/{queue}/messages/{handle}",
    "get": "GET /api/v1/queues/{queue}/message/{id}",
    "info": "GET /api/v1/queues/{queue}/info",
    "queue_health": "GET /api/v1/queues/{queue}/health",
}
#: ... and those only ``pyqueue serve`` has.
EXTENDED: Dict[str, str] = {
    "add_batch": "POST /api/v1/queues/{queue}/messages/batch",
    "delete_batch": "POST /api/v1/queues/{queue}/messages/batch-delete",
    "change_visibility": "POST /api/v1/queues/{queue}/messages/visibility",
    "get_attributes": "GET /api/v1/queues/{queue}/attributes",
    "set_attributes": "PATCH /api/v1/queues/{queue}/attributes",
    "put_attributes": "PUT /api/v1/queues/{queue}/attributes",
    "redrive": "POST /api/v1/queues/{queue}/redrive",
}


def test_the_endpoint_table_is_the_protocols() -> None:
    assert {name: f"{e.method} {e.template}" for name, e in ENDPOINTS.items()} == {
        **PROTOCOL,
        **EXTENDED,
    }
    assert set(EXTENSIONS) == set(EXTENDED)
    assert repr(ENDPOINTS["get"]) == "Endpoint('GET', '/api/v1/queues/{queue}/message/{id}')"
    assert API_PREFIX == "/api/v1"


def test_the_server_routes_every_endpoint_in_table_order() -> None:
    assert [(route.method, route.pattern) for route in ROUTES] == [
        (endpoint.method, endpoint.segments) for endpoint in ENDPOINTS.values()
    ]


@pytest.mark.parametrize("name", sorted({**PROTOCOL, **EXTENDED}))
def test_a_path_the_client_builds_reaches_that_endpoint_on_the_server(name: str) -> None:
    endpoint = ENDPOINTS[name]
    values = {"queue": "orders", "id": "a/b c", "handle": "receipt_x"}
    path = endpoint.path({"limit": 5}, **values).partition("?")[0]
    segments = [unquote(segment) for segment in path.split("/")[1:] if path != "/"]
    route, captured = match(endpoint.method, segments)
    assert (route.method, route.pattern) == (endpoint.method, endpoint.segments)
    assert captured == {key: values[key] for key in captured}


def test_paths_encode_each_value_as_one_segment_and_append_the_query() -> None:
    assert ENDPOINTS["get"].path(queue="q", id="a/b?c#d e ü") == (
        "/api/v1/queues/q/message/a%2Fb%3Fc%23d%20e%20%C3%BC"
    )
    assert ENDPOINTS["receive"].path({"max_messages": 2, "only_new": True}, queue="q") == (
        "/api/v1/queues/q/messages/receive?max_messages=2&only_new=true"
    )
    assert ENDPOINTS["peek"].path({"flag": False}, queue="q").endswith("?flag=false")
    assert ENDPOINTS["root"].path() == "/"
    assert ENDPOINTS["health"].path({}) == "/health"


def test_client_calls_take_method_and_path_from_the_table() -> None:
    calls = {
        "add": rest_calls.add_call("q", "i", "{}"),
        "peek": rest_calls.peek_call("q", 1, 0),
        "get": rest_calls.get_call("q", "i"),
        "check_existence": rest_calls.check_existence_call("q", ["i"]),
        "receive": rest_calls.receive_call("q", 1, 30, False, False),
        "delete": rest_calls.delete_call("q", "i"),
        "remove": rest_calls.remove_call("q", "i"),
        "update": rest_calls.update_call("q", "i", {}),
        "clear": rest_calls.clear_call("q"),
        "info": rest_calls.info_call("q"),
        "queue_health": rest_calls.queue_health_call("q"),
        "health": rest_calls.server_health_call(),
        "list_queues": rest_calls.list_queues_call(),
        "add_batch": rest_calls.add_batch_call("q", [b"{}"], None),
        "delete_batch": rest_calls.delete_batch_call("q", ["h"]),
        "change_visibility": rest_calls.change_visibility_call("q", ["h"], 5),
        "get_attributes": rest_calls.get_attributes_call("q"),
        "set_attributes": rest_calls.set_attributes_call("q", {}),
        "redrive": rest_calls.redrive_call("q", None),
    }
    # The client needs no key descriptions, and changes attributes with PATCH (PUT is there
    # for other clients).
    unused = {"root", "api_health", "openapi", "auth_me", "auth_permissions", "put_attributes"}
    assert set(calls) == set(ENDPOINTS) - unused
    for name, call in calls.items():
        endpoint = ENDPOINTS[name]
        values = {"queue": "q", "id": "i", "handle": "i"}
        assert call.method == endpoint.method, name
        assert call.path.partition("?")[0] == endpoint.path(**values), name


@pytest.mark.parametrize("name", ["a", "orders", "a.b-c_9", "..x", "x" * 80, "-", "_"])
def test_queue_names_accepted(name: str) -> None:
    assert is_queue_name(name)


@pytest.mark.parametrize(
    "name", ["", ".", "..", "x" * 81, "a b", "a/b", "ümläut", "a%b", "a\n", "a\x00"]
)
def test_queue_names_refused_by_both_ends(name: str) -> None:
    assert not is_queue_name(name)
    with pytest.raises(ValueError, match="queue_name"):  # the facade refuses "" itself
        PyQueue(queue_type="remote", server_url="http://127.0.0.1:1", queue_name=name)
    with pytest.raises(HttpError, match="queue name must be 1 to 80") as refused:
        queue_name(name)
    assert refused.value.status == 422


def test_the_id_is_the_given_one_then_the_bodys_then_a_new_one() -> None:
    assert choose_message_id("given", {"id": "in-body"}) == "given"
    assert choose_message_id(None, {"id": "in-body"}) == "in-body"
    assert choose_message_id("", {"id": 7}) == "7"  # empty counts as none; integers as text
    made = choose_message_id(None, {"k": 1})
    assert uuid.UUID(made).version == 4
    assert choose_message_id(None, {"id": None}) != made
    with pytest.raises(ValidationError, match="id"):
        choose_message_id(None, {"id": ["not", "an", "id"]})


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LocalHost",
        "127.0.0.1",
        "127.8.9.10",
        "127.255.255.255",
        "::1",
        "[::1]",
        "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",
        "[::ffff:127.0.0.2]",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "app.localhost",  # resolved by the system resolver, which may ask DNS
        "localhost.example.com",
        "localhost.",
        "0.0.0.0",
        "::",
        "[::]",
        "::ffff:10.0.0.1",
        "::1%lo",
        "128.0.0.1",
        "192.168.1.2",
        "10.0.0.1",
        "example.com",
        "[::1",
        "",
    ],
)
def test_hosts_that_are_not_certainly_this_machine(host: str) -> None:
    assert not is_loopback(host)
