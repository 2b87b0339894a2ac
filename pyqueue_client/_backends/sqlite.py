"""The SQLite backend: many named queues in one database file, fast at any depth.

The queue rules of ``_semantics`` as SQL, each call atomic (one statement, or one
``BEGIN IMMEDIATE`` transaction for batches). Visible messages are found through a partial
index of rows whose ``invisible_until`` is NULL, kept exact by clearing expired timeouts at the
start of each receive (through a second partial index, ordered by expiry), so a receive costs
O(log n) however deep the queue is and however many messages are in flight. Deleted messages
leave the table.

Every index costs pages in the write-ahead log on each commit, and commits bound the speed, so
there are only the two partial indexes above and the unique ``(queue, id)``. A receipt handle
ends with its row's ``seq``, so a delete finds its row by primary key; handles copied in from
other backends (``import_records``) are looked up in a small side table instead. A call that is
one statement runs without ``BEGIN``/``COMMIT``: SQLite makes each statement atomic, and a
writing statement takes the write lock before it reads, so it cannot act on a stale snapshot.

WAL mode, a busy timeout (``lock_timeout``), one connection per thread (or a few shared by
every thread, for a server: ``share_connections``), new connections after ``fork()``.
``durable`` picks ``synchronous=FULL`` (default) or ``NORMAL``. The schema is versioned with
``PRAGMA user_version`` and the file marked with ``PRAGMA application_id``, so a database that
is not ours is refused untouched.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import secrets
import sqlite3
import threading
import time
import weakref
from datetime import timedelta
from types import TracebackType
from typing import (
    Any,
    Callable,
    ContextManager,
    Generic,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypeVar,
)

from .._errors import LockTimeoutError, QueueCorruptedError, StorageError
from .._semantics import Clock, NewMessage, Record, delete_each, format_time, record_from
from .._storage.paths import check_queue_path
from .._types import (
    DeleteMessagesResult,
    MessageBody,
    QueueInfo,
    ReceivedMessage,
    StoredMessage,
)

__all__ = ["SCHEMA_VERSION", "SqliteBackend"]

#: The schema this code writes; files of older versions are migrated when opened.
SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of our databases ("PyQ1").
APPLICATION_ID = 0x50795131
#: RETURNING arrived in SQLite 3.35.0.
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_SQLITE_HEADER = b"SQLite format 3\x00"
_Value = TypeVar("_Value")
# How many ids one ``IN (...)`` may bind; SQLite before 3.32 allowed 999 variables.
_IN_CHUNK = 500

_IMPORTED_HANDLES = """
CREATE TABLE imported_handles (
    handle TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (handle, seq)
) WITHOUT ROWID
"""
_SCHEMA = (
    """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at TEXT,
    invisible_until TEXT,
    receipt_handle TEXT
);
CREATE UNIQUE INDEX messages_by_id ON messages (queue, id);
CREATE INDEX messages_visible ON messages (queue, seq) WHERE invisible_until IS NULL;
CREATE INDEX messages_hidden ON messages (queue, invisible_until)
    WHERE invisible_until IS NOT NULL;
