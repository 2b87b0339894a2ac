"""The local JSON backend's own promises: the file format, corrupt files, faults, durability."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

from pyqueue_client import (
    QUEUE_FILE_PATH,
    ConfigurationError,
    PyQueue,
    PyQueueError,
    QueueCorruptedError,
    QueuePathError,
    StorageError,
)
from pyqueue_client._backends import local_json
from pyqueue_client._storage import atomic

from .conftest import FakeClock

OLD_FORMAT = [
    {"id": "old-1", "timestamp": "2025-05-01T10:00:00.123456", "message_body": {"task": "a"}},
    {"id": "old-2", "timestamp": "2025-05-01T10:00:01", "message_body": {"task": "b"}},
]


def _queue(path: Path, clock: FakeClock, **options: Any) -> PyQueue:
    return PyQueue(queue_file=path, clock=clock, durable=False, **options)


# -- format -------------------------------------------------------------------------------------


def test_file_is_the_readme_format_one_message_per_line(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    queue = _queue(path, clock)
    queue.add_message({"task": "send_email", "user_id": 12345}, item_id="a")
    queue.add_message({"n": 2}, item_id="b")
    handle = queue.receive_messages(max_messages=1, visibility_timeout=60)[0]["ReceiptHandle"]
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == "["
    assert lines[-1] == "]"
    assert len(lines) == 4
    stored = json.loads(text)
    assert stored[0] == {
        "id": "a",
        "timestamp": "2026-01-22T12:00:00.000000",
        "message_body": {"task": "send_email", "user_id": 12345},
        "receive_count": 1,
        "first_received_at": "2026-01-22T12:00:00.000000",
        "invisible_until": "2026-01-22T12:01:00.000000",
        "current_receipt_handle": handle,
    }
    assert stored[1]["current_receipt_handle"] is None


@pytest.mark.parametrize("queue_type", ["local", "sqlite"])
def test_reading_a_queue_that_does_not_exist_creates_nothing(
    tmp_path: Path, clock: FakeClock, queue_type: str
) -> None:
    """A typo in a path must not leave files behind: only the first write creates the file
    (a JSON queue and its lock file, a SQLite database); a SQLite file is checked here too."""
    path = tmp_path / "queue.file"
    queue = PyQueue(path, queue_type=queue_type, clock=clock)  # type: ignore[call-overload]
    assert queue.get_messages() == []
    assert queue.get_message("a") is None
    assert queue.has_message("a") is False
    assert queue.check_existence(["a"]) == []
    assert queue.get_queue_info()["message_count"] == 0
    assert queue.health_check() is True
    assert queue.get_queue_attributes()["visibility_timeout"] == 30
    assert queue.redrive_messages() == 0
    assert queue._store.queue_names() == ([str(path)] if queue_type == "local" else [])
    assert list(tmp_path.iterdir()) == []
    queue.add_message({"n": 1}, item_id="a")
    assert path.exists()
    assert [m["id"] for m in queue.get_messages()] == ["a"]
    queue.close()


def test_empty_and_blank_files_are_empty_queues(tmp_path: Path, clock: FakeClock) -> None:
    for content in ("", "  \n\t"):
        path = tmp_path / "queue.json"
        path.write_text(content)
        queue = _queue(path, clock)
        assert queue.get_messages() == []
        assert queue.health_check() is True
        queue.add_message({"n": 1}, item_id="a")
        assert [m["id"] for m in json.loads(path.read_text())] == ["a"]


def test_old_format_is_upgraded_on_read(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    path.write_text(json.dumps(OLD_FORMAT, indent=4))  # as the original library wrote it
    queue = _queue(path, clock)
    stored = queue.get_messages()
    assert stored == [
        {
            "id": "old-1",
            "timestamp": "2025-05-01T10:00:00.123456",
            "message_body": {"task": "a"},
            "receive_count": 0,
            "first_received_at": None,
            "invisible_until": None,
        },
        {
            "id": "old-2",
            "timestamp": "2025-05-01T10:00:01",
            "message_body": {"task": "b"},
            "receive_count": 0,
            "first_received_at": None,
            "invisible_until": None,
        },
    ]
    received = queue.receive_messages(max_messages=10)
    assert [m["Id"] for m in received] == ["old-1", "old-2"]
    assert all("current_receipt_handle" in item for item in json.loads(path.read_text()))
    assert queue.delete_message(received[0]["ReceiptHandle"])


def test_reading_alone_does_not_rewrite_an_old_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    original = json.dumps(OLD_FORMAT, indent=4)
    path.write_text(original)
    queue = _queue(path, clock)
    queue.get_messages()
    queue.get_queue_info()
    assert queue.check_existence(["old-2"]) == ["old-2"]
    assert path.read_text() == original


def test_tracking_times_in_other_forms_are_normalized(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    item: Dict[str, Any] = dict(OLD_FORMAT[0])
    item.update(
        receive_count=2,
        first_received_at="2026-01-22T11:00:00Z",
        invisible_until="2026-01-22T13:00:00+01:00",  # = 12:00 UTC: visible now
        current_receipt_handle="receipt_old",
    )
    path.write_text(json.dumps([item]))
    queue = _queue(path, clock)
    stored = queue.get_message("old-1")
    assert stored is not None
    assert stored["first_received_at"] == "2026-01-22T11:00:00.000000"
    assert stored["invisible_until"] == "2026-01-22T12:00:00.000000"
    assert queue.delete_message("receipt_old") is True


def test_hand_edited_extra_keys_survive_writes(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    item = dict(OLD_FORMAT[0], note="kept")
    path.write_text(json.dumps([item]))
    queue = _queue(path, clock)
    queue.add_message({"n": 1}, item_id="new")
    assert json.loads(path.read_text())[0]["note"] == "kept"


def test_writes_reuse_untouched_lines(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    writer = _queue(path, clock)
    writer.add_messages([{"n": n} for n in range(5)], [f"m{n}" for n in range(5)])
    before = path.read_text().splitlines()
    other = _queue(path, clock)  # a second object: it must parse the file, then reuse lines
    other.remove_message("m2")
    after = path.read_text().splitlines()
    assert after == [*before[:3], before[4], *before[5:]]


def test_queue_file_path_environment_variable(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_FILE_PATH", str(tmp_path / "myqueue.json"))
    queue = PyQueue(queue_type="local", durable=False, clock=clock)
    queue.add_message({"n": 1})
    assert queue.queue_file == str(tmp_path / "myqueue.json")
    assert len(json.loads((tmp_path / "myqueue.json").read_text())) == 1
    assert isinstance(QUEUE_FILE_PATH, str)


def test_default_queue_file_is_queue_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_FILE_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    queue = PyQueue()
    assert queue.queue_file == "queue.json"
    assert not (tmp_path / "queue.json").exists()  # created by the first write
    queue.add_message({"n": 1})
    assert (tmp_path / "queue.json").exists()


def test_readme_quick_start_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    processed: List[Any] = []
    queue = PyQueue(queue_type="local", queue_file="queue.json")
    queue.add_message({"task": "send_email", "to": "user@example.com"})
    messages = queue.receive_messages(max_messages=5, visibility_timeout=30)
    for msg in messages:
        processed.append(msg["message_body"])
        queue.delete_message(msg["ReceiptHandle"])
    assert processed == [{"task": "send_email", "to": "user@example.com"}]
    info = queue.get_queue_info()
    assert info["queue_file"] == "queue.json"
    assert info["file_size"] == os.path.getsize(tmp_path / "queue.json")
    assert list(info) == [
        "queue_type",
        "queue_file",
        "message_count",
        "visible_messages",
        "invisible_messages",
        "never_received",
        "total_receives",
        "delayed_messages",
        "file_size",
    ]


# -- corrupt files: a typed error naming the file, and the bytes untouched ----------------------

_ITEM = b'{"id": "a", "timestamp": "t", "message_body": {}'

CORRUPT = {
    "truncated": b'[\n{"id": "a", "timestamp": "2026-01-22T12:00:00", "message_body": {"x"',
    "not a list": b'{"id": "a"}',
    "a number": b"42",
    "item not an object": b'[["a"]]',
    "item without id": b'[{"timestamp": "t", "message_body": {}}]',
    "empty id": b'[{"id": "", "timestamp": "t", "message_body": {}}]',
    "body not an object": b'[{"id": "a", "timestamp": "t", "message_body": "text"}]',
    "no timestamp": b'[{"id": "a", "message_body": {}}]',
    "bad receive count": b"[" + _ITEM + b', "receive_count": -1}]',
    "bool receive count": b"[" + _ITEM + b', "receive_count": true}]',
    "bad time": b"[" + _ITEM + b', "invisible_until": "soon"}]',
    "time not text": b"[" + _ITEM + b', "first_received_at": 5}]',
    "bad handle": b"[" + _ITEM + b', "current_receipt_handle": 1}]',
    "duplicate ids": b'[{"id": "a", "timestamp": "t", "message_body": {}},\n'
    b' {"id": "a", "timestamp": "t", "message_body": {}}]',
    "binary garbage": bytes(range(256)) * 4,
    "not utf-8": b'[{"id": "\xff", "timestamp": "t", "message_body": {}}]',
    "missing comma in line format": b'[\n{"id": "a", "timestamp": "t", "message_body": {}}\n'
    b'{"id": "b", "timestamp": "t", "message_body": {}}\n]\n',
}

OPERATIONS: List[Callable[[PyQueue], object]] = [
    lambda q: q.add_message({"n": 1}),
    lambda q: q.add_messages([{"n": 1}]),
    lambda q: q.get_messages(),
    lambda q: q.get_message("a"),
    lambda q: q.has_message("a"),
    lambda q: q.check_existence(["a"]),
    lambda q: q.receive_messages(),
    lambda q: q.delete_message("receipt_x"),
    lambda q: q.delete_messages(["receipt_x"]),
    lambda q: q.remove_message("a"),
    lambda q: q.update_message("a", {"n": 2}),
    lambda q: q.clear_queue(),
    lambda q: q.get_queue_info(),
    lambda q: q.cleanup_expired_messages(),
]


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_file_raises_and_is_never_modified(
    tmp_path: Path, clock: FakeClock, kind: str
) -> None:
    path = tmp_path / "queue.json"
    path.write_bytes(CORRUPT[kind])
    queue = _queue(path, clock)
    assert queue.health_check() is False
    for operation in OPERATIONS:
        with pytest.raises(QueueCorruptedError) as caught:
            operation(queue)
        assert caught.value.path == str(path)
        assert str(path) in str(caught.value)
        assert isinstance(caught.value, OSError)
    assert path.read_bytes() == CORRUPT[kind]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json", "queue.json.lock"]


def test_corruption_appearing_later_is_detected(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    queue = _queue(path, clock)
    queue.add_message({"n": 1}, item_id="a")
    path.write_bytes(b"[{oops")
    with pytest.raises(QueueCorruptedError, match="not valid JSON"):
        queue.add_message({"n": 2})
    assert path.read_bytes() == b"[{oops"


def test_repaired_file_is_read_again(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    path.write_bytes(b"[[]]")
    queue = _queue(path, clock)
    with pytest.raises(QueueCorruptedError, match="message 0 is a list"):
        queue.get_messages()
    path.write_text(json.dumps(OLD_FORMAT))
    assert len(queue.get_messages()) == 2
    assert queue.health_check() is True


# -- other processes' writes, faults ------------------------------------------------------------


def test_changes_by_another_writer_are_seen(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    first, second = _queue(path, clock), _queue(path, clock)
    first.add_message({"n": 1}, item_id="a")
    second.add_message({"n": 2}, item_id="b")
    assert [m["id"] for m in first.get_messages()] == ["a", "b"]
    handle = first.receive_messages(max_messages=1)[0]["ReceiptHandle"]
    assert second.delete_message(handle) is True
    assert [m["id"] for m in first.get_messages()] == ["b"]


def test_deleted_file_is_an_empty_queue_and_is_recreated(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    queue = _queue(path, clock)
    queue.add_message({"n": 1}, item_id="a")
    path.unlink()
    assert queue.get_messages() == []
    queue.add_message({"n": 2}, item_id="b")
    assert [m["id"] for m in json.loads(path.read_text())] == ["b"]


@pytest.mark.parametrize("durable", [False, True])
def test_failed_write_keeps_the_old_state(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    path = tmp_path / "queue.json"
    queue = PyQueue(queue_file=path, clock=clock, durable=durable)
    queue.add_message({"n": 1}, item_id="a")
    before = path.read_bytes()

    def disk_full(temp: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "_replace", disk_full)
    with pytest.raises(StorageError, match="No space left") as caught:
        queue.add_message({"n": 2}, item_id="b")
    assert caught.value.path == str(path)
    with pytest.raises(StorageError):
        queue.receive_messages()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json", "queue.json.lock"]
    monkeypatch.undo()
    # the object forgot its unsaved changes: it sees exactly what the file holds
    assert [m["id"] for m in queue.get_messages()] == ["a"]
    stored = queue.get_message("a")
    assert stored is not None
    assert stored["receive_count"] == 0


def test_write_error_on_temp_file_is_reported(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "queue.json"
    queue = _queue(path, clock)
    real_write = os.write
    calls = {"n": 0}

    def short_then_fail(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:3]))  # a short write is continued
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "write", short_then_fail)
    with pytest.raises(StorageError, match="Input/output error"):
        queue.add_message({"n": 1})
    monkeypatch.undo()
    assert queue.get_messages() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json.lock"]


def test_durable_writes_fsync_file_and_folder(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: List[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    durable = PyQueue(queue_file=tmp_path / "durable.json", clock=clock)
    synced.clear()
    durable.add_message({"n": 1})
    assert len(synced) == 2  # the temp file, then the folder
    fast = _queue(tmp_path / "fast.json", clock)
    synced.clear()
    fast.add_message({"n": 1})
    assert synced == []


def test_file_permissions_are_kept(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    queue = _queue(path, clock)
    queue.add_message({"n": 1})
    path.chmod(0o640)
    queue.add_message({"n": 2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# -- configuration errors -----------------------------------------------------------------------


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "queue.json"
    with pytest.raises(QueuePathError, match="does not exist") as caught:
        PyQueue(queue_file=missing)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, OSError)
    assert not (tmp_path / "no").exists()


def test_folder_as_queue_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QueuePathError, match="is a folder"):
        PyQueue(queue_file=tmp_path)


def test_folder_removed_later_is_a_storage_error(tmp_path: Path, clock: FakeClock) -> None:
    folder = tmp_path / "sub"
    folder.mkdir()
    queue = _queue(folder / "queue.json", clock)
    queue.add_message({"n": 1})
    queue.close()
    (folder / "queue.json").unlink()
    (folder / "queue.json.lock").unlink()
    folder.rmdir()
    with pytest.raises(StorageError, match="does not exist"):
        queue.add_message({"n": 1})
    assert queue.health_check() is False


@pytest.mark.parametrize(
    "options",
    [
        {"queue_type": "bogus"},
        {"queue_type": 5},
        {"queue_type": "remote"},
        {"queue_type": "remote", "server_url": ""},
        {"queue_file": 5},
        {"queue_file": ""},
        {"timeout": 0},
        {"timeout": "30"},
        {"lock_timeout": -1},
        {"lock_timeout": float("inf")},
        {"durable": "yes"},
    ],
)
def test_bad_options_are_configuration_errors(tmp_path: Path, options: Any) -> None:
    options.setdefault("queue_file", tmp_path / "queue.json")
    with pytest.raises(PyQueueError) as caught:
        PyQueue(**options)
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / "queue.json").exists()


def test_queue_type_is_case_insensitive(tmp_path: Path) -> None:
    assert PyQueue(queue_file=tmp_path / "q.json", queue_type="LOCAL").queue_type == "local"  # type: ignore[call-overload]


def test_unchanged_file_is_not_parsed_again(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyqueue_client._backends import local_json

    path = tmp_path / "queue.json"
    path.write_text(json.dumps(OLD_FORMAT))
    queue = _queue(path, clock)
    parsed: List[int] = []
    real_decode = local_json.decode  # type: ignore[attr-defined]

    def counting_decode(data: bytes) -> Any:
        parsed.append(len(data))
        return real_decode(data)

    monkeypatch.setattr(local_json, "decode", counting_decode)
    queue.get_messages()
    queue.get_messages()
    handle = queue.receive_messages()[0]["ReceiptHandle"]
    queue.delete_message(handle)
    queue.get_queue_info()
    assert len(parsed) == 1
    _queue(path, clock).add_message({"n": 1})  # another writer: the next call parses again
    parsed.clear()
    assert len(queue.get_messages()) == 2
    assert len(parsed) == 1


def test_crash_inside_a_fast_write_leaves_the_old_state(tmp_path: Path, clock: FakeClock) -> None:
    """A process killed after moving the old file aside, before the new one took its place."""
    path = tmp_path / "queue.json"
    _queue(path, clock).add_message({"n": 1}, item_id="a")
    old = path.read_bytes()
    path.rename(tmp_path / ".queue.json.prev")
    (tmp_path / ".queue.json.next").write_bytes(b'[\n{"id": "half-writ')
    queue = _queue(path, clock)  # construction must not create an empty file over the old state
    assert not path.exists()
    assert [m["id"] for m in queue.get_messages()] == ["a"]  # the read puts the old state back
    assert path.read_bytes() == old
    queue.add_message({"n": 2}, item_id="b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json", "queue.json.lock"]


def test_crash_recovery_on_a_later_call(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    queue = _queue(path, clock)
    queue.add_message({"n": 1}, item_id="a")
    path.rename(tmp_path / ".queue.json.prev")
    assert queue.has_message("a")
    assert path.exists()


def test_left_over_previous_file_is_replaced(tmp_path: Path, clock: FakeClock) -> None:
    """A crash after the new file took its place leaves a stale ``.prev``; it is never used."""
    path = tmp_path / "queue.json"
    (tmp_path / ".queue.json.prev").write_text("[]")
    queue = _queue(path, clock)
    queue.add_message({"n": 1}, item_id="a")
    queue.add_message({"n": 2}, item_id="b")
    assert [m["id"] for m in queue.get_messages()] == ["a", "b"]
    assert not (tmp_path / ".queue.json.prev").exists()


# -- moves between two files (dead letters, redrive) ----------------------------------------------


def _poisoned(tmp_path: Path, clock: FakeClock) -> Tuple[PyQueue, PyQueue]:
    """A queue whose one message is due for its dead-letter queue at the next receive."""
    queue = PyQueue(tmp_path / "jobs.json", durable=False, clock=clock)
    dead = PyQueue(tmp_path / "dead.json", durable=False, clock=clock)
    queue.set_queue_attributes(max_receive_count=1, dead_letter_queue=str(tmp_path / "dead.json"))
    queue.add_message({"n": 1}, item_id="poison")
    queue.receive_messages(visibility_timeout=0)
    return queue, dead


@pytest.mark.parametrize("fail_at", ["journal", "source", "target"])
def test_a_move_cut_short_is_finished_by_the_next_call(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    """Whatever write a crash interrupts, the message ends in exactly one of the two files."""
    queue, dead = _poisoned(tmp_path, clock)
    real_write = atomic.write_atomic
    writes: List[str] = []

    def failing_write(path: str, pieces: Any, durable: bool) -> Any:
        kind = (
            "journal"
            if path.endswith(local_json.MOVING_SUFFIX)
            else "target"
            if path.endswith("dead.json")
            else "source"
        )
        writes.append(kind)
        if kind == fail_at:
            raise OSError(28, "No space left on device")
        return real_write(path, pieces, durable)

    monkeypatch.setattr(local_json, "write_atomic", failing_write)
    with pytest.raises(StorageError):
        queue.receive_messages()
    monkeypatch.undo()
    assert writes[-1] == fail_at
    journal = tmp_path / ("jobs.json" + local_json.MOVING_SUFFIX)
    assert journal.exists() == (fail_at != "journal")
    # the next call on either queue sees the message in one place only
    assert queue.receive_messages() == []
    assert not journal.exists()
    assert queue.check_existence(["poison"]) == []
    assert [m["id"] for m in dead.get_messages()] == ["poison"]


def test_a_journal_that_cannot_be_read_is_reported(tmp_path: Path, clock: FakeClock) -> None:
    queue, _ = _poisoned(tmp_path, clock)
    journal = tmp_path / ("jobs.json" + local_json.MOVING_SUFFIX)
    journal.write_text("{not json")
    with pytest.raises(QueueCorruptedError, match="move journal"):
        queue.get_queue_info()
    assert journal.read_text() == "{not json"


def test_attributes_file_that_is_not_json_is_reported(tmp_path: Path) -> None:
    queue = PyQueue(tmp_path / "jobs.json", durable=False)
    queue.set_queue_attributes(visibility_timeout=5)
    attributes = tmp_path / ("jobs.json" + local_json.ATTRIBUTES_SUFFIX)
    attributes.write_text("[1, 2")
    with pytest.raises(QueueCorruptedError, match="attributes"):
        queue.get_queue_attributes()
    assert attributes.read_text() == "[1, 2"


def test_two_queues_that_dead_letter_into_each_other_never_deadlock(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Each file's lock is taken in path order, whichever queue moves."""
    first = PyQueue(tmp_path / "a.json", durable=False, clock=clock)
    second = PyQueue(tmp_path / "b.json", durable=False, clock=clock)
    first.set_queue_attributes(max_receive_count=1, dead_letter_queue=str(tmp_path / "b.json"))
    second.set_queue_attributes(max_receive_count=1, dead_letter_queue=str(tmp_path / "a.json"))

    def churn(queue: PyQueue) -> None:
        for n in range(30):
            queue.add_message({"n": n})
            queue.receive_messages(visibility_timeout=0)
            queue.receive_messages(visibility_timeout=0)

    threads = [threading.Thread(target=churn, args=(q,)) for q in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    total = first.get_queue_info()["message_count"] + second.get_queue_info()["message_count"]
    assert total == 60  # every message is in one of the two files, once


def test_a_sqlite_database_names_the_queue_type_that_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with PyQueue(path, queue_type="sqlite") as sqlite_queue:
        sqlite_queue.add_message({"n": 1})
    before = path.read_bytes()
    queue = PyQueue(path)
    with pytest.raises(ConfigurationError, match="queue_type='sqlite'"):
        queue.get_messages()
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", ["sqlite", "memory", "Remote", "local"])
def test_a_queue_file_named_like_a_queue_type_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=f"PyQueue\\(queue_type='{name.lower()}'\\)"):
        PyQueue(name)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / name).write_text("[]")
    assert PyQueue(name).get_messages() == []  # an existing file of that name is used
