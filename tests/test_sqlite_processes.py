"""Real processes sharing one SQLite queue database: exactly-once consumption, racing adds, named
queues kept apart, lock timeouts against another process, fork safety, and read-only storage.

The children are ``tests/_workers.py`` commands run with ``--queue-type=sqlite`` (see that module
for what each one logs). As for the local file (``test_multiprocess.py``), the concurrency tests
run with ``durable=False`` (``synchronous=NORMAL``), which changes how long a commit takes, not
what the transaction protects. The database is checked at the end with plain ``sqlite3``, opened
read-only, so the checks do not depend on the library under test.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from pyqueue_client import LockTimeoutError, PyQueue

from ._workers import (
    CHILD_CWD,
    CHILD_TIMEOUT,
    EXIT_OK,
    FORK_LOCK_TIMEOUT,
    SCRIPT,
    Worker,
    assert_exactly_once,
    consumed,
    consumer,
    duplicates,
    producer,
    release_and_finish,
    run_producers_then_consumers,
    start,
    wait_for,
)
from .conftest import child_env

pytestmark = pytest.mark.slow

#: The unprivileged user (and group) the read-only checks run as: ``nobody`` on most systems.
NOBODY = 65534
#: A second unprivileged user, for a database owned by ``NOBODY`` and read by someone else.
OTHER_USER = 65533


# -- reading the database without the library ------------------------------------------------


def _read_only(path: Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection that cannot write to ``path``."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _ids_in_database(path: Path, queue_name: str = "default") -> List[str]:
    """The ids of one named queue, in queue order, read with plain ``sqlite3``."""
    database = _read_only(path)
    try:
        rows = database.execute(
            "SELECT id FROM messages WHERE queue = ? ORDER BY seq", (queue_name,)
        ).fetchall()
    finally:
        database.close()
    return [row[0] for row in rows]


def _integrity(path: Path) -> List[str]:
    """``PRAGMA integrity_check`` of the database: ``["ok"]`` when it is sound."""
    database = _read_only(path)
    try:
        return [row[0] for row in database.execute("PRAGMA integrity_check").fetchall()]
    finally:
        database.close()


def _sqlite_queue(path: Path, queue_name: str = "default", lock_timeout: float = 10.0) -> PyQueue:
    """The library's view of one named queue in ``path`` (no fsync: see the module docstring)."""
    return PyQueue(path, "sqlite", queue_name=queue_name, durable=False, lock_timeout=lock_timeout)


# -- starting children -----------------------------------------------------------------------


def _producer(
    workdir: Path, database: Path, barrier: Path, name: str, prefix: str, count: int, *extra: str
) -> Worker:
    """A ``produce`` child adding ``count`` messages ``<prefix>-<n>`` to the sqlite queue."""
    return producer(
        child_env(), workdir, database, barrier, name, prefix, count, "--queue-type=sqlite", *extra
    )


def _consumer(
    workdir: Path, database: Path, barrier: Path, done: Path, name: str, *extra: str
) -> Worker:
    """A ``consume`` child receiving and deleting until ``done`` exists and its queue is empty."""
    sqlite = "--queue-type=sqlite"
    return consumer(child_env(), workdir, database, barrier, done, name, sqlite, *extra)


# -- exactly once, racing adds, named queues -------------------------------------------------


def test_four_producers_four_consumers_consume_each_message_exactly_once(tmp_path: Path) -> None:
    """2,000 messages from 4 producer processes are deleted exactly once by 4 consumer processes.

    The visibility timeout (60 s) outlasts the test, so any message received twice, any refused
    delete or any id deleted twice is a lost or duplicated update, not a legitimate redelivery.
    Afterwards the queue is empty and the database passes ``PRAGMA integrity_check``.
    """
    database = tmp_path / "queue.db"
    barrier, done = tmp_path / "barrier", tmp_path / "producers-done"
    barrier.mkdir()
    _sqlite_queue(database).close()  # create the schema once, before the race
    producers = [
        _producer(tmp_path, database, barrier, f"producer{index}", f"p{index}", 500)
        for index in range(4)
    ]
    consumers = [
        _consumer(tmp_path, database, barrier, done, f"consumer{index}") for index in range(4)
    ]
    run_producers_then_consumers(barrier, done, producers, consumers)

    sent = {f"p{index}-{number}" for index in range(4) for number in range(500)}
    assert_exactly_once(consumed(tmp_path, consumers), sent, "one queue")
    assert _ids_in_database(database) == []
    assert _integrity(database) == ["ok"]
    with _sqlite_queue(database) as queue:
        assert queue.health_check()
        assert queue.get_queue_info()["message_count"] == 0


