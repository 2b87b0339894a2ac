"""``GET /metrics``, the dashboard's ``/api/v1/overview`` and its files, against a real server.

``/metrics`` is read with a small parser of the Prometheus text format (below), and every value is
checked against what the queues' own ``/info`` says, as a Prometheus server would read it.
"""

from __future__ import annotations

import datetime
import json
import re
from email.message import Message
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, Tuple

import pytest

from pyqueue_client._backends.memory import MemoryStore
from pyqueue_client._times import utc_now
from pyqueue_client.server._auth import ADMIN
from pyqueue_client.server._dashboard import CONTENT_SECURITY_POLICY, Dashboard
from pyqueue_client.server._metrics import (
    LATENCY_BUCKETS,
    WINDOW_SECONDS,
    Call,
    Monitor,
    Throughput,
)
from pyqueue_client.server._params import HttpError, Request, Response

from ._server_support import (
    ADMIN_KEY,
    READER_KEY,
    WRITER_KEY,
    PlainClient,
    config,
    running,
    server_process,
    write_key_file,
)

Sample = Tuple[str, FrozenSet[Tuple[str, str]]]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text: str) -> Dict[Sample, float]:
    """Samples of a Prometheus text-format page: (name, labels) -> value.

    Checks what a scraper relies on: each sample's family was declared by ``# TYPE`` before it,
    with a ``# HELP``; label values are quoted and escaped; values are numbers or ``+Inf``.
    """
    samples: Dict[Sample, float] = {}
    declared: Dict[str, str] = {}
    helped = set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name in helped, f"{name} has no HELP"
            declared[name] = kind
            continue
        found = _SAMPLE.match(line)
        assert found, f"not a sample line: {line!r}"
        name, _, label_text, value = found.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in declared else name
        assert family in declared, f"{name} before its # TYPE"
        labels = frozenset(_labels(label_text or ""))
        assert (name, labels) not in samples, f"duplicate sample {line!r}"
        samples[(name, labels)] = float("inf") if value == "+Inf" else float(value)
    return samples


def _labels(text: str) -> Iterator[Tuple[str, str]]:
    position = 0
    while position < len(text):
        found = _LABEL.match(text, position)
        assert found, f"bad labels {text!r}"
        yield found.group(1), found.group(2).replace('\\"', '"').replace("\\\\", "\\")
        position = found.end()


def value(samples: Dict[Sample, float], name: str, **labels: str) -> float:
    """One sample's value (KeyError when absent)."""
    return samples[(name, frozenset(labels.items()))]


def queues_in(samples: Dict[Sample, float], name: str) -> List[str]:
    """The ``queue`` labels of a gauge."""
    return sorted(dict(labels)["queue"] for sample, labels in samples if sample == name)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[PlainClient]:
    with running(config(tmp_path)) as server, PlainClient(server.url) as plain:
        yield plain


def _fill(client: PlainClient) -> None:
    """orders: 4 messages, 1 of them in flight and 1 delayed; emails: 2; one deleted."""
    for number in range(4):
        assert (
            client.call(
                "POST", "/api/v1/queues/orders/messages", {"message_body": {"n": number}}
            ).status
            == 200
        )
    delayed = {"message_body": {"late": True}, "delay_seconds": 600}
    assert client.call("POST", "/api/v1/queues/orders/messages", delayed).status == 200
    batch = {"messages": [{"message_body": {"e": 1}}, {"message_body": {"e": 2}}]}
    assert client.call("POST", "/api/v1/queues/emails/messages/batch", batch).status == 200
    received = client.call("POST", "/api/v1/queues/orders/messages/receive?max_messages=2")
    handle = received.json["messages"][0]["receipt_handle"]
    assert client.call("DELETE", f"/api/v1/queues/orders/messages/{handle}").status == 200


def _metrics(client: PlainClient, key: str = ADMIN_KEY) -> Dict[Sample, float]:
    reply = client.call("GET", "/metrics", key=key)
    assert reply.status == 200, reply.raw
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse_prometheus(reply.raw.decode("utf-8"))


