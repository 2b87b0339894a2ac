"""Child processes for the multi-process and crash tests, and the helpers that start them.

Run by path: ``python tests/_workers.py <command> ...`` with ``PYTHONPATH`` naming the project
root (see ``conftest.child_env``). Each command is a small loop over the public ``PyQueue`` API
that writes what it did to a log file, one line per event, so the test can check the queue
against the log even after the child was killed. Log lines are written with ``os.write`` on an
``O_APPEND`` descriptor: once the call returns the line is in the kernel, whatever happens to the
process next.

The queue is a local JSON file unless a command is given ``--queue-type=sqlite``; then
``--queue-name`` picks the named queue in the database (``default`` unless given). ``produce``
and ``consume`` also take ``--queue-type=remote``: the positional argument is then the URL of a
PyQueue server, ``--queue-name`` the queue on it, ``--api-key`` the key to send and ``--ca-file``
a certificate authority to trust for an ``https://`` server.

The parent-side helpers (:func:`start`, :class:`Worker`, :func:`read_log`, barriers, reading a
store without the library) live here too, so the tests and the children agree on file names and
log formats in one place. Only the public ``pyqueue_client`` API is imported; ``fork-check``
on SQLite alone reaches into the queue object for its connection (see :func:`fork_check_sqlite`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Union

from pyqueue_client import LockTimeoutError, PyQueue, StorageError

#: This file, as children run it.
SCRIPT = str(Path(__file__).resolve())

#: The children's working directory: the project root, so that a child measured by pytest-cov
#: (``make pytest`` passes coverage on to subprocesses) reads the project's coverage settings and
#: measures only the package, not this helper. Children use absolute paths only.
CHILD_CWD = str(Path(__file__).resolve().parent.parent)

#: Exit codes of the children.
EXIT_OK = 0
EXIT_DEADLINE = 3

#: Exit codes of the grandchild in ``fork-check``.
FORK_LOCK_TIMEOUT = 10
FORK_NOT_BLOCKED = 11
FORK_OTHER_ERROR = 12
FORK_WRONG_MESSAGES = 13

#: The queue types the commands can use.
QUEUE_TYPES = ("local", "sqlite")
#: The file name of each queue type's store in a test's folder.
STORE_NAMES = {"local": "queue.json", "sqlite": "queue.db"}
#: The queue types ``produce`` and ``consume`` can use: also a PyQueue server.
REMOTE_QUEUE_TYPES = (*QUEUE_TYPES, "remote")

_POLL = 0.005


# -- shared: logs and barriers ---------------------------------------------------------------


class Log:
    """An append-only event log: each ``write`` is one ``<event> <id>`` line, one syscall."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, event: str, item_id: str) -> None:
        """Append one line; it is in the kernel when this returns."""
        os.write(self._fd, f"{event} {item_id}\n".encode())

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self._fd)


def read_log(path: Path) -> Dict[str, List[str]]:
    """A log file's ids by event, in log order; a torn last line (no newline) is ignored."""
    events: Dict[str, List[str]] = {}
    if not path.exists():
        return events
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")[:-1]  # the text after the last newline is incomplete or empty
    for line in lines:
        event, _, item_id = line.partition(" ")
        events.setdefault(event, []).append(item_id)
    return events


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; ``TimeoutError`` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(_POLL)


def barrier_wait(barrier: str, name: str, timeout: float = 30.0) -> None:
    """Say ``name`` is ready, then wait for the parent's ``go`` file: all children start at once."""
    Path(barrier, f"ready-{name}").touch()
    wait_for(lambda: os.path.exists(os.path.join(barrier, "go")), timeout, "the go signal")


def barrier_release(barrier: Path, names: Sequence[str], timeout: float = 30.0) -> None:
    """Wait until every child in ``names`` is ready, then let them all go."""
    wait_for(
        lambda: all((barrier / f"ready-{name}").exists() for name in names),
        timeout,
        f"children {list(names)} to start",
    )
    (barrier / "go").touch()


# -- parent side: starting and finishing children --------------------------------------------


