"""Real processes sharing one queue store, on the local JSON file and on SQLite: exactly-once
consumption, racing adds, lock timeouts against another process and fork safety; then what only
one backend has: the JSON file's rewrite detection, and SQLite's named queues, readers during a
write and read-only storage.

The children are ``tests/_workers.py`` commands (see that module for what each one logs). The
tests run with ``durable=False``: fsync changes how long a write takes, not what the lock or the
transaction protects, and halves the run time; the crash test (``test_crash.py``) keeps the
durable default too. Stores are checked at the end without the library (``stored_ids``: the
file parsed as plain JSON, the database read with plain read-only ``sqlite3`` after
``PRAGMA integrity_check``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Set

import pytest

from pyqueue_client import LockTimeoutError, PyQueue

from ._workers import (
    EXIT_OK,
    FORK_LOCK_TIMEOUT,
    QUEUE_TYPES,
    STORE_NAMES,
    Worker,
    assert_exactly_once,
    consumed,
    consumer,
    duplicates,
    lock_holder,
    producer,
    queue_at,
    release_and_finish,
    run_child,
    run_producers_then_consumers,
    stored_ids,
)
from .conftest import child_env

pytestmark = pytest.mark.slow

on_each_store = pytest.mark.parametrize("queue_type", QUEUE_TYPES)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="fork, file modes and setuid")

#: Messages per producer in the exactly-once test: the JSON file rewrites the whole queue on
#: every call, so it gets half as many as SQLite for a similar run time.
PER_PRODUCER = {"local": 250, "sqlite": 500}


def _store(tmp_path: Path, queue_type: str) -> Path:
    """The queue store's path in ``tmp_path``, created empty (before any race)."""
    store = tmp_path / STORE_NAMES[queue_type]
    queue_at(queue_type, store).close()
    return store


def _producer(
    tmp_path: Path, queue_type: str, barrier: Path, name: str, prefix: str, count: int, *extra: str
) -> Worker:
    """A ``produce`` child adding ``count`` messages ``<prefix>-<n>`` to the store."""
    store = tmp_path / STORE_NAMES[queue_type]
    option = f"--queue-type={queue_type}"
    return producer(child_env(), tmp_path, store, barrier, name, prefix, count, option, *extra)


def _consumer(tmp_path: Path, queue_type: str, barrier: Path, name: str, *extra: str) -> Worker:
    """A ``consume`` child receiving and deleting until ``producers-done`` exists and its queue
    is empty."""
    store, done = tmp_path / STORE_NAMES[queue_type], tmp_path / "producers-done"
    option = f"--queue-type={queue_type}"
    return consumer(child_env(), tmp_path, store, barrier, done, name, option, *extra)


def _barrier(tmp_path: Path) -> Path:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    return barrier


# -- on both stores: exactly once, racing adds -------------------------------------------------


@on_each_store
def test_four_producers_four_consumers_consume_each_message_exactly_once(
    tmp_path: Path, queue_type: str
) -> None:
    """The messages of 4 producer processes are deleted exactly once by 4 consumer processes.

    The visibility timeout (60 s) outlasts the test, so any message received twice, any refused
    delete or any id deleted twice is a lost or duplicated update, not a legitimate redelivery.
    Afterwards the queue is empty and the store sound.
    """
    store, barrier = _store(tmp_path, queue_type), _barrier(tmp_path)
    count = PER_PRODUCER[queue_type]
    producers = [
        _producer(tmp_path, queue_type, barrier, f"producer{index}", f"p{index}", count)
        for index in range(4)
    ]
    consumers = [_consumer(tmp_path, queue_type, barrier, f"consumer{i}") for i in range(4)]
    run_producers_then_consumers(barrier, tmp_path / "producers-done", producers, consumers)

    sent = {f"p{index}-{number}" for index in range(4) for number in range(count)}
    assert_exactly_once(consumed(tmp_path, consumers), sent, "one queue")
    assert stored_ids(queue_type, store) == []
    with queue_at(queue_type, store) as queue:
        assert queue.health_check()
        assert queue.get_queue_info()["message_count"] == 0


