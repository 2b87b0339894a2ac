"""The server's storage: named queues sharing a few database connections among any number of
threads, waits for a free one bounded in time, and the clock that lets a receive report the exact
time it used.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import List

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


def _hold_connection(store: Store, held: threading.Event, release: threading.Event) -> None:
    """Borrow a connection of ``store`` and keep it until ``release``."""

    def hold(backend: SqliteBackend) -> None:
        with backend._statements(1):
            held.set()
            release.wait(10)

    store.run("q", hold)


def test_waiting_for_a_free_connection_is_bounded(tmp_path: Path) -> None:
    store = Store(str(tmp_path), RecordingClock(_midnight), False, workers=1, call_timeout=0.2)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_connection, args=(store, held, release))
    holder.start()
    try:
        assert held.wait(10)
        # The only connection is borrowed: a call waits 0.2 s for it, then gives up.
        with pytest.raises(LockTimeoutError) as caught:
            store.run("q", SqliteBackend.clear_queue)
        assert caught.value.timeout == 0.2
        release.set()
        holder.join(10)
        store.run("q", lambda backend: backend.add_messages([NewMessage("m", "{}")]))
        assert store.run("q", lambda backend: backend.check_existence(["m"])) == ["m"]
    finally:
        release.set()
        holder.join(10)
        store.close()


def test_close_waits_for_calls_in_progress(tmp_path: Path) -> None:
    store = Store(str(tmp_path), RecordingClock(_midnight), False, workers=2)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_connection, args=(store, held, release))
    holder.start()
    assert held.wait(10)
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive()  # the borrowed connection is still in use
    release.set()
    closer.join(10)
    holder.join(10)
    assert not closer.is_alive()
    assert store._root._opened == []


def test_calls_run_on_their_callers_threads_over_shared_connections(tmp_path: Path) -> None:
    store = Store(str(tmp_path), RecordingClock(_midnight), False, workers=2)
    callers: List[str] = []
    try:

        def call(number: int) -> None:
            def add(backend: SqliteBackend) -> None:
                callers.append(threading.current_thread().name)
                backend.add_messages([NewMessage(f"m{number}", "{}")])

            store.run("q", add)

        threads = [threading.Thread(target=call, args=(n,), name=f"t{n}") for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(callers) == sorted(f"t{n}" for n in range(12))
        assert store.run("q", lambda backend: len(backend.get_messages(None))) == 12
        assert len(store._root._opened) <= 2
    finally:
        store.close()


def test_store_connections_stay_few(tmp_path: Path) -> None:
    store = Store(str(tmp_path), RecordingClock(_midnight), False, workers=2)
    try:
        for number in range(50):
            store.run(f"q{number}", lambda backend: backend.add_messages([NewMessage("m", "{}")]))
        assert len(store.queue_names()) == 50
        # Sequential calls share one connection (the one opened to check the file), not one per
        # queue.
        assert len(store._root._opened) == 1
    finally:
        store.close()


def test_recording_clock_reads_the_time_when_asked_first() -> None:
    assert RecordingClock(_midnight).last() == _midnight()
