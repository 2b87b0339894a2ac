"""Long polling, dead letters and redrive across real processes, on the JSON file and SQLite.

- a consumer process waiting in ``receive_messages(wait_time_seconds=...)`` is woken by another
  process's add long before its deadline;
- four consumer processes whose handlers always fail: every message ends in the dead-letter queue
  exactly once, none lost, none left behind;
- redrive while consumers work: every redriven message is delivered and deleted exactly once;
- a process moving messages between two JSON files, killed at random moments: after each kill,
  every message it added is in exactly one of the two files.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import List, Set, Tuple

import pytest

from pyqueue_client import PyQueue

from ._sqs_child import open_queue
from .conftest import PROJECT_ROOT, PYTHON, child_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="the tests use POSIX signals"),
]

KINDS = ["local", "sqlite"]


def _stores(tmp_path: Path, kind: str) -> Tuple[str, str, str]:
    """The store, and the dead-letter queue as ``dead_letter_queue`` names it and as a store."""
    if kind == "local":
        return str(tmp_path / "jobs.json"), str(tmp_path / "dead.json"), str(tmp_path / "dead.json")
    return str(tmp_path / "queue.db"), "dead", str(tmp_path / "queue.db")


def _dead_queue(kind: str, dead_store: str) -> PyQueue:
    return open_queue(kind, dead_store, "dead")


def _child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "tests._sqs_child", *args],
        cwd=PROJECT_ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_another_process_adding_wakes_a_waiting_consumer(tmp_path: Path, kind: str) -> None:
    store, _, _ = _stores(tmp_path, kind)
    open_queue(kind, store).close()  # the file exists before the consumer watches it
    consumer = _child("wait", kind, store, "--seconds", "15")
    assert consumer.stdout is not None
    assert consumer.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # the consumer is waiting by now
    with open_queue(kind, store) as queue:  # this test's process is the producer
        queue.add_message({"n": 1}, item_id="wake-up")
    result = json.loads(_finish(consumer).strip().splitlines()[-1])
    assert result["ids"] == ["wake-up"]
    assert result["waited"] < 5, result  # woken, not timed out at 15 s


@pytest.mark.parametrize("kind", KINDS)
def test_failing_consumers_send_every_message_to_the_dead_letter_queue_once(
    tmp_path: Path, kind: str
) -> None:
    store, dead_name, dead_store = _stores(tmp_path, kind)
    sent = [f"m{n}" for n in range(60)]
    with open_queue(kind, store) as queue:
        queue.set_queue_attributes(max_receive_count=3, dead_letter_queue=dead_name)
        queue.add_messages([{"n": n} for n in range(60)], sent)
    consumers = [_child("fail", kind, store, "--seconds", "1.5") for _ in range(4)]
    for consumer in consumers:
        _finish(consumer, timeout=120)
    with open_queue(kind, store) as queue, _dead_queue(kind, dead_store) as dead:
        assert queue.get_queue_info()["message_count"] == 0
        moved = dead.get_messages()
    assert sorted(m["id"] for m in moved) == sorted(sent)
    assert all(m["receive_count"] == 3 for m in moved)


@pytest.mark.parametrize("kind", KINDS)
def test_redrive_under_working_consumers_delivers_each_message_once(
    tmp_path: Path, kind: str
) -> None:
    store, dead_name, dead_store = _stores(tmp_path, kind)
    sent = [f"m{n}" for n in range(80)]
    with open_queue(kind, store) as queue:
        queue.set_queue_attributes(max_receive_count=1, dead_letter_queue=dead_name)
        queue.add_messages([{"n": n} for n in range(80)], sent)
        while queue.receive_messages(max_messages=10, visibility_timeout=0):
            pass  # the first receive counts; the next moves every message
        assert queue.receive_messages(max_messages=10) == []
        queue.set_queue_attributes(max_receive_count=None, dead_letter_queue=None)
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]
    workers = [_child("work", kind, store, "--seconds", "2", "--log", str(log)) for log in logs]
    with _dead_queue(kind, dead_store) as dead:
        while dead.redrive_messages(max_messages=7):
            time.sleep(0.01)
    for worker in workers:
        _finish(worker, timeout=120)
    deleted = [line for log in logs for line in log.read_text().split()]
    duplicates = {item: n for item, n in Counter(deleted).items() if n > 1}
    assert duplicates == {}
    assert sorted(deleted) == sorted(sent)


def test_moves_between_two_files_survive_sigkill(tmp_path: Path) -> None:
    """Dead letters and redrive between two JSON files, the mover killed 10 times at random."""
    store, dead_name, _ = _stores(tmp_path, "local")
    with open_queue("local", store) as queue:
        queue.set_queue_attributes(max_receive_count=1, dead_letter_queue=dead_name)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    log = tmp_path / "added.log"
    for round_number in range(10):
        mover = _child(
            "move", "local", store, "--dead", dead_name, "--log", str(log),
            "--prefix", f"r{round_number}",
        )  # fmt: skip
        started = time.monotonic()
        while not log.exists() and time.monotonic() - started < 30:
            time.sleep(0.01)  # the child is up and moving (its start may be slow under load)
        time.sleep(rng.random() * 0.5)
        mover.kill()  # SIGKILL
        mover.communicate(timeout=10)
        added: Set[str] = set(log.read_text().split()) if log.exists() else set()
        with open_queue("local", store) as queue, open_queue("local", dead_name) as dead:
            for either in (queue, dead):
                either.get_queue_info()  # finishes a move the kill cut short
            here, there = _ids(queue), _ids(dead)
        context = f"seed {seed}, round {round_number}"
        assert not set(here) & set(there), f"in both files ({context})"
        assert len(here) == len(set(here)), context
        assert len(there) == len(set(there)), context
        assert added <= set(here) | set(there), f"lost ({context})"


def _ids(queue: PyQueue) -> List[str]:
    return [m["id"] for m in queue.get_messages()]
