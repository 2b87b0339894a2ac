"""A SQLite queue stays readable while other processes open, write and close its file.

POSIX record locks belong to a process, and closing any descriptor of a file drops every lock the
process holds on it. A read of the database's header by Python beside SQLite's connections
dropped the shared lock that tells other processes the file is in use; the next of theirs to
close then thought itself the last, checkpointed, and deleted the ``-wal`` and ``-shm`` files
under this process's open connections: its next new connection failed with "disk I/O error",
and its writes went to a deleted log that no other process could see.

Real processes; each waits on counts, not on time (generous deadlines only against a hang).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from pyqueue_client import PyQueue, Worker

from .conftest import child_env

#: Seconds a child or a thread may take before the test calls it stuck (a loaded machine).
DEADLINE = 60.0

_CHILD = """
import json, sys, time
from pyqueue_client import PyQueue
role, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if role == "count":
    with PyQueue(path, queue_type="sqlite") as queue:
        print(json.dumps(sorted(m["id"] for m in queue.get_messages())))
else:
    # "add": one queue open for all the adds, "trickle" the same a millisecond apart (a worker
    # then receives them a few at a time); "churn": the queue closed and opened around each add
    queue = PyQueue(path, queue_type="sqlite")
    for number in range(count):
        if role == "churn":
            queue.close()
        if role == "trickle":
            time.sleep(0.001)
        queue.add_message({"n": number}, item_id=f"{role}-{number}")
    queue.close()
"""


def _start(role: str, path: Path, count: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, role, str(path), str(count)],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(child: subprocess.Popen[str]) -> str:
    """Wait for ``child``, which must succeed; its standard output."""
    out, err = child.communicate(timeout=DEADLINE)
    assert child.returncode == 0, err
    return out


def _ids_elsewhere(path: Path) -> List[str]:
    """The queue's message ids, as a fresh process reads them."""
    ids: List[str] = json.loads(_finish(_start("count", path)))
    return ids


def _on_new_thread(call: Callable[[], Any]) -> Any:
    """``call()`` on a thread of its own, which opens its own connection; its error re-raised."""
    return _Background(call).result()


def test_another_process_closing_leaves_this_ones_log_alone(tmp_path: Path) -> None:
    """Two connections here (two threads); another process adds and closes; this one goes on."""
    path = tmp_path / "queue.db"
    queue = PyQueue(path, queue_type="sqlite")
    try:
        queue.add_message({"n": 0}, item_id="before")
        _on_new_thread(queue.get_queue_info)  # a second connection, opened beside the first
        _finish(_start("add", path, 1))
        # the other process was not the last one using the file: the log is still there
        assert (tmp_path / "queue.db-wal").exists()
        queue.add_message({"n": 1}, item_id="after")
        assert _on_new_thread(lambda: queue.get_queue_info()["message_count"]) == 3
        # ...and what this process writes is what every other process reads
        assert _ids_elsewhere(path) == ["add-0", "after", "before"]
    finally:
        queue.close()
    assert _ids_elsewhere(path) == ["add-0", "after", "before"]


def test_a_worker_consumer_reads_after_its_producer_exits(tmp_path: Path) -> None:
    """The worker suite's consumer: a Worker handles what a producer process adds, stops, and
    the queue is read on the main thread as the producer closes the file."""
    path = tmp_path / "queue.db"
    count = 200
    queue = PyQueue(path, queue_type="sqlite")
    handled = threading.Semaphore(0)
    worker = Worker(queue, lambda message: handled.release(), concurrency=4, wait_time_seconds=1)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        producer = _start("trickle", path, count)
        assert all(handled.acquire(timeout=DEADLINE) for _ in range(count))
    finally:
        worker.stop()
        thread.join(DEADLINE)
    _finish(producer)
    try:
        # the producer closed while this process still had the file open: the log stays
        assert (tmp_path / "queue.db-wal").exists()
        assert queue.get_queue_info()["message_count"] == 0
        queue.add_message({"n": count}, item_id="last")
        assert _on_new_thread(lambda: queue.get_queue_info()["message_count"]) == 1
        assert _ids_elsewhere(path) == ["last"]
    finally:
        queue.close()


