"""A SQLite database file of ours: connections, schema, migrations, and errors in our terms.

WAL mode, a busy timeout (``lock_timeout``), one connection per thread, closed after the thread
ends (or a few shared by every thread, for a server: ``share_connections``), new connections
after ``fork()``; ``close()`` waits for the calls running on them. The file itself is opened only
through SQLite (see ``_refuse_foreign``). ``durable`` picks ``synchronous=FULL`` (default) or
``NORMAL``. The schema is versioned with ``PRAGMA user_version`` and the file marked with
``PRAGMA application_id``, so a database that is not ours is refused untouched, and an older one
is migrated when opened. What the queues do with the tables is in ``_semantics_sql`` and the
SQLite backend; this module knows only files, connections and the shape of the tables.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import time
import weakref
from types import TracebackType
from typing import (
    Callable,
    ContextManager,
    Dict,
    Generic,
    Iterator,
    List,
    NoReturn,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

from .._errors import LockTimeoutError, QueueCorruptedError, StorageError
from .paths import check_queue_path, format_of, opened_with_the_wrong_type

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "Database"]

#: The schema this code writes; files of older versions are migrated when opened.
SCHEMA_VERSION = 3
#: ``PRAGMA application_id`` of our databases ("PyQ1").
APPLICATION_ID = 0x50795131
_SQLITE_HEADER = b"SQLite format 3\x00"
_Value = TypeVar("_Value")

_IMPORTED_HANDLES = """
CREATE TABLE imported_handles (
    handle TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (handle, seq)
) WITHOUT ROWID
"""
_QUEUES = """
CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    attributes TEXT NOT NULL
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
    receipt_handle TEXT,
    source_queue TEXT
);
CREATE UNIQUE INDEX messages_by_id ON messages (queue, id);
CREATE INDEX messages_visible ON messages (queue, seq) WHERE invisible_until IS NULL;
CREATE INDEX messages_hidden ON messages (queue, invisible_until)
    WHERE invisible_until IS NOT NULL;