def test_queue_gauges_match_each_queue_info(client: PlainClient) -> None:
    _fill(client)
    samples = _metrics(client)
    assert queues_in(samples, "pyqueue_queue_messages") == ["emails", "orders"]
    for queue in ("orders", "emails"):
        info = client.call("GET", f"/api/v1/queues/{queue}/info").json
        delayed = info["delayed_messages"]
        assert value(samples, "pyqueue_queue_messages", queue=queue) == info["message_count"]
        assert (
            value(samples, "pyqueue_queue_visible_messages", queue=queue)
            == info["visible_messages"]
        )
        assert value(samples, "pyqueue_queue_delayed_messages", queue=queue) == delayed
        in_flight = info["invisible_messages"] - delayed
        assert value(samples, "pyqueue_queue_in_flight_messages", queue=queue) == in_flight
        age = value(samples, "pyqueue_queue_oldest_message_age_seconds", queue=queue)
        assert 0 <= age < 600
    assert value(samples, "pyqueue_queue_messages", queue="orders") == 4
    assert value(samples, "pyqueue_queue_in_flight_messages", queue="orders") == 1
    assert value(samples, "pyqueue_queue_delayed_messages", queue="orders") == 1
    assert value(samples, "pyqueue_queue_visible_messages", queue="orders") == 2
    assert value(samples, "pyqueue_messages_sent_total", queue="orders") == 5
    assert value(samples, "pyqueue_messages_sent_total", queue="emails") == 2
    assert value(samples, "pyqueue_messages_received_total", queue="orders") == 2
    assert value(samples, "pyqueue_messages_deleted_total", queue="orders") == 1
    assert value(samples, "pyqueue_messages_deleted_total", queue="emails") == 0


def test_request_counts_and_latency_by_route_and_status(client: PlainClient) -> None:
    for _ in range(3):
        client.call("GET", "/api/v1/queues/orders/info")
    client.call("GET", "/api/v1/queues/orders/info", key="wrong-key")
    client.call("GET", "/no/such/path")
    samples = _metrics(client)
    info_route = {"method": "GET", "route": "/api/v1/queues/{queue}/info"}
    assert value(samples, "pyqueue_http_requests_total", **info_route, status="200") == 3
    assert value(samples, "pyqueue_http_requests_total", **info_route, status="401") == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(samples, "pyqueue_http_requests_total", **unmatched) == 1
    name = "pyqueue_http_request_duration_seconds"
    labels = {**info_route, "status": "200"}
    assert value(samples, f"{name}_count", **labels) == 3
    assert value(samples, f"{name}_bucket", **labels, le="+Inf") == 3
    counts = [value(samples, f"{name}_bucket", **labels, le=_bound(b)) for b in LATENCY_BUCKETS]
    assert counts == sorted(counts), "buckets are cumulative"
    assert 0 < value(samples, f"{name}_sum", **labels) < 60


