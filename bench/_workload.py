"""One benchmark workload, run in a child process by either library; prints one JSON line.

Both the library in this checkout and the original ``pyqueue-client==1.2.1`` are imported as
``pyqueue_client``, so the interpreter (and ``PYTHONPATH``) that runs this file decides which one
is measured. The file is standard library only and Python 3.8 syntax, so the original's venv can
run it unchanged. Differences between the two APIs are bridged by feature detection, never by
branching on the library's name (except for the ``durable`` option, which only ours accepts):

* a received message's delete token is ``ReceiptHandle`` when present, else ``id`` (the original
  returns stored messages and deletes by id);
* a batch delete uses ``delete_messages`` when the queue has it, else one ``delete_message`` per
  message;
* a fill uses ``add_messages`` when the queue has it, else one ``add_message`` per message.

Usage (``run.py`` builds these command lines)::

    _workload.py enqueue|drain1|drain10 --dir D --n N [--durable 0|1] [--template F] [--budget S]
    _workload.py concurrency --dir D --n N [--durable 0|1] [--batch B] [--budget S]
    _workload.py producer|consumer ...   (children of ``concurrency``; not for direct use)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

#: The approximate size, in bytes of JSON, of every message body.
BODY_BYTES = 100

#: The visibility timeout every receive uses, in seconds.
VISIBILITY_TIMEOUT = 30

_QUEUE_FILE = "queue.json"
_READY = "ready"
_GO = "go"
_IDLE_SLEEP = 0.002
#: Concurrency children always stop by themselves: the cap when none is given, in seconds.
_DEFAULT_CAP = 120.0
#: Seconds of nothing but failed receives, after the producers are done, that end a consumer.
_STUCK_AFTER = 2.0

Message = Dict[str, Any]


# -- the queue under test ---------------------------------------------------------------------


def open_queue(path: str, impl: str, durable: bool) -> Any:
    """A local ``PyQueue`` on ``path`` from whichever ``pyqueue_client`` this interpreter imports.

    Typed as ``Any`` on purpose: the two libraries' signatures differ, and this module must not
    depend on either one's type information.
    """
    module: Any = importlib.import_module("pyqueue_client")
    if impl == "ours":
        return module.PyQueue(queue_file=path, queue_type="local", durable=durable)
    return module.PyQueue(queue_file=path, queue_type="local")


def delete_token(message: Message) -> str:
    """What to pass to ``delete_message``: the receipt handle, or the original's message id."""
    token = message.get("ReceiptHandle", message.get("id"))
    if not isinstance(token, str):
        raise RuntimeError(f"received message has neither ReceiptHandle nor id: {message!r}")
    return token


def message_id(message: Message) -> str:
    """The id of a received (``Id``) or stored (``id``) message."""
    value = message.get("Id", message.get("id"))
    return str(value)


def delete_batch(queue: Any, messages: Sequence[Message]) -> List[str]:
    """Delete ``messages``; returns the ids whose delete succeeded.

    Ours: one ``delete_messages`` call, success per handle. The original has no batch delete and
    its ``delete_message`` returns nothing: one call per message, success unless it raised.
    """
    if hasattr(queue, "delete_messages"):
        by_handle = {delete_token(message): message_id(message) for message in messages}
        result = queue.delete_messages(list(by_handle))
        return [by_handle[handle] for handle in result["Successful"]]
    return [message_id(message) for message in messages if delete_one(queue, message)]


def delete_one(queue: Any, message: Message) -> bool:
    """Delete one received message; True unless the library said False."""
    return queue.delete_message(delete_token(message)) is not False


def fill(queue: Any, bodies: Sequence[Message], ids: Sequence[str]) -> None:
    """Add every message, in one call when the library can (setup, never timed)."""
    if hasattr(queue, "add_messages"):
        queue.add_messages(list(bodies), list(ids))
        return
    for body, item_id in zip(bodies, ids):
        queue.add_message(body, item_id=item_id)


# -- messages ---------------------------------------------------------------------------------


def make_body(seq: int) -> Message:
    """A message body whose JSON is ``BODY_BYTES`` long (for any ``seq`` below 10**12)."""
    body: Message = {"task": "bench", "seq": seq, "payload": ""}
    body["payload"] = "x" * max(0, BODY_BYTES - len(json.dumps(body)))
    return body


def make_ids(prefix: str, count: int) -> List[str]:
    """Distinct ids, chosen here because the original's ``add_message`` returns None."""
    return [f"{prefix}-{index:07d}" for index in range(count)]


def make_messages(prefix: str, count: int) -> Tuple[List[Message], List[str]]:
    """Bodies and ids for ``count`` messages, built before any timing starts."""
    return [make_body(index) for index in range(count)], make_ids(prefix, count)


# -- single-process phases --------------------------------------------------------------------


