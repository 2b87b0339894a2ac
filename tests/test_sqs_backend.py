"""``queue_type="sqs"`` against moto's server (signatures checked: a wrong one fails), plus
error mapping and retries against a fake SQS endpoint on 127.0.0.1.

Each test uses fresh queue names: moto's reset would also wipe the IAM user. moto returns
messages in order and completely; AWS may not, so the tests compare sets where order is not
the point.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from pyqueue_client import (
    AuthenticationError,
    ConfigurationError,
    PermissionDeniedError,
    PyQueue,
    QueueNotFoundError,
    RemoteError,
    RequestRejectedError,
    UnsupportedOperationError,
    ValidationError,
    Worker,
    cli,
)
from pyqueue_client._backends import sqs
from pyqueue_client._backends.sqs import ID_ATTRIBUTE
from pyqueue_client._times import format_time, utc_now

from ._fake_http import Seen, fake_server
from ._moto import REGION, MotoServer, moto_python, signed_post, start_moto, stop_moto

#: Opens a queue on moto: a name (fresh when None) and extra PyQueue options.
Opener = Callable[..., PyQueue]


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's server for the whole session, with signature checking on."""
    python, why = moto_python()
    if python is None:
        pytest.skip(why)
    server = start_moto(python)
    try:
        yield server
    finally:
        stop_moto(server.process)


@pytest.fixture
def open_sqs(moto: MotoServer) -> Iterator[Opener]:
    """Opens queues on moto (created), closed after the test."""
    opened: List[PyQueue] = []

    def open_queue(name: str = "", **options: Any) -> PyQueue:
        settings: Dict[str, Any] = {
            "queue_name": name or f"q-{uuid.uuid4().hex[:12]}",
            "endpoint_url": moto.url,
            "region": REGION,
            "aws_access_key_id": moto.credentials.access_key,
            "aws_secret_access_key": moto.credentials.secret_key,
            "create_queue": True,
        }
        settings.update(options)
        queue = PyQueue(queue_type="sqs", **settings)
        opened.append(queue)
        return queue

    yield open_queue
    for queue in opened:
        queue.close()


def _client(queue: PyQueue) -> sqs._Client:
    """The SQS client under a queue (to check its endpoint or skip its pauses)."""
    store = queue._store
    assert isinstance(store, sqs.SqsStore)
    return store._client


