"""The pieces under the backends: time formats, the lock, atomic writes, errors."""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import List

import pytest

from pyqueue_client import (
    LockTimeoutError,
    PyQueue,
    PyQueueError,
    QueueCorruptedError,
    QueuePathError,
    StorageError,
    ValidationError,
)
from pyqueue_client._ids import handle_number, new_message_id, receipt_handle
from pyqueue_client._semantics import NewMessage, QueueState
from pyqueue_client._storage import lock as lock_module
from pyqueue_client._storage.atomic import write_atomic
from pyqueue_client._storage.lock import FileLock
from pyqueue_client._times import canonical_time

from .conftest import FakeClock

# -- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-22T12:00:00.123456", "2026-01-22T12:00:00.123456"),
        ("2026-01-22T12:00:00", "2026-01-22T12:00:00.000000"),
        ("2026-01-22T12:00:00.5", "2026-01-22T12:00:00.500000"),
        ("2026-01-22T12:00:00Z", "2026-01-22T12:00:00.000000"),
        ("2026-01-22T12:00:00.250000+00:00", "2026-01-22T12:00:00.250000"),
        ("2026-01-22T14:30:00+02:30", "2026-01-22T12:00:00.000000"),
        ("2026-01-22 12:00:00", "2026-01-22T12:00:00.000000"),
        ("2026-01-22T12:00", "2026-01-22T12:00:00.000000"),
        ("2026-01-22T12:00:00.123456789", "2026-01-22T12:00:00.123456"),
        ("2026-01-22T10:00:00-0200", "2026-01-22T12:00:00.000000"),
        ("2026-01-22T12:00:00.1z", "2026-01-22T12:00:00.100000"),
    ],
)
def test_canonical_time_accepts_the_forms_in_the_wild(text: str, expected: str) -> None:
    assert canonical_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["soon", "", "2026-13-01T00:00:00", "2026-01-22T12:00:00.12345x", "2026-01-22T25:00:00"],
)
def test_canonical_time_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the standard library's message varies
        canonical_time(text)


def test_canonical_strings_sort_like_instants() -> None:
    moments = [
        datetime(2026, 1, 22, 12, 0, 0),
        datetime(2026, 1, 22, 12, 0, 0, 1),
        datetime(2026, 1, 22, 12, 0, 1),
        datetime(2026, 2, 1),
    ]
    texts = [canonical_time(moment.isoformat()) for moment in moments]
    assert texts == sorted(texts)


def test_queue_state_ignores_duplicate_ids_within_one_add() -> None:
    state = QueueState()
    ids = state.add(
        [NewMessage("a", '{"v": 1}'), NewMessage("a", '{"v": 2}')], datetime(2026, 1, 1)
    )
    assert ids == ["a", "a"]
    assert state.get("a") is not None
    assert len(state) == 1


def test_receipt_handles_differ_and_carry_their_number() -> None:
    handles = [receipt_handle(number) for number in range(1000)]
    assert len(set(handles)) == 1000
    assert [handle_number(handle) for handle in handles] == list(range(1000))
    # 192 random bits each, fresh for every handle: no two share their random part
    randoms = {handle.split("_")[1] for handle in handles}
    assert len(randoms) == 1000
    assert all(len(part) == 48 for part in randoms)
    assert handle_number("no-number") is None
    assert handle_number("receipt_x_١٢") is None  # digits of other scripts are not a seq


# -- the lock -------------------------------------------------------------------------------------


def test_lock_times_out_when_another_descriptor_holds_it(tmp_path: Path) -> None:
    path = str(tmp_path / "q.lock")
    holder, waiter = FileLock(path, timeout=5), FileLock(path, timeout=0.2)
    with holder.held(), pytest.raises(LockTimeoutError) as caught, waiter.held():
        pytest.fail("two holders at once")  # pragma: no cover
    assert caught.value.path == path
    assert caught.value.timeout == 0.2
    assert path in str(caught.value)
    with waiter.held():  # released: free again
        pass
    holder.close()
    waiter.close()


