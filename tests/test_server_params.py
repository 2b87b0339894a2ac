"""Nothing a route ignores passes silently: query parameters it does not read and bodies sent to
a route that reads none are refused (422), by the one table the OpenAPI document is made of; and
a request body, like a request head, has a deadline.

Each against a real server on port 0; the clients that must keep working (the original client's
recorded calls, our own client's calls, the dashboard's) are checked against the same table.
"""

from __future__ import annotations

import json
import re
import select
import socket
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl

import pytest

from pyqueue_client._transport import rest_calls
from pyqueue_client.server import QueueServer
from pyqueue_client.server import _http_server as http_server
from pyqueue_client.server._http_server import _DeadlineReader, _Late
from pyqueue_client.server._params import HttpError
from pyqueue_client.server._routes import ROUTES_BY_NAME, Route, match

from ._server_support import (
    ADMIN_KEY,
    READER_KEY,
    WRITER_KEY,
    PlainClient,
    PlainReply,
    body_of,
    config,
    connect,
    read_until_closed,
    running,
    status_of,
)

CAPTURES = Path("/work/shared/protocol-captures")
UNKNOWN = "zz_unknown"
#: Values for the path's ``{name}`` segments of every route.
_VALUES = {"queue": "orders", "id": "m-1", "handle": "no-such-handle"}
_KEYS = {"admin": ADMIN_KEY, "reader": READER_KEY, "writer": WRITER_KEY, "wrong": "pq-wrong-key"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueServer]:
    with running(config(tmp_path_factory.mktemp("params"))) as started:
        yield started


@pytest.fixture
def client(server: QueueServer) -> Iterator[PlainClient]:
    with PlainClient(server.url) as plain:
        yield plain


@pytest.fixture(scope="module")
def spec(server: QueueServer) -> Dict[str, Any]:
    with PlainClient(server.url, key=None) as anonymous:
        document: Dict[str, Any] = anonymous.call("GET", "/openapi.json").json
    return document


def _path(route: Route, query: str = "") -> str:
    path = "/" + "/".join(_VALUES.get(part[1:-1], part) for part in route.pattern)
    return path + ("?" + query if query else "")


def _documented(spec: Dict[str, Any], route: Route) -> Tuple[List[str], bool]:
    """The query parameters the document lists for ``route``, and whether it takes a body."""
    operation = spec["paths"]["/" + "/".join(route.pattern)][route.method.lower()]
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    return names, "requestBody" in operation


def _refused_as_unknown(reply: PlainReply) -> bool:
    detail = (reply.json or {}).get("detail") if isinstance(reply.json, dict) else None
    return reply.status == 422 and isinstance(detail, str) and "unknown parameter" in detail


# -- the table, the document and the check agree --------------------------------------------------


def test_every_route_refuses_a_parameter_the_document_does_not_list(
    client: PlainClient, spec: Dict[str, Any]
) -> None:
    for name, route in ROUTES_BY_NAME.items():
        names, _ = _documented(spec, route)
        assert set(names) == route.query, name
        reply = client.call(route.method, _path(route, f"{UNKNOWN}=1"))
        takes = ", ".join(sorted(names)) if names else "no query parameters"
        expected = f"unknown parameter '{UNKNOWN}': this route takes {takes}"
        assert (name, reply.status, reply.json) == (name, 422, {"detail": expected})


def test_every_parameter_the_document_lists_is_read(
    client: PlainClient, spec: Dict[str, Any]
) -> None:
    for name, route in ROUTES_BY_NAME.items():
        for parameter in _documented(spec, route)[0]:
            # "x" is a bad value for most of them: the answer names the value, not the name.
            reply = client.call(route.method, _path(route, f"{parameter}=x"))
            assert not _refused_as_unknown(reply), (name, parameter, reply.json)


def test_a_body_sent_to_a_route_without_one_is_refused(
    client: PlainClient, spec: Dict[str, Any]
) -> None:
    for name, route in ROUTES_BY_NAME.items():
        names, takes_body = _documented(spec, route)
        assert takes_body == route.takes_body, name
        if takes_body:
            continue
        reply = client.call(route.method, _path(route), {"max_messages": 1})
        expected = "this route takes no request body"
        if names:
            expected += "; its parameters go in the query string: " + ", ".join(sorted(names))
        assert (name, reply.status, reply.json) == (name, 422, {"detail": expected})
    # An empty body is no body.
    assert client.call("DELETE", "/api/v1/queues/orders/messages", b"").status == 200


def test_several_unknown_parameters_are_all_named(client: PlainClient) -> None:
    reply = client.call("GET", "/api/v1/queues/orders/info?b=1&a=2")
    assert reply.json == {
        "detail": "unknown parameters 'a', 'b': this route takes no query parameters"
    }


def test_the_checks_come_after_the_key_and_the_permission(server: QueueServer) -> None:
    with PlainClient(server.url, key=None) as anonymous:
        assert anonymous.call("GET", f"/api/v1/queues/orders/info?{UNKNOWN}=1").status == 401
        # A public route has no key to check first.
        assert anonymous.call("GET", f"/health?{UNKNOWN}=1").status == 422
    with PlainClient(server.url, key=WRITER_KEY) as writer:
        assert writer.call("GET", f"/api/v1/queues/orders/info?{UNKNOWN}=1").status == 403


