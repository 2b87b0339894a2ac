"""The worker of ``bench/remote_run.py``: one workload against a running ``pyqueue serve``.

Run by the interpreter of the library being measured (this checkout with ``PYTHONPATH`` set to it,
or the original ``pyqueue-client==1.2.1`` in its own venv): both are imported as
``pyqueue_client``, which is why every workload is a process of its own. Standard library only,
Python 3.8 syntax. Usage::

    python bench/_remote_workload.py '{"workload": "single", "server_url": ..., ...}'

It prints one JSON line: the library's folder, the timings and the exactly-once counts. Every loop
stops at the spec's ``deadline`` (seconds from start) at the latest.
"""

from __future__ import annotations

import collections
import importlib
import json
import os
import sys
import threading
import time
from typing import Any, Callable, Counter, Dict, List, NamedTuple, Optional, Tuple

#: Seconds a received message stays invisible: far longer than any run, so a redelivery means a bug.
VISIBILITY_TIMEOUT = 300
#: JSON size of every body, in bytes.
BODY_BYTES = 100
#: Seconds the final drain of the mixed load may take.
DRAIN_SECONDS = 60.0

Message = Dict[str, Any]


class Spec(NamedTuple):
    """What to run, as the coordinator passed it."""

    workload: str
    server_url: str
    api_key: str
    queue_name: str
    n: int
    threads: int
    duration: float
    deadline: float


class Tally:
    """What a run's clients did, merged under a lock: ids added, received, deleted; errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.added: List[str] = []
        self.received: Counter[str] = collections.Counter()
        self.deleted: Counter[str] = collections.Counter()
        self.errors: List[str] = []
        self.latencies: List[float] = []

    def merge(self, other: Tally) -> None:
        """Add another client's tally to this one."""
        with self.lock:
            self.added.extend(other.added)
            self.received.update(other.received)
            self.deleted.update(other.deleted)
            self.errors.extend(other.errors)
            self.latencies.extend(other.latencies)


# -- the library -------------------------------------------------------------------------------


def open_queue(spec: Spec) -> Any:
    """A client of the spec's queue, from whichever ``pyqueue_client`` this interpreter imports."""
    module: Any = importlib.import_module("pyqueue_client")
    return module.PyQueue(
        queue_type="remote",
        server_url=spec.server_url,
        api_key=spec.api_key,
        queue_name=spec.queue_name,
        timeout=30,
    )


def library_folder() -> str:
    """The folder the measured ``pyqueue_client`` was imported from."""
    module: Any = importlib.import_module("pyqueue_client")
    return os.path.dirname(os.path.abspath(str(module.__file__)))


def close_queue(queue: Any) -> None:
    """Close ``queue`` if the library can (the original has no ``close``)."""
    close: Optional[Callable[[], None]] = getattr(queue, "close", None)
    if close is not None:
        close()


def body(seq: int) -> Message:
    """A dict whose JSON is ``BODY_BYTES`` long."""
    base: Message = {"task": "bench", "seq": seq, "payload": ""}
    pad = BODY_BYTES - len(json.dumps(base))
    base["payload"] = "x" * max(pad, 0)
    return base


def handle_of(message: Message) -> str:
    """The receipt handle, under either library's key."""
    return str(message.get("ReceiptHandle") or message.get("receipt_handle"))


def id_of(message: Message) -> str:
    """The message id, under either library's key."""
    return str(message.get("Id") or message.get("id"))


# -- the operations ----------------------------------------------------------------------------


def add_all(queue: Any, items: List[Tuple[str, Message]], tally: Tally, stop_at: float) -> None:
    """``add_message`` once per item, until done or ``stop_at``."""
    for item_id, item_body in items:
        if time.perf_counter() >= stop_at:
            tally.errors.append("deadline reached while adding")
            return
        try:
            queue.add_message(item_body, item_id=item_id)
            tally.added.append(item_id)
        except Exception as exc:
            tally.errors.append(f"add: {exc!r}")


def receive_one(queue: Any, tally: Tally) -> Optional[Message]:
    """One ``receive_messages(1)``; the message or None when the queue looks empty."""
    try:
        messages = queue.receive_messages(max_messages=1, visibility_timeout=VISIBILITY_TIMEOUT)
    except Exception as exc:
        tally.errors.append(f"receive: {exc!r}")
        return None
    if not messages:
        return None
    tally.received[id_of(messages[0])] += 1
    message: Message = messages[0]
    return message