def run_enqueue(args: argparse.Namespace) -> Dict[str, Any]:
    """N x ``add_message``, one call per message. Saves the filled file as ``--template``."""
    path = os.path.join(args.dir, _QUEUE_FILE)
    bodies, ids = make_messages("m", args.n)
    queue = open_queue(path, args.impl, args.durable)
    stop = Budget(args.budget)
    added = 0
    for body, item_id in zip(bodies, ids):
        if stop.spent():
            break
        queue.add_message(body, item_id=item_id)
        added += 1
    seconds = stop.elapsed()
    if added == args.n and args.template and not os.path.exists(args.template):
        shutil.copyfile(path, args.template)
    return timed_result(args, seconds, added, capped=added < args.n)


def run_drain(args: argparse.Namespace, batch: int) -> Dict[str, Any]:
    """Receive ``batch`` at a time and delete them, until a receive comes back empty."""
    path = os.path.join(args.dir, _QUEUE_FILE)
    prepare_full_queue(path, args)
    queue = open_queue(path, args.impl, args.durable)
    stop = Budget(args.budget)
    deleted = 0
    capped = False
    while not capped:
        messages = queue.receive_messages(max_messages=batch, visibility_timeout=VISIBILITY_TIMEOUT)
        if not messages:
            break
        if batch == 1:
            deleted += delete_one(queue, messages[0])
        else:
            deleted += len(delete_batch(queue, messages))
        capped = stop.spent()
    return timed_result(args, stop.elapsed(), deleted, capped)


def prepare_full_queue(path: str, args: argparse.Namespace) -> None:
    """Put N messages in ``path``, untimed: a copy of ``--template``, made first if missing."""
    template: Optional[str] = args.template
    if template is None:
        template = os.path.join(args.dir, "template.json")
    if not os.path.exists(template):
        bodies, ids = make_messages("m", args.n)
        staging = template + ".staging"
        fill(open_queue(staging, args.impl, args.durable), bodies, ids)
        os.replace(staging, template)
    shutil.copyfile(template, path)


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


def run_concurrency(args: argparse.Namespace) -> Dict[str, Any]:
    """2 producers (N/2 each) and 2 consumers on one queue file, with an exactly-once check.

    The children start, open the queue and report ready; the clock starts when all four are told
    to go and stops when all four have exited (consumers exit once the producers are done and a
    receive comes back empty, or at the deadline). Each child prints the ids it added or deleted.
    """
    path = os.path.join(args.dir, _QUEUE_FILE)
    open_queue(path, args.impl, args.durable).get_messages()  # creates the empty file
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
    return exactly_once_result(args, seconds, reports[:2], reports[2:], path)


def spawn_child(
    args: argparse.Namespace, role: str, index: int, count: int
) -> subprocess.Popen[str]:
    """Start a producer or consumer with this interpreter and environment."""
    command = [sys.executable, os.path.abspath(__file__), role, "--dir", args.dir]
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


def exactly_once_result(
    args: argparse.Namespace,
    seconds: float,
    producers: Sequence[Message],
    consumers: Sequence[Message],
    path: str,
) -> Dict[str, Any]:
    """Duplicates (deleted more than once) and lost messages (added, never delivered, gone)."""
    added: Set[str] = set()
    for report in producers:
        added.update(report["ids"])
    deliveries: Dict[str, int] = {}
    for report in consumers:
        for item_id in report["ids"]:
            deliveries[item_id] = deliveries.get(item_id, 0) + 1
    remaining = remaining_ids(path, args)
    left = remaining if remaining is not None else set()
    reports = list(producers) + list(consumers)
    partial = any(report.get("timed_out") or report.get("killed") for report in reports)
    stuck = any(report.get("stuck") for report in consumers)
    return {
        "phase": args.phase,
        "n": args.n,
        "seconds": seconds,
        "msgs_per_s": rate(args.n, len(deliveries), seconds, partial),
        "processed": len(deliveries),
        "partial": partial,
        "duplicates": sum(1 for count in deliveries.values() if count > 1),
        "lost": len(added - set(deliveries) - left),
        "remaining": None if remaining is None else len(remaining),
        "errors": sum(int(report["errors"]) for report in reports),
        "stuck": stuck,
    }


def remaining_ids(path: str, args: argparse.Namespace) -> Optional[Set[str]]:
    """Ids still in the queue at the end; None when the file cannot be read as a queue."""
    try:
        stored = open_queue(path, args.impl, False).get_messages()
        return {message_id(message) for message in stored}
    except Exception:
        return None


def await_go() -> None:
    """Say ready, then wait for the coordinator's go line."""
    print(_READY, flush=True)
    sys.stdin.readline()


def done_marker(folder: str, index: int) -> str:
    """The file a producer creates when it has added all its messages."""
    return os.path.join(folder, f"producer-{index}.done")


