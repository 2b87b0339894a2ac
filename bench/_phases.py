"""The benchmark's phases, for any queue library; ``_worker.py`` supplies the libraries.

Library-neutral: the timed phases (enqueue, the drains), the concurrency coordinator and its
producer and consumer children, the server soak, and the exactly-once check every phase ends
with. A worker runs the phase that one JSON object describes (see :func:`main`) and prints one
JSON line: the rate, the exactly-once counts, the library's folder and the interpreter. Standard
library only and Python 3.8 syntax: every compared library's own interpreter runs it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Type

#: The approximate size, in bytes of JSON, of every message body.
BODY_BYTES = 100
#: Concurrency children always stop by themselves: the cap when none is given, in seconds.
_DEFAULT_CAP = 120.0
#: Seconds of nothing but failed receives, after the producers are done, that end a consumer.
_STUCK_AFTER = 2.0
#: Seconds the untimed drain after the server soak may take.
_SOAK_DRAIN = 60.0
#: Seconds each long-polling receive of the latency rounds waits (the longest PyQueue allows).
_WAIT = 20.0
#: The producer of the latency rounds sleeps this long (seconds, at random) before each add, so
#: that the consumer is waiting when the message comes, at any point of its poll.
PAUSE = (0.02, 0.1)

Result = Dict[str, Any]
#: (payload, id) of each message to add.
Items = List[Tuple[Any, str]]


class Client:
    """One open queue of the library under test, in the shape the phases need; the class
    methods open the library's queues and copy them.

    ``received`` values are whatever the library's receive returns for one message; only the
    client looks inside them.
    """

    #: The module the library is imported as (``run.py`` checks where it came from).
    module = ""
    #: Whether :meth:`delete_batch` is one library call (else one delete per message).
    batch_delete = False

    def __init__(self, queue: Any, args: argparse.Namespace) -> None:
        self.queue = queue
        self.args = args

    @classmethod
    def open(cls, args: argparse.Namespace, path: str, durable: bool) -> Client:
        """Open (creating if needed) the queue at ``path``."""
        raise NotImplementedError

    @classmethod
    def leftover(cls, args: argparse.Namespace, path: str) -> Optional[Set[str]]:
        """Ids still in the queue at the end; None when it cannot be read as a queue."""
        try:
            return cls.open(args, path, False).stored_ids()
        except Exception:
            return None

    @classmethod
    def copy_queue(cls, source: str, target: str) -> None:
        """Copy a closed queue file and, if a SQLite writer left one, its write-ahead log."""
        for suffix in ("", "-wal") if os.path.exists(source + "-wal") else ("",):
            shutil.copyfile(source + suffix, target + suffix)

    def prepare(self, body: Dict[str, Any]) -> Any:
        """The payload ``add`` takes for ``body``; built before the clock starts."""
        return body

    def add(self, payload: Any, item_id: str) -> str:
        """Add one message; the id to remember it by (the worker's or the library's)."""
        raise NotImplementedError

    def add_batch(self, items: Items) -> List[str]:
        """Add several messages, in one call where the library has one; their ids."""
        return [self.add(payload, item_id) for payload, item_id in items]

    def add_later(self, payload: Any, item_id: str, delay: float) -> str:
        """Add one message that stays hidden for ``delay`` seconds; its id."""
        raise NotImplementedError

    def receive_waiting(self, batch: int, wait: float) -> List[Any]:
        """Receive up to ``batch``, waiting up to ``wait`` seconds for one (long polling)."""
        raise NotImplementedError

    def receive(self, batch: int) -> List[Any]:
        """Receive up to ``batch`` messages (making them invisible); [] when none is visible."""
        raise NotImplementedError

    def delete_one(self, received: Any) -> bool:
        """Delete (acknowledge) one received message; False when the library refused."""
        raise NotImplementedError

    def delete_batch(self, received: Sequence[Any]) -> List[str]:
        """Delete received messages in one call; the ids whose delete succeeded."""
        raise NotImplementedError

    def received_id(self, received: Any) -> str:
        """The id of a received message, as :meth:`add` returned it."""
        raise NotImplementedError

    def fill(self, items: Items) -> None:
        """Add every message, as fast as the library can (setup, never timed)."""
        self.add_batch(items)

    def stored_ids(self, candidates: Sequence[str] = ()) -> Set[str]:
        """The ids still waiting or in flight (a library that cannot list them all looks up
        ``candidates`` instead)."""
        raise NotImplementedError

    def facts(self) -> Dict[str, str]:
        """The library's settings as it reports them (e.g. SQLite's); none by default."""
        return {}

    def close(self) -> None:
        """Release the queue (for SQLite: the last close checkpoints the WAL into the file)."""
        self.queue.close()


#: A library under test: its client class.
Library = Type[Client]


# -- messages and the exactly-once check ------------------------------------------------------


def make_body(seq: int) -> Dict[str, Any]:
    """A message body whose JSON is ``BODY_BYTES`` long (for any ``seq`` below 10**12)."""
    body: Dict[str, Any] = {"task": "bench", "seq": seq, "payload": ""}
    body["payload"] = "x" * max(0, BODY_BYTES - len(json.dumps(body)))
    return body


def make_items(client: Client, prefix: str, count: int) -> Items:
    """Payloads and ids (chosen here, so every library gets the same ones), built untimed."""
    return [(client.prepare(make_body(seq)), f"{prefix}-{seq:07d}") for seq in range(count)]


class Tally:
    """What clients did: the ids they added, received and deleted, and the calls that raised."""

    def __init__(self, report: Optional[Result] = None) -> None:
        report = report or {}
        self.added: List[str] = list(report.get("added", []))
        self.received: List[str] = list(report.get("received", []))
        self.deleted: List[str] = list(report.get("deleted", []))
        self.errors = int(report.get("errors", 0))

    def absorb(self, others: Sequence[Tally]) -> Tally:
        """Add other tallies' counts to this one; returns self."""
        for other in others:
            self.added += other.added
            self.received += other.received
            self.deleted += other.deleted
            self.errors += other.errors
        return self

    def report(self, **flags: bool) -> Result:
        """The tally as a child's JSON report, with how the child ended."""
        return dict(vars(self), **flags)