"""
    + _IMPORTED_HANDLES
)
# Version 1 indexed every receipt handle and every never-received message: two more pages in
# the log per add, receive and delete. Its own handles already end with their seq; handles
# copied in from elsewhere move to the side table.
_MIGRATIONS = {
    1: (
        "DROP INDEX messages_never_received",
        "DROP INDEX messages_by_handle",
        _IMPORTED_HANDLES,
        "INSERT INTO imported_handles (handle, seq) SELECT receipt_handle, seq FROM messages"
        " WHERE receipt_handle IS NOT NULL AND receipt_handle NOT LIKE '%!_' || seq ESCAPE '!'",
    ),
}
_COLUMNS = (
    "seq",
    "queue",
    "id",
    "timestamp",
    "body",
    "receive_count",
    "first_received_at",
    "invisible_until",
    "receipt_handle",
)
_STORED = "id, timestamp, body, receive_count, first_received_at, invisible_until"
_PICK = (
    "SELECT seq FROM messages INDEXED BY messages_visible"
    " WHERE queue = :queue AND invisible_until IS NULL{only_new} ORDER BY seq LIMIT :limit"
)
_PICKS = {False: _PICK.format(only_new=""), True: _PICK.format(only_new=" AND receive_count = 0")}
# A delete finds its row by the seq its handle ends with, or through the side table. (NOT
# INDEXED: otherwise SQLite may prefer walking the queue's ids to two primary-key lookups.)
_DELETE_BY_HANDLE = (
    "DELETE FROM messages NOT INDEXED WHERE queue = :queue AND receipt_handle = :handle AND seq IN"
    " (SELECT :seq UNION ALL SELECT seq FROM imported_handles WHERE handle = :handle)"
)


class SqliteBackend:
    """A named queue in a SQLite database file, shared safely by threads and processes."""

    def __init__(
        self,
        path: str,
        queue_name: str,
        clock: Clock,
        durable: bool = True,
        lock_timeout: float = 10.0,
        use_returning: bool = _HAS_RETURNING,
    ) -> None:
        self._path = path
        self._queue = queue_name
        self._clock = clock
        self._durable = durable
        self._lock_timeout = lock_timeout
        self._use_returning = use_returning
        self._pid = os.getpid()
        self._local = threading.local()
        self._opened: List[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._pool: Optional[_Pool] = None
        # a queue dropped without close() still closes its connections (and SQLite's files)
        self._finalizer = weakref.finalize(
            self, _close_connections, self._opened, self._opened_lock, self._pid
        )
        check_queue_path(path)
        self._connection()  # open now, so a bad file is reported by the constructor

    # -- connections ----------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # Connections must not cross fork(): the child opens its own and leaves the parent's
            # alone (closing them here could disturb the parent's locks).
            self._pid = os.getpid()
            self._local = threading.local()
            # a new list: the parent's connections stay the parent's to close
            self._opened = []
            self._opened_lock = threading.Lock()
            self._finalizer.detach()
            self._finalizer = weakref.finalize(
                self, _close_connections, self._opened, self._opened_lock, self._pid
            )
        connection: Optional[sqlite3.Connection] = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open_counted()
            self._local.connection = connection
        return connection

    def _open_counted(self) -> sqlite3.Connection:
        """A new connection, counted among those ``close()`` closes."""
        connection = self._open()
        with self._opened_lock:
            self._opened.append(connection)
        return connection

    def share_connections(self, size: int, wait: float) -> None:
        """Serve every thread from at most ``size`` shared connections, not one per thread.

        For a server, whose request threads come and go with its clients: each call borrows a
        connection for its statements and gives it back, so connections stay few and open, and
        a call runs on its caller's thread with no hand-off. A call that finds all ``size`` in
        use waits up to ``wait`` seconds, then raises ``LockTimeoutError``. Not after ``fork()``.
        """
        pool = _Pool(self._open_counted, size, wait, self._path)
        opened: Optional[sqlite3.Connection] = getattr(self._local, "connection", None)
        if opened is not None:
            pool.give_back(opened, taken=False)  # the constructor's, adopted
        self._local = threading.local()
        self._pool = pool

    def _open(self) -> sqlite3.Connection:
        _check_header(self._path)
        _check_writable(self._path)
        with _Translated(self._path, self._lock_timeout, None):
            # Each connection serves one thread; close() may run on another, hence the flag.
            connection = sqlite3.connect(
                self._path,
                timeout=self._lock_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                _prepare(connection, self._path)
                synchronous = "FULL" if self._durable else "NORMAL"
                connection.execute(f"PRAGMA synchronous = {synchronous}")
            except BaseException:
                connection.close()
                raise
        return connection

    @contextlib.contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        pool = self._pool
        connection = self._connection() if pool is None else pool.borrow()
        try:
            with _Translated(self._path, self._lock_timeout, None), _within(connection, write):
                yield connection
        finally:
            if pool is not None:
                pool.give_back(connection)

    def _statements(self, count: int, write: bool = True) -> ContextManager[sqlite3.Connection]:
        """A transaction around ``count`` statements, or none around one: SQLite makes a single
        statement atomic by itself, and the ``BEGIN`` and ``COMMIT`` would cost two more calls."""
        if count > 1:
            return self._transaction(write)
        pool = self._pool
        if pool is None:
            return _Translated(self._path, self._lock_timeout, self._connection())
        return _Translated(self._path, self._lock_timeout, pool.borrow(), pool.give_back)

    def close(self) -> None:
        """Close every connection this process opened (shared ones once they are given back)."""
        if self._pool is not None:
            # a call holds a connection for its statements: at most a lock wait, then some
            self._pool.wait_idle(self._lock_timeout + 5.0)
        _close_connections(self._opened, self._opened_lock, self._pid)
        self._local = threading.local()
        if self._pool is not None:
            self._pool.forget()

    # -- adding and reading ---------------------------------------------------------------------

    def add_messages(self, items: Sequence[NewMessage]) -> List[str]:
        now = format_time(self._clock())
        rows = [(self._queue, item_id, now, body_json) for item_id, body_json in items]
        with self._statements(len(rows)) as db:
            db.executemany(
                "INSERT OR IGNORE INTO messages (queue, id, timestamp, body) VALUES (?, ?, ?, ?)",
                rows,
            )
        return [item.id for item in items]

    def get_messages(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        limit = -1 if max_messages is None else max_messages
        with self._statements(1) as db:
            rows = db.execute(
                f"SELECT {_STORED} FROM messages WHERE queue = ? ORDER BY seq LIMIT ? OFFSET ?",
                (self._queue, limit, offset),
            ).fetchall()
        return [_stored(row) for row in rows]

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        with self._statements(1) as db:
            row = db.execute(
                f"SELECT {_STORED} FROM messages WHERE queue = ? AND id = ?", (self._queue, item_id)
            ).fetchone()
        return None if row is None else _stored(row)

    def check_existence(self, item_ids: Sequence[str]) -> List[str]:
        found: Set[str] = set()
        unique = list(dict.fromkeys(item_ids))
        with self._statements(-(-len(unique) // _IN_CHUNK), write=False) as db:
            for start in range(0, len(unique), _IN_CHUNK):
                chunk = unique[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in db.execute(
                        f"SELECT id FROM messages WHERE queue = ? AND id IN ({marks})",
                        (self._queue, *chunk),
                    )
                )
        return [item_id for item_id in item_ids if item_id in found]

    # -- receiving and deleting -----------------------------------------------------------------

    def receive_messages(
        self,
        max_messages: int,
        visibility_timeout: float,
        delete_after_receive: bool,
        only_new: bool,
    ) -> List[ReceivedMessage]:
        moment = self._clock()
        now = format_time(moment)
        until = format_time(moment + timedelta(seconds=visibility_timeout))
        token = "receipt_" + secrets.token_urlsafe(18) + "_"
        # only_new walks the visible index past messages received before: cheap while those are
        # few, and it spares every add and receive the upkeep of an index of its own.
        pick = _PICKS[only_new]
        params = {"queue": self._queue, "limit": max_messages, "now": now, "until": until}
        # Clearing expired timeouts needs no transaction with the pick: it only makes visible
        # what already is. With RETURNING, the pick and its update are then one statement.
        with self._statements(1) as db:
            _expire(db, self._queue, now)
        with self._statements(1 if self._use_returning else 2) as db:
            if delete_after_receive:
                rows = self._take(db, pick, params)
            else:
                rows = self._hide(db, pick, dict(params, token=token))
        rows.sort(key=lambda row: int(row[0]))
        return [_received(row, token, now, counted=not delete_after_receive) for row in rows]

    def _hide(self, db: sqlite3.Connection, pick: str, params: Any) -> List[Any]:
        """Mark the picked messages received; returns (seq, id, ...) rows as they are now."""
        update = (
            "UPDATE messages SET receive_count = receive_count + 1,"
            " first_received_at = COALESCE(first_received_at, :now),"
            " invisible_until = :until, receipt_handle = :token || seq"
        )
        if self._use_returning:
            return db.execute(
                f"{update} WHERE seq IN ({pick})"
                " RETURNING seq, id, timestamp, body, receive_count, first_received_at",
                params,
            ).fetchall()
        rows = db.execute(
            f"SELECT seq, id, timestamp, body, receive_count + 1,"
            f" COALESCE(first_received_at, :now) FROM messages WHERE seq IN ({pick})",
            params,
        ).fetchall()
        db.execute(f"{update} WHERE seq IN ({pick})", params)
        return rows

    def _take(self, db: sqlite3.Connection, pick: str, params: Any) -> List[Any]:
        """Delete the picked messages; returns their rows as they were."""
        columns = "seq, id, timestamp, body, receive_count, first_received_at"
        if self._use_returning:
            return db.execute(
                f"DELETE FROM messages WHERE seq IN ({pick}) RETURNING {columns}", params
            ).fetchall()
        rows = db.execute(
            f"SELECT {columns} FROM messages WHERE seq IN ({pick})", params
        ).fetchall()
        db.execute(f"DELETE FROM messages WHERE seq IN ({pick})", params)
        return rows

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        with self._statements(len(receipt_handles)) as db:

            def delete_one(handle: str) -> bool:
                params = {"queue": self._queue, "handle": handle, "seq": _handle_seq(handle)}
                return bool(db.execute(_DELETE_BY_HANDLE, params).rowcount)

            return delete_each(receipt_handles, delete_one)

    # -- changing -------------------------------------------------------------------------------

    def remove_message(self, item_id: str) -> bool:
        with self._statements(1) as db:
            return bool(
                db.execute(
                    "DELETE FROM messages WHERE queue = ? AND id = ?", (self._queue, item_id)
                ).rowcount
            )

    def update_message(self, item_id: str, body: MessageBody) -> bool:
        now = format_time(self._clock())
        with self._statements(1) as db:
            return bool(
                db.execute(
                    "UPDATE messages SET body = ?, timestamp = ? WHERE queue = ? AND id = ?",
                    (json.dumps(body), now, self._queue, item_id),
                ).rowcount
            )

    def clear_queue(self) -> None:
        with self._statements(1) as db:
            db.execute("DELETE FROM messages WHERE queue = ?", (self._queue,))

    def cleanup_expired_messages(self) -> bool:
        with self._statements(1) as db:
            _expire(db, self._queue, format_time(self._clock()))
        return True

    # -- statistics -----------------------------------------------------------------------------

    def get_queue_info(self) -> QueueInfo:
        now = format_time(self._clock())
        with self._statements(1) as db:
            count, visible, never, receives = db.execute(
                "SELECT COUNT(*),"
                " TOTAL(invisible_until IS NULL OR invisible_until <= ?),"
                " TOTAL(receive_count = 0), TOTAL(receive_count)"
                " FROM messages WHERE queue = ?",
                (now, self._queue),
            ).fetchone()
        return {
            "queue_type": "sqlite",
            "queue_file": self._path,
            "queue_name": self._queue,
            "message_count": count,
            "visible_messages": int(visible),
            "invisible_messages": count - int(visible),
            "never_received": int(never),
            "total_receives": int(receives),
            "file_size": _file_size(self._path),
        }

    def health_check(self) -> bool:
        try:
            with self._transaction(write=False) as db:
                db.execute("SELECT 1 FROM messages LIMIT 1").fetchall()
        except Exception:
            return False
        return True

    def queue_names(self) -> List[str]:
        """The names of the queues in this file that hold at least one message, sorted."""
        with self._statements(1) as db:
            return [row[0] for row in db.execute("SELECT DISTINCT queue FROM messages ORDER BY 1")]

    def with_queue(self, queue_name: str) -> SqliteBackend:
        """A backend for another named queue in the same file that shares this one's connections.

        For a process that serves many queues from one file (``pyqueue serve``): each thread keeps
        one connection for all of them instead of one per queue. Call ``close()`` only on the
        backend this was called on; it closes the shared connections.
        """
        # A shallow copy shares the per-thread connections, their list and its lock by reference.
        other = copy.copy(self)
        other._queue = queue_name
        return other

    # -- copying between backends ---------------------------------------------------------------

    def export_records(self) -> List[Record]:
        """Every message with all its tracking fields, in queue order."""
        with self._statements(1) as db:
            rows = db.execute(
                f"SELECT {_STORED}, receipt_handle FROM messages WHERE queue = ? ORDER BY seq",
                (self._queue,),
            ).fetchall()
        return [_record(row) for row in rows]

    def import_records(self, records: Sequence[Record]) -> int:
        """Append records as they are (ids kept); ids already present are skipped.

        Their receipt handles keep working: each goes into the side table with its row's seq.
        """
        added = 0
        with self._transaction() as db:
            for record in records:
                handle = record["current_receipt_handle"]
                cursor = db.execute(
                    "INSERT OR IGNORE INTO messages (queue, id, timestamp, body, receive_count,"
                    " first_received_at, invisible_until, receipt_handle)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        self._queue,
                        record["id"],
                        record["timestamp"],
                        json.dumps(record["message_body"]),
                        record["receive_count"],
                        record["first_received_at"],
                        record["invisible_until"],
                        handle,
                    ),
                )
                if not cursor.rowcount:
                    continue
                added += 1
                if handle is not None and _handle_seq(handle) != cursor.lastrowid:
                    db.execute(
                        "INSERT OR IGNORE INTO imported_handles (handle, seq) VALUES (?, ?)",
                        (handle, cursor.lastrowid),
                    )
        return added


# -- module helpers -------------------------------------------------------------------------------


class _Pool:
    """Connections any thread may borrow, at most ``size`` at a time (``share_connections``)."""

    def __init__(
        self, open_connection: Callable[[], sqlite3.Connection], size: int, wait: float, path: str
    ) -> None:
        self._open = open_connection
        self._size = size
        self._wait = wait
        self._path = path
        self._slots = threading.BoundedSemaphore(size)
        self._idle: List[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def borrow(self) -> sqlite3.Connection:
        """An idle connection (a new one if none is), waiting for a free slot up to ``wait``."""
        if not self._slots.acquire(timeout=self._wait):
            raise LockTimeoutError(self._path, self._wait)
        with self._lock:
            if self._idle:
                return self._idle.pop()  # the most recently used: its pages are warm
        try:
            return self._open()
        except BaseException:
            self._slots.release()
            raise

    def give_back(self, connection: sqlite3.Connection, taken: bool = True) -> None:
        """Return a borrowed connection (or add one that was never borrowed: ``taken=False``)."""
        with self._lock:
            self._idle.append(connection)
        if taken:
            self._slots.release()

    def wait_idle(self, timeout: float) -> None:
        """Wait (up to ``timeout`` in all) until no connection is borrowed; let none be borrowed."""
        deadline = time.monotonic() + timeout
        for _ in range(self._size):
            if not self._slots.acquire(timeout=max(deadline - time.monotonic(), 0)):
                break

    def forget(self) -> None:
        """After the connections were closed: start again empty, every slot free."""
        with self._lock:
            self._idle.clear()
            self._slots = threading.BoundedSemaphore(self._size)


def _close_connections(
    opened: List[sqlite3.Connection], lock: threading.Lock, owner_pid: int
) -> None:
    """Close and forget the connections in ``opened``, if this process opened them."""
    with lock:
        connections = list(opened)
        opened.clear()
    if owner_pid == os.getpid():
        for connection in connections:
            connection.close()


def _expire(db: sqlite3.Connection, queue: str, now: str) -> None:
    """Make messages whose timeout has passed visible again (through the expiry index).

    Looking first is a read, which in WAL mode waits for no writer; most receives find nothing
    to clear and so never take the write lock twice.
    """
    where = "WHERE queue = ? AND invisible_until IS NOT NULL AND invisible_until <= ?"
    if db.execute(f"SELECT 1 FROM messages {where} LIMIT 1", (queue, now)).fetchone():
        db.execute(f"UPDATE messages SET invisible_until = NULL {where}", (queue, now))


def _handle_seq(handle: str) -> Optional[int]:
    """The seq a receipt handle ends with (``..._<seq>``), or None."""
    digits = handle[handle.rfind("_") + 1 :]
    # isascii: int() would also read other scripts' digits; 18 digits always fit in 64 bits
    if "_" in handle and digits.isdigit() and digits.isascii() and len(digits) <= 18:
        return int(digits)
    return None


def _stored(row: Any) -> StoredMessage:
    item_id, timestamp, body, count, first, until = row
    return {
        "id": item_id,
        "timestamp": timestamp,
        "message_body": json.loads(body),
        "receive_count": count,
        "first_received_at": first,
        "invisible_until": until,
    }


def _record(row: Any) -> Record:
    return record_from(_stored(row[:6]), row[6])


def _received(row: Any, token: str, now: str, counted: bool) -> ReceivedMessage:
    """A received message from a row; ``counted`` when the row already has the new count."""
    seq, item_id, timestamp, body, count, first = row
    return {
        "Id": item_id,
        "ReceiptHandle": f"{token}{seq}",
        "message_body": json.loads(body),
        "timestamp": timestamp,
        "receive_count": count if counted else count + 1,
        "first_received_at": first or now,
    }


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _check_header(path: str) -> None:
    """Refuse a file that is not SQLite before SQLite touches it."""
    try:
        with open(path, "rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot read queue file {path!r}: {exc.strerror}", path) from exc
    if header and header != _SQLITE_HEADER:
        raise QueueCorruptedError(path, "not a SQLite database")


def _prepare(connection: sqlite3.Connection, path: str) -> None:
    """Check the database is ours (creating the schema in an empty one), then switch to WAL.

    The check only reads, so opening a queue never waits for another process's write; the write
    lock is taken only to create the schema or migrate an older one, and what was seen is
    checked again under it.
    """
    if _is_empty(connection):
        with _within(connection, write=True):
            if _is_empty(connection):
                _create_schema(connection)
    with _within(connection, write=False):
        version = _check_schema(connection, path)
    if version < SCHEMA_VERSION:
        with _within(connection, write=True):
            _migrate(connection, _check_schema(connection, path))
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        connection.execute("PRAGMA journal_mode = WAL")


def _is_empty(connection: sqlite3.Connection) -> bool:
    """A new database: no application mark and no tables."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    table = connection.execute("SELECT name FROM sqlite_master LIMIT 1").fetchone()
    return application_id == 0 and table is None