class Worker:
    """A running child; its stderr goes to a file so failures can show the child's traceback."""

    def __init__(self, process: subprocess.Popen[bytes], stderr_path: Path, name: str) -> None:
        self.process = process
        self.stderr_path = stderr_path
        self.name = name

    def finish(self, timeout: float) -> int:
        """The exit code; kills the child and raises ``TimeoutError`` after ``timeout`` s."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"{self.name} did not finish within {timeout:g} s") from None

    def kill(self) -> None:
        """SIGKILL the child (if still running) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    def stderr(self) -> str:
        """What the child wrote to stderr so far."""
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self) -> str:
        """Name, exit code and stderr, for assertion messages."""
        return f"{self.name} exited {self.process.returncode}; stderr:\n{self.stderr()}"


def start(env: Dict[str, str], workdir: Path, name: str, *args: str) -> Worker:
    """Start ``python _workers.py <args>`` with stdout discarded and stderr in ``workdir``."""
    stderr_path = workdir / f"{name}.stderr"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, SCRIPT, *args],
            env=env,
            cwd=CHILD_CWD,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return Worker(process, stderr_path, name)


def finish_all(workers: Sequence[Worker], timeout: float) -> List[int]:
    """Exit codes of all ``workers``, within one shared deadline; kills every one on timeout."""
    deadline = time.monotonic() + timeout
    try:
        return [worker.finish(max(0.1, deadline - time.monotonic())) for worker in workers]
    finally:
        kill_all(workers)


def kill_all(workers: Sequence[Worker]) -> None:
    """SIGKILL whichever ``workers`` still run (cleanup after a failure); never raises."""
    for worker in workers:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            worker.kill()


def assert_clean_exit(workers: Sequence[Worker], codes: Sequence[int]) -> None:
    """Every worker exited 0; otherwise fail with each failed worker's story."""
    failed = [worker.describe() for worker, code in zip(workers, codes) if code != EXIT_OK]
    assert not failed, "\n\n".join(failed)


def duplicates(items: Sequence[str]) -> Dict[str, int]:
    """The items that occur more than once, with their counts."""
    return {item: count for item, count in Counter(items).items() if count > 1}


#: Upper bound for any group of children to finish; far above the normal run time.
CHILD_TIMEOUT = 45.0


def producer(
    env: Dict[str, str],
    workdir: Path,
    queue: Union[Path, str],
    barrier: Path,
    name: str,
    prefix: str,
    count: int,
    *extra: str,
) -> Worker:
    """A ``produce`` child adding ``count`` messages ``<prefix>-<n>`` once ``barrier`` opens.

    ``queue`` is a file, or a server's URL with ``--queue-type=remote`` in ``extra``."""
    started = [str(queue), f"--barrier={barrier}", f"--name={name}"]
    return start(
        env, workdir, name, "produce", *started, f"--prefix={prefix}", f"--count={count}", *extra
    )


def consumer(
    env: Dict[str, str],
    workdir: Path,
    queue: Union[Path, str],
    barrier: Path,
    done: Path,
    name: str,
    *extra: str,
    deadline: float = 40,
) -> Worker:
    """A ``consume`` child receiving and deleting until ``done`` exists and its queue is empty;
    it logs to ``<workdir>/<name>.log``."""
    started = [str(queue), f"--barrier={barrier}", f"--name={name}"]
    log, until = workdir / f"{name}.log", [f"--done={done}", f"--deadline={deadline:g}"]
    return start(env, workdir, name, "consume", *started, f"--log={log}", *until, *extra)


def release_and_finish(barrier: Path, workers: Sequence[Worker]) -> None:
    """Release ``workers`` together and check they all exit cleanly within ``CHILD_TIMEOUT``."""
    try:
        barrier_release(barrier, [worker.name for worker in workers])
        assert_clean_exit(workers, finish_all(workers, CHILD_TIMEOUT))
    finally:
        kill_all(workers)


def run_producers_then_consumers(
    barrier: Path, done: Path, producers: List[Worker], consumers: List[Worker]
) -> None:
    """Release all children at once, wait for the producers, signal ``done``, wait for the rest."""
    try:
        barrier_release(barrier, [worker.name for worker in producers + consumers])
        assert_clean_exit(producers, finish_all(producers, CHILD_TIMEOUT))
        done.touch()
        assert_clean_exit(consumers, finish_all(consumers, CHILD_TIMEOUT))
    finally:
        kill_all(producers + consumers)


