"""Bad arguments: a ``ValidationError`` (a ``ValueError``) and nothing written.

Arguments are checked by ``PyQueue`` itself, before any backend is called, so the cases run once,
on the memory backend (``memory_queue``). The last test shows every backend of the contract
suite sits behind that same check: one bad argument of each kind gets the same error on each
backend as on memory, and changes nothing there.
"""

from __future__ import annotations

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
