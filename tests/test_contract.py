"""The contract every backend fulfils (DESIGN.md section 2); the original README's examples, which
every backend runs too, are in ``test_readme.py``.

Each test runs once per backend through the ``queue`` fixture (see ``conftest.BACKENDS``); time
moves only when a test advances the fake ``clock``. Bad arguments are refused before any backend
is called, so those cases run once, in ``test_validation.py``.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from pyqueue_client import PyQueue, copy_queue

from .conftest import BACKENDS, ISO_MICROSECONDS, FakeClock, ids_of

# -- ids and adding ----------------------------------------------------------------------------


def test_id_comes_from_body_when_not_given(queue: PyQueue) -> None:
    assert queue.add_message({"id": "from-body", "x": 1}) == "from-body"
    assert queue.add_message({"id": 42}) == "42"
    assert queue.add_message({"id": "ignored"}, item_id="explicit") == "explicit"
    assert queue.check_existence(["from-body", "42", "explicit", "ignored"]) == [
        "from-body",
        "42",
        "explicit",
    ]


def test_add_existing_id_is_idempotent(queue: PyQueue) -> None:
    assert queue.add_message({"v": 1}, item_id="same") == "same"
    assert queue.add_message({"v": 2}, item_id="same") == "same"
    stored = queue.get_messages()
    assert len(stored) == 1
    assert stored[0]["message_body"] == {"v": 1}


def test_add_messages_batch(queue: PyQueue) -> None:
    ids = queue.add_messages([{"n": 0}, {"id": "body-id"}, {"n": 2}], ["given", None, None])
    assert ids[:2] == ["given", "body-id"]
    assert len(set(ids)) == 3
    assert ids_of(queue.get_messages()) == ids
    again = queue.add_messages([{"n": 9}, {"n": 10}], ["given", "fresh"])
    assert again == ["given", "fresh"]
    assert len(queue.get_messages()) == 4
    assert queue.add_messages([]) == []


def test_unicode_and_nested_bodies_round_trip(queue: PyQueue) -> None:
    body = {
        "text": "héllo wörld ✓ 中文 😀",
        "nested": {"list": [1, 2.5, None, True, {"deep": ["x" * 3]}], "empty": {}},
        "escapes": 'quote " backslash \\ newline \n tab \t',
        "big": 2**62,
        "neg": -0.001,
    }
    queue.add_message(body, item_id="ü-id")
    assert queue.get_messages()[0]["message_body"] == body
    received = queue.receive_messages()
    assert received[0]["message_body"] == body
    assert received[0]["Id"] == "ü-id"


def test_returned_bodies_are_copies(queue: PyQueue) -> None:
    body: Dict[str, Any] = {"list": [1]}
    queue.add_message(body, item_id="a")
    body["list"].append(2)
    peeked = queue.get_messages()[0]["message_body"]
    peeked["list"].append(3)
    received = queue.receive_messages()[0]["message_body"]
    received["list"].append(4)
    stored = queue.get_message("a")
    assert stored is not None
    assert stored["message_body"] == {"list": [1]}


def test_fifo_order_over_1000_messages(queue: PyQueue) -> None:
    ids = queue.add_messages([{"n": n} for n in range(1000)], [f"m{n:04}" for n in range(1000)])
    order: List[str] = []
    while True:
        batch = queue.receive_messages(max_messages=7)
        if not batch:
            break
        order.extend(ids_of(batch))
        result = queue.delete_messages([m["ReceiptHandle"] for m in batch])
        assert len(result["Successful"]) == len(batch)
    assert order == ids


# -- receiving ---------------------------------------------------------------------------------


def test_receive_respects_max_and_order(queue: PyQueue) -> None:
    for n in range(5):
        queue.add_message({"n": n}, item_id=f"m{n}")
    assert ids_of(queue.receive_messages(max_messages=2)) == ["m0", "m1"]
    assert ids_of(queue.receive_messages(max_messages=2)) == ["m2", "m3"]
    assert ids_of(queue.receive_messages(max_messages=10)) == ["m4"]
    assert queue.receive_messages() == []


def test_receive_on_empty_queue(queue: PyQueue) -> None:
    assert queue.receive_messages() == []
    assert queue.receive_messages(only_new=True, delete_after_receive=True) == []


def test_zero_visibility_timeout_keeps_message_visible(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="a")
    first = queue.receive_messages(visibility_timeout=0)
    second = queue.receive_messages(visibility_timeout=0)
    assert ids_of(first) == ids_of(second) == ["a"]
    assert second[0]["receive_count"] == 2
    assert first[0]["ReceiptHandle"] != second[0]["ReceiptHandle"]


def test_expired_messages_come_back_first(queue: PyQueue, clock: FakeClock) -> None:
    for name in "abc":
        queue.add_message({"n": name}, item_id=name)
    queue.receive_messages(max_messages=1, visibility_timeout=5)
    queue.receive_messages(max_messages=1, visibility_timeout=50)
    clock.advance(5)
    assert ids_of(queue.receive_messages(max_messages=10, visibility_timeout=100)) == ["a", "c"]


def test_fractional_visibility_timeout(queue: PyQueue, clock: FakeClock) -> None:
    """Fractions of a second count; over HTTP they round up to whole seconds (the wire's unit)."""
    hidden_for = 1.0 if queue.queue_type == "remote" else 0.5
    queue.add_message({"n": 1}, item_id="a")
    queue.receive_messages(visibility_timeout=0.5)
    clock.advance(hidden_for - 0.1)
    assert queue.receive_messages() == []
    clock.advance(0.1)
    assert ids_of(queue.receive_messages()) == ["a"]


def test_receive_timestamps_are_naive_utc_iso_with_microseconds(queue: PyQueue) -> None:
    queue.add_message({"n": 1})
    message = queue.receive_messages(visibility_timeout=30)[0]
    stored = queue.get_messages()[0]
    for text in (message["timestamp"], message["first_received_at"], stored["invisible_until"]):
        assert text is not None
        parsed = datetime.strptime(text, ISO_MICROSECONDS)
        assert parsed.tzinfo is None


# -- receipt handles ----------------------------------------------------------------------------


def test_stale_receipt_handle_deletes_nothing(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_message({"n": 1}, item_id="a")
    old = queue.receive_messages(visibility_timeout=10)[0]["ReceiptHandle"]
    clock.advance(10)
    new = queue.receive_messages(visibility_timeout=10)[0]["ReceiptHandle"]
    assert old != new
    assert queue.delete_message(old) is False
    assert queue.has_message("a")
    assert queue.delete_message(new) is True
    assert not queue.has_message("a")


def test_handle_still_valid_after_timeout_until_received_again(
    queue: PyQueue, clock: FakeClock
) -> None:
    queue.add_message({"n": 1}, item_id="a")
    handle = queue.receive_messages(visibility_timeout=10)[0]["ReceiptHandle"]
    clock.advance(3600)
    assert queue.delete_message(handle) is True


def test_unknown_handles_and_ids(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="a")
    assert queue.delete_message("receipt_unknown") is False
    assert queue.delete_message("a") is False  # an id is not a receipt handle
    assert queue.delete_message("") is False
    assert queue.has_message("a")


def test_handles_are_unique_and_unguessable(queue: PyQueue) -> None:
    queue.add_messages([{"n": n} for n in range(50)])
    handles: Set[str] = set()
    for _ in range(4):
        handles.update(
            m["ReceiptHandle"]
            for m in queue.receive_messages(max_messages=50, visibility_timeout=0)
        )
    assert len(handles) == 200
    assert all(len(handle) >= len("receipt_") + 22 for handle in handles)  # >= 128 random bits


def test_remove_invalidates_handle(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="a")
    handle = queue.receive_messages()[0]["ReceiptHandle"]
    assert queue.remove_message("a")
    queue.add_message({"n": 2}, item_id="a")
    assert queue.delete_message(handle) is False
    assert queue.has_message("a")


def test_clear_invalidates_handles(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="a")
    handle = queue.receive_messages()[0]["ReceiptHandle"]
    queue.clear_queue()
    queue.add_message({"n": 1}, item_id="a")
    assert queue.delete_message(handle) is False


def test_delete_messages_reports_each_handle(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_messages([{"n": n} for n in range(4)], ["a", "b", "c", "d"])
    received = queue.receive_messages(max_messages=4, visibility_timeout=10)
    handles = [m["ReceiptHandle"] for m in received]
    clock.advance(10)
    fresh = queue.receive_messages(max_messages=1, visibility_timeout=10)[0]["ReceiptHandle"]
    result = queue.delete_messages([handles[1], handles[0], "bogus", handles[1], fresh, handles[3]])
    assert result["Successful"] == [handles[1], fresh, handles[3]]
    assert result["Failed"] == [
        {"ReceiptHandle": handles[0], "reason": "not_found"},  # stale: "a" was received again
        {"ReceiptHandle": "bogus", "reason": "not_found"},
        {"ReceiptHandle": handles[1], "reason": "not_found"},  # already deleted
    ]
    assert ids_of(queue.get_messages()) == ["c"]


def test_delete_messages_never_raises_for_bad_values(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="a")
    handle = queue.receive_messages()[0]["ReceiptHandle"]
    result = queue.delete_messages([None, 7, "", handle])  # type: ignore[list-item]
    assert result["Successful"] == [handle]
    assert [failure["reason"] for failure in result["Failed"]] == ["invalid"] * 3
    assert queue.delete_messages([]) == {"Successful": [], "Failed": []}


# -- counting and tracking ----------------------------------------------------------------------


def test_receive_count_and_first_received_at_track_deliveries(
    queue: PyQueue, clock: FakeClock
) -> None:
    queue.add_message({"n": 1}, item_id="a")
    first = queue.receive_messages(visibility_timeout=1)[0]
    for expected in (2, 3):
        clock.advance(1)
        again = queue.receive_messages(visibility_timeout=1)[0]
        assert again["receive_count"] == expected
        assert again["first_received_at"] == first["first_received_at"]
    stored = queue.get_message("a")
    assert stored is not None
    assert stored["receive_count"] == 3
    info = queue.get_queue_info()
    assert (info["total_receives"], info["never_received"]) == (3, 0)


def test_never_received_counts(queue: PyQueue) -> None:
    queue.add_messages([{"n": n} for n in range(8)])
    queue.receive_messages(max_messages=3)
    info = queue.get_queue_info()
    assert info["never_received"] == 5
    assert info["invisible_messages"] == 3
    assert info["visible_messages"] == 5


# -- arguments at their limits -------------------------------------------------------------------


def test_receive_range_edges_are_accepted(queue: PyQueue) -> None:
    queue.add_messages([{"n": n} for n in range(150)])
    assert len(queue.receive_messages(max_messages=100, visibility_timeout=43200)) == 100
    assert len(queue.receive_messages(max_messages=1, visibility_timeout=0)) == 1


def test_bodies_are_stored_in_json_form(queue: PyQueue) -> None:
    queue.add_message({"tuple": (1, 2), 3: "int key"}, item_id="a")  # type: ignore[dict-item]
    stored = queue.get_message("a")
    assert stored is not None
    assert stored["message_body"] == {"tuple": [1, 2], "3": "int key"}


# -- threads -------------------------------------------------------------------------------------


def test_one_instance_shared_by_threads_delivers_exactly_once(queue: PyQueue) -> None:
    total = 400
    queue.add_messages([{"n": n} for n in range(total)], [f"m{n}" for n in range(total)])
    deleted: List[str] = []
    lock = threading.Lock()
    errors: List[BaseException] = []

    def consume() -> None:
        try:
            while True:
                batch = queue.receive_messages(max_messages=3, visibility_timeout=600)
                if not batch:
                    return
                for message in batch:
                    if queue.delete_message(message["ReceiptHandle"]):
                        with lock:
                            deleted.append(message["Id"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(deleted) == sorted(f"m{n}" for n in range(total))
    assert queue.get_messages() == []


def test_context_manager_and_close(queue: PyQueue) -> None:
    with queue as same:
        assert same is queue
        same.add_message({"n": 1}, item_id="a")
    queue.close()  # a second close is harmless
    assert "queue_type=" in repr(queue)


def test_json_dump_of_results(queue: PyQueue) -> None:
    """Everything returned is plain JSON data (users log and forward it)."""
    queue.add_message({"n": 1})
    json.dumps(queue.receive_messages(visibility_timeout=0))
    json.dumps(queue.get_messages())
    json.dumps(queue.get_queue_info())


def test_state_changes_are_logged_without_bodies(
    queue: PyQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pyqueue_client")
    queue.add_message({"secret": "s3cr3t-body"}, item_id="logged-id")
    handle = queue.receive_messages()[0]["ReceiptHandle"]
    queue.delete_message(handle)
    queue.add_message({"n": 1}, item_id="b")
    queue.update_message("b", {"n": 2})
    queue.remove_message("b")
    queue.add_message({"n": 1}, item_id="c")
    queue.receive_messages(delete_after_receive=True)
    queue.clear_queue()
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "message added: logged-id" in text
    assert "deleted via receipt handle" in text
    assert "message updated: b" in text
    assert "message removed: b" in text
    assert "deleted 1 message(s) on receive" in text
    assert "queue cleared" in text
    assert "s3cr3t" not in text
    assert handle not in text
    assert all(record.name.startswith("pyqueue_client") for record in caplog.records)


@pytest.mark.parametrize("target_kind", sorted(BACKENDS))
def test_copy_queue_keeps_ids_order_and_tracking(
    queue: PyQueue, clock: FakeClock, tmp_path: Path, target_kind: str
) -> None:
    """Ids, order and bodies always travel; tracking fields too, except into a remote queue,
    since the HTTP protocol can only add messages (they arrive there as never received); and
    receipt handles travel unless a remote queue is involved (a server never reveals them)."""
    queue.add_messages([{"n": n} for n in range(5)], [f"m{n}" for n in range(5)])
    in_flight = queue.receive_messages(max_messages=2, visibility_timeout=60)
    clock.advance(1)
    target_folder = tmp_path / "target"
    target_folder.mkdir()
    with BACKENDS[target_kind](target_folder, clock) as target:
        target.add_message({"already": True}, item_id="m4")
        assert copy_queue(queue, target) == 4
        assert copy_queue(queue, target) == 0  # ids already there are skipped
        copied = {message["id"]: message for message in target.get_messages()}
        assert list(copied) == ["m4", "m0", "m1", "m2", "m3"]
        assert copied["m4"]["message_body"] == {"already": True}
        assert [copied[f"m{n}"]["message_body"] for n in range(4)] == [{"n": n} for n in range(4)]
        if target.queue_type == "remote":
            assert copied["m0"]["receive_count"] == 0
        else:
            assert copied["m0"] == queue.get_message("m0")
            assert copied["m2"] == queue.get_message("m2")
        if "remote" not in (queue.queue_type, target.queue_type):
            assert target.delete_message(in_flight[0]["ReceiptHandle"])  # handles travel too
        assert target.receive_messages(max_messages=10) != []
    assert len(queue.get_messages()) == 5  # the source is unchanged


def test_get_messages_pages_with_offset(queue: PyQueue) -> None:
    queue.add_messages([{"n": n} for n in range(25)], [f"m{n:02}" for n in range(25)])
    pages = [queue.get_messages(10, offset=start) for start in (0, 10, 20, 30)]
    assert [len(page) for page in pages] == [10, 10, 5, 0]
    assert [m["id"] for page in pages for m in page] == [f"m{n:02}" for n in range(25)]
    assert [m["id"] for m in queue.get_messages(offset=23)] == ["m23", "m24"]