def _run_adders(tmp_path: Path, queue_type: str, prefixes: List[str], per_worker: int) -> Path:
    """One ``produce`` child per prefix, each adding in its own order, released together;
    returns the store, checked to hold each id once."""
    store, barrier = _store(tmp_path, queue_type), _barrier(tmp_path)
    workers = [
        _producer(
            tmp_path,
            queue_type,
            barrier,
            f"adder{index}",
            prefix,
            per_worker,
            f"--shuffle-seed={index}",
        )
        for index, prefix in enumerate(prefixes)
    ]
    release_and_finish(barrier, workers)
    ids = stored_ids(queue_type, store)
    assert not duplicates(ids), f"duplicated in the store: {duplicates(ids)}"
    return store


@on_each_store
def test_eight_processes_adding_distinct_ids_lose_nothing(tmp_path: Path, queue_type: str) -> None:
    """8 processes x 125 adds with distinct ids: all 1,000 are in the store, once each."""
    store = _run_adders(tmp_path, queue_type, [f"w{index}" for index in range(8)], 125)

    ids = set(stored_ids(queue_type, store))
    expected = {f"w{index}-{number}" for index in range(8) for number in range(125)}
    assert ids == expected, f"lost: {sorted(expected - ids)[:20]}"
    with queue_at(queue_type, store) as queue:
        assert queue.health_check()
        assert queue.get_queue_info()["message_count"] == 1000


@on_each_store
def test_eight_processes_adding_the_same_ids_keep_one_copy_each(
    tmp_path: Path, queue_type: str
) -> None:
    """8 processes add the same 150 ids (each in its own order): idempotent add under races.

    Every id ends up exactly once, never received, with the body of whichever add came first.
    """
    store = _run_adders(tmp_path, queue_type, ["shared"] * 8, per_worker=150)

    assert set(stored_ids(queue_type, store)) == {f"shared-{number}" for number in range(150)}
    with queue_at(queue_type, store) as queue:
        for message in queue.get_messages():
            assert message["id"] == f"shared-{message['message_body']['n']}"
            assert message["message_body"]["writer"] in {f"adder{index}" for index in range(8)}
            assert message["receive_count"] == 0


# -- on both stores: a write lock held by another process --------------------------------------


def _files_in(folder: Path) -> Set[str]:
    return {path.name for path in folder.iterdir()}


def _assert_times_out(call: Callable[[], object], store: Path) -> None:
    """``call`` raises ``LockTimeoutError`` (a ``TimeoutError``) naming ``store`` after about
    the queue's 0.3 s ``lock_timeout``."""
    began = time.monotonic()
    with pytest.raises(LockTimeoutError) as caught:
        call()
    waited = time.monotonic() - began
    assert isinstance(caught.value, TimeoutError)
    assert str(store) in str(caught.value)
    assert 0.25 <= waited < 5, f"waited {waited:.3f} s for a 0.3 s lock timeout"


@on_each_store
def test_lock_held_by_another_process_times_out_and_writes_nothing(
    tmp_path: Path, queue_type: str
) -> None:
    """While another process holds the write lock, every write raises ``LockTimeoutError``
    naming the store after ``lock_timeout`` and changes nothing; once it lets go, writes work.

    The JSON file has one lock for everything, so reads wait (and time out) too and
    ``health_check`` says False; SQLite readers never wait for a writer (WAL).
    """
    store = tmp_path / STORE_NAMES[queue_type]
    with queue_at(queue_type, store) as setup:
        setup.add_message({"n": 0}, item_id="existing")
    before, stamp_before = store.read_bytes(), store.stat().st_mtime_ns
    files_before = _files_in(tmp_path)
    with queue_at(queue_type, store, lock_timeout=0.3) as queue:
        holder = lock_holder(child_env(), tmp_path, queue_type, store)
        try:
            _assert_times_out(lambda: queue.add_message({"n": 1}, item_id="blocked"), store)
            _assert_times_out(lambda: queue.receive_messages(visibility_timeout=60), store)
            _assert_times_out(lambda: queue.remove_message("existing"), store)
            if queue_type == "local":
                _assert_times_out(queue.get_messages, store)
                assert not queue.health_check()
                assert store.read_bytes() == before
                assert store.stat().st_mtime_ns == stamp_before
                assert _files_in(tmp_path) - files_before <= {"ready", "holder.stderr"}
            else:
                assert [message["id"] for message in queue.get_messages()] == ["existing"]
                assert queue.health_check()
            (tmp_path / "release").touch()
            assert holder.finish(20) == EXIT_OK, holder.describe()
        finally:
            holder.kill()
        existing = queue.get_message("existing")
        assert existing is not None
        assert existing["receive_count"] == 0
        assert queue.add_message({"n": 1}, item_id="after") == "after"
        assert [message["id"] for message in queue.get_messages()] == ["existing", "after"]
    assert stored_ids(queue_type, store) == ["existing", "after"]