def _run_adders(tmp_path: Path, prefixes: List[str], per_worker: int) -> Path:
    """One ``produce`` child per prefix, released together; returns the database."""
    database, barrier = tmp_path / "queue.db", tmp_path / "barrier"
    barrier.mkdir()
    _sqlite_queue(database).close()
    workers = [
        _producer(
            tmp_path,
            database,
            barrier,
            f"adder{index}",
            prefix,
            per_worker,
            f"--shuffle-seed={index}",
        )
        for index, prefix in enumerate(prefixes)
    ]
    release_and_finish(barrier, workers)
    assert _integrity(database) == ["ok"]
    return database


def test_eight_processes_adding_distinct_ids_lose_nothing(tmp_path: Path) -> None:
    """8 processes x 125 adds with distinct ids: all 1,000 are in the database, once each."""
    database = _run_adders(tmp_path, [f"w{index}" for index in range(8)], per_worker=125)

    ids = _ids_in_database(database)
    expected = {f"w{index}-{number}" for index in range(8) for number in range(125)}
    assert not duplicates(ids), f"duplicated: {duplicates(ids)}"
    assert set(ids) == expected, f"lost: {sorted(expected - set(ids))[:20]}"
    with _sqlite_queue(database) as queue:
        assert queue.get_queue_info()["message_count"] == 1000


def test_eight_processes_adding_the_same_ids_keep_one_copy_each(tmp_path: Path) -> None:
    """8 processes add the same 150 ids (each in its own order): idempotent add under races.

    Every id ends up exactly once, never received, with the body of whichever add came first.
    """
    database = _run_adders(tmp_path, ["shared"] * 8, per_worker=150)

    ids = _ids_in_database(database)
    assert not duplicates(ids), f"duplicated: {duplicates(ids)}"
    assert set(ids) == {f"shared-{number}" for number in range(150)}
    with _sqlite_queue(database) as queue:
        for message in queue.get_messages():
            assert message["id"] == f"shared-{message['message_body']['n']}"
            assert message["message_body"]["writer"] in {f"adder{index}" for index in range(8)}
            assert message["receive_count"] == 0


def test_two_named_queues_in_one_file_stay_separate_across_processes(tmp_path: Path) -> None:
    """Queues ``a`` and ``b`` in one database, 2 producers and 2 consumers each, all at once.

    Consumers of ``a`` only ever receive the ids ``a<producer>-<n>`` its producers added, and
    consumers of ``b`` only ``b<producer>-<n>``; each queue's messages are consumed exactly once,
    and both queues end empty.
    """
    database = tmp_path / "queue.db"
    barrier, done = tmp_path / "barrier", tmp_path / "producers-done"
    barrier.mkdir()
    _sqlite_queue(database, "a").close()
    producers, consumers = [], []
    for name in ("a", "b"):
        option = f"--queue-name={name}"
        producers += [
            _producer(tmp_path, database, barrier, f"{name}-producer{i}", f"{name}{i}", 150, option)
            for i in range(2)
        ]
        consumers += [
            _consumer(tmp_path, database, barrier, done, f"{name}-consumer{i}", option)
            for i in range(2)
        ]
    run_producers_then_consumers(barrier, done, producers, consumers)

    for name in ("a", "b"):
        mine = [worker for worker in consumers if worker.name.startswith(f"{name}-")]
        events = consumed(tmp_path, mine)
        foreign = [item for item in events["received"] if not item.startswith(name)]
        assert not foreign, f"queue {name!r} handed out another queue's messages: {foreign[:20]}"
        sent = {f"{name}{index}-{number}" for index in range(2) for number in range(150)}
        assert_exactly_once(events, sent, f"queue {name!r}")
        assert _ids_in_database(database, name) == []
    assert _integrity(database) == ["ok"]


# -- a write lock held by another process ----------------------------------------------------


def _hold_write_lock(tmp_path: Path, database: Path) -> Worker:
    """A child in ``BEGIN IMMEDIATE`` on ``database``; it commits when ``release`` appears."""
    ready = tmp_path / "ready"
    worker = start(
        child_env(),
        tmp_path,
        "holder",
        "hold-lock",
        str(database),
        "--queue-type=sqlite",
        f"--ready={ready}",
        f"--release={tmp_path / 'release'}",
    )
    try:
        wait_for(lambda: ready.exists() or worker.process.poll() is not None, 20, "the lock")
    except TimeoutError:
        worker.kill()
        raise
    assert ready.exists(), worker.describe()
    return worker