def delivery(added: Sequence[str], tally: Tally, left: Optional[Set[str]], drained: bool) -> Result:
    """The exactly-once counts of a run.

    ``duplicates``: ids deleted more than once; ``received_twice``: ids handed out more than
    once; ``duplicated``: ids in either group. ``lost``: ids added that nobody deleted and that
    are not ``left`` in the queue. ``clean``: no error, duplicate, loss or stranger, and, where
    the run ``drained`` the queue, nothing left in it.
    """

    def repeated(ids: List[str]) -> Set[str]:
        seen: Set[str] = set()
        twice: Set[str] = set()
        for item_id in ids:
            (twice if item_id in seen else seen).add(item_id)
        return twice

    wanted, deleted = set(added), set(tally.deleted)
    deleted_twice, received_twice = repeated(tally.deleted), repeated(tally.received)
    counts: Result = {
        "delivered": len(deleted),
        "duplicates": len(deleted_twice),
        "received_twice": len(received_twice),
        "duplicated": len(deleted_twice | received_twice),
        "lost": len(wanted - deleted - (left or set())),
        "unexpected": len(set(tally.received) - wanted),
        "remaining": None if left is None else len(left),
        "errors": tally.errors,
    }
    faults = ("errors", "duplicated", "lost", "unexpected")
    counts["clean"] = not any(counts[key] for key in faults) and not (drained and left)
    return counts


def outcome(
    args: argparse.Namespace, check: Result, seconds: float, processed: int, **extra: Any
) -> Result:
    """A phase's JSON result: msgs/s over N, or over what was processed when the run stopped
    early (``partial``: the cap, the deadline, or calls that raised)."""
    partial = bool(extra.pop("partial", processed < args.n))
    rate = (processed if partial else args.n) / seconds if seconds > 0 else 0.0
    timing = {"seconds": seconds, "msgs_per_s": rate, "processed": processed, "partial": partial}
    return dict(check, phase=args.phase, n=args.n, budget=args.budget, **timing, **extra)


# -- the loops --------------------------------------------------------------------------------


