"""A study: can a SQLite queue's reads fail while other processes open, write and close the file?

The worker suite once saw ``get_queue_info()`` fail with "disk I/O error" in a consumer process
right after its ``Worker`` stopped, while a producer process was finishing. Each round here runs
real processes on one fresh database and counts what went wrong:

- ``worker``: a producer process adds ``--n`` messages, one per millisecond, then closes; this
  process runs a ``Worker`` (4 threads) until it has handled them all, stops it, then reads
  ``get_queue_info()`` on its main thread and on a new thread.
- ``churn``: a process opens the queue, adds one message and closes it, ``--n`` / 10 times over,
  while this process receives and deletes from new threads (each opens its own connection).

After each round, another process counts what the file holds: messages this process deleted or
saw must agree with what others see. Errors and disagreements are printed per round::

    .venv/bin/python bench/studies/sqlite_open_race.py [--rounds 20] [--n 300]
        [--scenario worker|churn|both]

Before the fix in ``_storage/sqlite_db.py`` (the file was read by Python beside SQLite's open
connections, which drops the process's POSIX locks on it) most ``worker`` and ``churn`` rounds
failed (see ``bench/README.md``). Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from pyqueue_client import PyQueue, Worker  # noqa: E402

#: Seconds any one wait may take before the round is called stuck.
DEADLINE = 60.0


def _open(path: str) -> Any:
    return PyQueue(path, queue_type="sqlite", queue_name="jobs", durable=True)


def _child(role: str, path: str, count: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    command = [sys.executable, os.path.abspath(__file__), "--child", role, path, str(count)]
    return subprocess.Popen(command, env=env)


def produce(path: str, count: int) -> None:
    """One message per millisecond (as far as the call allows), then close."""
    queue = _open(path)
    started = time.perf_counter()
    for number in range(count):
        pause = started + number / 1000 - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        queue.add_message({"n": number})
    queue.close()


def churn(path: str, count: int) -> None:
    """Open, add one, close: ``count`` times."""
    for number in range(count):
        with _open(path) as queue:
            queue.add_message({"n": number})


def count_in(path: str, count: int) -> None:
    """Print the queue's message count as a fresh process sees it."""
    del count
    with _open(path) as queue:
        print(queue.get_queue_info()["message_count"], flush=True)


def _seen_elsewhere(path: str) -> int:
    env = dict(os.environ, PYTHONPATH=ROOT)
    command = [sys.executable, os.path.abspath(__file__), "--child", "count", path, "0"]
    return int(subprocess.run(command, env=env, capture_output=True, check=True).stdout)


def _on_new_thread(call: Callable[[], Any]) -> Any:
    """``call()`` on a thread of its own (which opens its own connection); its error re-raised."""
    outcome: Dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(DEADLINE)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def worker_round(path: str, count: int, errors: List[str]) -> None:
    """The worker suite's consumer, shortened: see the module's docstring."""
    queue = _open(path)
    handled = threading.Semaphore(0)
    worker = Worker(queue, lambda message: handled.release(), concurrency=4, wait_time_seconds=1)
    thread = threading.Thread(target=worker.run)
    thread.start()
    producer = _child("produce", path, count)
    for _ in range(count):
        if not handled.acquire(timeout=DEADLINE):
            errors.append("the worker stopped handling messages")
            break
    worker.stop()
    thread.join(DEADLINE)
    producer.wait(DEADLINE)
    _check(queue, path, errors)


def churn_round(path: str, count: int, errors: List[str]) -> None:
    """Receive and delete from new threads while another process opens and closes."""
    queue = _open(path)
    queue.add_message({"n": -1})  # the file exists, and this process holds a connection
    opener = _child("churn", path, max(count // 10, 1))
    deadline = time.monotonic() + DEADLINE
    while opener.poll() is None and time.monotonic() < deadline:
        try:
            _receive_and_delete(queue)
        except Exception as exc:
            errors.append(f"during the churn: {type(exc).__name__}: {exc}")
            break
    opener.wait(DEADLINE)
    _check(queue, path, errors)


def _receive_and_delete(queue: Any) -> None:
    """Receive a few on one new thread, delete them on another: two new connections."""
    received = _on_new_thread(lambda: queue.receive_messages(4))
    handles = [message["ReceiptHandle"] for message in received]
    if handles:
        _on_new_thread(lambda: queue.delete_messages(handles))


def _check(queue: Any, path: str, errors: List[str]) -> None:
    """Reads on this thread and a new one, and what another process sees, must agree."""
    try:
        here = queue.get_queue_info()["message_count"]
        again = _on_new_thread(lambda: queue.get_queue_info()["message_count"])
        elsewhere = _seen_elsewhere(path)
        if not here == again == elsewhere:
            counts = f"{here} here, {again} on a new thread, {elsewhere} elsewhere"
            errors.append(f"counts differ: {counts}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        queue.close()


ROUNDS = {"worker": worker_round, "churn": churn_round}
CHILDREN = {"produce": produce, "churn": churn, "count": count_in}


def main() -> int:
    """Run the rounds (or, with ``--child``, one child's part); exit 1 if any round failed."""
    if sys.argv[1:2] == ["--child"]:
        CHILDREN[sys.argv[2]](sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--scenario", choices=["worker", "churn", "both"], default="both")
    options = parser.parse_args()
    names = list(ROUNDS) if options.scenario == "both" else [options.scenario]
    failed = 0
    for name in names:
        bad = 0
        for number in range(options.rounds):
            errors: List[str] = []
            with tempfile.TemporaryDirectory() as folder:
                ROUNDS[name](os.path.join(folder, "queue.db"), options.n, errors)
            for error in errors:
                print(f"{name} round {number + 1}: {error}", flush=True)
            bad += bool(errors)
        print(f"{name}: {bad} of {options.rounds} rounds failed", flush=True)
        failed += bad
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
