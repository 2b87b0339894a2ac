"""What a worker needs from a queue, on every local backend with the fake clock: queue
attributes, delays, visibility changes, long polling, dead letters, redrive and retention."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from pyqueue_client import PyQueue, ValidationError

from .conftest import BACKENDS, DEFAULTS, FakeClock

#: Every backend of the contract suite (remote: a real ``pyqueue serve`` on the same clock).
LOCAL = sorted(BACKENDS)


@pytest.fixture(params=LOCAL)
def queue(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    """A fresh queue on each local backend."""
    with BACKENDS[request.param](tmp_path, clock) as made:
        yield made


def _dead_letter_queue(queue: PyQueue, tmp_path: Path) -> Tuple[PyQueue, str]:
    """A second queue of the same store, and its name as ``dead_letter_queue`` takes it."""
    name = str(tmp_path / "dead.json") if queue.queue_type == "local" else "dead"
    return queue._sibling(name), name


def _ids(messages: List[object]) -> List[str]:
    return [m["Id"] for m in messages]  # type: ignore[index]


# -- attributes -----------------------------------------------------------------------------------


def test_attributes_default_and_change_one_at_a_time(queue: PyQueue, tmp_path: Path) -> None:
    assert queue.get_queue_attributes() == DEFAULTS
    changed = queue.set_queue_attributes(visibility_timeout=5, delay_seconds=2)
    assert changed == {**DEFAULTS, "visibility_timeout": 5, "delay_seconds": 2}
    assert queue.set_queue_attributes(retention_seconds=3600)["visibility_timeout"] == 5
    assert queue.set_queue_attributes(retention_seconds=None)["retention_seconds"] is None
    _, dead = _dead_letter_queue(queue, tmp_path)
    both = queue.set_queue_attributes(max_receive_count=3, dead_letter_queue=dead)
    assert (both["max_receive_count"], both["dead_letter_queue"]) == (3, dead)
    assert queue.get_queue_attributes() == both


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"visibility_timeout": 43201}, "visibility_timeout must be between 0 and 43200"),
        ({"visibility_timeout": -1}, "visibility_timeout must be between"),
        ({"delay_seconds": 901}, "delay_seconds must be between 0 and 900"),
        ({"wait_time_seconds": 21}, "wait_time_seconds must be between 0 and 20"),
        ({"retention_seconds": 59}, "retention_seconds must be between 60 and 1209600"),
        ({"max_receive_count": 0}, "max_receive_count must be between 1 and 1000"),
        ({"max_receive_count": 2}, "max_receive_count needs a dead_letter_queue"),
        ({"visibility_timeout": "5"}, "visibility_timeout must be a number of seconds"),
        ({"dead_letter_queue": ""}, "dead_letter_queue must be a non-empty string"),
        ({"delay_seconds": None}, "delay_seconds must be a number of seconds"),
    ],
)
def test_bad_attributes_are_refused_and_change_nothing(
    queue: PyQueue,
    changes: Dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ValidationError, match=message):
        queue.set_queue_attributes(**changes)
    assert queue.get_queue_attributes() == DEFAULTS


def test_a_queue_cannot_be_its_own_dead_letter_queue(queue: PyQueue) -> None:
    own = queue.queue_file if queue.queue_type == "local" else queue.queue_name
    assert own is not None
    with pytest.raises(ValidationError, match="must be another queue"):
        queue.set_queue_attributes(max_receive_count=1, dead_letter_queue=own)


def test_attributes_reach_every_instance_of_the_queue(tmp_path: Path, clock: FakeClock) -> None:
    """An instance opened before the change obeys it (file-backed queues)."""
    for path, kind in [(tmp_path / "q.json", "local"), (tmp_path / "q.db", "sqlite")]:
        first = PyQueue(path, queue_type=kind, clock=clock)  # type: ignore[call-overload]
        second = PyQueue(path, queue_type=kind, clock=clock)  # type: ignore[call-overload]
        second.get_queue_attributes()
        first.set_queue_attributes(visibility_timeout=7, delay_seconds=4)
        second.add_message({"n": 1}, item_id="a")
        assert second.receive_messages() == []  # the delay is the queue's, not the instance's
        clock.advance(4)
        [got] = second.receive_messages()
        stored = second.get_message("a")
        assert stored is not None
        hidden_until = clock.now + timedelta(seconds=7)  # the queue's visibility timeout
        assert stored["invisible_until"] == hidden_until.isoformat(timespec="microseconds")
        assert got["Id"] == "a"
        first.close()
        second.close()


# -- delays ---------------------------------------------------------------------------------------


def test_a_delayed_message_waits_hidden_and_never_received(
    queue: PyQueue, clock: FakeClock
) -> None:
    queue.add_message({"n": 1}, item_id="later", delay_seconds=10)
    queue.add_message({"n": 2}, item_id="now")
    info = queue.get_queue_info()
    assert (info["delayed_messages"], info["invisible_messages"], info["visible_messages"]) == (
        1,
        1,
        1,
    )
    assert info["visible_messages"] + info["invisible_messages"] == info["message_count"]
    assert _ids(queue.receive_messages()) == ["now"]  # type: ignore[arg-type]
    stored = queue.get_message("later")
    assert stored is not None
    assert stored["receive_count"] == 0
    clock.advance(9.9)
    assert queue.receive_messages() == []
    clock.advance(0.1)
    [got] = queue.receive_messages()
    assert (got["Id"], got["receive_count"]) == ("later", 1)
    assert queue.get_queue_info()["delayed_messages"] == 0


def test_the_queues_delay_applies_unless_the_call_says_otherwise(
    queue: PyQueue, clock: FakeClock
) -> None:
    queue.set_queue_attributes(delay_seconds=30)
    queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"])
    queue.add_message({"n": 3}, item_id="c", delay_seconds=0)
    assert _ids(queue.receive_messages(visibility_timeout=100)) == ["c"]  # type: ignore[arg-type]
    clock.advance(30)
    assert _ids(queue.receive_messages()) == ["a", "b"]  # type: ignore[arg-type]


def test_bad_delays_are_refused(queue: PyQueue) -> None:
    for bad in (-1, 901, float("nan"), "5", True):
        with pytest.raises(ValidationError, match="delay_seconds"):
            queue.add_message({"n": 1}, delay_seconds=bad)  # type: ignore[arg-type]
    assert queue.get_queue_info()["message_count"] == 0


# -- visibility -----------------------------------------------------------------------------------


def test_the_queues_visibility_timeout_is_the_default(queue: PyQueue, clock: FakeClock) -> None:
    queue.set_queue_attributes(visibility_timeout=5)
    queue.add_message({"n": 1}, item_id="a")
    assert len(queue.receive_messages()) == 1
    clock.advance(4)
    assert queue.receive_messages() == []
    clock.advance(1)
    assert _ids(queue.receive_messages(visibility_timeout=100)) == ["a"]  # type: ignore[arg-type]
    clock.advance(99)
    assert queue.receive_messages() == []


def test_visibility_changes_count_from_now(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"])
    a, b = queue.receive_messages(visibility_timeout=10)
    clock.advance(8)
    assert queue.change_message_visibility(a["ReceiptHandle"], 10) is True  # until 18
    assert queue.change_message_visibility(b["ReceiptHandle"], 0) is True  # a nack
    assert _ids(queue.receive_messages()) == ["b"]  # type: ignore[arg-type]
    clock.advance(9)
    assert queue.receive_messages() == []
    clock.advance(1)
    assert _ids(queue.receive_messages()) == ["a"]  # type: ignore[arg-type]


def test_only_the_latest_handle_changes_visibility(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_message({"n": 1}, item_id="a")
    [first] = queue.receive_messages(visibility_timeout=1)
    clock.advance(1)
    [second] = queue.receive_messages(visibility_timeout=30)
    assert queue.change_message_visibility(first["ReceiptHandle"], 0) is False
    assert queue.change_message_visibility("receipt_unknown_1", 0) is False
    result = queue.change_messages_visibility(
        [first["ReceiptHandle"], second["ReceiptHandle"], ""], 60
    )
    assert result == {
        "Successful": [second["ReceiptHandle"]],
        "Failed": [
            {"ReceiptHandle": first["ReceiptHandle"], "reason": "not_found"},
            {"ReceiptHandle": "", "reason": "invalid"},
        ],
    }
    clock.advance(59)
    assert queue.receive_messages() == []
    with pytest.raises(ValidationError, match="visibility_timeout"):
        queue.change_message_visibility(second["ReceiptHandle"], 43201)
    with pytest.raises(ValidationError, match="not one string"):
        queue.change_messages_visibility("abc", 1)


# -- long polling ---------------------------------------------------------------------------------


def test_a_waiting_receive_returns_at_once_when_a_message_is_there(queue: PyQueue) -> None:
    queue.add_message({"n": 1})
    started = time.monotonic()
    assert len(queue.receive_messages(wait_time_seconds=20)) == 1
    assert time.monotonic() - started < 5


def test_an_empty_wait_returns_nothing_at_its_deadline(queue: PyQueue) -> None:
    started = time.monotonic()
    assert queue.receive_messages(wait_time_seconds=0.3) == []
    assert 0.25 <= time.monotonic() - started < 5


def test_an_add_from_another_thread_wakes_the_waiter(queue: PyQueue) -> None:
    got: List[object] = []
    waiter = threading.Thread(
        target=lambda: got.extend(queue.receive_messages(wait_time_seconds=20))
    )
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    queue.add_message({"n": 1}, item_id="wake")
    waiter.join(10)
    assert not waiter.is_alive()
    assert _ids(got) == ["wake"]
    assert time.monotonic() - started < 5


def test_the_queues_wait_time_is_the_default(queue: PyQueue) -> None:
    queue.set_queue_attributes(wait_time_seconds=0.3)
    started = time.monotonic()
    assert queue.receive_messages() == []
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    assert queue.receive_messages(wait_time_seconds=0) == []
    assert time.monotonic() - started < 0.25
    with pytest.raises(ValidationError, match="wait_time_seconds must be between 0 and 20"):
        queue.receive_messages(wait_time_seconds=21)


def test_a_delay_that_ends_during_the_wait_wakes_the_waiter(tmp_path: Path) -> None:
    """On the real clock: the waiter sleeps until the hidden message's time, not to the end."""
    for path, kind in [(tmp_path / "q.json", "local"), (tmp_path / "q.db", "sqlite")]:
        with PyQueue(path, queue_type=kind, durable=False) as queue:  # type: ignore[call-overload]
            queue.add_message({"n": 1}, item_id="soon", delay_seconds=0.4)
            started = time.monotonic()
            assert _ids(queue.receive_messages(wait_time_seconds=10)) == ["soon"]
            assert 0.35 <= time.monotonic() - started < 5