"""
    + _IMPORTED_HANDLES
    + ";"
    + _QUEUES
)
# Version 1 indexed every receipt handle and every never-received message: two more pages in
# the log per add, receive and delete. Its own handles already end with their seq; handles
# copied in from elsewhere move to the side table. Version 3 gave queues a table of attributes,
# and dead letters the name of the queue they came from.
_MIGRATIONS = {
    1: (
        "DROP INDEX messages_never_received",
        "DROP INDEX messages_by_handle",
        _IMPORTED_HANDLES,
        "INSERT INTO imported_handles (handle, seq) SELECT receipt_handle, seq FROM messages"
        " WHERE receipt_handle IS NOT NULL AND receipt_handle NOT LIKE '%!_' || seq ESCAPE '!'",
    ),
    2: (_QUEUES, "ALTER TABLE messages ADD COLUMN source_queue TEXT"),
}
#: Each table's columns, as the current schema has them.
_TABLES = {
    "messages": (
        "seq",
        "queue",
        "id",
        "timestamp",
        "body",
        "receive_count",
        "first_received_at",
        "invisible_until",
        "receipt_handle",
        "source_queue",
    ),
    "imported_handles": ("handle", "seq"),
    "queues": ("name", "attributes"),
}
#: The schema version in which each table first appeared.
_SINCE = {"messages": 1, "imported_handles": 2, "queues": 3}
#: Columns added to a table after it appeared: (table, version) -> how many it had before.
_ADDED = {("messages", 3): 9}


class Database:
    """Connections to one database file, shared safely by threads and processes."""

    def __init__(self, path: str, durable: bool = True, lock_timeout: float = 10.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self._durable = durable
        self._pid = os.getpid()
        self._local = threading.local()
        self._opened: List[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        #: the thread each thread's own connection serves (not the shared ones)
        self._owners: Dict[sqlite3.Connection, threading.Thread] = {}
        self._pool: Optional[_Pool] = None
        # a database dropped without close() still closes its connections (and SQLite's files)
        self._finalizer = weakref.finalize(
            self, _close_connections, self._opened, self._opened_lock, self._pid
        )
        self._empty: Optional[sqlite3.Connection] = None
        self._calls = _Calls()
        check_queue_path(path)
        self._open_lock = threading.Lock()
        self._empty_lock = threading.Lock()
        if os.path.exists(path):
            self._connection()  # open now, so a bad file is reported by the constructor
        else:
            _check_writable(path)  # a file that could never be made is refused now

    def _after_fork(self) -> None:
        """Connections must not cross fork(): the child opens its own and leaves the parent's
        alone (closing them here could disturb the parent's locks)."""
        self._pid = os.getpid()
        self._local = threading.local()
        # a new list: the parent's connections stay the parent's to close
        self._opened = []
        self._opened_lock = threading.Lock()
        self._owners = {}
        self._open_lock = threading.Lock()
        self._empty_lock = threading.Lock()
        self._calls = _Calls()  # the parent's threads, running calls or closing, are not here
        self._finalizer.detach()
        self._finalizer = weakref.finalize(
            self, _close_connections, self._opened, self._opened_lock, self._pid
        )

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self._after_fork()
        connection: Optional[sqlite3.Connection] = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open_counted()
            self._local.connection = connection
            self._close_ended(connection, threading.current_thread())
        return connection

    def _close_ended(self, opened: sqlite3.Connection, owner: threading.Thread) -> None:
        """Note ``opened`` as ``owner``'s, and close the connections of threads that ended.

        A program that runs each task on a new thread would otherwise keep a connection, and
        its file descriptors, for every thread it ever ran. An ended thread uses its own no
        more; those ``close()`` closed are forgotten."""
        with self._opened_lock:
            alive = {id(connection) for connection in self._opened}
            owners = {c: t for c, t in self._owners.items() if id(c) in alive}
            ended = [connection for connection, thread in owners.items() if not thread.is_alive()]
            for connection in ended:
                del owners[connection]
                self._opened.remove(connection)
            owners[opened] = owner
            self._owners = owners
        for connection in ended:
            connection.close()

    def _open_counted(self) -> sqlite3.Connection:
        """A new connection, counted among those ``close()`` closes.

        One at a time in this process: the first connections to a new file create its schema
        and switch it to WAL, which cannot wait for a busy lock like other statements."""
        with self._open_lock:
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
        pool = _Pool(self._open_counted, size, wait, self.path)
        opened: Optional[sqlite3.Connection] = getattr(self._local, "connection", None)
        if opened is not None:
            pool.give_back(opened, taken=False)  # the constructor's, adopted
        self._local = threading.local()
        self._pool = pool

    def _open(self) -> sqlite3.Connection:
        # The file is never opened here before SQLite has judged it: see _refuse_foreign.
        _check_writable(self.path)
        with Translated(self.path, self.lock_timeout, None):
            # Each connection serves one thread; close() may run on another, hence the flag.
            connection = sqlite3.connect(
                self.path,
                timeout=self.lock_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                _prepare(connection, self.path, self.lock_timeout)
                synchronous = "FULL" if self._durable else "NORMAL"
                connection.execute(f"PRAGMA synchronous = {synchronous}")
            except BaseException as exc:
                connection.close()
                if _not_a_database(exc):
                    _refuse_foreign(self.path, exc)
                raise
        return connection

    def _absent(self) -> bool:
        """Whether the file does not exist yet (a read then sees an empty database)."""
        return not self._opened and not os.path.exists(self.path)

    def _nothing(self) -> sqlite3.Connection:
        """An empty database in memory, with our schema: what a read of a missing file sees,
        so reading never creates the file."""
        if self._empty is None:  # made once: callers hold _empty_lock
            empty = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            _create_schema(empty)
            self._empty = empty
            # closed with the database, or when it is dropped without close()
            weakref.finalize(self, empty.close)
        return self._empty

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN`` (``BEGIN IMMEDIATE`` to ``write``) ... ``COMMIT``."""
        connection, end = self._start(write)
        try:
            if connection is self._empty:
                yield connection
                return
            with Translated(self.path, self.lock_timeout, None), _within(connection, write):
                yield connection
        finally:
            end(connection)

    def statements(self, count: int, write: bool = True) -> ContextManager[sqlite3.Connection]:
        """A transaction around ``count`` statements, or none around one: SQLite makes a single
        statement atomic by itself, and the ``BEGIN`` and ``COMMIT`` would cost two more calls."""
        if count > 1:
            return self.transaction(write)
        connection, end = self._start(write)
        return Translated(self.path, self.lock_timeout, connection, end)

    def _start(
        self, write: bool
    ) -> Tuple[sqlite3.Connection, Callable[[sqlite3.Connection], None]]:
        """Begin a call: the connection it runs on (which ``close()`` leaves open until the call
        ends) and what ends the call. Whether the connection goes back to a pool is decided
        here, where it is known, never guessed later from the connection (a read of a missing
        file runs on an in-memory stand-in that no pool lent)."""
        if self._pid != os.getpid():
            self._after_fork()
        self._calls.begin()
        try:
            if not write and self._absent():
                # One call at a time on the stand-in: a sqlite3 connection is not safe to use
                # from several threads at once (3.13 answers "API misuse").
                self._empty_lock.acquire()
                try:
                    return self._nothing(), self._end_stand_in
                except BaseException:
                    self._empty_lock.release()
                    raise
            pool = self._pool
            if pool is None:
                return self._connection(), self._end
            return pool.borrow(), functools.partial(self._end_borrowed, pool)
        except BaseException:
            self._calls.end()
            raise

    def _end(self, connection: sqlite3.Connection) -> None:
        """End a call whose connection no pool lent."""
        self._calls.end()

    def _end_stand_in(self, connection: sqlite3.Connection) -> None:
        """End a call on the in-memory stand-in of a missing file."""
        self._empty_lock.release()
        self._calls.end()

    def _end_borrowed(self, pool: _Pool, connection: sqlite3.Connection) -> None:
        """End a call: give its connection back to the pool that lent it."""
        try:
            pool.give_back(connection)
        finally:
            self._calls.end()

    def close(self) -> None:
        """Close every connection this process opened, once the calls running on them end.

        A call holds a connection for its statements: at most a lock wait, then some. Calls
        begun meanwhile wait, then open new connections (a database is usable after close)."""
        patience = self.lock_timeout + 5.0
        with self._calls.stopped(patience):
            if self._pool is not None:
                self._pool.wait_idle(patience)
            _close_connections(self._opened, self._opened_lock, self._pid)
            if self._empty is not None:
                self._empty.close()
                self._empty = None
            self._local = threading.local()
            self._owners = {}
            if self._pool is not None:
                self._pool.forget()

    def file_size(self) -> int:
        """The database file's size in bytes (0 if it cannot be read)."""
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0


#: What ends a call begun by ``Database._start``, given the call's connection.
_Ending = Callable[[sqlite3.Connection], None]


class _Calls:
    """The calls running on a database's connections, and the gate ``close()`` shuts while it
    closes them: the ``sqlite3`` module may crash the interpreter when a connection is closed
    under a statement that another thread is running. Calls do not nest (a call begun inside
    another would wait for a ``close()`` that waits for the outer one)."""

    def __init__(self) -> None:
        # the lock alone on the way of every call; its condition only while a close() waits
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._running = 0
        self._closing = 0

    def begin(self) -> None:
        """Count a call in, once no ``close()`` is under way."""
        with self._lock:
            while self._closing:
                self._condition.wait()
            self._running += 1

    def end(self) -> None:
        """Count a call out."""
        with self._lock:
            self._running -= 1
            if self._closing and not self._running:
                self._condition.notify_all()

    @contextlib.contextmanager
    def stopped(self, timeout: float) -> Iterator[None]:
        """No call begins inside the block, entered once the running ones ended (or after
        ``timeout``, so a stuck call cannot keep the connections open for ever)."""
        with self._lock:
            self._closing += 1
            self._condition.wait_for(lambda: not self._running, timeout)
        try:
            yield
        finally:
            with self._lock:
                self._closing -= 1
                self._condition.notify_all()


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


def _not_a_database(error: BaseException) -> bool:
    """Whether SQLite refused the file as not a database (``SQLITE_NOTADB``; only its message
    tells it apart before Python 3.11)."""
    return isinstance(error, sqlite3.DatabaseError) and str(error) == "file is not a database"


def _refuse_foreign(path: str, error: BaseException) -> NoReturn:
    """Raise the error for a file SQLite refused: a local JSON queue names its queue type.

    Only now, with SQLite's verdict in, is the file read by us. POSIX record locks belong to
    the process, and closing any descriptor of the file drops every one it holds on it, SQLite's
    included ("How To Corrupt An SQLite Database File", section 2.2): a read of a live
    database's header beside a connection dropped the shared lock that tells other processes
    the file is in use, and the last of theirs to close then deleted the -wal and -shm files
    under this one (a "disk I/O error" here, and writes lost to the deleted log)."""
    header = b""
    with contextlib.suppress(OSError), open(path, "rb") as file:  # SQLite read it just now
        header = file.read(len(_SQLITE_HEADER))
    if format_of(header) == "local":
        raise opened_with_the_wrong_type(path, "local", "SQLite") from error
    raise QueueCorruptedError(path, "not a SQLite database") from error


def _prepare(connection: sqlite3.Connection, path: str, lock_timeout: float) -> None:
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
    _switch_to_wal(connection, lock_timeout)


def _switch_to_wal(connection: sqlite3.Connection, lock_timeout: float) -> None:
    """WAL mode, once per file. The switch needs the file to itself and does not wait for a
    busy lock as statements do, so processes opening a new file together retry it briefly."""
    deadline = time.monotonic() + lock_timeout
    while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


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
    if version < 1 or any(
        version >= since and _columns(connection, table) != _expected(table, version)
        for table, since in _SINCE.items()
    ):
        raise QueueCorruptedError(path, "its tables are not of the expected shape")
    return version


def _expected(table: str, version: int) -> Tuple[str, ...]:
    """The columns ``table`` has in a file of schema ``version``."""
    columns = _TABLES[table]
    for (added_to, since), before in _ADDED.items():
        if added_to == table and version < since:
            columns = columns[:before]
    return columns


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


class Translated(Generic[_Value]):
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