def consumed(workdir: Path, consumers: Sequence[Worker]) -> Dict[str, List[str]]:
    """Every consumer's logged ids by event (``received``, ``deleted``, ``stale``), merged."""
    merged: Dict[str, List[str]] = {"received": [], "deleted": [], "stale": []}
    for worker in consumers:
        for event, ids in read_log(workdir / f"{worker.name}.log").items():
            merged.setdefault(event, []).extend(ids)
    return merged


def assert_exactly_once(events: Dict[str, List[str]], sent: Set[str], context: str) -> None:
    """Each sent id received once, deleted once, and no delete refused (long visibility)."""
    deleted, received = events.get("deleted", []), events.get("received", [])
    assert not duplicates(deleted), f"{context}: deleted twice: {duplicates(deleted)}"
    assert not duplicates(received), f"{context}: received twice: {duplicates(received)}"
    assert not events.get("stale"), f"{context}: fresh handles refused: {events['stale']}"
    assert set(deleted) == sent, (
        f"{context}: never deleted: {sorted(sent - set(deleted))[:20]}, "
        f"unknown: {sorted(set(deleted) - sent)[:20]}"
    )


# -- parent side: one-shot children and lock holders -------------------------------------------


def run_child(env: Dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python _workers.py <args>`` to its end within ``CHILD_TIMEOUT``; it must exit 0.

    Returns the finished process, with its stdout and stderr as text.
    """
    completed = subprocess.run(
        [sys.executable, SCRIPT, *args],
        env=env,
        cwd=CHILD_CWD,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert completed.returncode == EXIT_OK, (
        f"{args[0]} exited {completed.returncode}; stderr:\n{completed.stderr}"
    )
    return completed


def lock_holder(env: Dict[str, str], workdir: Path, queue_type: str, store: Path) -> Worker:
    """A ``hold-lock`` child that holds ``store``'s write lock until ``<workdir>/release``
    appears; returns once the lock is held (the child has created ``<workdir>/ready``)."""
    ready = workdir / "ready"
    worker = start(
        env,
        workdir,
        "holder",
        "hold-lock",
        str(store),
        f"--queue-type={queue_type}",
        f"--ready={ready}",
        f"--release={workdir / 'release'}",
    )
    try:
        wait_for(lambda: ready.exists() or worker.process.poll() is not None, 20, "the lock")
    except TimeoutError:
        worker.kill()
        raise
    assert ready.exists(), worker.describe()
    return worker


# -- both sides: opening a store, and reading it without the library ---------------------------


def queue_at(
    queue_type: str,
    store: Union[Path, str],
    queue_name: str = "default",
    *,
    durable: bool = False,
    lock_timeout: float = 10.0,
    clock: Optional[Callable[[], datetime]] = None,
) -> PyQueue:
    """The library's view of ``store``: a local JSON file, or one named queue of a SQLite
    database. ``durable`` defaults to False: fsync changes how long a write takes, not what the
    lock or the transaction protects."""
    if queue_type == "sqlite":
        return PyQueue(
            store,
            "sqlite",
            queue_name=queue_name,
            durable=durable,
            lock_timeout=lock_timeout,
            clock=clock,
        )
    return PyQueue(store, durable=durable, lock_timeout=lock_timeout, clock=clock)


def read_only_database(path: Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection that cannot write to ``path`` (nor checkpoint its WAL)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def stored_ids(
    queue_type: str, store: Path, queue_name: Optional[str] = "default", context: str = ""
) -> List[str]:
    """The ids in ``store``, in queue order, read without the library.

    Local: the file must be a JSON array of messages. SQLite: the database, opened read-only
    with plain ``sqlite3`` (so a ``-wal`` file left behind is read as it is), must pass
    ``PRAGMA integrity_check``; the ids are those of the queue ``queue_name`` (of every queue
    when it is None). Assertion messages start with ``context``.
    """
    assert store.exists(), f"{context}: {store} is missing"
    if queue_type == "sqlite":
        return _database_ids(store, queue_name, context)
    try:
        records = json.loads(store.read_bytes())
    except ValueError as exc:
        raise AssertionError(f"{context}: {store} is not valid JSON: {exc}") from None
    assert isinstance(records, list), f"{context}: {store} holds {type(records).__name__}"
    return [record["id"] for record in records]


def _database_ids(database: Path, queue_name: Optional[str], context: str) -> List[str]:
    connection = read_only_database(database)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        assert integrity == ["ok"], f"{context}: integrity_check says {integrity}"
        if queue_name is None:
            rows = connection.execute("SELECT id FROM messages ORDER BY seq").fetchall()
        else:
            rows = connection.execute(
                "SELECT id FROM messages WHERE queue = ? ORDER BY seq", (queue_name,)
            ).fetchall()
    finally:
        connection.close()
    return [row[0] for row in rows]


# -- parent side: crash loops ------------------------------------------------------------------

#: Longest random wait between a churning child's first completed add and its SIGKILL.
MAX_KILL_DELAY = 0.15
#: ``Popen.returncode`` of a child that SIGKILL ended.
KILLED = -int(getattr(signal, "SIGKILL", 9))


class CrashRound(NamedTuple):
    """What killed children logged, as sets of ids."""

    adding: Set[str]
    added: Set[str]
    deleting: Set[str]
    deleted: Set[str]


def crash_seed() -> int:
    """The seed of a crash loop's kill delays: ``$PYQUEUE_CRASH_SEED``, else a random one."""
    configured = os.environ.get("PYQUEUE_CRASH_SEED")
    return int(configured) if configured else random.SystemRandom().randrange(2**32)


def churn_and_kill(
    env: Dict[str, str],
    workdir: Path,
    queue: Path,
    number: int,
    seed: int,
    delay: float,
    options: Sequence[str] = (),
) -> Worker:
    """Start a churning child, let it complete one add, then SIGKILL it ``delay`` s later."""
    log = workdir / f"churn{number}.log"
    arguments = [*options, f"--log={log}", f"--prefix=r{number}", f"--seed={seed + number}"]
    worker = start(env, workdir, f"churn{number}", "churn", str(queue), *arguments)
    try:
        wait_for(
            lambda: "added" in read_log(log) or worker.process.poll() is not None,
            30,
            f"churn{number} to add its first message",
        )
        time.sleep(delay)
    finally:
        worker.kill()  # SIGKILL
    return worker


def crash_round(log: Path) -> CrashRound:
    """The ids one killed child logged, by event."""
    events = read_log(log)
    return CrashRound(
        *(set(events.get(name, [])) for name in ("adding", "added", "deleting", "deleted"))
    )


def kill_and_record(
    env: Dict[str, str],
    workdir: Path,
    queue: Path,
    number: int,
    seed: int,
    delay: float,
    options: Sequence[str],
    history: CrashRound,
    context: str,
) -> None:
    """One round of a crash loop: churn, SIGKILL after ``delay``, add the child's log to
    ``history``. The child must have died by the kill after completing at least one add."""
    worker = churn_and_kill(env, workdir, queue, number, seed, delay, options)
    assert worker.process.returncode == KILLED, f"{context}: {worker.describe()}"
    logged = crash_round(workdir / f"churn{number}.log")
    assert logged.added, f"{context}: the child never completed an add"
    for seen, new in zip(history, logged):
        seen.update(new)


def assert_matches_history(ids: Set[str], history: CrashRound, context: str) -> None:
    """The queue after the kills agrees with what the killed children logged."""
    lost = history.added - history.deleting - ids
    assert not lost, f"{context}: added, never deleted, but gone: {sorted(lost)}"
    back = history.deleted & ids
    assert not back, f"{context}: deleted (delete_message returned True) yet present: {back}"
    unknown = ids - history.adding
    assert not unknown, f"{context}: in the queue but never added: {sorted(unknown)}"


# -- child side: the commands ----------------------------------------------------------------


def open_queue(args: argparse.Namespace, durable: bool, lock_timeout: float = 10.0) -> PyQueue:
    """The queue a command works on: ``args.queue`` of ``args.queue_type`` (and its name)."""
    if args.queue_type == "remote":
        return _open_remote(args)
    return queue_at(
        args.queue_type, args.queue, args.queue_name, durable=durable, lock_timeout=lock_timeout
    )


def _open_remote(args: argparse.Namespace) -> PyQueue:
    """A remote queue: ``args.queue`` is the server URL (see the module's docstring)."""
    context = None
    if args.ca_file is not None:
        context = ssl.create_default_context(cafile=args.ca_file)
    return PyQueue(
        queue_type="remote",
        server_url=args.queue,
        api_key=args.api_key,
        queue_name=args.queue_name,
        timeout=args.timeout,
        ssl_context=context,
    )


def produce(args: argparse.Namespace) -> int:
    """Add ``count`` messages with ids ``<prefix>-<n>``, one call each, shuffled if asked."""
    numbers = list(range(args.count))
    if args.shuffle_seed is not None:
        random.Random(args.shuffle_seed).shuffle(numbers)
    with open_queue(args, durable=args.durable) as queue:
        barrier_wait(args.barrier, args.name)
        for number in numbers:
            item_id = f"{args.prefix}-{number}"
            returned = queue.add_message({"writer": args.name, "n": number}, item_id=item_id)
            if returned != item_id:
                sys.stderr.write(f"add_message({item_id!r}) returned {returned!r}\n")
                return 1
    return EXIT_OK


def consume(args: argparse.Namespace) -> int:
    """Receive and delete until the producers are done and the queue is empty.

    Logs ``received <id>`` for every message handed out, then ``deleted <id>`` when
    ``delete_message`` returned True, ``stale <id>`` when it returned False.
    """
    log = Log(args.log)
    deadline = time.monotonic() + args.deadline
    with open_queue(args, durable=args.durable) as queue:
        barrier_wait(args.barrier, args.name)
        drained = drain(queue, log.write, lambda: os.path.exists(args.done), deadline)
    return EXIT_OK if drained else EXIT_DEADLINE


def drain(
    queue: PyQueue,
    note: Callable[[str, str], None],
    finished: Callable[[], bool],
    deadline: float,
    max_messages: int = 10,
    visibility_timeout: float = 60,
) -> bool:
    """Receive and delete until ``finished()`` holds and the queue is empty; False once
    ``time.monotonic()`` passes ``deadline`` first.

    ``note(event, id)`` hears ``received`` for every message handed out, then ``deleted`` when
    ``delete_message`` returned True or ``stale`` when it returned False.
    """
    while time.monotonic() < deadline:
        received = queue.receive_messages(
            max_messages=max_messages, visibility_timeout=visibility_timeout
        )
        for message in received:
            note("received", message["Id"])
            deleted = queue.delete_message(message["ReceiptHandle"])
            note("deleted" if deleted else "stale", message["Id"])
        if received:
            continue
        if finished() and queue.get_queue_info()["message_count"] == 0:
            return True
        time.sleep(_POLL)
    return False


def churn(args: argparse.Namespace) -> int:
    """Add, receive and delete forever (until killed), logging around every call.

    ``adding`` before and ``added`` after each add; ``deleting`` before and ``deleted`` (True)
    or ``stale`` (False) after each delete. Ids are ``<prefix>-<n>``.
    """
    rng = random.Random(args.seed)
    log = Log(args.log)
    queue = open_queue(args, durable=not args.fast)
    number = 0
    while True:
        batch = [f"{args.prefix}-{number + offset}" for offset in range(rng.randint(1, 3))]
        number += len(batch)
        for item_id in batch:
            log.write("adding", item_id)
        queue.add_messages([{"n": item_id} for item_id in batch], batch)
        for item_id in batch:
            log.write("added", item_id)
        visibility = rng.choice([0, 0, 60])
        for message in queue.receive_messages(rng.randint(1, 4), visibility_timeout=visibility):
            if rng.random() < 0.6:
                log.write("deleting", message["Id"])
                deleted = queue.delete_message(message["ReceiptHandle"])
                log.write("deleted" if deleted else "stale", message["Id"])


def swap(args: argparse.Namespace) -> int:
    """Add ``add`` then remove ``remove``, then set the file's mtime to ``mtime_ns``.

    The last step stands in for a coarse file clock: on kernels without fine-grained file
    timestamps, writes within one clock tick (1-10 ms) get the same mtime anyway.
    """
    with PyQueue(args.queue, durable=False) as queue:
        queue.add_message({"n": 2}, item_id=args.add)
        if not queue.remove_message(args.remove):
            return 1
    stat = os.stat(args.queue)
    os.utime(args.queue, ns=(stat.st_atime_ns, args.mtime_ns))
    return EXIT_OK


def hold_lock(args: argparse.Namespace) -> int:
    """Hold the queue's write lock until the ``release`` file appears.

    Local: the library itself holds ``<queue>.lock``, in a ``get_queue_info`` call (which writes
    nothing) whose clock, asked while the lock is held, waits for the release file. SQLite: a
    plain ``sqlite3`` connection in ``BEGIN IMMEDIATE``, as any other program writing to the
    database would.
    """
    if args.queue_type == "sqlite":
        return _hold_sqlite_write(args)

    def clock() -> datetime:
        Path(args.ready).touch()
        wait_for(lambda: os.path.exists(args.release), args.deadline, "the release file")
        return _naive_utc()

    with queue_at("local", args.queue, clock=clock) as queue:
        queue.get_queue_info()
    return EXIT_OK


def _hold_sqlite_write(args: argparse.Namespace) -> int:
    database = sqlite3.connect(args.queue, timeout=10, isolation_level=None)
    try:
        database.execute("BEGIN IMMEDIATE")
        Path(args.ready).touch()
        wait_for(lambda: os.path.exists(args.release), args.deadline, "the release file")
        database.execute("COMMIT")
    finally:
        database.close()
    return EXIT_OK


def _naive_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def fork_check(args: argparse.Namespace) -> int:
    """Use a ``PyQueue`` from ``fork()`` children while this process holds the queue's lock.

    With ``--queue-type=sqlite`` see :func:`fork_check_sqlite`; what follows is the local file.

    A thread of this process holds the lock in the middle of ``add_message`` (its clock blocks),
    then a forked child uses the same ``PyQueue`` object: it must wait for the lock like any
    other process (here: ``LockTimeoutError``), not share the parent's. After the thread finishes,
    a second forked child must see the parent's writes and write one of its own. Prints a JSON
    object with the outcomes on stdout.
    """
    if args.queue_type == "sqlite":
        return fork_check_sqlite(args)
    parent = os.getpid()
    holding = threading.Event()
    release = threading.Event()

    def clock() -> datetime:
        if os.getpid() == parent and threading.current_thread().name == "holder":
            holding.set()
            release.wait(args.deadline)
        return _naive_utc()

    queue = PyQueue(args.queue, lock_timeout=0.5, clock=clock)
    queue.add_message({"n": 0}, item_id="before-fork")
    holder = threading.Thread(
        target=queue.add_message, args=({"n": 1}, "held"), name="holder", daemon=True
    )
    holder.start()
    if not holding.wait(args.deadline):
        sys.stderr.write("the holder thread never took the lock\n")
        return 1
    while_held = _in_fork(lambda: _child_while_held(queue), args.deadline)
    release.set()
    holder.join(args.deadline)
    after_release = _in_fork(lambda: _child_after_release(queue), args.deadline)
    result = {
        "holder_finished": not holder.is_alive(),
        "while_held": while_held,
        "after_release": after_release,
        "parent_sees": sorted(message["id"] for message in queue.get_messages()),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return EXIT_OK


def _child_while_held(queue: PyQueue) -> int:
    try:
        queue.get_messages()
    except LockTimeoutError:
        return FORK_LOCK_TIMEOUT
    return FORK_NOT_BLOCKED


def _child_after_release(queue: PyQueue) -> int:
    if [message["id"] for message in queue.get_messages()] != ["before-fork", "held"]:
        return 1
    queue.add_message({"n": 2}, item_id="from-child")
    return EXIT_OK


def fork_check_sqlite(args: argparse.Namespace) -> int:
    """Use a sqlite ``PyQueue`` from ``fork()`` children, then go on using it in this process.

    This process opens the queue (so it has a connection), adds ``before-fork``, and begins a
    write transaction on that very connection (the library's own, reached privately: no public
    call leaves a transaction open). A first child, using the same ``PyQueue`` object, must wait
    for the write lock like any other process (here: ``LockTimeoutError``); had it used the
    inherited connection, already in a transaction, it would fail differently. This process then
    commits on its connection, which must still work. A second child reads, adds ``from-child``,
    receives and deletes ``before-fork``, and closes the object (which must leave the parent's
    connection alone). Finally this process, on its original connection, adds ``after-fork``
    and lists the queue. Prints a JSON object with the outcomes on stdout.
    """
    queue = open_queue(args, durable=True, lock_timeout=0.5)
    queue.add_message({"n": 0}, item_id="before-fork")
    connection: sqlite3.Connection = queue._store.db._connection()  # type: ignore[attr-defined]
    connection.execute("BEGIN IMMEDIATE")
    while_held = _in_fork(lambda: _sqlite_child_while_held(queue), args.deadline)
    connection.execute("COMMIT")
    after_release = _in_fork(lambda: _sqlite_child_after_release(queue), args.deadline)
    queue.add_message({"n": 3}, item_id="after-fork")
    result = {
        "while_held": while_held,
        "after_release": after_release,
        "parent_sees": [message["id"] for message in queue.get_messages()],
        "same_connection": queue._store.db._connection() is connection,  # type: ignore[attr-defined]
    }
    queue.close()
    sys.stdout.write(json.dumps(result) + "\n")
    return EXIT_OK


def _sqlite_child_while_held(queue: PyQueue) -> int:
    try:
        queue.add_message({"n": 1}, item_id="while-held")
    except LockTimeoutError:
        return FORK_LOCK_TIMEOUT
    return FORK_NOT_BLOCKED


def _sqlite_child_after_release(queue: PyQueue) -> int:
    if [message["id"] for message in queue.get_messages()] != ["before-fork"]:
        return FORK_WRONG_MESSAGES
    queue.add_message({"n": 2}, item_id="from-child")
    received = queue.receive_messages(max_messages=1, visibility_timeout=60)
    if [message["Id"] for message in received] != ["before-fork"]:
        return FORK_WRONG_MESSAGES
    if not queue.delete_message(received[0]["ReceiptHandle"]):
        return FORK_OTHER_ERROR
    queue.close()
    return EXIT_OK


def _in_fork(body: Callable[[], int], timeout: float) -> int:
    """Run ``body`` in a forked child; its exit code (``FORK_OTHER_ERROR`` if it raised)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads, 3.12+
        pid = os.fork()  # type: ignore[attr-defined,unused-ignore]
    if pid == 0:
        code = FORK_OTHER_ERROR
        try:
            code = body()
        except BaseException as exc:  # the child must never return into the parent's code
            sys.stderr.write(f"forked child: {exc!r}\n")
        finally:
            sys.stderr.flush()
            os._exit(code)
    return _wait_pid(pid, timeout)


def _wait_pid(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)  # type: ignore[attr-defined,unused-ignore]
        if done:
            return os.waitstatus_to_exitcode(status) if sys.version_info >= (3, 9) else status >> 8
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return -1
        time.sleep(_POLL)


def access_check(args: argparse.Namespace) -> int:
    """As another user, open the queue, read it, add ``--add-id`` and close it.

    Privileges are dropped to ``--uid``/``--gid`` (when running as root, which ignores file
    permissions) after the imports, as the interpreter's own files may not be readable by that
    user. Prints a JSON object with one outcome per step: ``{"ok": <result>}`` or
    ``{"error": <class name>, "storage_error": bool, "message": str}``; steps after a failed
    open are left out.
    """
    outcomes: Dict[str, object] = {"uid": _drop_privileges(args.uid, args.gid)}
    opened = _attempt(outcomes, "open", lambda: open_queue(args, durable=True, lock_timeout=2))
    if isinstance(opened, PyQueue):
        queue = opened
        _attempt(outcomes, "read", lambda: [message["id"] for message in queue.get_messages()])
        _attempt(outcomes, "add", lambda: queue.add_message({"n": 1}, item_id=args.add_id))
        _attempt(outcomes, "close", queue.close)
    sys.stdout.write(json.dumps(outcomes) + "\n")
    return EXIT_OK


def _drop_privileges(uid: int, gid: int) -> Optional[int]:
    """Become ``uid``/``gid`` with no supplementary groups if running as root (POSIX only).

    Returns the effective user id afterwards (None on Windows).
    """
    if sys.platform == "win32":
        return None
    if os.geteuid() == 0:  # root ignores file permissions; other users are already subject to them
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return os.geteuid()


def _attempt(outcomes: Dict[str, object], step: str, call: Callable[[], object]) -> object:
    """Run ``call``, record its result or error under ``step``, and return the result (or None)."""
    try:
        result = call()
    except Exception as exc:
        outcomes[step] = {
            "error": type(exc).__name__,
            "storage_error": isinstance(exc, StorageError),
            "message": str(exc),
        }
        return None
    outcomes[step] = {"ok": None if isinstance(result, PyQueue) else result}
    return result


# -- command line ----------------------------------------------------------------------------


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    run: Callable[[argparse.Namespace], int],
    backends: Optional[str] = "local",
) -> argparse.ArgumentParser:
    """The sub-command running ``run`` (named after it), with its positional ``queue``.

    Unless ``backends`` is None (the local file only): ``--queue-type`` (``local`` or
    ``sqlite``, and ``remote`` too when ``backends`` is ``"remote"``) and ``--queue-name``
    (sqlite and remote). A remote queue also takes ``--api-key``, ``--ca-file`` and
    ``--timeout`` (seconds for connecting and each read).
    """
    sub: argparse.ArgumentParser = commands.add_parser(
        run.__name__.replace("_", "-"), help=run.__doc__
    )
    sub.add_argument("queue")
    sub.set_defaults(run=run)
    if backends is None:
        return sub
    remote = backends == "remote"
    sub.add_argument(
        "--queue-type", choices=REMOTE_QUEUE_TYPES if remote else QUEUE_TYPES, default="local"
    )
    sub.add_argument("--queue-name", default="default")
    if remote:
        sub.add_argument("--api-key")
        sub.add_argument("--ca-file")
        sub.add_argument("--timeout", type=float, default=30.0)
    return sub


def _barrier_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """A command started with others behind a barrier (``--barrier``, ``--name``), on any
    backend, remote included; ``--durable`` turns fsync on."""
    sub = _command(commands, run, "remote")
    sub.add_argument("--barrier", required=True)
    sub.add_argument("--name", required=True)
    sub.add_argument("--durable", action="store_true")
    return sub


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="_workers.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sub = _barrier_command(commands, produce)
    sub.add_argument("--prefix", required=True)
    sub.add_argument("--count", type=int, required=True)
    sub.add_argument("--shuffle-seed", type=int)

    sub = _barrier_command(commands, consume)
    sub.add_argument("--log", required=True)
    sub.add_argument("--done", required=True)
    sub.add_argument("--deadline", type=float, default=30.0)

    sub = _command(commands, churn)
    sub.add_argument("--log", required=True)
    sub.add_argument("--prefix", required=True)
    sub.add_argument("--seed", type=int, required=True)
    sub.add_argument("--fast", action="store_true", help="durable=False")

    sub = _command(commands, swap, backends=None)
    sub.add_argument("--add", required=True)
    sub.add_argument("--remove", required=True)
    sub.add_argument("--mtime-ns", type=int, required=True)

    sub = _command(commands, hold_lock)
    sub.add_argument("--ready", required=True)
    sub.add_argument("--release", required=True)
    sub.add_argument("--deadline", type=float, default=30.0)

    sub = _command(commands, fork_check)
    sub.add_argument("--deadline", type=float, default=10.0)

    sub = _command(commands, access_check)
    sub.add_argument("--uid", type=int, required=True)
    sub.add_argument("--gid", type=int, required=True)
    sub.add_argument("--add-id", required=True)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; returns its exit code."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
