"""One measurement of the worker suite, in a child process, for this library or huey.

``python bench/_worker_jobs.py ROLE LIBRARY FOLDER N``, run by ``worker_suite.py`` on the
library's own interpreter (ours with ``PYTHONPATH`` at the checkout, huey from its venv):

- ``drain``: N no-op jobs enqueued before the clock starts, then 4 worker threads run them all;
  prints the wall seconds, the process's CPU seconds over the same span (every thread: the
  worker, the queue library and SQLite; the no-op handler adds nothing) and the jobs done.
- ``consume``: starts 4 worker threads on an empty queue, prints ``ready``, and records for each
  job the time from its enqueue (carried in the job) to its handler's start, until N jobs ran.
- ``produce``: enqueues N jobs, one every millisecond (as far as the enqueue call allows).

``floor`` is ours without the ``Worker``: a bare receive and delete loop on the same queue.

Both libraries keep jobs in SQLite in WAL mode at ``synchronous=FULL``: ours with
``durable=True``, huey's ``SqliteHuey`` at its default. Standard library only, Python 3.8.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List

THREADS = 4
#: Seconds a run may take before it gives up (a stuck worker must not hang the suite).
DEADLINE = 300.0


class Jobs:
    """Counts handler calls, records latencies, and says when ``target`` jobs have run."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.latencies: List[float] = []
        self.lock = threading.Lock()
        self.all_done = threading.Event()

    def ran(self, enqueued: float = 0.0) -> None:
        started = time.time()
        with self.lock:
            self.count += 1
            if enqueued:
                self.latencies.append(started - enqueued)
            if self.count >= self.target:
                self.all_done.set()


class Ours:
    """This checkout's ``PyQueue`` (sqlite, durable) and ``Worker``."""

    def __init__(self, folder: str, jobs: Jobs) -> None:
        module: Any = importlib.import_module("pyqueue_client")
        self.module, self.jobs = module, jobs
        path = os.path.join(folder, "queue.db")
        self.queue = module.PyQueue(path, queue_type="sqlite", queue_name="jobs", durable=True)

    def enqueue(self, count: int) -> None:
        for start in range(0, count, 100):
            size = min(100, count - start)
            self.queue.add_messages([{"n": start + n} for n in range(size)])

    def enqueue_one(self) -> None:
        self.queue.add_message({"t": time.time()})

    def worker(self, drain: bool) -> Any:
        def handle(message: Dict[str, Any]) -> None:
            self.jobs.ran(message["message_body"].get("t", 0.0))

        # A drain asks for no long poll, so the worker returns once the queue is empty.
        wait = 0 if drain else 20
        return self.module.Worker(
            self.queue, handle, concurrency=THREADS, wait_time_seconds=wait, stop_when_empty=drain
        )

    def drain(self) -> None:
        self.worker(drain=True).run()

    def consume(self, ready: Callable[[], None]) -> None:
        worker = self.worker(drain=False)
        thread = threading.Thread(target=worker.run)
        thread.start()
        ready()
        self.jobs.all_done.wait(DEADLINE)
        worker.stop()
        thread.join()

    def left(self) -> int:
        count: int = self.queue.get_queue_info()["message_count"]
        return count


class Floor(Ours):
    """The floor under ours: one thread looping ``receive_messages(4)`` and
    ``delete_messages`` on the same queue, calling the handler inline (no ``Worker``)."""

    def drain(self) -> None:
        self.loop(wait=0, until_empty=True)

    def consume(self, ready: Callable[[], None]) -> None:
        ready()
        self.loop(wait=1, until_empty=False)

    def loop(self, wait: float, until_empty: bool) -> None:
        deadline = time.monotonic() + DEADLINE
        while not self.jobs.all_done.is_set() and time.monotonic() < deadline:
            received = self.queue.receive_messages(THREADS, 30, wait_time_seconds=wait)
            if not received and until_empty:
                return
            for message in received:
                self.jobs.ran(message["message_body"].get("t", 0.0))
            if received:
                self.queue.delete_messages([message["ReceiptHandle"] for message in received])


class Huey:
    """huey's ``SqliteHuey`` (its default durability) and its consumer with 4 threads."""

    def __init__(self, folder: str, jobs: Jobs) -> None:
        module: Any = importlib.import_module("huey")
        self.huey = module.SqliteHuey("bench", filename=os.path.join(folder, "huey.db"))
        self.jobs = jobs
        # The same task name in the producer and the consumer: both are this script.
        self.task = self.huey.task(name="job")(self.jobs.ran)

    def enqueue(self, count: int) -> None:
        for _ in range(count):
            self.task()

    def enqueue_one(self) -> None:
        self.task(time.time())

    def drain(self) -> None:
        self.consume(lambda: None)

    def consume(self, ready: Callable[[], None]) -> None:
        consumer = self.huey.create_consumer(workers=THREADS, worker_type="thread", periodic=False)
        consumer.start()
        ready()
        self.jobs.all_done.wait(DEADLINE)
        consumer.stop(graceful=True)

    def left(self) -> int:
        count: int = self.huey.pending_count()
        return count


LIBRARIES = {"ours": Ours, "floor": Floor, "huey": Huey}


def drain(library: Any, jobs: Jobs) -> Dict[str, Any]:
    library.enqueue(jobs.target)
    cpu, started = time.process_time(), time.perf_counter()
    library.drain()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "done": jobs.count, "left": library.left()}


def consume(library: Any, jobs: Jobs) -> Dict[str, Any]:
    library.consume(lambda: print("ready", flush=True))
    return {"latencies": sorted(jobs.latencies), "done": jobs.count, "left": library.left()}


def produce(library: Any, jobs: Jobs) -> Dict[str, Any]:
    started = time.perf_counter()
    for number in range(jobs.target):
        pause = started + number / 1000 - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        library.enqueue_one()
    return {"seconds": time.perf_counter() - started}


def main() -> int:
    """Run one role; see the module's docstring."""
    role, name, folder, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    jobs = Jobs(count)
    library = LIBRARIES[name](folder, jobs)
    roles = {"drain": drain, "consume": consume, "produce": produce}
    result = roles[role](library, jobs)
    print(json.dumps({"role": role, "library": name, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