def _sqs_json(moto: MotoServer, action: str, payload: Dict[str, Any]) -> Dict[str, Any]:
    """One raw SQS action, signed with the test user's key."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}"}
    status, body = signed_post(
        moto.url, "sqs", json.dumps(payload).encode(), headers, moto.credentials
    )
    assert status == 200, body
    answer: Dict[str, Any] = json.loads(body or b"{}")
    return answer


# -- adding, receiving, deleting -------------------------------------------------------------


def test_a_message_round_trip_and_what_other_sqs_consumers_see(
    open_sqs: Opener, moto: MotoServer
) -> None:
    queue = open_sqs()
    assert queue.add_message({"task": "email", "n": 1}, item_id="m1") == "m1"
    url = queue.get_queue_info()["queue_url"]
    raw = _sqs_json(
        moto,
        "ReceiveMessage",
        {"QueueUrl": url, "MessageAttributeNames": ["All"], "VisibilityTimeout": 0},
    )["Messages"][0]
    assert json.loads(raw["Body"]) == {"task": "email", "n": 1}
    assert raw["MessageAttributes"][ID_ATTRIBUTE] == {"StringValue": "m1", "DataType": "String"}
    [message] = queue.receive_messages(visibility_timeout=30)
    assert message["Id"] == "m1"
    assert message["message_body"] == {"task": "email", "n": 1}
    assert message["receive_count"] == 2  # the raw receive above counted too
    assert message["first_received_at"] >= message["timestamp"]
    assert queue.receive_messages() == []
    assert queue.delete_message(message["ReceiptHandle"])
    assert queue.get_queue_info()["message_count"] == 0


def test_nothing_secret_reaches_the_logs(
    open_sqs: Opener, moto: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyqueue_client")
    queue = open_sqs()
    queue.add_message({"a": 1}, item_id="logged")
    [message] = queue.receive_messages()
    queue.delete_message(message["ReceiptHandle"])
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST" in text  # the transport did log its requests
    for secret in (moto.credentials.secret_key, message["ReceiptHandle"], "Signature="):
        assert secret not in text


def test_batches_over_ten_go_in_tens_and_receives_loop_until_max_messages(
    open_sqs: Opener,
) -> None:
    queue = open_sqs()
    ids = queue.add_messages([{"i": i} for i in range(25)], [f"id-{i}" for i in range(25)])
    assert ids == [f"id-{i}" for i in range(25)]
    assert queue.get_queue_info()["visible_messages"] == 25
    first = queue.receive_messages(max_messages=12, visibility_timeout=60)
    rest = queue.receive_messages(max_messages=100, visibility_timeout=60)
    assert len(first) == 12
    assert {m["Id"] for m in first + rest} == set(ids)
    handles = [m["ReceiptHandle"] for m in first + rest]
    result = queue.delete_messages([*handles, "not-a-handle", 7])  # type: ignore[list-item]
    assert result["Successful"] == handles
    assert result["Failed"] == [
        {"ReceiptHandle": "not-a-handle", "reason": "not_found"},
        {"ReceiptHandle": "7", "reason": "invalid"},
    ]
    assert queue.get_queue_info()["message_count"] == 0
    assert queue.add_messages([]) == []


def test_ids_are_made_when_not_given_and_foreign_bodies_arrive_wrapped(
    open_sqs: Opener, moto: MotoServer
) -> None:
    queue = open_sqs()
    [made] = queue.add_messages([{"x": 1}])
    url = queue.get_queue_info()["queue_url"]
    _sqs_json(moto, "SendMessage", {"QueueUrl": url, "MessageBody": "plain text"})
    received = queue.receive_messages(max_messages=10)
    by_body = {json.dumps(m["message_body"], sort_keys=True): m for m in received}
    assert by_body['{"x": 1}']["Id"] == made
    foreign = by_body['{"body": "plain text"}']
    assert foreign["Id"] != made  # SQS's own MessageId


def test_delete_after_receive_removes_what_it_returns(open_sqs: Opener) -> None:
    queue = open_sqs()
    queue.add_messages([{"i": i} for i in range(3)])
    received = queue.receive_messages(delete_after_receive=True, visibility_timeout=0)
    assert len(received) == 3
    assert queue.receive_messages(visibility_timeout=0) == []
    assert queue.get_queue_info()["message_count"] == 0


# -- visibility, delays, long polling ----------------------------------------------------------


def test_visibility_hides_and_changes_bring_back(open_sqs: Opener) -> None:
    queue = open_sqs()
    queue.add_message({"job": 1}, item_id="v")
    [first] = queue.receive_messages(visibility_timeout=600)
    assert queue.receive_messages() == []
    assert queue.change_message_visibility(first["ReceiptHandle"], 0)
    [again] = queue.receive_messages(visibility_timeout=600)
    assert (again["Id"], again["receive_count"]) == ("v", 2)
    assert again["first_received_at"] == first["first_received_at"]
    result = queue.change_messages_visibility([again["ReceiptHandle"], "bogus", ""], 600)
    assert result["Successful"] == [again["ReceiptHandle"]]
    assert [f["reason"] for f in result["Failed"]] == ["not_found", "invalid"]


def test_a_delayed_message_waits_hidden_then_a_long_poll_gets_it(open_sqs: Opener) -> None:
    queue = open_sqs()
    queue.add_message({"later": True}, item_id="d", delay_seconds=1)
    assert queue.receive_messages() == []
    [message] = queue.receive_messages(wait_time_seconds=10)
    assert message["Id"] == "d"


def test_a_long_poll_on_an_empty_queue_returns_nothing(open_sqs: Opener) -> None:
    assert open_sqs().receive_messages(wait_time_seconds=1) == []


def test_an_add_from_another_thread_wakes_the_long_poll(open_sqs: Opener) -> None:
    queue = open_sqs()
    name = queue.get_queue_info()["queue_name"]
    producer = open_sqs(name, create_queue=False)
    timer = threading.Timer(0.5, lambda: producer.add_message({"n": 1}, item_id="woken"))
    timer.start()
    try:
        received = queue.receive_messages(wait_time_seconds=15)
    finally:
        timer.join()
    assert [m["Id"] for m in received] == ["woken"]


# -- attributes, dead letters, redrive -----------------------------------------------------------


def test_attributes_are_the_queues_sqs_attributes(open_sqs: Opener) -> None:
    queue = open_sqs()
    assert queue.get_queue_attributes() == {
        "visibility_timeout": 30,
        "delay_seconds": 0,
        "wait_time_seconds": 0,
        "retention_seconds": 345600,
        "max_receive_count": None,
        "dead_letter_queue": None,
    }
    changed = queue.set_queue_attributes(
        visibility_timeout=45, delay_seconds=2, wait_time_seconds=3, retention_seconds=3600
    )
    assert changed["visibility_timeout"] == 45
    assert changed["delay_seconds"] == 2
    assert changed["wait_time_seconds"] == 3
    assert changed["retention_seconds"] == 3600
    with pytest.raises(UnsupportedOperationError, match="cannot keep them forever"):
        queue.set_queue_attributes(retention_seconds=None)


def test_dead_letters_by_name_and_redrive_honours_max_messages(open_sqs: Opener) -> None:
    dead = open_sqs()
    dead_name = dead.get_queue_info()["queue_name"]
    work = open_sqs()
    attributes = work.set_queue_attributes(
        max_receive_count=1, dead_letter_queue=dead_name, visibility_timeout=0
    )
    assert (attributes["max_receive_count"], attributes["dead_letter_queue"]) == (1, dead_name)
    work.add_messages([{"poison": i} for i in range(3)], ["p0", "p1", "p2"])
    assert len(work.receive_messages(max_messages=10)) == 3
    assert work.receive_messages(max_messages=10) == []  # moved on this second receive
    assert dead.get_queue_info()["message_count"] == 3
    assert dead.redrive_messages(max_messages=2) == 2
    assert dead.get_queue_info()["message_count"] == 1
    assert dead.redrive_messages() == 1
    back = work.receive_messages(max_messages=10)
    assert {m["Id"] for m in back} == {"p0", "p1", "p2"}
    assert {m["receive_count"] for m in back} == {1}  # as new
    cleared = work.set_queue_attributes(max_receive_count=None)
    assert (cleared["max_receive_count"], cleared["dead_letter_queue"]) == (None, None)


def test_redrive_without_a_source_moves_nothing_and_two_sources_are_refused(
    open_sqs: Opener,
) -> None:
    dead = open_sqs()
    dead.add_message({"orphan": 1})
    assert dead.redrive_messages() == 0
    name = dead.get_queue_info()["queue_name"]
    for _ in range(2):
        open_sqs().set_queue_attributes(max_receive_count=2, dead_letter_queue=name)
    with pytest.raises(ValidationError, match="2 queues use"):
        dead.redrive_messages()


# -- the whole queue ---------------------------------------------------------------------------


def test_info_purge_health_and_names(open_sqs: Opener) -> None:
    queue = open_sqs()
    queue.add_messages([{"i": i} for i in range(4)])
    queue.receive_messages(max_messages=1, visibility_timeout=600)
    info = queue.get_queue_info()
    assert info["queue_type"] == "sqs"
    assert info["queue_url"].endswith("/123456789012/" + info["queue_name"])
    assert (info["message_count"], info["visible_messages"], info["invisible_messages"]) == (
        4,
        3,
        1,
    )
    assert queue.health_check()
    assert info["queue_name"] in queue._store.queue_names()
    assert queue._store.health_check()
    assert queue.clear_queue() is True
    assert queue.get_queue_info()["message_count"] == 0
    with pytest.warns(UserWarning, match="does nothing on an SQS queue"):
        assert queue.cleanup_expired_messages() is False


def test_a_queue_url_picks_the_endpoint_and_the_queue(open_sqs: Opener, moto: MotoServer) -> None:
    made = open_sqs()
    url = made.get_queue_info()["queue_url"]
    made.add_message({"via": "url"}, item_id="u")
    by_url = PyQueue(
        queue_type="sqs",
        queue_url=url,
        region=REGION,
        aws_access_key_id=moto.credentials.access_key,
        aws_secret_access_key=moto.credentials.secret_key,
    )
    with by_url:
        assert [m["Id"] for m in by_url.receive_messages()] == ["u"]
        assert by_url.get_queue_attributes()["visibility_timeout"] == 30


def test_credentials_and_endpoint_from_the_environment(
    open_sqs: Opener, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = open_sqs().get_queue_info()["queue_name"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.credentials.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto.url)
    with PyQueue(queue_type="sqs", queue_name=name) as queue:
        assert queue.add_message({"env": True}, item_id="e") == "e"
        assert queue.health_check()


# -- what SQS cannot do, and errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "operation"),
    [
        (lambda q: q.get_messages(), "get_messages"),
        (lambda q: q.get_message("x"), "get_message"),
        (lambda q: q.has_message("x"), "has_message"),
        (lambda q: q.check_existence(["x"]), "check_existence"),
        (lambda q: q.update_message("x", {}), "update_message"),
        (lambda q: q.remove_message("x"), "remove_message"),
        (lambda q: q.receive_messages(only_new=True), "receive_messages(only_new=True)"),
    ],
)
def test_what_sqs_cannot_do_is_refused_by_name(
    open_sqs: Opener, call: Callable[[PyQueue], object], operation: str
) -> None:
    with pytest.raises(UnsupportedOperationError) as caught:
        call(open_sqs())
    assert caught.value.operation == operation
    assert str(caught.value).startswith(f"{operation}() is not supported by queue_type='sqs': ")
    assert "SQS" in caught.value.reason


def test_a_missing_queue_is_named(open_sqs: Opener) -> None:
    queue = open_sqs("no-such-queue", create_queue=False)
    with pytest.raises(QueueNotFoundError, match="'no-such-queue' does not exist") as caught:
        queue.add_message({"a": 1})
    assert isinstance(caught.value, LookupError)
    assert caught.value.queue == "no-such-queue"
    assert not queue.health_check()


def test_a_wrong_secret_fails_the_signature_and_is_never_shown(open_sqs: Opener) -> None:
    queue = open_sqs("any", aws_secret_access_key="wrong-secret-value")
    with pytest.raises(AuthenticationError, match="SignatureDoesNotMatch") as caught:
        queue.get_queue_info()
    assert "wrong-secret-value" not in str(caught.value) + repr(caught.value.__dict__)
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"queue_type": "memory", "region": "x"}, "only queue_type='sqs' takes"),
        ({"queue_type": "sqs", "region": 5}, "region must be a string"),
        ({"queue_type": "sqs", "queue_name": "bad name!"}, "an SQS queue name is"),
        ({"queue_type": "sqs", "queue_url": "ftp://x/1/q"}, "queue_url must be an http"),
    ],
)
def test_bad_options_are_configuration_errors(options: Dict[str, Any], message: str) -> None:
    settings: Dict[str, Any] = {
        "region": REGION,
        "aws_access_key_id": "A",
        "aws_secret_access_key": "B",
    }
    settings.update(options)
    with pytest.raises(ConfigurationError, match=message):
        PyQueue(**settings)


def test_fifo_queues_are_not_supported_yet() -> None:
    with pytest.raises(UnsupportedOperationError, match="FIFO"):
        PyQueue(
            queue_type="sqs",
            queue_name="orders.fifo",
            region=REGION,
            aws_access_key_id="A",
            aws_secret_access_key="B",
        )


def test_the_region_comes_from_an_amazon_queue_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    queue = PyQueue(
        queue_type="sqs",
        queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
        aws_access_key_id="A",
        aws_secret_access_key="B",
    )
    assert _client(queue).transport.base_url == "https://sqs.eu-west-1.amazonaws.com"
    cn = PyQueue(
        queue_type="sqs", queue_name="jobs", region="cn-north-1", aws_access_key_id="A",
        aws_secret_access_key="B",
    )  # fmt: skip
    assert _client(cn).transport.base_url == "https://sqs.cn-north-1.amazonaws.com.cn"


# -- errors and retries against a fake SQS endpoint ----------------------------------------------

Script = List[Tuple[int, Dict[str, Any]]]


def _fake_queue(url: str) -> PyQueue:
    queue = PyQueue(
        queue_type="sqs",
        queue_url=url + "/123456789012/jobs",
        region=REGION,
        aws_access_key_id="AKIDFAKE",
        aws_secret_access_key="fake-secret",
    )
    _client(queue).sleep = lambda seconds: None
    return queue


def _scripted(script: Script) -> Callable[[Seen], Tuple[int, str, bytes]]:
    answers = iter(script)

    def respond(seen: Seen) -> Tuple[int, str, bytes]:
        status, body = next(answers)
        return status, "application/x-amz-json-1.0", json.dumps(body).encode()

    return respond


def _error(code: str, message: str = "") -> Dict[str, Any]:
    return {"__type": f"com.amazonaws.sqs#{code}", "message": message}


def test_5xx_and_throttling_are_retried_where_safe_and_each_attempt_is_signed() -> None:
    attributes = {"Attributes": {"ApproximateNumberOfMessages": "2"}}
    script: Script = [(503, _error("ServiceUnavailable")), (200, attributes)]
    with fake_server(_scripted(script)) as server, _fake_queue(server.url) as queue:
        assert queue.get_queue_info()["visible_messages"] == 2
        dates = [seen.headers["Authorization"] for seen in server.seen]
        assert len(dates) == 2
        assert all(
            seen.headers["X-Amz-Target"] == "AmazonSQS.GetQueueAttributes" for seen in server.seen
        )
    throttled: Script = [(400, _error("RequestThrottled")), (200, {"Successful": [{"Id": "0"}]})]
    with fake_server(_scripted(throttled)) as server, _fake_queue(server.url) as queue:
        assert queue.add_message({"a": 1}, item_id="t") == "t"
        assert len(server.seen) == 2


def test_a_send_is_not_repeated_after_a_5xx() -> None:
    script: Script = [(500, _error("InternalError", "boom"))]
    with fake_server(_scripted(script)) as server, _fake_queue(server.url) as queue:
        with pytest.raises(RemoteError, match="InternalError: boom") as caught:
            queue.add_message({"a": 1})
        assert caught.value.status == 500
        assert len(server.seen) == 1


def test_retries_stop_after_the_last_attempt() -> None:
    script: Script = [(503, _error("ServiceUnavailable"))] * 4
    with fake_server(_scripted(script)) as server, _fake_queue(server.url) as queue:
        with pytest.raises(RemoteError, match="ServiceUnavailable"):
            queue.get_queue_info()
        assert len(server.seen) == 4


def test_errors_map_to_the_hierarchy_without_echoing_handles() -> None:
    handle = "secret-receipt-handle-value"
    script: Script = [
        (400, _error("PurgeQueueInProgress", "Only one PurgeQueue every 60 seconds")),
        (403, _error("AccessDeniedException", "not allowed for arn:...")),
        (400, _error("ReceiptHandleIsInvalid", f'The handle "{handle}" is not valid')),
        (400, _error("InvalidParameterValue", "Value 99 for parameter X is invalid")),
        (403, {"__type": "Whatever"}),
    ]
    with fake_server(_scripted(script)) as server, _fake_queue(server.url) as queue:
        with pytest.raises(RequestRejectedError, match=r"'jobs'.*one purge per queue every 60 s"):
            queue.clear_queue()
        with pytest.raises(PermissionDeniedError) as denied:
            queue.get_queue_attributes()
        assert "arn" not in str(denied.value)
        with pytest.raises(RequestRejectedError, match="ReceiptHandleIsInvalid") as caught:
            queue._queue.change_visibility([handle], 5)  # one entry: the batch call
        assert handle not in str(caught.value) + caught.value.detail
        with pytest.raises(RequestRejectedError, match="Value 99"):
            queue.add_message({"a": 1})
        with pytest.raises(AuthenticationError):
            queue.get_queue_info()


def test_xml_errors_and_unreadable_answers() -> None:
    xml = (
        b"<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>The token is "
        b"invalid</Message></Error></Errors></ErrorResponse>"
    )
    answers = iter(
        [(403, "text/html", xml), (200, "text/html", b"<html>"), (500, "text/html", b"<html>")]
    )
    with fake_server(lambda seen: next(answers)) as server, _fake_queue(server.url) as queue:
        with pytest.raises(AuthenticationError, match="InvalidClientTokenId"):
            queue.get_queue_info()
        with pytest.raises(RemoteError, match="not a JSON object"):
            queue.receive_messages()
        with pytest.raises(RemoteError, match="HTTP 500"):
            queue.add_message({"a": 1})


def test_a_partial_send_failure_names_the_ids_that_failed() -> None:
    answer = {
        "Successful": [{"Id": "0"}],
        "Failed": [{"Id": "1", "Code": "InvalidMessageContents", "SenderFault": True}],
    }
    refused = pytest.raises(RequestRejectedError, match=r"refused 1 of 2 .*\['b'\]")
    with fake_server(_scripted([(200, answer)])) as server, _fake_queue(server.url) as q, refused:
        q.add_messages([{"a": 1}, {"b": 2}], ["a", "b"])


def test_a_lost_connection_is_retried_only_where_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_server(_scripted([])) as server:
        url = server.url
    # the server is gone: nothing answers there
    queue = _fake_queue(url)
    attempts: List[str] = []
    original = _client(queue).transport.send

    def counting(call: Any) -> Any:
        attempts.append(dict(call.headers)["X-Amz-Target"])
        return original(call)

    monkeypatch.setattr(_client(queue).transport, "send", counting)
    with queue:
        assert not queue.health_check()
        assert attempts == ["AmazonSQS.GetQueueAttributes"] * 4
        attempts.clear()
        with pytest.raises(RemoteError, match="SQS ReceiveMessage on queue 'jobs' got no answer"):
            queue.receive_messages()
        assert attempts == ["AmazonSQS.ReceiveMessage"]


def test_queue_names_follow_next_tokens_and_a_dead_store_is_unhealthy() -> None:
    base = "http://127.0.0.1:1/123456789012/"
    script: Script = [
        (200, {"QueueUrls": [base + "b", base + "a"], "NextToken": "more"}),
        (200, {"QueueUrls": [base + "c"]}),
    ]
    with fake_server(_scripted(script)) as server, _fake_queue(server.url) as queue:
        assert queue._store.queue_names() == ["a", "b", "c"]
        assert json.loads(server.seen[1].body)["NextToken"] == "more"
        url = server.url
    with _fake_queue(url) as gone:
        assert not gone._store.health_check()


def test_a_redrive_send_that_fails_leaves_the_message_in_the_dead_letter_queue() -> None:
    message = {"MessageId": "m", "ReceiptHandle": "h", "Body": "{}"}
    script: Script = [
        (200, {"queueUrls": ["http://127.0.0.1:1/123456789012/work"]}),
        (200, {"Messages": [message]}),
        (200, {"Successful": [], "Failed": [{"Id": "0", "Code": "InternalError"}]}),
    ]
    with fake_server(_scripted(script)) as server, _fake_queue(server.url) as queue:
        with pytest.raises(RemoteError, match="refused to send 1 message\\(s\\) back to 'work'"):
            queue.redrive_messages()
        assert len(server.seen) == 3  # nothing deleted


def test_odd_values_from_a_server_are_read_safely() -> None:
    now = utc_now()
    assert sqs._time_of("not a number", now) == format_time(now)
    assert sqs._time_of("1000", now) == "1970-01-01T00:00:01.000000"
    assert sqs._redrive_policy("not json") == {}
    assert sqs._redrive_policy("[1]") == {}
    assert sqs._body_of("[1, 2]") == {"body": "[1, 2]"}
    assert sqs._xml_text("<Code>Throttling</Code>", "Code") == "Throttling"
    assert sqs._xml_text("<Code>cut", "Code") == ""


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/jobs", "eu-west-1"),
        ("https://ap-south-1.queue.amazonaws.com/123456789012/jobs", "ap-south-1"),
        ("http://127.0.0.1:4566/000000000000/jobs", None),
        ("https://sqs.example.com/1/jobs", None),
    ],
)
def test_the_region_hint_of_a_queue_url(url: str, region: Optional[str]) -> None:
    assert sqs._region_hint(url) == region


# -- the worker on Amazon SQS -------------------------------------------------------------------


def test_the_worker_handles_retries_and_dead_letters_on_sqs(open_sqs: Opener) -> None:
    dead = open_sqs()
    work = open_sqs()
    work.set_queue_attributes(
        max_receive_count=2, dead_letter_queue=dead.get_queue_info()["queue_name"]
    )
    work.add_messages([{"n": n} for n in range(12)], [f"m{n:02}" for n in range(12)])
    calls: List[Tuple[str, int]] = []
    lock = threading.Lock()

    def handle(message: Any) -> None:
        with lock:
            calls.append((message["Id"], message["receive_count"]))
        if message["Id"] == "m03" and message["receive_count"] == 1:
            raise RuntimeError("fails once, then succeeds")
        if message["Id"] == "m07":
            raise RuntimeError("always fails")

    worker = Worker(work, handle, concurrency=3, retry_delay=0, stop_when_empty=True)
    result = worker.run()
    assert (result["succeeded"], result["failed"], result["stale"]) == (11, 3, 0)
    assert sorted(calls) == sorted([(f"m{n:02}", 1) for n in range(12)] + [("m03", 2), ("m07", 2)])
    assert work.get_queue_info()["message_count"] == 0
    moved = dead.receive_messages(max_messages=10)
    assert [m["Id"] for m in moved] == ["m07"]


def test_the_command_line_reaches_sqs_through_the_environment(
    open_sqs: Opener,
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = open_sqs().get_queue_info()["queue_name"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.credentials.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto.url)
    assert (
        cli.main(["send", '{"task": "a"}', "--id", "c1", "--queue", f"sqs://{REGION}/{name}"]) == 0
    )
    assert cli.main(["receive", "--json", "--wait", "1", "--queue", f"sqs://{REGION}/{name}"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    received = json.loads(line)
    assert (received["Id"], received["message_body"]) == ("c1", {"task": "a"})
