"""Bad arguments: a ``ValidationError`` (a ``ValueError``) and nothing written.

Arguments are checked by ``PyQueue`` itself, before any backend is called, so the cases run once,
on the memory backend (``memory_queue``). The last test shows every backend of the contract
suite sits behind that same check: one bad argument of each kind gets the same error on each
backend as on memory, and changes nothing there.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

from pyqueue_client import PyQueue, ValidationError

from .conftest import BACKENDS, FakeClock


@pytest.fixture
def memory_queue(tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    """A fresh memory queue, made as the contract suite makes it."""
    with BACKENDS["memory"](tmp_path, clock) as made:
        yield made


# -- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"bad": {1, 2}},
        {"when": datetime(2026, 1, 1)},
        {"nan": float("nan")},
        {"inf": float("inf")},
        ["not", "a", "dict"],
        "a string",
        None,
    ],
)
def test_bad_bodies_are_rejected(memory_queue: PyQueue, body: Any) -> None:
    queue = memory_queue
    with pytest.raises(ValidationError) as caught:
        queue.add_message(body)
    assert isinstance(caught.value, ValueError)
    assert queue.get_messages() == []
    queue.add_message({"ok": 1}, item_id="x")
    with pytest.raises(ValidationError):
        queue.update_message("x", body)
    stored = queue.get_message("x")
    assert stored is not None
    assert stored["message_body"] == {"ok": 1}


def test_add_messages_is_all_or_nothing(memory_queue: PyQueue) -> None:
    with pytest.raises(ValidationError):
        memory_queue.add_messages([{"ok": 1}, {"bad": {1, 2}}])
    assert memory_queue.get_messages() == []


@pytest.mark.parametrize(
    ("messages", "item_ids"),
    [({"n": 1}, None), ([{"n": 1}], ["a", "b"]), ([{"n": 1}], "a"), (5, None)],
)
def test_add_messages_bad_shapes(memory_queue: PyQueue, messages: Any, item_ids: Any) -> None:
    with pytest.raises(ValidationError):
        memory_queue.add_messages(messages, item_ids)
    assert memory_queue.get_messages() == []


# -- ids and receipt handles -------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"id": ""}, {"id": 1.5}, {"id": True}, {"id": ["x"]}])
def test_bad_ids_in_bodies_are_rejected(memory_queue: PyQueue, body: Dict[str, Any]) -> None:
    queue = memory_queue
    with pytest.raises(ValidationError):
        queue.add_message(body)
    assert queue.get_messages() == []
    assert queue.add_message(body, item_id="explicit") == "explicit"  # an explicit id wins


@pytest.mark.parametrize("bad_id", ["", 5, None, b"bytes"])
def test_bad_ids_are_rejected(memory_queue: PyQueue, bad_id: Any) -> None:
    queue = memory_queue
    if bad_id is not None:  # None is a valid item_id for add_message: it picks one
        with pytest.raises(ValidationError):
            queue.add_message({"n": 1}, item_id=bad_id)
    for method in (queue.get_message, queue.has_message, queue.remove_message):
        with pytest.raises(ValidationError):
            method(bad_id)
    with pytest.raises(ValidationError):
        queue.update_message(bad_id, {"n": 1})
    assert queue.get_messages() == []


@pytest.mark.parametrize("ids", ["msg-1", 5, None, ["ok", 3]])
def test_check_existence_bad_ids(memory_queue: PyQueue, ids: Any) -> None:
    with pytest.raises(ValidationError):
        memory_queue.check_existence(ids)


def test_bad_handle_types(memory_queue: PyQueue) -> None:
    with pytest.raises(ValidationError):
        memory_queue.delete_message(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        memory_queue.delete_messages("receipt_x")


# -- receive and peek arguments ----------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_messages": 0},
        {"max_messages": 101},
        {"max_messages": -1},
        {"max_messages": "5"},
        {"max_messages": 2.0},
        {"max_messages": True},
        {"visibility_timeout": -1},
        {"visibility_timeout": 43201},
        {"visibility_timeout": float("nan")},
        {"visibility_timeout": "30"},
        {"delete_after_receive": "yes"},
        {"only_new": None},
    ],
)
def test_receive_arguments_out_of_range(memory_queue: PyQueue, arguments: Dict[str, Any]) -> None:
    queue = memory_queue
    queue.add_message({"n": 1}, item_id="a")
    with pytest.raises(ValidationError):
        queue.receive_messages(**arguments)
    stored = queue.get_message("a")
    assert stored is not None
    assert stored["receive_count"] == 0


@pytest.mark.parametrize(
    "arguments",
    [{"max_messages": -1}, {"max_messages": "3"}, {"max_messages": 1.5}, {"offset": -1}],
)
def test_get_messages_bad_limit_or_offset(memory_queue: PyQueue, arguments: Dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        memory_queue.get_messages(**arguments)


# -- every backend is behind the same check ----------------------------------------------------


def _one_bad_call_of_each_kind(queue: PyQueue) -> List[Tuple[str, Callable[[], object]]]:
    """Named calls, each with one bad argument, on a queue holding message ``a``."""
    return [
        ("body", lambda: queue.add_message({"nan": float("nan")})),
        ("id", lambda: queue.add_message({"n": 2}, item_id="")),
        ("id in a body", lambda: queue.add_messages([{"n": 2}, {"id": True}])),
        ("update", lambda: queue.update_message("a", {"bad": {1, 2}})),
        ("max_messages", lambda: queue.receive_messages(max_messages=101)),
        ("visibility", lambda: queue.receive_messages(visibility_timeout=float("nan"))),
        ("peek", lambda: queue.get_messages(-1)),
        ("lookup", lambda: queue.check_existence("a")),
        ("handles", lambda: queue.delete_messages("receipt_x")),
    ]


def _errors(queue: PyQueue) -> Dict[str, str]:
    """Each bad call's ``ValidationError`` message, by name."""
    errors: Dict[str, str] = {}
    for name, call in _one_bad_call_of_each_kind(queue):
        with pytest.raises(ValidationError) as caught:
            call()
        errors[name] = str(caught.value)
    return errors