def test_reads_from_new_threads_while_another_process_opens_and_closes(tmp_path: Path) -> None:
    """Another process opens the file, adds one and closes it, over and over; this one receives
    and deletes from a new thread each time: nothing fails, and every message is seen once."""
    path = tmp_path / "queue.db"
    count = 30
    queue = PyQueue(path, queue_type="sqlite")
    queue.add_message({"n": -1}, item_id="first")  # the file exists; a connection is open here
    deleted: List[str] = []
    try:
        opener = _start("churn", path, count)
        while opener.poll() is None or queue.get_queue_info()["message_count"]:
            received = _on_new_thread(lambda: queue.receive_messages(10, wait_time_seconds=0.5))
            handles = [message["ReceiptHandle"] for message in received]
            deleted += [message["Id"] for message in received]
            _on_new_thread(lambda: queue.delete_messages(handles))  # noqa: B023
        _finish(opener)
        assert sorted(deleted) == sorted(["first", *(f"churn-{n}" for n in range(count))])
        assert _ids_elsewhere(path) == []
    finally:
        queue.close()


# -- close() beside calls on other threads ----------------------------------------------------

_CLOSER = """
import sys, threading, time
from pyqueue_client import PyQueue
queue = PyQueue(sys.argv[1], queue_type="sqlite")
queue.add_messages([{"n": n} for n in range(2000)])
errors, stop = [], threading.Event()

def read() -> None:
    while not stop.is_set():
        try:
            queue.get_messages()
            queue.get_queue_info()
        except Exception as exc:
            errors.append(repr(exc))

readers = [threading.Thread(target=read) for _ in range(3)]
for reader in readers:
    reader.start()
for _ in range(40):
    time.sleep(0.01)
    queue.close()
stop.set()
for reader in readers:
    reader.join()
print(errors[:3])
"""


def test_close_while_other_threads_read_neither_fails_nor_crashes(tmp_path: Path) -> None:
    """Readers on three threads while another closes the queue again and again: each read sees
    the queue (close() waits for running calls; later ones open new connections). In a child
    process: a connection closed under a running statement could crash the interpreter."""
    child = subprocess.run(
        [sys.executable, "-c", _CLOSER, str(tmp_path / "queue.db")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]"


def test_close_waits_for_the_running_call_and_holds_new_ones(tmp_path: Path) -> None:
    queue = PyQueue(tmp_path / "queue.db", queue_type="sqlite")
    queue.add_message({"n": 1})
    db = queue._store.db  # type: ignore[attr-defined]
    inside, finish = threading.Event(), threading.Event()

    def long_read() -> int:
        with db.statements(1, write=False) as connection:
            inside.set()
            finish.wait(DEADLINE)
            count: int = connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            return count

    reader = _Background(long_read)
    assert inside.wait(DEADLINE)
    closer = _Background(db.close)
    _wait(lambda: db._calls._closing == 1)
    later = _Background(queue.get_queue_info)  # begun while close() waits: held until it ends
    assert not closer.done.wait(0.1)
    assert not later.done.is_set()
    finish.set()
    assert reader.result() == 1
    closer.result()
    assert later.result()["message_count"] == 1
    queue.close()


def test_a_forked_child_is_not_held_by_a_close_under_way_in_its_parent(tmp_path: Path) -> None:
    """fork() copies a close() under way on another thread, which never ends in the child."""
    queue = PyQueue(tmp_path / "queue.db", queue_type="sqlite")
    queue.add_message({"n": 1}, item_id="a")
    db = queue._store.db  # type: ignore[attr-defined]
    db._calls._closing = 1  # the parent's closing thread, as the child inherits it
    db._pid = -1  # what a child process sees after fork()
    # a child leaves the parent's connections alone; here the "parent" is this process, so the
    # test closes them itself (left open, 3.13 warns of an unclosed database)
    parents = list(db._opened)
    try:
        assert _on_new_thread(lambda: queue.has_message("a"))
    finally:
        queue.close()
        for connection in parents:
            connection.close()


class _Background:
    """``call()`` on a thread of its own, started now."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self._outcome: Dict[str, Any] = {}
        self._call = call
        threading.Thread(target=self._run).start()

    def _run(self) -> None:
        try:
            self._outcome["value"] = self._call()
        except Exception as exc:  # handed to result()
            self._outcome["error"] = exc
        self.done.set()

    def result(self) -> Any:
        """The call's value, once it returned; its error re-raised."""
        assert self.done.wait(DEADLINE)
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome.get("value")


def _wait(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_the_connections_of_threads_that_ended_are_closed(tmp_path: Path) -> None:
    """Each task on a new thread: the connections do not pile up with the threads."""
    queue = PyQueue(tmp_path / "queue.db", queue_type="sqlite")
    queue.add_message({"n": 1})
    db = queue._store.db  # type: ignore[attr-defined]
    for _ in range(20):
        thread = threading.Thread(target=queue.get_queue_info)
        thread.start()
        thread.join(DEADLINE)
    assert len(db._opened) == 2  # this thread's, and the last one's (until the next opens)
    assert _on_new_thread(lambda: queue.get_queue_info()["message_count"]) == 1
    queue.close()
    assert db._opened == []
