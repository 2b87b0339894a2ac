"""The server's storage: named queues sharing one database connection per storage thread, calls
bounded in time, and the clock that lets a receive report the exact time it used.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest

from pyqueue_client import LockTimeoutError
from pyqueue_client._backends.sqlite import SqliteBackend
from pyqueue_client._semantics import NewMessage
from pyqueue_client.server._store import RecordingClock, Store


def _midnight() -> datetime:
    return datetime(2026, 1, 1)


def test_named_queues_share_the_connections_of_one_backend(tmp_path: Path) -> None:
    root = SqliteBackend(str(tmp_path / "queues.db"), "default", _midnight, durable=False)
    orders, payments = root.with_queue("orders"), root.with_queue("payments")
    orders.add_messages([NewMessage("o1", '{"n": 1}')])
    payments.add_messages([NewMessage("p1", '{"n": 2}')])
    assert orders._connection() is payments._connection() is root._connection()
    assert [m["id"] for m in orders.get_messages(None)] == ["o1"]
    assert [m["id"] for m in payments.get_messages(None)] == ["p1"]
    assert root.queue_names() == ["orders", "payments"]
    root.close()
    assert root._opened == []


def test_store_calls_are_bounded(tmp_path: Path) -> None:
    store = Store(str(tmp_path), RecordingClock(_midnight), False, workers=1, call_timeout=0.2)
    release = threading.Event()
    try:
        # The only storage thread is held up: the call waits 0.2 s, then the one behind it too.
        with pytest.raises(LockTimeoutError):
            store.run("q", lambda backend: release.wait(10))
        with pytest.raises(LockTimeoutError):
            store.run("q", SqliteBackend.clear_queue)
    finally:
        release.set()
        store.close()


def test_store_connections_stay_few(tmp_path: Path) -> None:
    store = Store(str(tmp_path), RecordingClock(_midnight), False, workers=2)
    try:
        for number in range(50):
            store.run(f"q{number}", lambda backend: backend.add_messages([NewMessage("m", "{}")]))
        assert len(store.queue_names()) == 50
        # One connection per storage thread (and the one opened to check the file), not per queue.
        assert len(store._root._opened) <= 3
    finally:
        store.close()


def test_recording_clock_reads_the_time_when_asked_first() -> None:
    assert RecordingClock(_midnight).last() == _midnight()
