"""The SQLite backend's own promises: schema, named queues, refusing foreign files, indexes."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any, List

import pytest

from pyqueue_client import (
    ConfigurationError,
    LockTimeoutError,
    PyQueue,
    QueueCorruptedError,
    QueuePathError,
    StorageError,
)
from pyqueue_client import _semantics_sql as sql
from pyqueue_client._backends import sqlite as backend_module
from pyqueue_client._storage import sqlite_db
from pyqueue_client._types import DEFAULT_ATTRIBUTES

from .conftest import FakeClock


def _queue(path: Path, clock: FakeClock, name: str = "default", **options: Any) -> PyQueue:
    return PyQueue(queue_file=path, queue_type="sqlite", queue_name=name, clock=clock, **options)


def _pragma(path: Path, name: str) -> Any:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        return db.execute(f"PRAGMA {name}").fetchone()[0]


def test_new_database_is_marked_versioned_and_in_wal_mode(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.db"
    _queue(path, clock).add_message({"n": 1})
    assert _pragma(path, "application_id") == sqlite_db.APPLICATION_ID
    assert _pragma(path, "user_version") == sqlite_db.SCHEMA_VERSION == 3
    assert _pragma(path, "journal_mode") == "wal"


@pytest.mark.parametrize(("durable", "level"), [(True, 2), (False, 1)])
def test_durable_picks_synchronous_full_or_normal(
    tmp_path: Path, clock: FakeClock, durable: bool, level: int
) -> None:
    queue = _queue(tmp_path / "queue.db", clock, durable=durable)
    connection = queue._store.db._connection()  # type: ignore[attr-defined]
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == level


def test_default_file_is_queue_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_FILE_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    queue = PyQueue(queue_type="sqlite")
    assert queue.queue_file == "queue.db"
    assert not (tmp_path / "queue.db").exists()  # made by the first write, not by reads
    assert queue.get_queue_info()["message_count"] == 0
    assert not (tmp_path / "queue.db").exists()
    queue.clear_queue()
    assert (tmp_path / "queue.db").exists()
    info = queue.get_queue_info()
    assert info["queue_type"] == "sqlite"
    assert info["queue_name"] == "default"
    assert info["queue_file"] == "queue.db"
    assert info["file_size"] > 0


def test_named_queues_share_a_file_but_not_messages(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.db"
    emails, orders = _queue(path, clock, "emails"), _queue(path, clock, "orders")
    emails.add_message({"to": "a"}, item_id="same-id")
    orders.add_message({"order": 1}, item_id="same-id")
    orders.add_message({"order": 2}, item_id="o2")
    assert [m["message_body"] for m in emails.get_messages()] == [{"to": "a"}]
    assert emails.check_existence(["same-id", "o2"]) == ["same-id"]
    handle = orders.receive_messages(max_messages=1)[0]["ReceiptHandle"]
    assert emails.delete_message(handle) is False  # another queue's handle
    assert orders.delete_message(handle) is True
    assert emails._store.queue_names() == ["emails", "orders"]
    emails.clear_queue()
    assert [m["id"] for m in orders.get_messages()] == ["o2"]
    assert emails._store.queue_names() == ["orders"]
    assert emails.get_queue_info()["message_count"] == 0


def test_deleted_messages_leave_the_table(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.db"
    queue = _queue(path, clock, durable=False)
    for _ in range(3):
        queue.add_messages([{"payload": "x" * 200} for _ in range(300)])
        while True:
            batch = queue.receive_messages(max_messages=100)
            if not batch:
                break
            queue.delete_messages([m["ReceiptHandle"] for m in batch])
        queue.add_message({"n": 1}, item_id="r")
        queue.remove_message("r")
        queue.add_message({"n": 1}, item_id="c")
        queue.receive_messages(delete_after_receive=True)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_receive_uses_the_indexes_at_any_depth(tmp_path: Path, clock: FakeClock) -> None:
    """The pick reads the partial indexes in order; it never scans the table."""
    path = tmp_path / "queue.db"
    queue = _queue(path, clock, durable=False)
    queue.add_messages([{"n": n} for n in range(2000)])
    queue.receive_messages(max_messages=100, visibility_timeout=600)
    plans: List[str] = []
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        for only_new in (False, True):
            pick = sql.PICKS[only_new]
            rows = db.execute(f"EXPLAIN QUERY PLAN {pick}", {"queue": "default", "limit": 10})
            plans.extend(row[-1] for row in rows)
        delete = sql.DELETE_BY_HANDLE
        params = {"queue": "default", "handle": "h", "seq": 5}
        plans.extend(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {delete}", params))
        expire = "SELECT seq FROM messages WHERE queue = ? AND invisible_until IS NOT NULL"
        expire += " AND invisible_until <= ?"
        rows = db.execute(f"EXPLAIN QUERY PLAN {expire}", ("default", "2026"))
        plans.extend(row[-1] for row in rows)
    assert plans
    assert not [plan for plan in plans if plan.startswith(("SCAN messages", "SCAN imported"))]
    searches = [plan for plan in plans if plan.startswith("SEARCH")]
    assert len(searches) == 5, plans
    assert all("INDEX" in plan or "PRIMARY KEY" in plan for plan in searches), plans
    assert "SEARCH messages USING INTEGER PRIMARY KEY (rowid=?)" in plans
    assert any("messages_hidden" in plan for plan in plans)
    assert any("imported_handles" in plan for plan in plans)


def test_expired_timeouts_are_cleared_by_receive(tmp_path: Path, clock: FakeClock) -> None:
    queue = _queue(tmp_path / "queue.db", clock)
    queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"])
    queue.receive_messages(max_messages=2, visibility_timeout=5)
    clock.advance(5)
    assert [m["Id"] for m in queue.receive_messages(max_messages=1, visibility_timeout=5)] == ["a"]
    stored = queue.get_message("b")
    assert stored is not None
    assert stored["invisible_until"] is None  # expired: visible again, as the index shows it


def test_each_thread_gets_its_own_connection(tmp_path: Path, clock: FakeClock) -> None:
    queue = _queue(tmp_path / "queue.db", clock)
    backend = queue._store.db  # type: ignore[attr-defined]
    seen: List[int] = [id(backend._connection())]

    def other() -> None:
        seen.append(id(backend._connection()))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=10)
    assert len(set(seen)) == 2
    queue.close()
    queue.add_message({"n": 1})  # reopens after close


def test_a_forked_child_opens_new_connections(tmp_path: Path, clock: FakeClock) -> None:
    queue = _queue(tmp_path / "queue.db", clock)
    backend = queue._store.db  # type: ignore[attr-defined]
    inherited = backend._connection()
    backend._pid = -1  # what a child process sees after fork()
    fresh = backend._connection()
    assert fresh is not inherited
    queue.add_message({"n": 1}, item_id="after-fork")
    assert queue.has_message("after-fork")
    inherited.close()


# -- schema versions ------------------------------------------------------------------------------

# tests/data/queue-v1.db was written by schema version 1 at 2026-01-01 12:00, queue "jobs": m0 and
# m1 received for an hour with these handles, m2-m4 waiting, then a memory queue copied in
# (imported-1 in flight under a handle made elsewhere, imported-2 waiting).
_V1_FILE = Path(__file__).parent / "data" / "queue-v1.db"
_V1_OURS = ["receipt_6D4zVbanxaojc4PK30e1NoUd_1", "receipt_6D4zVbanxaojc4PK30e1NoUd_2"]
_V1_FOREIGN = "receipt_OKTYSW-pVJBRDnTOIdzgRjvFR0KSjpYh"


def _v1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "queue.db"
    shutil.copyfile(_V1_FILE, path)
    return path


def _schema_names(path: Path) -> List[str]:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        return sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master"))


def _new_database(tmp_path: Path) -> Path:
    path = tmp_path / "new.db"
    with PyQueue(queue_file=path, queue_type="sqlite") as queue:
        queue.clear_queue()
    return path


def test_a_version_1_file_is_migrated_and_keeps_every_message(tmp_path: Path) -> None:
    path = _v1_copy(tmp_path)
    assert "messages_by_handle" in _schema_names(path)
    clock = FakeClock(datetime(2026, 1, 1, 12, 30))
    queue = _queue(path, clock, "jobs")
    assert _pragma(path, "user_version") == 3
    assert _schema_names(path) == _schema_names(_new_database(tmp_path))
    assert [m["id"] for m in queue.get_messages()] == [
        "m0", "m1", "m2", "m3", "m4", "imported-1", "imported-2"
    ]  # fmt: skip
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        # only the handle made elsewhere needs the side table
        assert db.execute("SELECT handle, seq FROM imported_handles").fetchall() == [
            (_V1_FOREIGN, 6)
        ]
    # every handle given out before the upgrade still deletes, once
    assert queue.delete_messages([*_V1_OURS, _V1_FOREIGN, _V1_OURS[0]]) == {
        "Successful": [*_V1_OURS, _V1_FOREIGN],
        "Failed": [{"ReceiptHandle": _V1_OURS[0], "reason": "not_found"}],
    }
    new = queue.receive_messages(max_messages=10, only_new=True)
    assert [m["Id"] for m in new] == ["m2", "m3", "m4", "imported-2"]
    assert queue.delete_messages([m["ReceiptHandle"] for m in new])["Failed"] == []
    assert _pragma(path, "integrity_check") == "ok"


_V2_FILE = Path(__file__).parent / "data" / "queue-v2.db"
_V2_OURS = ["receipt_Fv4CwgUQAiJE-My6owmluNRb_1", "receipt_Fv4CwgUQAiJE-My6owmluNRb_2"]
_V2_FOREIGN = "receipt_eOsHTckjfENHJJ1nizlINLsd45E870T4"


def test_a_version_2_file_is_migrated_and_keeps_every_message(tmp_path: Path) -> None:
    """A file as the previous release wrote it: two queues, two messages in flight, one handle
    copied in from a memory queue."""
    path = tmp_path / "queue.db"
    shutil.copyfile(_V2_FILE, path)
    assert _pragma(path, "user_version") == 2
    clock = FakeClock(datetime(2026, 1, 1, 12, 30))
    queue = _queue(path, clock, "jobs")
    assert _pragma(path, "user_version") == 3
    assert _schema_names(path) == _schema_names(_new_database(tmp_path))
    assert queue._store.queue_names() == ["jobs", "other"]
    assert queue._store.get_attributes("jobs") == DEFAULT_ATTRIBUTES
    assert [m["id"] for m in queue.get_messages()] == ["m0", "m1", "m2", "m3", "imported-1"]
    assert queue.delete_messages([*_V2_OURS, _V2_FOREIGN])["Failed"] == []
    new = queue.receive_messages(max_messages=10)
    assert [m["Id"] for m in new] == ["m2", "m3"]
    assert _pragma(path, "integrity_check") == "ok"


def test_migration_happens_once_under_the_write_lock(tmp_path: Path, clock: FakeClock) -> None:
    path = _v1_copy(tmp_path)
    first, second = _queue(path, clock, "jobs"), _queue(path, clock, "jobs")
    assert first.get_queue_info()["message_count"] == second.get_queue_info()["message_count"] == 7
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        assert db.execute("SELECT COUNT(*) FROM imported_handles").fetchone()[0] == 1


def test_a_handle_made_elsewhere_that_looks_like_ours_still_deletes(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A copied-in handle ending in ``_<digits>`` that are not its row's seq."""
    source = PyQueue(queue_type="memory", clock=clock)
    source.add_messages([{"n": n} for n in range(3)], ["a", "b", "c"])
    target = _queue(tmp_path / "queue.db", clock)
    target.add_messages([{"n": 0}], ["z"])  # so seqs in the target differ from positions
    records = source._queue.export_records()  # type: ignore[attr-defined]
    for record, handle in zip(records, ["foreign_2", "foreign_1", "other-7"]):
        record["current_receipt_handle"] = handle
        record["receive_count"] = 1
        record["invisible_until"] = "2026-01-22T13:00:00.000000"
    assert target._queue.import_records(records) == 3  # type: ignore[attr-defined]
    assert target.delete_message("foreign_1") is True  # b, whose seq is 3, not 1
    assert target.check_existence(["a", "b", "c", "z"]) == ["a", "c", "z"]
    assert target.delete_messages(["foreign_2", "other-7", "foreign_2"])["Failed"] == [
        {"ReceiptHandle": "foreign_2", "reason": "not_found"}
    ]
    assert [m["id"] for m in target.get_messages()] == ["z"]