def test_a_key_in_the_query_string_is_let_through_but_never_read(server: QueueServer) -> None:
    receive = "/api/v1/queues/orders/messages/receive"
    with PlainClient(server.url) as client:
        # With the header, every route answers as without the query key (receive included).
        assert client.call("POST", f"{receive}?api_key=anything").status == 200
        assert client.call("GET", f"/health?api_key={ADMIN_KEY}").status == 200
    with PlainClient(server.url, key=None) as anonymous:
        # Alone, it authenticates nothing.
        assert anonymous.call("POST", f"{receive}?api_key={ADMIN_KEY}").status == 401
    # It is not a receive option in a body.
    with PlainClient(server.url) as client:
        reply = client.call("POST", receive, {"api_key": ADMIN_KEY})
        assert _refused_as_unknown(reply)


def test_the_dashboards_paths_refuse_what_they_do_not_read(server: QueueServer) -> None:
    with PlainClient(server.url) as client:
        assert client.call("GET", "/api/v1/overview?queue=orders").status == 200
        reply = client.call("GET", f"/api/v1/overview?queue=orders&{UNKNOWN}=1")
        assert reply.json == {"detail": f"unknown parameter '{UNKNOWN}': this route takes queue"}
        assert client.call("GET", "/api/v1/overview", {"queue": "orders"}).status == 422
        assert client.call("GET", f"/metrics?{UNKNOWN}=1").status == 422
        assert client.call("GET", "/metrics").status == 200
        assert client.call("GET", "/dashboard/app.js?v=2").status == 422
        page = client.call("GET", f"/?{UNKNOWN}=1", headers={"Accept": "text/html"})
        assert page.status == 422
    with PlainClient(server.url, key=None) as anonymous:
        assert anonymous.call("GET", f"/metrics?{UNKNOWN}=1").status == 401
        assert anonymous.call("GET", "/dashboard/app.js").status == 200


# -- the clients that must keep working ----------------------------------------------------------


def _accepts(method: str, target: str, has_body: bool) -> Optional[str]:
    """Why the route table would refuse this request, or None if it accepts it."""
    path, _, query = target.partition("?")
    try:
        route, _ = match(method, [part for part in path.split("/") if part])
    except HttpError:
        return None  # no such route: a 404 or 405, whatever the parameters
    unknown = {name for name, _ in parse_qsl(query, keep_blank_values=True)} - route.query
    unknown.discard("api_key")
    if unknown:
        return f"{method} {path}: unknown {sorted(unknown)}"
    if has_body and not route.takes_body:
        return f"{method} {path}: a body"
    return None


def _original_client_calls() -> List[Dict[str, Any]]:
    calls: List[Dict[str, Any]] = []
    for name in ("pyqueue-client-1.2.1-vs-json.json", "pyqueue-client-1.2.1-vs-sqlite.json"):
        for step in json.loads((CAPTURES / name).read_text("utf-8")):
            calls.extend(step.get("wire", []))
    return calls


def test_every_call_the_original_client_made_is_accepted() -> None:
    calls = _original_client_calls()
    assert any("max_messages=" in call["url"] for call in calls)
    refused = []
    for call in calls:
        why = _accepts(call["method"], call["url"], bool(call["body"]))
        if why is not None:
            refused.append(why)
    assert refused == []


def test_every_recorded_request_to_the_existing_server_is_not_refused_for_its_parameters(
    server: QueueServer,
) -> None:
    seen = 0
    for capture in sorted(CAPTURES.glob("exchanges*.jsonl")):
        for line in capture.read_text("utf-8").splitlines():
            exchange = json.loads(line)
            with PlainClient(server.url, key=_KEYS.get(exchange["key"])) as client:
                body = exchange["req_body"]
                reply = client.call(
                    exchange["method"],
                    exchange["path"],
                    body if body is None else body.encode("utf-8"),
                    content_type=exchange["req_ctype"],
                    headers=exchange["extra_headers"],
                )
            detail = str((reply.json or {}).get("detail") if isinstance(reply.json, dict) else "")
            assert "unknown parameter" not in detail, exchange["name"]
            assert "takes no request body" not in detail, exchange["name"]
            seen += 1
    assert seen > 500


def test_our_clients_calls_send_only_what_their_routes_read() -> None:
    calls = [
        rest_calls.peek_call("q", 10, 0),
        rest_calls.receive_call("q", 10, 30, True, True, 5.0, 0, "attempt-1", True),
        rest_calls.receive_call("q", 1, None, False, False),
        rest_calls.redrive_call("q", 3),
        rest_calls.redrive_call("q", None),
        rest_calls.add_call("q", "id", "{}"),
        rest_calls.add_batch_call("q", [rest_calls.batch_entry("id", "{}")], 1.0),
        rest_calls.check_existence_call("q", ["a"]),
        rest_calls.update_call("q", "id", {}),
        rest_calls.delete_call("q", "h"),
        rest_calls.delete_batch_call("q", ["h"]),
        rest_calls.change_visibility_call("q", ["h"], 1.0),
        rest_calls.get_attributes_call("q"),
        rest_calls.set_attributes_call("q", {"delay_seconds": 0}),
        rest_calls.remove_call("q", "id"),
        rest_calls.get_call("q", "id"),
        rest_calls.clear_call("q"),
        rest_calls.info_call("q"),
        rest_calls.queue_health_call("q"),
        rest_calls.list_queues_call(),
        rest_calls.server_health_call(),
    ]
    assert [_accepts(c.method, c.path, c.body is not None) for c in calls if c.path] == [
        None
    ] * len(calls)