def run_producer(args: argparse.Namespace) -> Dict[str, Any]:
    """Add this producer's share one message at a time; report the ids whose add returned.

    An add that raises is counted as an error and retried (adding an existing id is a no-op in
    both libraries), until the deadline.
    """
    bodies, ids = make_messages(f"p{args.index}", args.n)
    queue = open_queue(os.path.join(args.dir, _QUEUE_FILE), args.impl, args.durable)
    await_go()
    deadline = time.monotonic() + (args.budget or _DEFAULT_CAP)
    added: List[str] = []
    errors = 0
    for body, item_id in zip(bodies, ids):
        while time.monotonic() < deadline:
            try:
                queue.add_message(body, item_id=item_id)
            except Exception:
                errors += 1
                continue
            added.append(item_id)
            break
    with open(done_marker(args.dir, args.index), "w"):
        pass
    return {"ids": added, "errors": errors, "timed_out": len(added) < len(ids)}


def run_consumer(args: argparse.Namespace) -> Dict[str, Any]:
    """Receive and delete until the producers are done and the queue looks empty, or the deadline.

    A receive or delete that raises (the original's readers can catch a half-written file) is
    counted as an error and retried; a delete that raises does not count as a delivery. Once the
    producers are done, receives that have only raised for ``_STUCK_AFTER`` seconds mean the file
    will stay unreadable (nobody writes it any more): the consumer stops and says so.
    """
    queue = open_queue(os.path.join(args.dir, _QUEUE_FILE), args.impl, args.durable)
    await_go()
    deadline = time.monotonic() + (args.budget or _DEFAULT_CAP)
    deleted: List[str] = []
    errors = 0
    failing_since: Optional[float] = None
    while time.monotonic() < deadline:
        producers_done = all(os.path.exists(done_marker(args.dir, index)) for index in range(2))
        try:
            messages = queue.receive_messages(
                max_messages=args.batch, visibility_timeout=VISIBILITY_TIMEOUT
            )
        except Exception:
            errors += 1
            failing_since = failing_since or time.monotonic()
            if producers_done and time.monotonic() - failing_since >= _STUCK_AFTER:
                return {"ids": deleted, "errors": errors, "timed_out": False, "stuck": True}
            continue
        failing_since = None
        if messages:
            ids, failures = consume(queue, messages, args.batch)
            deleted += ids
            errors += failures
        elif producers_done:
            return {"ids": deleted, "errors": errors, "timed_out": False}
        else:
            time.sleep(_IDLE_SLEEP)
    return {"ids": deleted, "errors": errors, "timed_out": True}


def consume(queue: Any, messages: Sequence[Message], batch: int) -> Tuple[List[str], int]:
    """Delete what was received; the ids deleted and the number of deletes that raised.

    Ours with receive(10): one ``delete_messages``. Otherwise one delete per message, each
    guarded, so one failure does not hide the deletes before it.
    """
    if batch > 1 and hasattr(queue, "delete_messages"):
        try:
            return delete_batch(queue, messages), 0
        except Exception:
            return [], 1
    deleted: List[str] = []
    failures = 0
    for message in messages:
        try:
            if delete_one(queue, message):
                deleted.append(message_id(message))
        except Exception:
            failures += 1
    return deleted, failures


# -- command line -----------------------------------------------------------------------------

_PHASES = ("enqueue", "drain1", "drain10", "concurrency", "producer", "consumer")


def parse_args(argv: Iterable[str]) -> argparse.Namespace:
    """The worker's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("phase", choices=_PHASES)
    parser.add_argument("--dir", required=True, help="an empty folder for this run's files")
    parser.add_argument("--n", type=int, required=True, help="number of messages")
    parser.add_argument("--impl", choices=("ours", "original"), default="ours")
    parser.add_argument("--durable", type=int, choices=(0, 1), default=1)
    parser.add_argument("--template", default=None, help="a filled queue file to copy / create")
    parser.add_argument("--batch", type=int, default=10, help="concurrency: receive size")
    parser.add_argument("--budget", type=float, default=0.0, help="time cap in seconds; 0: none")
    parser.add_argument("--index", type=int, default=0, help="producer/consumer number")
    args = parser.parse_args(list(argv))
    args.durable = bool(args.durable)
    return args


def main(argv: Iterable[str]) -> None:
    """Run one phase and print its result as one JSON line."""
    args = parse_args(argv)
    if args.phase == "enqueue":
        result = run_enqueue(args)
    elif args.phase in ("drain1", "drain10"):
        result = run_drain(args, 1 if args.phase == "drain1" else 10)
    elif args.phase == "concurrency":
        result = run_concurrency(args)
    elif args.phase == "producer":
        result = run_producer(args)
    else:
        result = run_consumer(args)
    if args.phase not in ("producer", "consumer"):
        result["library"] = library_location()
    print(json.dumps(result), flush=True)


def library_location() -> str:
    """The folder of the ``pyqueue_client`` package this interpreter imported."""
    module: Any = importlib.import_module("pyqueue_client")
    return os.path.dirname(os.path.abspath(str(module.__file__)))


if __name__ == "__main__":
    main(sys.argv[1:])
