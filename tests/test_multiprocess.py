"""Real processes sharing one local JSON queue file: exactly-once consumption, racing adds,
lock timeouts against another process, and fork safety.

The children are ``tests/_workers.py`` commands (see that module for what each one logs). The
concurrency tests run with ``durable=False``: fsync changes how long the lock is held, not what it
protects, and halves the run time; the crash test (``test_crash.py``) keeps the durable default.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Set

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


def _ids_in_file(path: Path) -> List[str]:
    """The ids in the queue file, parsed as plain JSON (not through the library)."""
    records = json.loads(path.read_bytes())
    assert isinstance(records, list), f"{path} holds {type(records).__name__}, not a list"
    return [record["id"] for record in records]


def test_four_producers_four_consumers_consume_each_message_exactly_once(tmp_path: Path) -> None:
    """1,000 messages from 4 producer processes are deleted exactly once by 4 consumer processes.

    The visibility timeout (60 s) outlasts the test, so any message received twice, any stale
    delete or any id deleted twice is a lost or duplicated update, not a legitimate redelivery.
    """
    queue_file = tmp_path / "queue.json"
    barrier, done = tmp_path / "barrier", tmp_path / "producers-done"
    barrier.mkdir()
    PyQueue(queue_file).close()  # create the file once, before the race
    env = child_env()
    producers = [
        producer(env, tmp_path, queue_file, barrier, f"producer{index}", f"p{index}", 250)
        for index in range(4)
    ]
    consumers = [
        consumer(env, tmp_path, queue_file, barrier, done, f"consumer{index}", deadline=30)
        for index in range(4)
    ]
    run_producers_then_consumers(barrier, done, producers, consumers)

    sent = {f"p{number}-{item}" for number in range(4) for item in range(250)}
    assert_exactly_once(consumed(tmp_path, consumers), sent, "one queue")
    assert _ids_in_file(queue_file) == []
    with PyQueue(queue_file) as queue:
        assert queue.health_check()
        assert queue.get_queue_info()["message_count"] == 0


def _run_adders(tmp_path: Path, prefixes: List[str], per_worker: int) -> None:
    """Start one ``produce`` child per prefix, release them together, and check their exit."""
    queue_file, barrier = tmp_path / "queue.json", tmp_path / "barrier"
    barrier.mkdir()
    PyQueue(queue_file).close()
    env = child_env()
    workers = [
        producer(
            env,
            tmp_path,
            queue_file,
            barrier,
            f"adder{index}",
            prefix,
            per_worker,
            f"--shuffle-seed={index}",
        )
        for index, prefix in enumerate(prefixes)
    ]
    release_and_finish(barrier, workers)


def test_eight_processes_adding_distinct_ids_lose_nothing(tmp_path: Path) -> None:
    """8 processes x 125 adds with distinct ids: all 1,000 are in the file, once each."""
    _run_adders(tmp_path, [f"w{index}" for index in range(8)], per_worker=125)

    ids = _ids_in_file(tmp_path / "queue.json")
    expected = {f"w{index}-{number}" for index in range(8) for number in range(125)}
    assert not duplicates(ids), f"duplicated in the file: {duplicates(ids)}"
    assert set(ids) == expected, f"lost: {sorted(expected - set(ids))[:20]}"
    with PyQueue(tmp_path / "queue.json") as queue:
        assert queue.health_check()
        assert queue.get_queue_info()["message_count"] == 1000


def test_eight_processes_adding_the_same_ids_keep_one_copy_each(tmp_path: Path) -> None:
    """8 processes add the same 150 ids (each in its own order): idempotent add under races.

    Every id ends up exactly once, never received, with the body of whichever add came first.
    """
    _run_adders(tmp_path, ["shared"] * 8, per_worker=150)

    ids = _ids_in_file(tmp_path / "queue.json")
    assert not duplicates(ids), f"duplicated in the file: {duplicates(ids)}"
    assert set(ids) == {f"shared-{number}" for number in range(150)}
    with PyQueue(tmp_path / "queue.json") as queue:
        assert queue.health_check()
        for message in queue.get_messages():
            assert message["id"] == f"shared-{message['message_body']['n']}"
            assert message["message_body"]["writer"] in {f"adder{index}" for index in range(8)}
            assert message["receive_count"] == 0


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
        queue = PyQueue(queue_file, durable=False)
        if _rewrite_in_child_with_same_stamp(queue, queue_file):
            break
        queue.close()
    else:
        pytest.skip("this filesystem did not reuse the inode number; nothing to check")
    with queue:
        assert [message["id"] for message in queue.get_messages()] == ["m2"]
        assert [message["Id"] for message in queue.receive_messages()] == ["m2"]
    assert _ids_in_file(queue_file) == ["m2"]


def _rewrite_in_child_with_same_stamp(queue: PyQueue, queue_file: Path) -> bool:
    """``queue`` writes ``[m1]``, a child makes it ``[m2]``; True if the stamps are now equal."""
    queue.add_message({"n": 1}, item_id="m1")
    first = queue_file.stat()
    swap = ["swap", str(queue_file), "--add=m2", "--remove=m1"]
    child = subprocess.run(
        [sys.executable, SCRIPT, *swap, f"--mtime-ns={first.st_mtime_ns}"],
        env=child_env(),
        cwd=CHILD_CWD,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert child.returncode == EXIT_OK, child.stderr
    now = queue_file.stat()
    return (now.st_ino, now.st_size, now.st_mtime_ns) == (
        first.st_ino,
        first.st_size,
        first.st_mtime_ns,
    )


def _hold_lock(tmp_path: Path, queue_file: Path) -> Worker:
    """A child holding ``<queue_file>.lock``; it lets go when the ``release`` file appears."""
    ready = tmp_path / "ready"
    worker = start(
        child_env(),
        tmp_path,
        "holder",
        "hold-lock",
        str(queue_file),
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


def _files_in(folder: Path) -> Set[str]:
    return {path.name for path in folder.iterdir()}


def test_lock_held_by_another_process_times_out_and_writes_nothing(tmp_path: Path) -> None:
    """While another process holds the lock, every call raises ``LockTimeoutError`` after
    ``lock_timeout`` naming the file, and nothing is written; once it lets go, calls succeed."""
    queue_file = tmp_path / "queue.json"
    with PyQueue(queue_file) as setup:
        setup.add_message({"n": 0}, item_id="existing")
    before, files_before = queue_file.read_bytes(), _files_in(tmp_path)
    stamp_before = queue_file.stat().st_mtime_ns
    holder = _hold_lock(tmp_path, queue_file)
    try:
        with PyQueue(queue_file, lock_timeout=0.3) as queue:
            for call in (
                lambda: queue.add_message({"n": 1}, item_id="blocked"),
                queue.get_messages,
                lambda: queue.receive_messages(visibility_timeout=60),
            ):
                began = time.monotonic()
                with pytest.raises(LockTimeoutError) as caught:
                    call()
                waited = time.monotonic() - began
                assert isinstance(caught.value, TimeoutError)
                assert str(queue_file) in str(caught.value)
                assert 0.25 <= waited < 5, f"waited {waited:.3f} s for a 0.3 s lock timeout"
            assert not queue.health_check()
            assert queue_file.read_bytes() == before
            assert queue_file.stat().st_mtime_ns == stamp_before
            assert _files_in(tmp_path) - files_before <= {"ready", "holder.stderr"}
            (tmp_path / "release").touch()
            assert holder.finish(20) == EXIT_OK, holder.describe()
            assert queue.add_message({"n": 1}, item_id="after") == "after"
            assert [message["id"] for message in queue.get_messages()] == ["existing", "after"]
    finally:
        holder.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="os.fork is POSIX only")
def test_forked_child_does_not_share_the_parents_lock(tmp_path: Path) -> None:
    """A ``PyQueue`` used in a ``fork()`` child waits for the parent's lock instead of sharing it.

    The fork happens inside a spawned child (``fork-check``), so this test process never forks.
    """
    queue_file = tmp_path / "queue.json"
    completed = subprocess.run(
        [sys.executable, SCRIPT, "fork-check", str(queue_file)],
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
    assert result["holder_finished"], completed.stderr
    assert result["while_held"] == FORK_LOCK_TIMEOUT, (
        f"the forked child was not blocked by the parent's lock: {result}\n{completed.stderr}"
    )
    assert result["after_release"] == EXIT_OK, f"{result}\n{completed.stderr}"
    assert result["parent_sees"] == ["before-fork", "from-child", "held"]
    assert _ids_in_file(queue_file) == ["before-fork", "held", "from-child"]