def _bound(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else repr(bound)


def test_metrics_need_a_key_and_show_only_the_keys_queues(client: PlainClient) -> None:
    _fill(client)
    assert client.call("GET", "/metrics", key=None).status == 401
    assert client.call("GET", "/metrics", key="wrong").status == 401
    assert client.call("POST", "/metrics").status == 405
    reader = _metrics(client, READER_KEY)
    assert queues_in(reader, "pyqueue_queue_messages") == ["orders"]
    assert queues_in(reader, "pyqueue_messages_sent_total") == ["orders"]


def test_metrics_public_opens_metrics_to_anyone(tmp_path: Path) -> None:
    with running(config(tmp_path, metrics_public=True)) as server, PlainClient(server.url) as plain:
        _fill(plain)
        samples = parse_prometheus(plain.call("GET", "/metrics", key=None).raw.decode())
    assert queues_in(samples, "pyqueue_queue_messages") == ["emails", "orders"]


def test_serve_metrics_public_option(tmp_path: Path) -> None:
    keys = write_key_file(tmp_path)
    args = ["--api-keys", str(keys), "--data", str(tmp_path / "data"), "--metrics-public"]
    with server_process(args, tmp_path) as child, PlainClient(child.url, key=None) as plain:
        reply = plain.call("GET", "/metrics")
    assert reply.status == 200
    text = reply.raw.decode()
    assert parse_prometheus(text) == {}, "no queue yet, and this is the first request"
    assert "# TYPE pyqueue_http_requests_total counter" in text


# -- the overview ----------------------------------------------------------------------------------


def test_overview_counts_dead_letters_and_throughput(client: PlainClient) -> None:
    _fill(client)
    policy = {"dead_letter_queue": "orders-dlq", "max_receive_count": 1}
    assert client.call("PATCH", "/api/v1/queues/orders/attributes", policy).status == 200
    overview = client.call("GET", "/api/v1/overview").json
    rows = {row["queue_name"]: row for row in overview["queues"]}
    assert sorted(rows) == ["emails", "orders"]
    orders = rows["orders"]
    assert orders["message_count"] == 4
    assert orders["in_flight_messages"] == 1
    assert orders["delayed_messages"] == 1
    assert orders["visible_messages"] == 2
    assert orders["dead_letter_queue"] == "orders-dlq"
    assert orders["dead_letter_messages"] == 0
    assert orders["permissions"] == ["read", "write", "delete", "manage"]
    assert 0 <= orders["oldest_message_age_seconds"] < 600
    assert rows["emails"]["dead_letter_queue"] is None
    assert rows["emails"]["dead_letter_messages"] is None
    throughput = overview["throughput"]
    assert throughput["window_seconds"] == WINDOW_SECONDS
    assert [len(throughput[kind]) for kind in ("sent", "received", "deleted")] == [900] * 3
    assert sum(throughput["sent"]) == 7
    assert sum(throughput["received"]) == 2
    assert sum(throughput["deleted"]) == 1

    one = client.call("GET", "/api/v1/overview?queue=orders-dlq").json
    assert one["count"] == 1
    assert one["queues"][0]["dead_letter_for"] == ["orders"]
    assert one["queues"][0]["message_count"] == 0
    assert one["queues"][0]["oldest_message_age_seconds"] is None, "no message, no age"
    assert sum(one["throughput"]["sent"]) == 0


def test_overview_only_shows_what_the_key_may_see(client: PlainClient) -> None:
    _fill(client)
    reader = client.call("GET", "/api/v1/overview", key=READER_KEY).json
    assert [row["queue_name"] for row in reader["queues"]] == ["orders"]
    assert reader["queues"][0]["permissions"] == ["read"]
    assert sum(reader["throughput"]["sent"]) == 5, "only the queues the key may see"
    forbidden = client.call("GET", "/api/v1/overview?queue=emails", key=WRITER_KEY)
    assert forbidden.status == 403
    assert client.call("GET", "/api/v1/overview?queue=..").status == 422
    assert client.call("GET", "/api/v1/overview", key=None).status == 401
    assert client.call("DELETE", "/api/v1/overview").status == 405


# -- the dashboard's files ---------------------------------------------------------------------


def test_browsers_get_the_page_and_json_clients_keep_the_root(client: PlainClient) -> None:
    page = client.call("GET", "/", key=None, headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-frame-options"] == "DENY"
    assert b'<script src="/dashboard/app.js" defer></script>' in page.raw
    assert ADMIN_KEY.encode() not in page.raw
    root = client.call("GET", "/", key=None)
    assert root.json["message"] == "PyQueue server"
    assert client.call("POST", "/", key=None, headers={"Accept": "text/html"}).status == 405
    script = client.call("GET", "/dashboard/app.js", key=None)
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert b"innerHTML" not in script.raw
    assert b"sessionStorage" in script.raw
    style = client.call("GET", "/dashboard/app.css", key=None)
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert b"prefers-color-scheme: dark" in style.raw
    assert client.call("GET", "/dashboard/icon.svg", key=None).status == 200
    for missing in ("/dashboard/", "/dashboard/../_app.py", "/dashboard/nothing.js"):
        assert client.call("GET", missing, key=None).status == 404
    assert client.call("PUT", "/dashboard/app.js", key=None).status == 405


# -- units -------------------------------------------------------------------------------------


def test_throughput_keeps_fifteen_minutes() -> None:
    now = [1000.0]
    throughput = Throughput(lambda: now[0])
    throughput.add("a", 0, 3)
    throughput.add("a", 1, 2)
    now[0] += 5
    throughput.add("b", 2, 1)
    end, series = throughput.series()
    assert end == 1005
    assert series["sent"][-6] == 3
    assert series["received"][-6] == 2
    assert series["deleted"][-1] == 1
    assert sum(throughput.series(["b"])[1]["sent"]) == 0
    now[0] += WINDOW_SECONDS - 5
    throughput.add("a", 0, 1)
    _, later = throughput.series(["a"])
    assert sum(later["sent"]) == 1, "the first second has left the window"
    assert throughput.totals() == {"a": [4, 2, 0], "b": [0, 0, 1]}
    now[0] += 1
    _, idle = throughput.series(["a"])
    assert idle["sent"][-2:] == [1, 0], "a second without messages counts 0"
    now[0] += WINDOW_SECONDS
    throughput.add("c", 1, 7)
    assert sorted(name or "" for name in throughput._rings) == ["", "c"], "idle queues forgotten"
    now[0] -= 3
    throughput.add("c", 1, 1)  # the clock stepped back: counted in the latest second
    now[0] += 3
    assert throughput.series(["c"])[1]["received"][-1] == 8
    assert throughput.totals()["a"] == [4, 2, 0]


def test_call_labels_routes_without_an_endpoint_by_their_pattern() -> None:
    call = Call()
    call.matched("GET", ("api", "v1", "other", "{queue}"), {"queue": "q"})
    assert (call.label, call.endpoint, call.queue) == ("/api/v1/other/{queue}", None, "q")
    monitor = Monitor()
    monitor.observe("GET", call, Response(200, {}, {}), 0.002)
    assert monitor.throughput.totals() == {}


def test_a_store_that_cannot_summarize_answers_501() -> None:
    dashboard = Dashboard(MemoryStore(utc_now), utc_now)
    with pytest.raises(HttpError) as overview:
        dashboard.overview(ADMIN)
    assert overview.value.status == 501
    request = Request("GET", "/metrics", Message(), b"")
    with pytest.raises(HttpError) as metrics:
        dashboard.answer(request, Call(), lambda: ADMIN)
    assert metrics.value.status == 501


def test_oldest_age_counts_from_the_oldest_message(tmp_path: Path) -> None:
    start = datetime.datetime(2026, 12, 6, 12, 0, 0)
    now = [start]
    settings = config(tmp_path, clock=lambda: now[0])
    with running(settings) as server, PlainClient(server.url) as plain:
        plain.call("POST", "/api/v1/queues/orders/messages", {"message_body": {"a": 1}})
        now[0] = start + datetime.timedelta(seconds=90)
        plain.call("POST", "/api/v1/queues/orders/messages", {"message_body": {"a": 2}})
        now[0] = start + datetime.timedelta(seconds=100)
        samples = _metrics(plain)
        overview = plain.call("GET", "/api/v1/overview").json
        # A hidden message whose time has come counts as visible, as in the queue's own info.
        receive = "/api/v1/queues/orders/messages/receive?max_messages=1&visibility_timeout=10"
        assert plain.call("POST", receive).json["count"] == 1
        delayed = {"message_body": {"a": 3}, "delay_seconds": 60}
        assert plain.call("POST", "/api/v1/queues/orders/messages", delayed).status == 200
        hidden = plain.call("GET", "/api/v1/overview").json["queues"][0]
        now[0] = start + datetime.timedelta(seconds=111)
        expired = plain.call("GET", "/api/v1/overview").json["queues"][0]
        info = plain.call("GET", "/api/v1/queues/orders/info").json
    assert value(samples, "pyqueue_queue_oldest_message_age_seconds", queue="orders") == 100
    assert overview["queues"][0]["oldest_message_age_seconds"] == 100
    assert (hidden["visible_messages"], hidden["in_flight_messages"]) == (1, 1)
    assert hidden["delayed_messages"] == 1
    assert (expired["visible_messages"], expired["in_flight_messages"]) == (2, 0)
    assert expired["visible_messages"] == info["visible_messages"]
    assert expired["delayed_messages"] == info["delayed_messages"] == 1
    assert json.loads(json.dumps(overview)) == overview