def test_write_lock_held_by_another_process_times_out_then_works(tmp_path: Path) -> None:
    """While another process holds a write transaction, each write raises ``LockTimeoutError``
    (a ``TimeoutError``) naming the file after about ``lock_timeout``, and changes nothing;
    reads still work (WAL). Once the other process commits, writes succeed."""
    database = tmp_path / "queue.db"
    with _sqlite_queue(database) as setup:
        setup.add_message({"n": 0}, item_id="existing")
    with _sqlite_queue(database, lock_timeout=0.3) as queue:
        holder = _hold_write_lock(tmp_path, database)
        try:
            for call in (
                lambda: queue.add_message({"n": 1}, item_id="blocked"),
                lambda: queue.receive_messages(visibility_timeout=60),
                lambda: queue.remove_message("existing"),
            ):
                began = time.monotonic()
                with pytest.raises(LockTimeoutError) as caught:
                    call()
                waited = time.monotonic() - began
                assert isinstance(caught.value, TimeoutError)
                assert str(database) in str(caught.value)
                assert 0.25 <= waited < 5, f"waited {waited:.3f} s for a 0.3 s lock timeout"
            assert [message["id"] for message in queue.get_messages()] == ["existing"]
            existing = queue.get_message("existing")
            assert existing is not None
            assert existing["receive_count"] == 0
            (tmp_path / "release").touch()
            assert holder.finish(20) == EXIT_OK, holder.describe()
        finally:
            holder.kill()
        assert queue.add_message({"n": 1}, item_id="after") == "after"
        assert [message["id"] for message in queue.get_messages()] == ["existing", "after"]
    assert _integrity(database) == ["ok"]


def test_queue_opened_while_another_process_writes_can_read(tmp_path: Path) -> None:
    """A ``PyQueue`` opened while another process holds a write transaction can still read.

    In WAL mode readers never wait for a writer; only this object's writes should wait (and time
    out). The same applies to the first call of every new thread, which opens a connection.
    """
    database = tmp_path / "queue.db"
    with _sqlite_queue(database) as setup:
        setup.add_message({"n": 0}, item_id="existing")
    holder = _hold_write_lock(tmp_path, database)
    try:
        began = time.monotonic()
        with _sqlite_queue(database, lock_timeout=0.3) as queue:
            assert [message["id"] for message in queue.get_messages()] == ["existing"]
            assert queue.health_check()
        assert time.monotonic() - began < 5
    finally:
        (tmp_path / "release").touch()
        holder.finish(20)


# -- fork ------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="os.fork is POSIX only")
def test_forked_child_uses_its_own_connection(tmp_path: Path) -> None:
    """A sqlite ``PyQueue`` used in a ``fork()`` child opens its own connection: it waits for
    the parent's open write transaction (``LockTimeoutError``) instead of joining it, it reads and
    writes once that is committed, and the parent's connection keeps working afterwards.

    The fork happens inside a spawned child (``fork-check``), so this test process never forks.
    """
    database = tmp_path / "queue.db"
    completed = subprocess.run(
        [sys.executable, SCRIPT, "fork-check", str(database), "--queue-type=sqlite"],
        env=child_env(),
        cwd=CHILD_CWD,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert completed.returncode == EXIT_OK, completed.stderr
    result = json.loads(completed.stdout)
    assert result["while_held"] == FORK_LOCK_TIMEOUT, (
        f"the forked child did not wait for the parent's transaction: {result}\n{completed.stderr}"
    )
    assert result["after_release"] == EXIT_OK, f"{result}\n{completed.stderr}"
    assert result["same_connection"], "the parent had to reopen its connection"
    assert result["parent_sees"] == ["from-child", "after-fork"]
    assert _ids_in_database(database) == ["from-child", "after-fork"]
    assert _integrity(database) == ["ok"]


# -- read-only storage -----------------------------------------------------------------------


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
    completed = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "access-check",
            str(database),
            "--queue-type=sqlite",
            f"--uid={uid}",
            f"--gid={uid}",
            f"--add-id={add_id}",
        ],
        env=env,
        cwd=CHILD_CWD,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert completed.returncode == EXIT_OK, completed.stderr
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
    with _sqlite_queue(database) as queue:
        for item_id in ids:
            queue.add_message({"id": item_id})
    return database


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file modes and setuid are POSIX")


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
    assert _ids_in_database(database) == ["m1"]
    assert _integrity(database) == ["ok"]


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
    assert _ids_in_database(database) == ["m1"]


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
    assert _ids_in_database(database) == ["m1", "m2"]