def test_every_backend_refuses_bad_arguments_as_the_memory_queue_does(
    queue: PyQueue, tmp_path: Path, clock: FakeClock
) -> None:
    """Each backend raises the memory queue's very ``ValidationError`` for each bad call, and
    its queue is unchanged: message ``a`` never received, with its body, and nothing added."""
    memory_folder = tmp_path / "memory"
    memory_folder.mkdir()
    with BACKENDS["memory"](memory_folder, clock) as memory:
        memory.add_message({"n": 1}, item_id="a")
        expected = _errors(memory)
    queue.add_message({"n": 1}, item_id="a")
    assert _errors(queue) == expected
    stored = queue.get_messages()
    assert [message["id"] for message in stored] == ["a"]
    assert stored[0]["message_body"] == {"n": 1}
    assert stored[0]["receive_count"] == 0


# -- limits where a message enters ----------------------------------------------------------------


def _nested(depth: int) -> Dict[str, Any]:
    body: Dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        body = {"a": body}
    return body


def test_bodies_nest_at_most_64_deep(memory_queue: PyQueue) -> None:
    memory_queue.add_message(_nested(64), item_id="deep-enough")
    memory_queue.add_message({"text": "[" * 500 + "{" * 500}, item_id="brackets-in-text")
    for poison in (_nested(65), _nested(977)):
        with pytest.raises(ValidationError, match="nested more than 64"):
            memory_queue.add_message(poison)
        with pytest.raises(ValidationError, match="nested more than 64"):
            memory_queue.update_message("deep-enough", poison)
    assert memory_queue.check_existence(["deep-enough", "brackets-in-text"]) == [
        "deep-enough",
        "brackets-in-text",
    ]


@pytest.mark.parametrize(
    ("item_id", "message"),
    [
        ("x" * 513, "at most 512 bytes"),
        ("é" * 257, "at most 512 bytes"),
        ("a\x00b", "control characters"),
        ("line\nbreak", "control characters"),
        ("del\x7f", "control characters"),
    ],
)
def test_ids_are_short_and_printable(memory_queue: PyQueue, item_id: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        memory_queue.add_message({"n": 1}, item_id=item_id)
    with pytest.raises(ValidationError, match=message):
        memory_queue.add_message({"id": item_id})
    assert memory_queue.get_queue_info()["message_count"] == 0
    memory_queue.add_message({"n": 1}, item_id="é" * 256)  # 512 bytes: the limit itself


def test_an_unreadable_stored_body_is_skipped_not_fatal(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A body stored before the nesting limit, too deep to read back: the receive delivers the
    other messages and reports the bad one."""
    path = tmp_path / "queue.db"
    queue = PyQueue(path, queue_type="sqlite", clock=clock)
    queue.add_messages([{"n": 1}, {"n": 2}, {"n": 3}], ["a", "poison", "c"])
    # deeper than json.loads reads on every version (3.12 and 3.13 read a few thousand levels)
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    with sqlite3.connect(path) as db:
        db.execute("UPDATE messages SET body = ? WHERE id = 'poison'", (deep,))
    db.close()
    with caplog.at_level("ERROR", logger="pyqueue_client.sqlite"):
        received = queue.receive_messages(max_messages=10)
    assert [m["Id"] for m in received] == ["a", "c"]
    assert "message poison cannot be read back" in caplog.text
    queue.close()
