"""The SQLite store the server sits on: named queues sharing a few database connections among any
number of threads, waits for a free one bounded in time, and queue attributes kept in the file.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import List

import pytest

from pyqueue_client import LockTimeoutError
from pyqueue_client._backends.sqlite import SqliteStore
from pyqueue_client._semantics import NewMessage
from pyqueue_client._types import DEFAULT_ATTRIBUTES
from pyqueue_client.server._store import open_store


def _midnight() -> datetime:
    return datetime(2026, 1, 1)


def test_named_queues_share_the_connections_of_one_store(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "queues.db"), _midnight, durable=False)
    orders, payments = store.open_queue("orders"), store.open_queue("payments")
    orders.add_messages([NewMessage("o1", '{"n": 1}')])
    payments.add_messages([NewMessage("p1", '{"n": 2}')])
    assert [m["id"] for m in orders.get_messages(None)] == ["o1"]
    assert [m["id"] for m in payments.get_messages(None)] == ["p1"]
    assert store.queue_names() == ["orders", "payments"]
    assert len(store.db._opened) == 1
    store.close()
    assert store.db._opened == []


def test_attributes_live_in_the_file_per_queue(tmp_path: Path) -> None:
    path = str(tmp_path / "queues.db")
    store = SqliteStore(path, _midnight, durable=False)
    assert store.get_attributes("jobs") == DEFAULT_ATTRIBUTES
    changed = store.set_attributes("jobs", {"visibility_timeout": 5, "delay_seconds": 2})
    assert changed == {**DEFAULT_ATTRIBUTES, "visibility_timeout": 5, "delay_seconds": 2}
    assert store.queue_names() == ["jobs"]  # configured, even with no message yet
    store.close()
    again = SqliteStore(path, _midnight, durable=False)
    assert again.get_attributes("jobs") == changed
    assert again.get_attributes("other") == DEFAULT_ATTRIBUTES
    again.close()


def _hold_connection(store: SqliteStore, held: threading.Event, release: threading.Event) -> None:
    """Borrow a connection of ``store`` and keep it until ``release``."""
    with store.db.statements(1):
        held.set()
        release.wait(10)


def test_waiting_for_a_free_connection_is_bounded(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), _midnight, False, workers=1, call_timeout=0.2)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_connection, args=(store, held, release))
    holder.start()
    try:
        assert held.wait(10)
        # The only connection is borrowed: a call waits 0.2 s for it, then gives up.
        with pytest.raises(LockTimeoutError) as caught:
            store.open_queue("q").clear_queue()
        assert caught.value.timeout == 0.2
        release.set()
        holder.join(10)
        store.open_queue("q").add_messages([NewMessage("m", "{}")])
        assert store.open_queue("q").check_existence(["m"]) == ["m"]
    finally:
        release.set()
        holder.join(10)
        store.close()


def test_close_waits_for_calls_in_progress(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), _midnight, False, workers=2)
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
    assert store.db._opened == []


def test_many_threads_share_few_connections(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), _midnight, False, workers=2)
    try:

        def call(number: int) -> None:
            store.open_queue("q").add_messages([NewMessage(f"m{number}", "{}")])

        threads = [threading.Thread(target=call, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(store.open_queue("q").get_messages(None)) == 12
        assert len(store.db._opened) <= 2
    finally:
        store.close()


def test_store_connections_stay_few(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), _midnight, False, workers=2)
    try:
        for number in range(50):
            store.open_queue(f"q{number}").add_messages([NewMessage("m", "{}")])
        assert len(store.queue_names()) == 50
        # Sequential calls share one connection (the one opened to check the file), not one per
        # queue.
        assert len(store.db._opened) == 1
    finally:
        store.close()


def test_a_store_that_owns_its_file_keeps_attributes_in_memory(tmp_path: Path) -> None:
    """The server's store reads a queue's attributes once; its own changes update them."""
    store = open_store(str(tmp_path), _midnight, False, workers=2)
    try:
        queue = store.open_queue("q")
        queue.add_messages([NewMessage("now", "{}")])
        store.set_attributes("q", {"delay_seconds": 60})
        queue.add_messages([NewMessage("later", "{}")])
        assert [d.message["Id"] for d in queue.receive_messages(10, 30, False, False)] == ["now"]
        with store.db.statements(1) as db:  # behind the store's back: not seen
            db.execute("DELETE FROM queues")
        store.open_queue("q").add_messages([NewMessage("also-later", "{}")])
        assert store.open_queue("q").get_queue_info()["delayed_messages"] == 2
    finally:
        store.close()


def test_reads_of_a_missing_file_at_once_lend_nothing_to_the_pool(tmp_path: Path) -> None:
    # Reads of a file not made yet run on one in-memory stand-in that no pool lent: none of
    # them may hand it to the pool (later writes would land in memory, and the pool's count of
    # free connections would go wrong).
    store = open_store(str(tmp_path), _midnight, False, workers=2)
    try:
        gate = threading.Barrier(8)
        failures: List[BaseException] = []

        def read() -> None:
            gate.wait(10)
            try:
                store.open_queue("q").get_messages(None)
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert failures == []
        pool = store.db._pool
        assert pool is not None
        assert pool._idle == []
        store.open_queue("q").add_messages([NewMessage(f"m{n}", "{}") for n in range(3)])
        reopened = SqliteStore(str(tmp_path / "queues.db"), _midnight, durable=False)
        try:
            assert len(reopened.open_queue("q").get_messages(None)) == 3  # on disk
        finally:
            reopened.close()
    finally:
        store.close()