# -- dead letters and redrive ---------------------------------------------------------------------


def test_a_message_received_too_often_moves_to_the_dead_letter_queue(
    queue: PyQueue, clock: FakeClock, tmp_path: Path
) -> None:
    dead, name = _dead_letter_queue(queue, tmp_path)
    queue.set_queue_attributes(max_receive_count=2, dead_letter_queue=name)
    queue.add_messages([{"n": 1}, {"n": 2}], ["poison", "good"])
    for _ in range(2):
        [got] = queue.receive_messages(max_messages=1, visibility_timeout=5)
        assert got["Id"] == "poison"
        clock.advance(5)
    # The receive that would deliver it a third time moves it, and goes on to the next.
    assert _ids(queue.receive_messages(max_messages=1)) == ["good"]  # type: ignore[arg-type]
    assert queue.check_existence(["poison", "good"]) == ["good"]
    [moved] = dead.get_messages()
    assert (moved["id"], moved["receive_count"], moved["message_body"]) == ("poison", 2, {"n": 1})
    assert moved["invisible_until"] is None
    records = dead._inspect("copy_queue").export_records()
    assert records[0]["current_receipt_handle"] is None
    if queue.queue_type != "remote":  # the REST listing does not carry a dead letter's source
        assert records[0].get("source_queue") == queue._name
    # redrive: back where it came from, as new
    assert dead.redrive_messages() == 1
    assert dead.get_queue_info()["message_count"] == 0
    [back] = queue.get_messages(1, offset=1)
    assert (back["id"], back["receive_count"], back["first_received_at"]) == ("poison", 0, None)


