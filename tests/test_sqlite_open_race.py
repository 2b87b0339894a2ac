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
    outcome: Dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


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