def test_the_dashboards_script_sends_only_what_routes_read() -> None:
    """Its query strings (its calls run in ``test_dashboard_browser.py``): the overview's queue
    (a dashboard path) and the peek page's limit and offset."""
    script = (Path(http_server.__file__).parent / "static" / "app.js").read_text("utf-8")
    assert re.findall(r'"(/[a-z]+)\?([a-z_]+)=', script) == [
        ("/overview", "queue"),
        ("/overview", "queue"),
        ("/messages", "limit"),
    ]
    assert re.findall(r'"&([a-z_]+)=', script) == ["offset"]
    assert {"limit", "offset"} <= ROUTES_BY_NAME["peek"].query


# -- a deadline for the whole body ---------------------------------------------------------------


def _add_request(length: int) -> Tuple[bytes, bytes]:
    """The head and a JSON body of exactly ``length`` bytes of an add."""
    padding = "x" * (length - len('{"message_body":{"p":""}}'))
    body = json.dumps({"message_body": {"p": padding}}, separators=(",", ":")).encode("ascii")
    assert len(body) == length
    head = (
        "POST /api/v1/queues/slow/messages HTTP/1.1\r\nHost: x\r\n"
        f"X-API-Key: {ADMIN_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii"), body


def _send_slowly(url: str, length: int, chunk: int, pause: float) -> Tuple[bytes, int]:
    """Send an add whose body goes ``chunk`` bytes every ``pause`` seconds, until it is all sent
    or the server answers or closes; what the server sent back, and how much of the body went."""
    head, body = _add_request(length)
    sent = 0
    with connect(url) as sock:
        sock.sendall(head)
        try:
            while sent < length:
                readable, _, _ = select.select([sock], [], [], pause)
                if readable:
                    break
                sock.sendall(body[sent : sent + chunk])
                sent += len(body[sent : sent + chunk])
            return read_until_closed(sock), sent
        except (ConnectionResetError, BrokenPipeError):
            return b"", sent  # closed over the unread rest: dropped all the same


def test_a_body_trickling_a_byte_at_a_time_is_dropped(tmp_path: Path) -> None:
    """Each byte comes well within the socket timeout; the body's deadline (head_timeout plus
    its length at MIN_BODY_RATE, here about a second) ends it long before it is all sent."""
    settings = config(tmp_path, head_timeout=1.0, socket_timeout=60.0)
    with running(settings) as server:
        answer, sent = _send_slowly(server.url, 300, chunk=1, pause=0.05)
        assert sent < 300
        if answer:
            assert status_of(answer) == 408
            assert body_of(answer) == {
                "detail": "the request body (300 bytes) did not arrive within 1.1 s"
            }
        with PlainClient(server.url) as client:
            assert client.call("GET", "/api/v1/queues/slow/info").json["message_count"] == 0


def test_a_large_body_on_a_slow_link_gets_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body taking longer than head_timeout, at a rate above the minimum, is served."""
    monkeypatch.setattr(http_server, "MIN_BODY_RATE", 2048)
    length = 16 * 1024  # 1 + 8 seconds allowed; sent in about 1.6 s
    settings = config(tmp_path, head_timeout=1.0, socket_timeout=60.0)
    with running(settings) as server:
        started = time.monotonic()
        answer, sent = _send_slowly(server.url, length, chunk=1024, pause=0.1)
        assert (sent, status_of(answer)) == (length, 200)
        assert time.monotonic() - started > settings.head_timeout
        with PlainClient(server.url) as client:
            assert client.call("GET", "/api/v1/queues/slow/info").json["message_count"] == 1


def test_the_time_a_body_has() -> None:
    assert http_server.body_seconds(0, 10.0) == 10.0
    # The default body limit, 256 KiB, at the minimum rate of 4 KiB/s.
    assert http_server.body_seconds(256 * 1024, 10.0) == 74.0


def test_a_read_cut_short_by_the_deadline_is_late_not_silent() -> None:
    """A read that the deadline shortened reports the deadline; one that waited the whole
    socket timeout reports silence (answered "sent nothing for too long")."""
    left, right = socket.socketpair()
    with left, right:
        reader = _DeadlineReader(left, timeout=0.05)
        buffer = bytearray(10)
        with pytest.raises(socket.timeout) as silent:
            reader.readinto(buffer)
        assert not isinstance(silent.value, _Late)
        reader.timeout = 60.0
        reader.deadline = time.monotonic() + 0.05
        with pytest.raises(_Late):
            reader.readinto(buffer)