def test_redrive_moves_the_oldest_first_and_at_most_max_messages(
    queue: PyQueue, clock: FakeClock, tmp_path: Path
) -> None:
    dead, name = _dead_letter_queue(queue, tmp_path)
    queue.set_queue_attributes(max_receive_count=1, dead_letter_queue=name)
    queue.add_messages([{"n": n} for n in range(4)], ["a", "b", "c", "d"])
    queue.receive_messages(visibility_timeout=0)
    assert queue.receive_messages() == []  # all four moved
    assert [m["id"] for m in dead.get_messages()] == ["a", "b", "c", "d"]
    assert dead.redrive_messages(max_messages=3) == 3
    assert [m["id"] for m in dead.get_messages()] == ["d"]
    assert [m["id"] for m in queue.get_messages()] == ["a", "b", "c"]
    assert queue.redrive_messages() == 0  # not a dead-letter queue: nothing to move
    with pytest.raises(ValidationError):
        dead.redrive_messages(max_messages=-1)


def test_a_redriven_message_whose_id_is_back_already_is_not_doubled(
    queue: PyQueue, clock: FakeClock, tmp_path: Path
) -> None:
    dead, name = _dead_letter_queue(queue, tmp_path)
    queue.set_queue_attributes(max_receive_count=1, dead_letter_queue=name)
    queue.add_message({"v": 1}, item_id="a")
    queue.receive_messages(visibility_timeout=0)
    assert queue.receive_messages() == []
    queue.add_message({"v": 2}, item_id="a")  # the producer sent it again
    assert dead.redrive_messages() == 1
    assert [(m["id"], m["message_body"]) for m in queue.get_messages()] == [("a", {"v": 2})]
    assert dead.get_messages() == []


def test_without_a_dead_letter_queue_messages_come_back_forever(
    queue: PyQueue, clock: FakeClock
) -> None:
    queue.add_message({"n": 1}, item_id="a")
    for count in range(1, 6):
        [got] = queue.receive_messages(visibility_timeout=0)
        assert got["receive_count"] == count


# -- retention ------------------------------------------------------------------------------------


def test_messages_past_the_retention_are_dropped_never_delivered(
    queue: PyQueue, clock: FakeClock
) -> None:
    queue.add_message({"n": 1}, item_id="old")
    clock.advance(50)
    queue.add_message({"n": 2}, item_id="young")
    queue.set_queue_attributes(retention_seconds=60)
    clock.advance(11)
    assert _ids(queue.receive_messages()) == ["young"]  # type: ignore[arg-type]
    assert queue.check_existence(["old", "young"]) == ["young"]