def test_lock_times_out_for_threads_of_one_object(tmp_path: Path) -> None:
    lock = FileLock(str(tmp_path / "q.lock"), timeout=0.1)
    results: List[str] = []
    with lock.held():

        def other() -> None:
            try:
                with lock.held():
                    results.append("acquired")  # pragma: no cover
            except LockTimeoutError:
                results.append("timeout")

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=5)
    assert results == ["timeout"]


def test_lock_waits_for_a_short_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "q.lock")
    holder, waiter = FileLock(path, timeout=5), FileLock(path, timeout=5)
    acquired = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with holder.held():
            acquired.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    assert acquired.wait(5)
    threading.Timer(0.05, release.set).start()
    with waiter.held():
        assert release.is_set()
    thread.join(timeout=5)


def test_lock_after_fork_opens_its_own_descriptor(tmp_path: Path) -> None:
    lock = FileLock(str(tmp_path / "q.lock"), timeout=1)
    with lock.held():
        inherited = lock._fd
    lock._pid = -1  # what a child process sees: the object was made by another process
    with lock.held():
        assert lock._fd != inherited
    assert inherited is not None
    os.close(inherited)  # the "parent's" descriptor, which the child left alone
    lock.close()


def test_lock_file_errors_are_storage_errors(tmp_path: Path) -> None:
    missing = FileLock(str(tmp_path / "missing" / "q.lock"), timeout=1)
    with pytest.raises(QueuePathError, match="folder does not exist"), missing.held():
        pass  # pragma: no cover
    (tmp_path / "dir.lock").mkdir()
    folder = FileLock(str(tmp_path / "dir.lock"), timeout=1)
    with pytest.raises(StorageError, match="cannot open lock file"), folder.held():
        pass  # pragma: no cover


def test_lock_wait_is_logged_at_debug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "q.lock")
    holder = FileLock(path, timeout=5)
    caplog.set_level("DEBUG", logger=lock_module.__name__)
    with holder.held(), pytest.raises(LockTimeoutError), FileLock(path, timeout=0.05).held():
        pass  # pragma: no cover
    assert any("waiting for lock" in record.getMessage() for record in caplog.records)


def test_queue_lock_timeout_writes_nothing(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.json"
    queue = PyQueue(queue_file=path, durable=False, lock_timeout=0.1, clock=clock)
    queue.remove_message(queue.add_message({"n": 0}))  # the file and its lock file exist
    before = path.read_bytes()
    with FileLock(str(path) + ".lock", timeout=1).held():
        with pytest.raises(LockTimeoutError) as caught:
            queue.add_message({"n": 1})
        assert isinstance(caught.value, TimeoutError)
        assert queue.health_check() is False
    assert path.read_bytes() == before
    queue.add_message({"n": 1})


# -- atomic writes -------------------------------------------------------------------------------


def test_write_atomic_replaces_and_returns_the_stamp(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    stamp = write_atomic(str(target), [b"new ", b"contents"], durable=True)
    assert target.read_bytes() == b"new contents"
    info = target.stat()
    assert stamp == (info.st_ino, info.st_size, info.st_mtime_ns)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ValidationError("bad"),
        StorageError("cannot write", "/q.json"),
        QueuePathError("no folder", "/x/q.json"),
        QueueCorruptedError("/q.json", "not valid JSON"),
        LockTimeoutError("/q.json.lock", 2.5),
    ],
)
def test_errors_pickle_and_keep_their_attributes(error: PyQueueError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert getattr(copy, "path", None) == getattr(error, "path", None)
    assert isinstance(copy, PyQueueError)


def test_error_builtins() -> None:
    assert issubclass(ValidationError, ValueError)
    assert issubclass(QueuePathError, ValueError)
    assert issubclass(QueuePathError, OSError)
    assert issubclass(QueueCorruptedError, OSError)
    assert issubclass(LockTimeoutError, TimeoutError)
    corrupted = QueueCorruptedError("/q.json", "truncated")
    assert corrupted.reason == "truncated"
    assert "was not modified" in str(corrupted)


def test_new_message_ids_are_random_uuid4_strings() -> None:
    ids = [new_message_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
