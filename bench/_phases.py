"""The benchmark's workloads, for any queue library; a worker script supplies the library.

A worker (``_workload.py`` for the local JSON suite, ``_sqlite_workload.py`` for the SQLite suite)
defines a :class:`Library` and a :class:`Client` for each library it measures and calls
:func:`main`. Everything here is library-neutral: the phases, the timing, the concurrency
coordinator and its producer and consumer children, and the exactly-once check. Standard library
only and Python 3.8 syntax, because every library's own interpreter runs it.

Phases (``run.py`` and ``sqlite_run.py`` build the command lines)::

    WORKER enqueue|drain1|drain10 --dir D --n N [--durable 0|1] [--template F] [--budget S]
    WORKER concurrency --dir D --n N [--durable 0|1] [--batch B] [--budget S]
    WORKER producer|consumer ...   (children of ``concurrency``; not for direct use)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

__all__ = [
    "BODY_BYTES",
    "VISIBILITY_TIMEOUT",
    "Client",
    "Library",
    "copy_sqlite_file",
    "main",
    "make_body",
]

#: The approximate size, in bytes of JSON, of every message body.
BODY_BYTES = 100

#: The visibility timeout every receive uses, in seconds (libraries that have one).
VISIBILITY_TIMEOUT = 30

_READY = "ready"
_GO = "go"
_IDLE_SLEEP = 0.002
#: Concurrency children always stop by themselves: the cap when none is given, in seconds.
_DEFAULT_CAP = 120.0
#: Seconds of nothing but failed receives, after the producers are done, that end a consumer.
_STUCK_AFTER = 2.0

Message = Dict[str, Any]


# -- what a worker supplies -------------------------------------------------------------------


class Client:
    """One open queue of the library under test, in the shape the phases need.

    ``received`` values are whatever the library's receive returns for one message; only the
    client looks inside them.
    """

    #: Whether :meth:`delete_batch` is one library call (else one delete per message).
    batch_delete = False

    def prepare(self, body: Message) -> Any:
        """The payload ``add`` takes for ``body``; built before the clock starts."""
        return body

    def add(self, payload: Any, item_id: str) -> str:
        """Add one message; the id to remember it by (the worker's or the library's)."""
        raise NotImplementedError

    def receive(self, batch: int) -> List[Any]:
        """Receive up to ``batch`` messages (making them invisible); [] when none is visible."""
        raise NotImplementedError

    def delete_one(self, received: Any) -> bool:
        """Delete (acknowledge) one received message; False when the library refused."""
        raise NotImplementedError

    def delete_batch(self, received: Sequence[Any]) -> List[str]:
        """Delete received messages; the ids whose delete succeeded."""
        return [self.received_id(item) for item in received if self.delete_one(item)]

    def received_id(self, received: Any) -> str:
        """The id of a received message, as :meth:`add` returned it."""
        raise NotImplementedError

    def fill(self, payloads: Sequence[Any], ids: Sequence[str]) -> None:
        """Add every message, as fast as the library can (setup, never timed)."""
        for payload, item_id in zip(payloads, ids):
            self.add(payload, item_id)

    def stored_ids(self) -> Set[str]:
        """The ids of the messages still waiting or in flight (not deleted or acknowledged)."""
        raise NotImplementedError

    def facts(self) -> Dict[str, Any]:
        """Extra keys for the result line (e.g. the connection's settings); none by default."""
        return {}

    def close(self) -> None:
        """Release the queue (for SQLite: the last close checkpoints the WAL into the file)."""


class Library:
    """The library under test: how to open its queue, and where its files are."""

    #: The queue's file (or folder) name inside a run's folder.
    queue_name = "queue"

    def open(self, path: str, durable: bool) -> Client:
        """Open (creating if needed) the queue at ``path``."""
        raise NotImplementedError

    def create(self, path: str, durable: bool) -> None:
        """Create the empty queue at ``path`` before the concurrency children start."""
        client = self.open(path, durable)
        client.stored_ids()
        client.close()

    def remaining_ids(self, path: str) -> Optional[Set[str]]:
        """Ids still in the queue at the end; None when it cannot be read as a queue."""
        try:
            return self.open(path, False).stored_ids()
        except Exception:
            return None

    def copy_queue(self, source: str, target: str) -> None:
        """Copy a closed queue (a filled template, or its copy for one run)."""
        shutil.copyfile(source, target)

    def location(self) -> str:
        """The folder the library was imported from (``run.py`` checks it)."""
        raise NotImplementedError


def copy_sqlite_file(source: str, target: str) -> None:
    """Copy a SQLite database and, if a writer left one, its write-ahead log."""
    shutil.copyfile(source, target)
    if os.path.exists(source + "-wal"):
        shutil.copyfile(source + "-wal", target + "-wal")


# -- messages ---------------------------------------------------------------------------------


def make_body(seq: int) -> Message:
    """A message body whose JSON is ``BODY_BYTES`` long (for any ``seq`` below 10**12)."""
    body: Message = {"task": "bench", "seq": seq, "payload": ""}
    body["payload"] = "x" * max(0, BODY_BYTES - len(json.dumps(body)))
    return body


def make_ids(prefix: str, count: int) -> List[str]:
    """Distinct ids, chosen by the worker so that every library gets the same ones."""
    return [f"{prefix}-{index:07d}" for index in range(count)]


def make_messages(client: Client, prefix: str, count: int) -> Tuple[List[Any], List[str]]:
    """Payloads and ids for ``count`` messages, built before any timing starts."""
    payloads = [client.prepare(make_body(index)) for index in range(count)]
    return payloads, make_ids(prefix, count)


# -- single-process phases --------------------------------------------------------------------


def run_enqueue(library: Library, args: argparse.Namespace) -> Dict[str, Any]:
    """N x add, one call per message. Saves the filled queue as ``--template``."""
    path = os.path.join(args.dir, library.queue_name)
    client = library.open(path, args.durable)
    payloads, ids = make_messages(client, "m", args.n)
    stop = Budget(args.budget)
    added = 0
    for payload, item_id in zip(payloads, ids):
        if stop.spent():
            break
        client.add(payload, item_id)
        added += 1
    seconds = stop.elapsed()
    facts = client.facts()
    client.close()
    if added == args.n and args.template and not os.path.exists(args.template):
        library.copy_queue(path, args.template)
    return dict(timed_result(args, seconds, added, capped=added < args.n), **facts)


def run_drain(library: Library, args: argparse.Namespace, batch: int) -> Dict[str, Any]:
    """Receive ``batch`` at a time and delete them, until a receive comes back empty."""
    path = os.path.join(args.dir, library.queue_name)
    prepare_full_queue(library, path, args)
    client = library.open(path, args.durable)
    stop = Budget(args.budget)
    deleted = 0
    capped = False
    while not capped:
        received = client.receive(batch)
        if not received:
            break
        if batch == 1:
            deleted += client.delete_one(received[0])
        else:
            deleted += len(client.delete_batch(received))
        capped = stop.spent()
    seconds = stop.elapsed()
    facts = client.facts()
    client.close()
    return dict(timed_result(args, seconds, deleted, capped), **facts)


def prepare_full_queue(library: Library, path: str, args: argparse.Namespace) -> None:
    """Put N messages in ``path``, untimed: a copy of ``--template``, made first if missing."""
    template: Optional[str] = args.template
    if template is None:
        template = os.path.join(args.dir, "template-" + library.queue_name)
    if not os.path.exists(template):
        staging = template + ".staging"
        client = library.open(staging, args.durable)
        client.fill(*make_messages(client, "m", args.n))
        client.close()
        os.replace(staging, template)
    library.copy_queue(template, path)


class Budget:
    """A stopwatch with an optional time cap (``seconds <= 0``: no cap)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the stopwatch started."""
        return time.perf_counter() - self.start

    def spent(self) -> bool:
        """Whether the cap, if any, has been reached."""
        return self.seconds > 0 and self.elapsed() >= self.seconds


def rate(n: int, processed: int, seconds: float, partial: bool) -> float:
    """Messages per second: N / seconds for a complete run, processed / seconds for a capped one."""
    if seconds <= 0:
        return 0.0
    return (processed if partial else n) / seconds


def timed_result(
    args: argparse.Namespace, seconds: float, processed: int, capped: bool
) -> Dict[str, Any]:
    """The JSON result of a single-process phase; ``partial`` when the time cap stopped it."""
    partial = capped and processed < args.n
    return {
        "phase": args.phase,
        "n": args.n,
        "seconds": seconds,
        "msgs_per_s": rate(args.n, processed, seconds, partial),
        "processed": processed,
        "partial": partial,
    }


# -- concurrency: a coordinator and its producer and consumer children -----------------------


def run_concurrency(library: Library, args: argparse.Namespace) -> Dict[str, Any]:
    """2 producers (N/2 each) and 2 consumers on one queue, with an exactly-once check.

    The children start, open the queue and report ready; the clock starts when all four are told
    to go and stops when all four have exited (consumers exit once the producers are done and a
    receive comes back empty, or at the deadline). Each child prints the ids it added, or the
    ids it received and deleted.
    """
    path = os.path.join(args.dir, library.queue_name)
    library.create(path, args.durable)
    halves = [args.n // 2, args.n - args.n // 2]
    children = [spawn_child(args, "producer", index, halves[index]) for index in range(2)]
    children += [spawn_child(args, "consumer", index, 0) for index in range(2)]
    for child in children:
        wait_ready(child)
    start = time.perf_counter()
    for child in children:
        send_go(child)
    reports = [collect(child, (args.budget or _DEFAULT_CAP) + 30) for child in children]
    seconds = time.perf_counter() - start
    remaining = library.remaining_ids(path)
    return exactly_once_result(args, seconds, reports[:2], reports[2:], remaining)


def spawn_child(
    args: argparse.Namespace, role: str, index: int, count: int
) -> subprocess.Popen[str]:
    """Start a producer or consumer: the same worker script, interpreter and environment."""
    command = [sys.executable, args.script, role, "--dir", args.dir]
    command += ["--n", str(count), "--impl", args.impl, "--durable", str(int(args.durable))]
    command += ["--index", str(index), "--batch", str(args.batch)]
    command += ["--budget", str(args.budget)]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        universal_newlines=True,
    )


def wait_ready(child: subprocess.Popen[str]) -> None:
    """Block until a child has opened its queue (its first stdout line)."""
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != _READY:
        child.kill()
        raise RuntimeError(f"child did not start: {line!r}")


def send_go(child: subprocess.Popen[str]) -> None:
    """Release a waiting child."""
    assert child.stdin is not None
    child.stdin.write(_GO + "\n")
    child.stdin.flush()  # collect() closes stdin


def collect(child: subprocess.Popen[str], timeout: float) -> Message:
    """A child's JSON report; a child that overruns its deadline is killed and reports nothing."""
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return {"ids": [], "errors": 0, "killed": True}
    report: Message = json.loads(output.strip().splitlines()[-1])
    return report


def count_ids(reports: Iterable[Message], key: str) -> Dict[str, int]:
    """How many times each id appears under ``key`` across the reports."""
    counts: Dict[str, int] = {}
    for report in reports:
        for item_id in report.get(key, []):
            counts[item_id] = counts.get(item_id, 0) + 1
    return counts


def exactly_once_result(
    args: argparse.Namespace,
    seconds: float,
    producers: Sequence[Message],
    consumers: Sequence[Message],
    remaining: Optional[Set[str]],
) -> Dict[str, Any]:
    """Duplicates and lost messages (added, never deleted, not in the queue at the end).

    ``duplicates``: ids deleted more than once. ``received_twice``: ids handed to consumers more
    than once (whatever became of the deletes). ``duplicated``: ids in either group.
    """
    added: Set[str] = set()
    for report in producers:
        added.update(report["ids"])
    deliveries = count_ids(consumers, "ids")
    receipts = count_ids(consumers, "received")
    left = remaining if remaining is not None else set()
    reports = list(producers) + list(consumers)
    partial = any(report.get("timed_out") or report.get("killed") for report in reports)
    deleted_twice = {item_id for item_id, count in deliveries.items() if count > 1}
    received_twice = {item_id for item_id, count in receipts.items() if count > 1}
    return {
        "phase": args.phase,
        "n": args.n,
        "seconds": seconds,
        "msgs_per_s": rate(args.n, len(deliveries), seconds, partial),
        "processed": len(deliveries),
        "partial": partial,
        "duplicates": len(deleted_twice),
        "received_twice": len(received_twice),
        "duplicated": len(deleted_twice | received_twice),
        "lost": len(added - set(deliveries) - left),
        "remaining": None if remaining is None else len(remaining),
        "errors": sum(int(report["errors"]) for report in reports),
        "stuck": any(report.get("stuck") for report in consumers),
    }


def await_go() -> None:
    """Say ready, then wait for the coordinator's go line."""
    print(_READY, flush=True)
    sys.stdin.readline()


def done_marker(folder: str, index: int) -> str:
    """The file a producer creates when it has added all its messages."""
    return os.path.join(folder, f"producer-{index}.done")


def run_producer(library: Library, args: argparse.Namespace) -> Dict[str, Any]:
    """Add this producer's share one message at a time; report the ids whose add returned.

    An add that raises is counted as an error and retried until the deadline (with the
    worker's own ids, a retry is a no-op in libraries that deduplicate by id).
    """
    client = library.open(os.path.join(args.dir, library.queue_name), args.durable)
    payloads, ids = make_messages(client, f"p{args.index}", args.n)
    await_go()
    deadline = time.monotonic() + (args.budget or _DEFAULT_CAP)
    added: List[str] = []
    errors = 0
    for payload, item_id in zip(payloads, ids):
        while time.monotonic() < deadline:
            try:
                added.append(client.add(payload, item_id))
            except Exception:
                errors += 1
                continue
            break
    with open(done_marker(args.dir, args.index), "w"):
        pass
    return {"ids": added, "errors": errors, "timed_out": len(added) < len(ids)}


class Tally:
    """What one consumer did: the ids it deleted and received, and the calls that raised."""

    def __init__(self) -> None:
        self.deleted: List[str] = []
        self.received: List[str] = []
        self.errors = 0

    def report(self, timed_out: bool, stuck: bool = False) -> Dict[str, Any]:
        """The consumer's JSON report."""
        report: Dict[str, Any] = {"ids": self.deleted, "received": self.received}
        report.update(errors=self.errors, timed_out=timed_out)
        if stuck:
            report["stuck"] = True
        return report


def run_consumer(library: Library, args: argparse.Namespace) -> Dict[str, Any]:
    """Receive and delete until the producers are done and the queue looks empty, or the deadline.

    A receive or delete that raises (the original JSON library's readers can catch a half-written
    file; SQLite can be busy) is counted as an error and retried; a delete that raises does not
    count as a delivery. Once the producers are done, receives that have only raised for
    ``_STUCK_AFTER`` seconds mean the queue will stay unreadable (nobody writes it any more): the
    consumer stops and says so.
    """
    client = library.open(os.path.join(args.dir, library.queue_name), args.durable)
    await_go()
    deadline = time.monotonic() + (args.budget or _DEFAULT_CAP)
    tally = Tally()
    failing_since: Optional[float] = None
    while time.monotonic() < deadline:
        producers_done = all(os.path.exists(done_marker(args.dir, index)) for index in range(2))
        try:
            received = client.receive(args.batch)
        except Exception:
            tally.errors += 1
            failing_since = failing_since or time.monotonic()
            if producers_done and time.monotonic() - failing_since >= _STUCK_AFTER:
                return tally.report(timed_out=False, stuck=True)
            continue
        failing_since = None
        if received:
            consume(client, received, args.batch, tally)
        elif producers_done:
            return tally.report(timed_out=False)
        else:
            time.sleep(_IDLE_SLEEP)
    return tally.report(timed_out=True)


def consume(client: Client, received: Sequence[Any], batch: int, tally: Tally) -> None:
    """Delete what was received, recording ids received, ids deleted and deletes that raised.

    With a batch size above 1 and a library that deletes in batches: one batch delete.
    Otherwise one delete per message, each guarded, so one failure does not hide the deletes
    before it.
    """
    tally.received += [client.received_id(item) for item in received]
    if batch > 1 and client.batch_delete:
        try:
            tally.deleted += client.delete_batch(received)
        except Exception:
            tally.errors += 1
        return
    for item in received:
        try:
            if client.delete_one(item):
                tally.deleted.append(client.received_id(item))
        except Exception:
            tally.errors += 1


# -- command line -----------------------------------------------------------------------------

_PHASES = ("enqueue", "drain1", "drain10", "concurrency", "producer", "consumer")


def parse_args(argv: Iterable[str], impls: Sequence[str], script: str) -> argparse.Namespace:
    """The worker's command line; ``impls`` are the libraries the worker knows."""
    parser = argparse.ArgumentParser(description="One benchmark workload; one JSON line out.")
    parser.add_argument("phase", choices=_PHASES)
    parser.add_argument("--dir", required=True, help="an empty folder for this run's files")
    parser.add_argument("--n", type=int, required=True, help="number of messages")
    parser.add_argument("--impl", choices=tuple(impls), default=impls[0])
    parser.add_argument("--durable", type=int, choices=(0, 1), default=1)
    parser.add_argument("--template", default=None, help="a filled queue to copy / create")
    parser.add_argument("--batch", type=int, default=10, help="concurrency: receive size")
    parser.add_argument("--budget", type=float, default=0.0, help="time cap in seconds; 0: none")
    parser.add_argument("--index", type=int, default=0, help="producer/consumer number")
    args = parser.parse_args(list(argv))
    args.durable = bool(args.durable)
    args.script = os.path.abspath(script)
    return args


def main(argv: Iterable[str], libraries: Mapping[str, Callable[[], Library]], script: str) -> None:
    """Run one phase with the library ``--impl`` names and print its result as one JSON line.

    ``libraries`` maps each ``--impl`` name to a factory (the first is the default); ``script``
    is the worker file, which the concurrency coordinator starts again for its children.
    """
    args = parse_args(argv, list(libraries), script)
    library = libraries[args.impl]()
    if args.phase == "enqueue":
        result = run_enqueue(library, args)
    elif args.phase in ("drain1", "drain10"):
        result = run_drain(library, args, 1 if args.phase == "drain1" else 10)
    elif args.phase == "concurrency":
        result = run_concurrency(library, args)
    elif args.phase == "producer":
        result = run_producer(library, args)
    else:
        result = run_consumer(library, args)
    if args.phase not in ("producer", "consumer"):
        result["library"] = library.location()
    print(json.dumps(result), flush=True)