def _create_schema(connection: sqlite3.Connection) -> None:
    # one statement at a time: executescript() would commit the transaction first
    for statement in filter(str.strip, _SCHEMA.split(";")):
        connection.execute(statement)
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextlib.contextmanager
def _within(connection: sqlite3.Connection, write: bool) -> Iterator[None]:
    """A transaction (``BEGIN IMMEDIATE`` to write, which takes the write lock at once),
    committed, or rolled back if its body fails."""
    connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _check_schema(connection: sqlite3.Connection, path: str) -> int:
    """The schema version of one of our databases; anything else raises."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if application_id != APPLICATION_ID:
        raise QueueCorruptedError(path, "a SQLite database of another application")
    if version > SCHEMA_VERSION:
        raise QueueCorruptedError(
            path, f"schema version {version} is newer than this library's {SCHEMA_VERSION}"
        )
    columns = _columns(connection, "messages")
    handles = _columns(connection, "imported_handles")
    if columns != _COLUMNS or version < 1 or (version >= 2 and handles != ("handle", "seq")):
        raise QueueCorruptedError(path, "its messages table is not of the expected shape")
    return version


def _columns(connection: sqlite3.Connection, table: str) -> Tuple[str, ...]:
    return tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))


def _migrate(connection: sqlite3.Connection, version: int) -> None:
    """Bring a database from ``version`` to ``SCHEMA_VERSION``, one step at a time."""
    for step in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step]:
            connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_writable(path: str) -> None:
    """Refuse files we could only read: SQLite would open them, then fail on the first write,
    and in WAL mode a reader leaves ``-wal``/``-shm`` files that can lock the owner out."""
    folder = os.path.dirname(os.path.abspath(path))
    sidecars = [path + "-wal", path + "-shm"]
    existing = [name for name in [path, *sidecars] if os.path.exists(name)]
    if not all(os.access(name, os.W_OK) for name in existing):
        raise _read_only(path)
    if not os.access(folder, os.W_OK | os.X_OK) and not all(map(os.path.exists, sidecars)):
        raise _read_only(path)


def _read_only(path: str) -> StorageError:
    return StorageError(
        f"cannot write queue file {path!r}: the file or its folder is read-only", path
    )


class _Translated(Generic[_Value]):
    """Turn ``sqlite3`` errors into our hierarchy, naming the file; ``with`` gives ``value``,
    and hands it to ``release`` (if any) on the way out.

    A class, not a generator: it wraps every call, and this form costs a fraction as much.
    """

    __slots__ = ("_lock_timeout", "_path", "_release", "_value")

    def __init__(
        self,
        path: str,
        lock_timeout: float,
        value: _Value,
        release: Optional[Callable[[_Value], None]] = None,
    ) -> None:
        self._path = path
        self._lock_timeout = lock_timeout
        self._value = value
        self._release = release

    def __enter__(self) -> _Value:
        return self._value

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        error: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self._release is not None:
            self._release(self._value)
        path = self._path
        if isinstance(error, sqlite3.OperationalError):
            text = str(error)
            if "locked" in text or "busy" in text:
                raise LockTimeoutError(path, self._lock_timeout) from error
            if "readonly" in text or "read-only" in text:
                raise _read_only(path) from error
            raise StorageError(f"cannot use queue file {path!r}: {text}", path) from error
        if isinstance(error, sqlite3.DatabaseError):
            raise QueueCorruptedError(path, str(error)) from error