# -- files that are not our queues: refused, never modified --------------------------------------


def _foreign_database(path: Path) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO customers (name) VALUES ('ada')")


def _our_schema_then(path: Path, statement: str) -> None:
    with PyQueue(queue_file=path, queue_type="sqlite") as queue:
        queue.clear_queue()  # a write: the file and its schema exist from here on
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute(statement)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: path.write_bytes(b"not a database at all" * 100), "not a SQLite database"),
        (_foreign_database, "another application"),
        (lambda path: _our_schema_then(path, "PRAGMA user_version = 7"), "newer"),
        (
            lambda path: _our_schema_then(path, "ALTER TABLE messages ADD COLUMN extra TEXT"),
            "expected shape",
        ),
    ],
)
def test_foreign_files_are_refused_untouched(
    tmp_path: Path, clock: FakeClock, make: Any, reason: str
) -> None:
    path = tmp_path / "queue.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(QueueCorruptedError, match=reason) as caught:
        _queue(path, clock)
    assert caught.value.path == str(path)
    assert path.read_bytes() == before
    # a database already in WAL mode gets its -wal and -shm files from any reader; no write
    # went into them
    wal = tmp_path / "queue.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert {p.name for p in tmp_path.iterdir()} <= {"queue.db", "queue.db-wal", "queue.db-shm"}