def delete(queue: Any, message: Message, tally: Tally) -> None:
    """Delete ``message`` by its receipt handle; a refusal counts as an error."""
    try:
        if queue.delete_message(handle_of(message)) is False:
            tally.errors.append(f"delete refused: {id_of(message)}")
            return
        tally.deleted[id_of(message)] += 1
    except Exception as exc:
        tally.errors.append(f"delete: {exc!r}")


def drain(queue: Any, tally: Tally, stop_at: float) -> None:
    """receive(1) + delete until a receive comes back empty, or ``stop_at``."""
    while time.perf_counter() < stop_at:
        message = receive_one(queue, tally)
        if message is None:
            return
        delete(queue, message, tally)
    tally.errors.append("deadline reached while draining")


# -- the workloads -----------------------------------------------------------------------------


def items_for(prefix: str, count: int) -> List[Tuple[str, Message]]:
    """``count`` (id, body) pairs, built before any clock starts."""
    return [(f"{prefix}-{seq:07d}", body(seq)) for seq in range(count)]


def single(spec: Spec) -> Dict[str, Any]:
    """One client: N x add, then receive(1) + delete until empty; each part timed."""
    stop_at = time.perf_counter() + spec.deadline
    items = items_for("m", spec.n)
    tally = Tally()
    queue = open_queue(spec)
    try:
        cpu = [time.process_time()]
        started = time.perf_counter()
        add_all(queue, items, tally, stop_at)
        added = time.perf_counter()
        cpu.append(time.process_time())
        drain(queue, tally, stop_at)
        drained = time.perf_counter()
        cpu.append(time.process_time())
        left = remaining(queue)
    finally:
        close_queue(queue)
    result = outcome(
        tally, [item_id for item_id, _ in items], left, added - started, drained - added
    )
    return with_cpu(result, cpu)