# -- on both stores: fork ------------------------------------------------------------------------

#: What ``fork-check`` reports (see ``fork_check`` and ``fork_check_sqlite`` in ``_workers.py``):
#: the forked child waited for the parent's lock (``while_held``) instead of sharing it, worked
#: once it was free (``after_release``), and the parent went on working (the holder thread
#: finished; the parent kept its SQLite connection).
FORK_RESULTS: Dict[str, Dict[str, Any]] = {
    "local": {
        "holder_finished": True,
        "while_held": FORK_LOCK_TIMEOUT,
        "after_release": EXIT_OK,
        "parent_sees": ["before-fork", "from-child", "held"],
    },
    "sqlite": {
        "while_held": FORK_LOCK_TIMEOUT,
        "after_release": EXIT_OK,
        "parent_sees": ["from-child", "after-fork"],
        "same_connection": True,
    },
}
#: The store afterwards, in queue order.
STORED_AFTER_FORK = {
    "local": ["before-fork", "held", "from-child"],
    "sqlite": ["from-child", "after-fork"],
}


@posix_only
@on_each_store
def test_forked_child_does_not_share_the_parents_lock(tmp_path: Path, queue_type: str) -> None:
    """A ``PyQueue`` used in a ``fork()`` child waits for the parent's lock (JSON) or open write
    transaction (SQLite, on its own connection) instead of sharing it, then reads and writes
    once it is free; the parent's object keeps working.

    The fork happens inside a spawned child (``fork-check``), so this test process never forks.
    """
    store = tmp_path / STORE_NAMES[queue_type]
    completed = run_child(child_env(), "fork-check", str(store), f"--queue-type={queue_type}")
    assert json.loads(completed.stdout) == FORK_RESULTS[queue_type], completed.stderr
    assert stored_ids(queue_type, store) == STORED_AFTER_FORK[queue_type]


# -- the JSON file only: a rewrite by another process ------------------------------------------


def test_a_rewrite_by_another_process_is_seen_even_if_its_stamp_repeats(tmp_path: Path) -> None:
    """Another process's write is never mistaken for the version this object wrote.

    This process writes ``[m1]``; a child replaces it with ``[m2]`` in two writes (the second one
    can take the first file's freed inode number, and the size is the same), and the child's
    clock repeats the first file's mtime, as any clock of one tick (1-10 ms) can. This object
    must then read ``[m2]``, not its remembered ``[m1]``, and must not write ``m1`` back.
    """
    for attempt in range(5):  # other writers on the filesystem may take the freed inode first
        queue_file = tmp_path / f"attempt{attempt}" / "queue.json"
        queue_file.parent.mkdir()
        queue = queue_at("local", queue_file)
        if _rewrite_in_child_with_same_stamp(queue, queue_file):
            break
        queue.close()
    else:
        pytest.skip("this filesystem did not reuse the inode number; nothing to check")
    with queue:
        assert [message["id"] for message in queue.get_messages()] == ["m2"]
        assert [message["Id"] for message in queue.receive_messages()] == ["m2"]
    assert stored_ids("local", queue_file) == ["m2"]


def _rewrite_in_child_with_same_stamp(queue: PyQueue, queue_file: Path) -> bool:
    """``queue`` writes ``[m1]``, a child makes it ``[m2]``; True if the stamps are now equal."""
    queue.add_message({"n": 1}, item_id="m1")
    first = queue_file.stat()
    swap = ["swap", str(queue_file), "--add=m2", "--remove=m1"]
    run_child(child_env(), *swap, f"--mtime-ns={first.st_mtime_ns}")
    now = queue_file.stat()
    return (now.st_ino, now.st_size, now.st_mtime_ns) == (
        first.st_ino,
        first.st_size,
        first.st_mtime_ns,
    )


# -- SQLite only: named queues, readers during a write -----------------------------------------