def test_damaged_pages_are_reported_as_corruption(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.db"
    queue = _queue(path, clock, durable=False)
    queue.add_messages([{"payload": "x" * 500} for _ in range(200)])
    queue.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 2 : page * 6] = b"\xde\xad\xbe\xef" * (page)  # wreck a few b-tree pages
    path.write_bytes(bytes(data))
    damaged = _queue(path, clock)
    with pytest.raises(QueueCorruptedError) as caught:
        damaged.get_messages()
    assert isinstance(caught.value, OSError)
    assert "malformed" in caught.value.reason


def test_an_empty_file_becomes_a_new_queue(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.db"
    path.write_bytes(b"")
    queue = _queue(path, clock)
    queue.add_message({"n": 1})
    assert queue.get_queue_info()["message_count"] == 1


def test_missing_folder_is_a_path_error(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(QueuePathError, match="does not exist"):
        _queue(tmp_path / "missing" / "queue.db", clock)
    with pytest.raises(QueuePathError, match="is a folder"):
        _queue(tmp_path, clock)


def test_lock_held_by_another_connection_times_out(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "queue.db"
    queue = _queue(path, clock, lock_timeout=0.2)
    queue.add_message({"n": 1}, item_id="a")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LockTimeoutError) as caught:
            queue.add_message({"n": 2})
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.timeout == 0.2
        assert str(path) in str(caught.value)
        assert queue.has_message("a")  # reads go on beside a writer (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    queue.add_message({"n": 2}, item_id="b")
    assert queue.check_existence(["a", "b"]) == ["a", "b"]


def test_other_operational_errors_are_storage_errors(tmp_path: Path) -> None:
    translated = sqlite_db.Translated("f", 1, None)
    with pytest.raises(StorageError, match="no such table"), translated:
        raise sqlite3.OperationalError("no such table: x")
    with pytest.raises(StorageError, match="read-only"), translated:
        raise sqlite3.OperationalError("attempt to write a readonly database")


def test_failed_transaction_rolls_back(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receive of two statements (no RETURNING) that fails half-way changes nothing."""
    queue = _queue(tmp_path / "queue.db", clock)
    queue._queue._use_returning = False  # type: ignore[attr-defined]
    queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"])

    real_hide = backend_module.SqliteQueue._hide

    def hide_then_fail(self: Any, *args: Any) -> Any:
        real_hide(self, *args)  # the rows are updated inside the transaction...
        raise sqlite3.OperationalError("disk I/O error")  # ...which then fails

    monkeypatch.setattr(backend_module.SqliteQueue, "_hide", hide_then_fail)
    with pytest.raises(StorageError):
        queue.receive_messages(max_messages=2)
    monkeypatch.undo()
    assert [m["receive_count"] for m in queue.get_messages()] == [0, 0]


def test_a_migration_that_fails_leaves_the_old_file_as_it_was(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = _v1_copy(tmp_path)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        # in the way of the migration's CREATE TABLE
        db.execute("CREATE TABLE imported_handles (x)")
    with pytest.raises(StorageError, match="already exists"):
        _queue(path, clock, "jobs")
    assert _pragma(path, "user_version") == 1
    assert "messages_by_handle" in _schema_names(path)
    assert _pragma(path, "integrity_check") == "ok"


# -- connections shared by every thread (the server's) -----------------------------------------


def _shared(tmp_path: Path, size: int, wait: float) -> sqlite_db.Database:
    backend = sqlite_db.Database(str(tmp_path / "queue.db"), durable=False)
    backend.share_connections(size, wait)
    return backend


def _count_rows(database: sqlite_db.Database) -> int:
    with database.statements(1) as db:
        count: int = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    return count


def test_a_connection_that_cannot_open_frees_its_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _shared(tmp_path, size=1, wait=0.2)
    held = backend._pool.borrow()  # type: ignore[union-attr]  # the adopted connection
    backend._pool.give_back(held)  # type: ignore[union-attr]
    backend.close()  # the next call has to open a new connection
    real_open = backend._open

    def failing() -> sqlite3.Connection:
        raise StorageError("cannot open", str(tmp_path))

    monkeypatch.setattr(backend, "_open", failing)
    with pytest.raises(StorageError, match="cannot open"):
        _count_rows(backend)
    monkeypatch.setattr(backend, "_open", real_open)
    assert _count_rows(backend) == 0  # the failed open did not keep the only slot
    backend.close()


def test_waiting_for_idle_connections_is_bounded(tmp_path: Path) -> None:
    backend = _shared(tmp_path, size=2, wait=5)
    pool = backend._pool
    assert pool is not None
    borrowed = pool.borrow()
    started = time.monotonic()
    pool.wait_idle(0.2)  # one is still borrowed: gives up after 0.2 s in all
    assert 0.15 <= time.monotonic() - started < 2
    pool.give_back(borrowed)
    pool.forget()
    backend.close()
    assert backend._opened == []


@pytest.mark.parametrize("queue_type", ["memory", "local", "sqlite"])
def test_a_sibling_handle_cannot_be_forged(tmp_path: Path, queue_type: str) -> None:
    """Handles of one receive share no random part: knowing one gives no other."""
    queue = PyQueue(
        None if queue_type == "memory" else tmp_path / f"queue.{queue_type}",
        queue_type=queue_type,  # type: ignore[call-overload]
    )
    queue.add_messages([{"n": 1}, {"n": 2}])
    first, second = queue.receive_messages(max_messages=2)
    prefix = first["ReceiptHandle"].rsplit("_", 1)[0]
    number = second["ReceiptHandle"].rsplit("_", 1)[1]
    assert not second["ReceiptHandle"].startswith(prefix)
    assert queue.delete_message(f"{prefix}_{number}") is False
    assert queue.get_queue_info()["message_count"] == 2
    assert queue.delete_message(second["ReceiptHandle"]) is True
    queue.close()


@pytest.mark.parametrize("content", [b"[]\n", b'[\n{"id": "a"}\n]\n', b"\xef\xbb\xbf  [ ]"])
def test_a_json_queue_file_names_the_queue_type_that_opens_it(
    tmp_path: Path, clock: FakeClock, content: bytes
) -> None:
    path = tmp_path / "queue.json"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match="queue_type='local'"):
        _queue(path, clock)
    assert path.read_bytes() == content