def threaded(spec: Spec) -> Dict[str, Any]:
    """``threads`` clients, one per thread: all add their share, then all drain; each part timed."""
    stop_at = time.perf_counter() + spec.deadline
    shares = [items_for(f"t{index}", spec.n // spec.threads) for index in range(spec.threads)]
    queues = [open_queue(spec) for _ in shares]
    tally = Tally()
    marks: List[float] = []
    cpu: List[float] = []
    gate = threading.Barrier(spec.threads + 1, timeout=spec.deadline)

    def client(queue: Any, share: List[Tuple[str, Message]]) -> None:
        mine = Tally()
        try:
            gate.wait()
            add_all(queue, share, mine, stop_at)
            gate.wait()
            gate.wait()
            drain(queue, mine, stop_at)
        except threading.BrokenBarrierError:
            mine.errors.append("a client did not reach the barrier in time")
        finally:
            tally.merge(mine)

    workers = [threading.Thread(target=client, args=pair) for pair in zip(queues, shares)]
    for worker in workers:
        worker.start()
    for _ in range(3):
        gate.wait()
        marks.append(time.perf_counter())
        cpu.append(time.process_time())
    join_all(workers, stop_at)
    marks.append(time.perf_counter())
    cpu.append(time.process_time())
    left = remaining(queues[0])
    for queue in queues:
        close_queue(queue)
    expected = [item_id for share in shares for item_id, _ in share]
    result = outcome(tally, expected, left, marks[1] - marks[0], marks[3] - marks[2])
    return with_cpu(result, [cpu[0], cpu[1], cpu[2], cpu[3]])


def mixed(spec: Spec) -> Dict[str, Any]:
    """``threads`` clients loop add, receive(1), delete for ``duration``; each request is timed.

    Then one client drains what is left (untimed) and the counts are checked.
    """
    stop_at = time.perf_counter() + spec.deadline
    queues = [open_queue(spec) for _ in range(spec.threads)]
    tally = Tally()
    gate = threading.Barrier(spec.threads + 1, timeout=spec.deadline)
    window: List[float] = []

    def client(index: int, queue: Any) -> None:
        mine = Tally()
        try:
            gate.wait()
            mixed_loop(queue, f"c{index}", mine, window[0] + spec.duration)
        except threading.BrokenBarrierError:
            mine.errors.append("a client did not reach the barrier in time")
        finally:
            tally.merge(mine)

    workers = [threading.Thread(target=client, args=pair) for pair in enumerate(queues)]
    for worker in workers:
        worker.start()
    window.append(time.perf_counter())
    gate.wait()
    join_all(workers, stop_at)
    elapsed = time.perf_counter() - window[0]
    drain_tally = Tally()
    drain(queues[0], drain_tally, min(stop_at, time.perf_counter() + DRAIN_SECONDS))
    tally.merge(drain_tally)
    left = remaining(queues[0])
    for queue in queues:
        close_queue(queue)
    result = outcome(tally, list(tally.added), left, elapsed, 0.0)
    result.update(latency_summary(tally.latencies, elapsed))
    result["drained_after"] = sum(drain_tally.deleted.values())
    return result


def mixed_loop(queue: Any, prefix: str, tally: Tally, until: float) -> None:
    """add, receive(1), delete-if-received, each request timed, until ``until``."""
    seq = 0
    while time.perf_counter() < until:
        item = (f"{prefix}-{seq:07d}", body(seq))
        started = time.perf_counter()
        add_all(queue, [item], tally, float("inf"))
        received = time.perf_counter()
        message = receive_one(queue, tally)
        tally.latencies.extend([received - started, time.perf_counter() - received])
        seq += 1
        if message is not None:
            started = time.perf_counter()
            delete(queue, message, tally)
            tally.latencies.append(time.perf_counter() - started)


def join_all(workers: List[threading.Thread], stop_at: float) -> None:
    """Wait for every thread, but not past ``stop_at`` (plus a little for a request in flight)."""
    for worker in workers:
        worker.join(max(stop_at - time.perf_counter(), 0.0) + 35.0)


def remaining(queue: Any) -> int:
    """Messages still stored in the queue (visible or not), by the server's count; -1 if unknown."""
    try:
        return int(queue.get_queue_info()["message_count"])
    except Exception:
        return -1


# -- results -----------------------------------------------------------------------------------


def outcome(
    tally: Tally, expected: List[str], left: int, first: float, second: float
) -> Dict[str, Any]:
    """The JSON result: timings and the exactly-once counts."""
    wanted = set(expected)
    return {
        "library": library_folder(),
        "python": sys.version.split()[0],
        "expected": len(expected),
        "added": len(tally.added),
        "first_seconds": first,
        "second_seconds": second,
        "deleted_once": sum(1 for count in tally.deleted.values() if count == 1),
        "duplicates": sum(1 for count in tally.received.values() if count > 1),
        "lost": sum(1 for item_id in wanted if tally.deleted[item_id] != 1),
        "unexpected": sum(1 for item_id in tally.received if item_id not in wanted),
        "left_in_queue": left,
        "errors": len(tally.errors),
        "first_errors": tally.errors[:5],
    }


def with_cpu(result: Dict[str, Any], cpu: List[float]) -> Dict[str, Any]:
    """``result`` plus this process's CPU seconds in each part (``cpu``: marks, in order).

    Three marks: start, end of first part, end of second. Four: the second part starts later.
    """
    result["first_cpu"] = cpu[1] - cpu[0]
    result["second_cpu"] = cpu[-1] - cpu[-2]
    return result


def latency_summary(latencies: List[float], elapsed: float) -> Dict[str, Any]:
    """Requests, requests per second and the p50/p99 latency in milliseconds."""
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "requests_per_second": len(ordered) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(ordered, 0.50) * 1000.0,
        "p99_ms": percentile(ordered, 0.99) * 1000.0,
        "max_ms": (ordered[-1] if ordered else 0.0) * 1000.0,
    }


def percentile(ordered: List[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values (0 for none)."""
    if not ordered:
        return 0.0
    rank = max(round(fraction * len(ordered) + 0.5) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


WORKLOADS: Dict[str, Callable[[Spec], Dict[str, Any]]] = {
    "single": single,
    "threads": threaded,
    "mixed": mixed,
}


def main(argv: List[str]) -> int:
    """Run the workload that ``argv[1]`` (a JSON spec) names and print its result."""
    spec = Spec(**json.loads(argv[1]))
    print(json.dumps(WORKLOADS[spec.workload](spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