def test_two_named_queues_in_one_file_stay_separate_across_processes(tmp_path: Path) -> None:
    """Queues ``a`` and ``b`` in one database, 2 producers and 2 consumers each, all at once.

    Consumers of ``a`` only ever receive the ids ``a<producer>-<n>`` its producers added, and
    consumers of ``b`` only ``b<producer>-<n>``; each queue's messages are consumed exactly once,
    and both queues end empty.
    """
    database, barrier = _store(tmp_path, "sqlite"), _barrier(tmp_path)
    producers, consumers = [], []
    for name in ("a", "b"):
        option = f"--queue-name={name}"
        producers += [
            _producer(tmp_path, "sqlite", barrier, f"{name}-producer{i}", f"{name}{i}", 150, option)
            for i in range(2)
        ]
        consumers += [
            _consumer(tmp_path, "sqlite", barrier, f"{name}-consumer{i}", option) for i in range(2)
        ]
    run_producers_then_consumers(barrier, tmp_path / "producers-done", producers, consumers)

    for name in ("a", "b"):
        mine = [worker for worker in consumers if worker.name.startswith(f"{name}-")]
        events = consumed(tmp_path, mine)
        foreign = [item for item in events["received"] if not item.startswith(name)]
        assert not foreign, f"queue {name!r} handed out another queue's messages: {foreign[:20]}"
        sent = {f"{name}{index}-{number}" for index in range(2) for number in range(150)}
        assert_exactly_once(events, sent, f"queue {name!r}")
    assert stored_ids("sqlite", database, queue_name=None) == []


def test_queue_opened_while_another_process_writes_can_read(tmp_path: Path) -> None:
    """A SQLite ``PyQueue`` opened while another process holds a write transaction can read.

    In WAL mode readers never wait for a writer; only this object's writes should wait (and time
    out). The same applies to the first call of every new thread, which opens a connection.
    """
    database = tmp_path / "queue.db"
    with queue_at("sqlite", database) as setup:
        setup.add_message({"n": 0}, item_id="existing")
    holder = lock_holder(child_env(), tmp_path, "sqlite", database)
    try:
        began = time.monotonic()
        with queue_at("sqlite", database, lock_timeout=0.3) as queue:
            assert [message["id"] for message in queue.get_messages()] == ["existing"]
            assert queue.health_check()
        assert time.monotonic() - began < 5
    finally:
        (tmp_path / "release").touch()
        holder.finish(20)


# -- SQLite only: read-only storage ------------------------------------------------------------

#: The unprivileged user (and group) the read-only checks run as: ``nobody`` on most systems.
NOBODY = 65534
#: A second unprivileged user, for a database owned by ``NOBODY`` and read by someone else.
OTHER_USER = 65533