class Budget:
    """A stopwatch with an optional time cap (``seconds <= 0``: no cap)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()
        self.reached = False

    def spent(self) -> bool:
        """Whether the cap, if any, has been reached (``reached`` remembers it)."""
        if self.seconds > 0 and time.perf_counter() - self.start >= self.seconds:
            self.reached = True
        return self.reached


def add_all(
    client: Client, items: Items, tally: Tally, stop: Budget, retry: bool = False, batch: int = 1
) -> None:
    """One add per message (``batch`` above 1: one :meth:`Client.add_batch` per ``batch``
    messages) until the cap; an add that raises is counted, and retried if asked (with the
    worker's own ids a retry is a no-op in libraries that deduplicate by id)."""
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        while not stop.spent():
            try:
                tally.added += client.add_batch(chunk) if batch > 1 else [client.add(*chunk[0])]
            except Exception:
                tally.errors += 1
                if retry:
                    continue
            break
        else:
            return


def drain_all(client: Client, batch: int, tally: Tally, stop: Budget) -> None:
    """Receive ``batch`` at a time and delete, until a receive is empty (or raises) or the cap."""
    while not stop.spent():
        try:
            received = client.receive(batch)
        except Exception:
            tally.errors += 1
            return
        if not received:
            return
        consume(client, received, batch, tally)


def consume(client: Client, received: Sequence[Any], batch: int, tally: Tally) -> None:
    """Delete what was received, recording ids received, ids deleted and deletes that raised.

    With a batch size above 1 and a library that deletes in batches: one batch delete.
    Otherwise one delete per message, each guarded, so one failure does not hide the others.
    """
    ids = [client.received_id(item) for item in received]
    tally.received += ids
    if batch > 1 and client.batch_delete:
        try:
            tally.deleted += client.delete_batch(received)
        except Exception:
            tally.errors += 1
        return
    for item, item_id in zip(received, ids):
        try:
            if client.delete_one(item):
                tally.deleted.append(item_id)
        except Exception:
            tally.errors += 1


Timing = Tuple[float, float, Tally, bool]


def in_parallel(
    clients: Sequence[Client], work: Callable[[int, Tally, Budget], None], cap: float
) -> Timing:
    """Run ``work(index, tally, stop)`` once per client, in threads released together.

    Returns the wall seconds from the release until every client is done, the process's CPU
    seconds over the same span (all threads), everyone's tally, and whether the cap stopped it.
    """
    tallies = [Tally() for _ in clients]
    stop, gate = Budget(cap), threading.Barrier(len(clients))
    start: List[float] = []

    def run(index: int) -> None:
        gate.wait()
        if index == 0:
            start.extend((time.perf_counter(), time.process_time()))
        work(index, tallies[index], stop)

    # The first client runs on this thread, so that a single client is timed without threads.
    threads = [threading.Thread(target=run, args=(index,)) for index in range(1, len(clients))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    return seconds, cpu, Tally().absorb(tallies), stop.reached


# -- single-process phases --------------------------------------------------------------------


def open_all(library: Library, args: argparse.Namespace) -> List[Client]:
    """``threads`` clients of the run's queue, one connection each."""
    path = os.path.join(args.dir, "queue")
    return [library.open(args, path, args.durable) for _ in range(args.threads)]


def finish(
    args: argparse.Namespace,
    clients: Sequence[Client],
    timing: Timing,
    expected: Sequence[str],
    processed: int,
) -> Result:
    """Check what is left, read the library's settings, close the clients; the JSON result."""
    seconds, cpu, tally, capped = timing
    left = clients[0].stored_ids(expected)
    check = delivery(expected, tally, left, drained=args.phase != "enqueue" and not capped)
    facts = clients[0].facts()
    for client in clients:
        client.close()
    return outcome(args, check, seconds, processed, cpu_seconds=cpu, capped=capped, facts=facts)


def run_enqueue(library: Library, args: argparse.Namespace) -> Result:
    """N adds, one call per message, shared by ``threads`` clients; saves the ``template``."""
    clients = open_all(library, args)
    parts = len(clients)
    items = [  # N shared out, with the ids of one client as the ids of a single one
        make_items(client, f"m{index}" if parts > 1 else "m", (args.n + index) // parts)
        for index, client in enumerate(clients)
    ]
    timing = in_parallel(
        clients,
        lambda i, tally, stop: add_all(clients[i], items[i], tally, stop, batch=args.batch),
        args.budget,
    )
    result = finish(args, clients, timing, timing[2].added, len(timing[2].added))
    if not result["partial"] and not args.server and not os.path.exists(args.template):
        library.copy_queue(os.path.join(args.dir, "queue"), args.template)
    return result


def run_drain(library: Library, args: argparse.Namespace, batch: int) -> Result:
    """Receive ``batch`` at a time and delete, until a receive comes back empty (every client),
    from a queue of N filled before the clock starts."""
    filled = fill_queue(library, os.path.join(args.dir, "queue"), args)
    clients = open_all(library, args)
    expected = filled if filled is not None else sorted(clients[0].stored_ids())
    timing = in_parallel(
        clients, lambda i, tally, stop: drain_all(clients[i], batch, tally, stop), args.budget
    )
    return finish(args, clients, timing, expected, len(timing[2].deleted))


def fill_queue(library: Library, path: str, args: argparse.Namespace) -> Optional[List[str]]:
    """Put N messages in ``path``: a copy of the ``template`` (filled first if missing), or, for
    a queue behind a server (not a file to copy), the messages themselves (then their ids)."""
    if not args.server and os.path.exists(args.template):
        library.copy_queue(args.template, path)
        return None
    target = path if args.server else args.template + ".staging"
    client = library.open(args, target, args.durable)
    items = make_items(client, "m", args.n)
    client.fill(items)
    client.close()
    if args.server:
        return [item_id for _, item_id in items]
    os.replace(target, args.template)
    library.copy_queue(args.template, path)
    return None


# -- concurrency: a coordinator and its producer and consumer children -----------------------


def run_concurrency(library: Library, args: argparse.Namespace) -> Result:
    """2 producers (N/2 each) and 2 consumers on one queue, with an exactly-once check.

    The children start, open the queue and say ready; the clock starts when all four are told
    to go and stops when all four have exited (consumers exit once the producers are done and a
    receive comes back empty, or at the deadline). Each child reports its tally.
    """
    path = os.path.join(args.dir, "queue")
    library.open(args, path, args.durable).close()
    halves = [args.n // 2, args.n - args.n // 2]
    roles = [("producer", 0, halves[0]), ("producer", 1, halves[1])]
    roles += [("consumer", 0, 0), ("consumer", 1, 0)]
    children = [spawn(args, phase=role, index=i, n=n) for role, i, n in roles]
    start = release(children)
    reports = [collect(child, (args.budget or _DEFAULT_CAP) + 30) for child in children]
    seconds = time.perf_counter() - start
    tally = Tally().absorb([Tally(report) for report in reports])
    partial = any(report.get("timed_out") or report.get("killed") for report in reports)
    check = delivery(tally.added, tally, library.leftover(args, path), drained=not partial)
    stuck = any(report.get("stuck") for report in reports)
    extra = {"partial": partial, "capped": partial, "stuck": stuck}  # only the deadline stops early
    return outcome(args, check, seconds, check["delivered"], **extra)


def spawn(args: argparse.Namespace, **changes: Any) -> subprocess.Popen[str]:
    """This worker again, as a child running the spec with ``changes`` (its phase, ...)."""
    return subprocess.Popen(
        [sys.executable, args.script, json.dumps(dict(vars(args), **changes))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        universal_newlines=True,
    )


def release(children: Sequence[subprocess.Popen[str]]) -> float:
    """Wait until every child is ready, then tell them all to go; the clock (``perf_counter``)
    just before."""
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "ready":
            child.kill()
            raise RuntimeError(f"child did not start: {line!r}")
    start = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    return start


def collect(child: subprocess.Popen[str], timeout: float) -> Result:
    """A child's JSON report; a child that overruns its deadline is killed and reports nothing."""
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return {"killed": True}
    report: Result = json.loads(output.strip().splitlines()[-1])
    return report


def await_go() -> None:
    """A child is ready (its queue open, its messages built): say so, wait for the go line."""
    print("ready", flush=True)
    sys.stdin.readline()


def run_producer(library: Library, args: argparse.Namespace) -> Result:
    """Add this producer's share one message at a time, retrying adds that raise."""
    client = library.open(args, os.path.join(args.dir, "queue"), args.durable)
    items = make_items(client, f"p{args.index}", args.n)
    await_go()
    tally = Tally()
    add_all(client, items, tally, Budget(args.budget or _DEFAULT_CAP), retry=True)
    with open(os.path.join(args.dir, f"producer-{args.index}.done"), "w"):
        pass
    return tally.report(timed_out=len(tally.added) < len(items))


def run_consumer(library: Library, args: argparse.Namespace) -> Result:
    """Receive and delete until the producers are done and the queue looks empty, or the deadline.

    A receive that raises (the original JSON library's readers can catch a half-written file;
    SQLite can be busy) is counted and retried. Once the producers are done, receives that have
    only raised for ``_STUCK_AFTER`` seconds mean the queue will stay unreadable (nobody writes
    it any more): the consumer stops and says so.
    """
    client = library.open(args, os.path.join(args.dir, "queue"), args.durable)
    markers = [os.path.join(args.dir, f"producer-{index}.done") for index in range(2)]
    await_go()
    stop, tally = Budget(args.budget or _DEFAULT_CAP), Tally()
    failing_since: Optional[float] = None
    while not stop.spent():
        producers_done = all(os.path.exists(marker) for marker in markers)
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
            time.sleep(0.002)
    return tally.report(timed_out=True)


# -- the server soak --------------------------------------------------------------------------


def run_mixed(library: Library, args: argparse.Namespace) -> Result:
    """``threads`` clients loop add, receive(1), delete for ``duration`` seconds, each request
    timed; then one client drains what is left (untimed) and every id is checked."""
    clients = open_all(library, args)
    latencies: List[List[float]] = [[] for _ in clients]

    def work(index: int, tally: Tally, stop: Budget) -> None:
        client, seq, until = clients[index], 0, time.perf_counter() + args.duration
        while time.perf_counter() < until:
            item = (client.prepare(make_body(seq)), f"c{index}-{seq:07d}")
            seq += 1
            started = time.perf_counter()
            add_all(client, [item], tally, stop)
            added = time.perf_counter()
            try:
                received = client.receive(1)
            except Exception:
                tally.errors += 1
                received = []
            done = time.perf_counter()
            latencies[index] += [added - started, done - added]
            if received:
                consume(client, received, 1, tally)
                latencies[index].append(time.perf_counter() - done)

    timing = in_parallel(clients, work, 0.0)
    seconds, _, tally, _ = timing
    drain_all(clients[0], 1, tally, Budget(_SOAK_DRAIN))
    args.n = len(tally.added)  # the soak's N is what its clients managed to add
    result = finish(args, clients, timing, tally.added, args.n)
    ordered = [value for part in latencies for value in part]
    result.update(requests=len(ordered), requests_per_second=len(ordered) / seconds)
    return dict(result, **percentiles(ordered))


def percentiles(seconds: Sequence[float]) -> Dict[str, float]:
    """``p50_ms``, ``p90_ms``, ``p99_ms`` and ``max_ms`` of durations in seconds (nearest rank;
    all 0 without any)."""
    ordered, found = sorted(seconds), {}
    for name, fraction in (("p50_ms", 0.50), ("p90_ms", 0.90), ("p99_ms", 0.99), ("max_ms", 1.0)):
        rank = min(max(round(fraction * len(ordered) + 0.5) - 1, 0), len(ordered) - 1)
        found[name] = ordered[rank] * 1000.0 if ordered else 0.0
    return found


# -- long polling: waking up, delays, the idle cost -------------------------------------------


def run_latency(library: Library, args: argparse.Namespace, delay: float) -> Result:
    """Rounds of: a random pause, one add (hidden for ``delay`` seconds, if any), and the moment
    a consumer in another process, waiting in a long-polling receive, returned it.

    A round's lateness is that moment minus (the moment just before the add call + ``delay``),
    both read with ``time.time()``, one clock for every process of the machine: for a delay, an
    upper bound of how late after the delay's end the message came. The consumer deletes each
    message before it reports it, then waits again; the pause lets it get there.
    """
    rounds = args.delay_rounds if delay else args.rounds
    client = library.open(args, os.path.join(args.dir, "queue"), args.durable)
    items, pauses = make_items(client, "w", rounds), random.Random(rounds)
    late: List[float] = []
    adds: List[float] = []
    added: List[str] = []
    child = spawn(args, phase="waiter", n=rounds)
    start = release([child])
    assert child.stdout is not None
    for payload, item_id in items:
        time.sleep(pauses.uniform(*PAUSE))
        before = time.time()
        if delay:
            added.append(client.add_later(payload, item_id, delay))
        else:
            added.append(client.add(payload, item_id))
        adds.append(time.time() - before)
        got, returned = json.loads(child.stdout.readline())
        if got != added[-1]:
            child.kill()
            raise RuntimeError(f"the waiting consumer returned {got!r}, not {added[-1]!r}")
        late.append(returned - before - delay)
    seconds = time.perf_counter() - start
    tally = Tally(json.loads(child.stdout.readline()))  # its report, once its rounds are done
    child.wait(_WAIT)
    check = delivery(added, tally, client.stored_ids(added), drained=True)
    client.close()
    found = percentiles(late)
    summary = "lateness" if delay else "latency"
    summary += " ms p50/p90/p99/max " + " / ".join(f"{value:.1f}" for value in found.values())
    extra = dict(found, add_p50_ms=percentiles(adds)["p50_ms"], early=sum(1 for x in late if x < 0))
    return outcome(args, check, seconds, rounds, partial=False, summary=summary, **extra)


def run_waiter(library: Library, args: argparse.Namespace) -> Result:
    """The consumer of the latency rounds: ``n`` long-polling receives of one message, each
    deleted, then a line with its id and the moment the receive returned (id None: the receive
    came back empty after the whole wait, and the consumer stops)."""
    client = library.open(args, os.path.join(args.dir, "queue"), args.durable)
    await_go()
    tally = Tally()
    for _ in range(args.n):
        received = client.receive_waiting(1, _WAIT)
        returned = time.time()
        if received:
            consume(client, received, 1, tally)
        print(json.dumps([tally.received[-1] if received else None, returned]), flush=True)
        if not received:
            break
    client.close()
    return tally.report()


def run_idle(library: Library, args: argparse.Namespace) -> Result:
    """One long-polling receive of ``idle`` seconds on an empty queue: the CPU time this process
    spent in it, and the server's over the same span (when the spec names its process)."""
    client, tally = library.open(args, os.path.join(args.dir, "queue"), args.durable), Tally()
    server = process_cpu(args.server_pid)
    cpu, start = time.process_time(), time.perf_counter()
    received = client.receive_waiting(1, args.idle)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    server_after = process_cpu(args.server_pid)
    consume(client, received, 1, tally)  # nothing, or a message nobody added
    check = delivery([], tally, client.stored_ids(), drained=True)
    client.close()
    percent = cpu / seconds * 100.0
    server_percent = None
    if server is not None and server_after is not None:
        server_percent = (server_after - server) / seconds * 100.0
    summary = f"{seconds:.1f} s wait, CPU {percent:.2f} % of one core"
    if server_percent is not None:
        summary += f", server {server_percent:.2f} %"
    extra = {"cpu_percent": percent, "server_cpu_percent": server_percent, "summary": summary}
    return outcome(args, check, seconds, 0, partial=False, cpu_seconds=cpu, **extra)


def process_cpu(pid: str) -> Optional[float]:
    """The CPU seconds (user + system) process ``pid`` has used so far, read from ``/proc`` (on
    Linux); None elsewhere, without a pid, or when it cannot be read."""
    if sys.platform == "win32" or not pid:
        return None
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as file:
            fields = file.read().rpartition(")")[2].split()
    except (OSError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PHASES: Dict[str, Callable[[Library, argparse.Namespace], Result]] = {
    "enqueue": run_enqueue,
    "drain1": lambda library, args: run_drain(library, args, 1),
    "drain10": lambda library, args: run_drain(library, args, 10),
    "concurrency": run_concurrency,
    "producer": run_producer,
    "consumer": run_consumer,
    "mixed": run_mixed,
    "wakeup": lambda library, args: run_latency(library, args, 0.0),
    "delayed": lambda library, args: run_latency(library, args, args.delay),
    "waiter": run_waiter,
    "idle": run_idle,
}


def main(argv: Sequence[str], libraries: Dict[str, Library], script: str) -> None:
    """Run the phase that the JSON object ``argv[0]`` describes and print its result.

    Its keys: ``phase``, ``dir`` (an empty folder for the run), ``n``, ``impl`` (a key of
    ``libraries``), ``durable``, ``template`` (a filled queue to copy, or to make), ``batch``,
    ``budget`` (a time cap in seconds, 0: none), ``threads``, ``duration`` (of the soak),
    ``queue_type``, ``server``, ``key`` and ``server_pid`` (remote), ``visibility`` (seconds),
    ``index`` (of a child); for long polling ``rounds``, ``delay_rounds``, ``delay`` and
    ``idle`` (seconds). ``script`` is the worker file, which the coordinator starts again for
    its children.
    """
    args = argparse.Namespace(**json.loads(argv[0]))
    args.script = os.path.abspath(script)
    library = libraries[args.impl]
    result = PHASES[args.phase](library, args)
    if args.phase not in ("producer", "consumer", "waiter"):
        imported: Any = importlib.import_module(library.module)
        result["library"] = os.path.dirname(os.path.abspath(str(imported.__file__)))
        version = f"{platform.python_implementation()} {platform.python_version()}"
        result["python"] = f"{version} (SQLite {sqlite3.sqlite_version})"
    print(json.dumps(result), flush=True)