def _is_root() -> bool:
    """Whether this process runs as root, which ignores file permissions."""
    return sys.platform != "win32" and os.geteuid() == 0


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A fresh folder under ``/tmp`` that other users can traverse (pytest's own are 0700).

    Removed afterwards, with the write permission the tests took away given back first.
    """
    folder = Path(tempfile.mkdtemp(prefix="pyqueue-access-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


def _as_user(database: Path, uid: int, add_id: str) -> Dict[str, Any]:
    """Run ``access-check`` as ``uid``; its outcomes by step.

    When this process is root, the child drops to ``uid`` (and group ``uid``) before it opens
    anything; otherwise it runs as this user, to whom file permissions already apply. The child
    is not measured for coverage: it could not write its data file as another user.
    """
    env = {key: value for key, value in child_env().items() if not key.startswith("COV_CORE")}
    access = ["access-check", str(database), "--queue-type=sqlite"]
    completed = run_child(env, *access, f"--uid={uid}", f"--gid={uid}", f"--add-id={add_id}")
    outcomes: Dict[str, Any] = json.loads(completed.stdout)
    if _is_root():
        assert outcomes["uid"] == uid, "the child did not drop its privileges"
    return outcomes


def _assert_read_only_error(outcome: Dict[str, Any], database: Path) -> None:
    """``outcome`` is a ``StorageError`` that names ``database`` and says it is read-only."""
    assert outcome.get("error"), f"expected a StorageError, got {outcome}"
    assert outcome["storage_error"], outcome
    message = str(outcome["message"])
    assert str(database) in message, message
    assert "read-only" in message.replace(str(database), ""), message


def _make_database(folder: Path, *ids: str) -> Path:
    """A sqlite queue ``queue.db`` in ``folder`` holding ``ids``, closed cleanly."""
    database = folder / "queue.db"
    with queue_at("sqlite", database) as queue:
        for item_id in ids:
            queue.add_message({"id": item_id})
    return database


@posix_only
def test_read_only_file_in_writable_folder(shared_dir: Path) -> None:
    """A database the user may only read, in a folder they may write: nothing is ever written.

    Today SQLite opens such a WAL database read-only: opening and reading work and every write
    raises ``StorageError`` saying read-only and naming the file. A library that refuses to open
    it instead must say so the same way. Either way the database file is unchanged.
    """
    folder = shared_dir / "writable"
    folder.mkdir()
    database = _make_database(folder, "m1")
    database.chmod(0o444)
    folder.chmod(0o777)
    before = database.read_bytes()

    outcomes = _as_user(database, NOBODY, add_id="written")

    if "error" in outcomes["open"]:
        _assert_read_only_error(outcomes["open"], database)
    else:
        assert outcomes["read"] == {"ok": ["m1"]}, outcomes
        _assert_read_only_error(outcomes["add"], database)
        assert outcomes["close"] == {"ok": None}, outcomes
    assert database.read_bytes() == before
    assert stored_ids("sqlite", database) == ["m1"]


@posix_only
def test_writable_file_in_read_only_folder(shared_dir: Path) -> None:
    """A database the user owns, in a folder they cannot write (so SQLite cannot create the
    ``-wal`` and ``-shm`` files): opening raises ``StorageError`` saying read-only, naming the
    file, and the file is unchanged."""
    folder = shared_dir / "not-writable"
    folder.mkdir()
    database = _make_database(folder, "m1")
    if sys.platform != "win32" and _is_root():  # else the file is already the user's own
        os.chown(database, NOBODY, NOBODY)
    folder.chmod(0o555)
    before = database.read_bytes()

    outcomes = _as_user(database, NOBODY, add_id="written")

    _assert_read_only_error(outcomes["open"], database)
    assert set(outcomes) == {"uid", "open"}
    assert database.read_bytes() == before
    assert sorted(path.name for path in folder.iterdir()) == ["queue.db"]
    assert stored_ids("sqlite", database) == ["m1"]


@posix_only
def test_new_database_in_read_only_folder(shared_dir: Path) -> None:
    """A database that does not exist yet, in a folder the user cannot write: the constructor
    raises ``StorageError`` saying read-only (not SQLite's bare "unable to open database file"),
    and nothing is created."""
    folder = shared_dir / "not-writable"
    folder.mkdir()
    folder.chmod(0o555)
    database = folder / "queue.db"

    outcomes = _as_user(database, NOBODY, add_id="written")

    _assert_read_only_error(outcomes["open"], database)
    assert list(folder.iterdir()) == []


@posix_only
@pytest.mark.skipif(not _is_root(), reason="acting as two different users needs root")
def test_reader_without_write_permission_does_not_lock_out_the_owner(shared_dir: Path) -> None:
    """Another user who may only read the database (in a folder both may write) is refused at
    open with the read-only error; afterwards the owner can still write.

    SQLite creates the ``-wal`` and ``-shm`` files as the first user to open the database in WAL
    mode; were that user allowed in without write access, they would be left behind owned by that
    user and mode 0644, and the owner could no longer open the database for writing.
    """
    folder = shared_dir / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    database = folder / "queue.db"

    created = _as_user(database, NOBODY, add_id="m1")
    assert created["add"] == {"ok": "m1"}, created
    assert stat.S_IMODE(database.stat().st_mode) & 0o022 == 0, "expected a 0644 database"
    refused = _as_user(database, OTHER_USER, add_id="intruder")
    _assert_read_only_error(refused["open"], database)
    assert sorted(path.name for path in folder.iterdir() if path.stat().st_uid == OTHER_USER) == []

    again = _as_user(database, NOBODY, add_id="m2")
    assert again.get("add") == {"ok": "m2"}, (
        f"{again}; files left in the folder: "
        f"{[(path.name, path.stat().st_uid) for path in folder.iterdir()]}"
    )
    assert stored_ids("sqlite", database) == ["m1", "m2"]
