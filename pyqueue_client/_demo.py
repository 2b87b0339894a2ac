"""``pyqueue demo``: producers and consumers in separate processes sharing one local JSON queue.

The parent process makes a queue file in a temporary folder and starts every worker as a fresh
interpreter (``python -m pyqueue_client._demo SPEC``, never ``fork``), so the demo exercises what
real deployments do: processes that share nothing but the file and its lock. The story:

1. producers add numbered messages in batches;
2. a "crasher" consumer receives one message with a short visibility timeout and dies without
   deleting it;
3. consumers receive, process and delete in batches; once the crashed message's timeout expires,
   one of them receives it again with ``receive_count`` 2 (at-least-once delivery);
4. the parent checks, from what the workers reported and from the queue itself, that every id sent
   was deleted, none was processed twice (beyond the intended redelivery), and the queue is empty.

Workers report what they did as JSON lines on stdout (``{"sent": [...]}``, ``{"received":
[[id, receive_count], ...]}``, ``{"deleted": [...]}``, ``{"error": "..."}``). Every piece (the
worker roles, the tally, the summary, the display) is a plain function or small class, so tests
run them in-process as well as for real.
"""

from __future__ import annotations

import json
import os
import queue as queue_module
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Sequence,
    TextIO,
    Tuple,
)

from ._facade import PyQueue
from ._types import ReceivedMessage

__all__ = [
    "CRASH_EXIT_CODE",
    "INTERRUPTED_EXIT_CODE",
    "DemoConfig",
    "Display",
    "Receipt",
    "Runtime",
    "Summary",
    "Tally",
    "WorkerSpec",
    "child_main",
    "consume",
    "crash_consumer",
    "format_summary",
    "message_id",
    "produce",
    "run_demo",
    "summarize",
    "worker_command",
    "worker_env",
]

#: The exit code of the consumer that crashes on purpose; any other code from it is a failure.
CRASH_EXIT_CODE = 3

#: The exit code of a worker stopped by Ctrl+C.
INTERRUPTED_EXIT_CODE = 130

#: A report from a worker: one JSON object per line on its stdout.
Event = Dict[str, Any]
Emit = Callable[[Event], None]

# Seconds a worker may take to exit once its output has ended, before it is killed.
_EXIT_GRACE = 10.0
# Seconds to wait for a killed worker to go (it always does; the bound is for stuck kernels).
_KILL_WAIT = 10.0
# How often the parent redraws the progress line: often on a terminal, sparingly in a log.
_TTY_REFRESH = 0.1
_PLAIN_REFRESH = 0.5


class DemoConfig(NamedTuple):
    """What ``run_demo`` does; the defaults finish in a few seconds."""

    messages: int = 200
    producers: int = 2
    consumers: int = 3
    #: Messages per ``add_messages`` / ``receive_messages`` call.
    batch: int = 10
    #: Visibility timeout of the well-behaved consumers (long: they never lose a message).
    visibility_timeout: float = 30.0
    #: Visibility timeout of the crashing consumer: how long its message stays hidden.
    crash_timeout: float = 1.0
    #: Seconds the whole demo may take before the workers are killed and it fails.
    timeout: float = 60.0
    #: Seconds each producer waits between batches, so consumers work while producers still send.
    pace: float = 0.05
    #: Seconds of simulated work per message.
    work: float = 0.002
    #: Seconds a consumer waits before asking again when nothing is visible.
    poll: float = 0.05
    #: fsync every write (the library's default).
    durable: bool = True


class WorkerSpec(NamedTuple):
    """Everything one worker process needs, passed to it as one JSON argument."""

    role: str
    name: str
    queue_file: str
    done_file: str
    deadline: float
    batch: int = 10
    visibility_timeout: float = 30.0
    #: Producers: the numbers of the messages to send, ``first`` to ``stop - 1``.
    first: int = 0
    stop: int = 0
    pace: float = 0.0
    work: float = 0.0
    poll: float = 0.05
    durable: bool = True

    def to_json(self) -> str:
        """This spec as a JSON object (the worker's command-line argument)."""
        return json.dumps(self._asdict())

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        """The spec ``to_json`` wrote."""
        fields: Dict[str, Any] = json.loads(text)
        return cls(**fields)


class Runtime(NamedTuple):
    """What workers take from the OS, replaceable in tests (no real sleeps, no real exits)."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    #: Ends the process at once, without cleanup: how the crasher "crashes".
    die: Callable[[int], None] = os._exit


# -- the worker roles (run in the child processes) --------------------------------------------


def message_id(number: int) -> str:
    """The id of the demo's message number ``number``."""
    return f"msg-{number:05d}"


def _open(spec: WorkerSpec) -> PyQueue:
    return PyQueue(spec.queue_file, durable=spec.durable, lock_timeout=spec.deadline)


def produce(spec: WorkerSpec, emit: Emit, runtime: Runtime) -> int:
    """Add messages ``first`` to ``stop - 1`` in batches of ``spec.batch``; returns 0."""
    numbers = range(spec.first, spec.stop)
    with _open(spec) as queue:
        for start in range(0, len(numbers), spec.batch):
            if start:
                runtime.sleep(spec.pace)
            chunk = numbers[start : start + spec.batch]
            bodies = [{"task": "resize-image", "n": n, "producer": spec.name} for n in chunk]
            emit({"sent": queue.add_messages(bodies, [message_id(n) for n in chunk])})
    return 0


def crash_consumer(spec: WorkerSpec, emit: Emit, runtime: Runtime) -> int:
    """Receive one message, report it, then die before deleting it.

    Returns ``CRASH_EXIT_CODE`` when ``runtime.die`` returns (in tests), 1 if nothing arrived
    before the deadline.
    """
    with _open(spec) as queue:
        deadline = runtime.monotonic() + spec.deadline
        while runtime.monotonic() < deadline:
            received = queue.receive_messages(1, spec.visibility_timeout)
            if received:
                emit(_received_event(received))
                # A hard exit, not a return: no cleanup runs, as when a process is killed.
                runtime.die(CRASH_EXIT_CODE)
                return CRASH_EXIT_CODE
            runtime.sleep(spec.poll)
    emit({"error": f"{spec.name} received nothing within {spec.deadline:g} s"})
    return 1


def consume(spec: WorkerSpec, emit: Emit, runtime: Runtime) -> int:
    """Receive, process and delete until the producers are done and the queue is empty.

    Returns 0, or 1 if the deadline passed first.
    """
    with _open(spec) as queue:
        deadline = runtime.monotonic() + spec.deadline
        while runtime.monotonic() < deadline:
            received = queue.receive_messages(spec.batch, spec.visibility_timeout)
            if received:
                _process(queue, received, spec, emit, runtime)
            elif _drained(queue, spec.done_file):
                return 0
            else:
                runtime.sleep(spec.poll)
    emit({"error": f"{spec.name} gave up after {spec.deadline:g} s with the queue not empty"})
    return 1


def _received_event(received: List[ReceivedMessage]) -> Event:
    return {"received": [[message["Id"], message["receive_count"]] for message in received]}


def _process(
    queue: PyQueue, received: List[ReceivedMessage], spec: WorkerSpec, emit: Emit, runtime: Runtime
) -> None:
    emit(_received_event(received))
    for _ in received:
        runtime.sleep(spec.work)  # stands in for real work on message["message_body"]
    result = queue.delete_messages([message["ReceiptHandle"] for message in received])
    deleted = set(result["Successful"])
    emit({"deleted": [m["Id"] for m in received if m["ReceiptHandle"] in deleted]})


def _drained(queue: PyQueue, done_file: str) -> bool:
    # The marker first: once it exists no message can be added, so an empty queue stays empty.
    return os.path.exists(done_file) and queue.get_queue_info()["message_count"] == 0


_ROLES: Dict[str, Callable[[WorkerSpec, Emit, Runtime], int]] = {
    "producer": produce,
    "crasher": crash_consumer,
    "consumer": consume,
}


def _line_writer(out: TextIO) -> Emit:
    def emit(event: Event) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()  # the parent shows progress as lines arrive

    return emit


def child_main(
    argv: Optional[Sequence[str]] = None,
    out: Optional[TextIO] = None,
    runtime: Optional[Runtime] = None,
) -> int:
    """A worker process's entry point: ``argv`` is ``[spec_json]``; returns the exit code."""
    spec = WorkerSpec.from_json((sys.argv[1:] if argv is None else argv)[0])
    emit = _line_writer(sys.stdout if out is None else out)
    try:
        return _ROLES[spec.role](spec, emit, Runtime() if runtime is None else runtime)
    except KeyboardInterrupt:
        # Ctrl+C reaches the whole process group; the parent reports it, once.
        return INTERRUPTED_EXIT_CODE


def worker_command(spec: WorkerSpec) -> List[str]:
    """The command line that runs one worker in a fresh interpreter."""
    return [sys.executable, "-m", __name__, spec.to_json()]


def worker_env() -> Dict[str, str]:
    """The environment for workers: this process's, with this copy of the package importable."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


# -- tallying what the workers reported (in the parent) ---------------------------------------


class Receipt(NamedTuple):
    """One delivery of one message to one worker."""

    worker: str
    message_id: str
    receive_count: int
    #: Received by the consumer that crashes on purpose.
    crashed: bool


class Tally:
    """Everything the workers reported, in arrival order, plus problems found on the way."""

    def __init__(self) -> None:
        self.sent: List[str] = []
        self.receipts: List[Receipt] = []
        self.deleted: List[str] = []
        self.problems: List[str] = []

    def record(self, worker: str, crashed: bool, event: Event) -> List[Receipt]:
        """Add one event from ``worker``; returns the deliveries it reported."""
        self.sent.extend(event.get("sent", ()))
        self.deleted.extend(event.get("deleted", ()))
        if "error" in event:
            self.problems.append(str(event["error"]))
        receipts = [
            Receipt(worker, str(item_id), int(count), crashed)
            for item_id, count in event.get("received", ())
        ]
        self.receipts.extend(receipts)
        return receipts

    def progress(self, total: int) -> str:
        """A one-line account of how far the demo got."""
        redelivered = sum(1 for receipt in self.receipts if receipt.receive_count > 1)
        return (
            f"sent {len(self.sent)}/{total}  received {len(self.receipts)}  "
            f"deleted {len(self.deleted)}/{total}  redelivered {redelivered}"
        )


class Summary(NamedTuple):
    """The demo's outcome; ``problems`` is empty when it succeeded."""

    sent: int
    received: int
    deleted: int
    redelivered: int
    lost: int
    duplicates: int
    remaining: int
    crashed: int
    problems: Tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing was lost, duplicated or left behind, and the crash was redelivered."""
        return not self.problems


def _duplicates(receipts: Iterable[Receipt]) -> int:
    """Deliveries beyond one per message, not counting one redelivery per crash."""
    deliveries: Counter[str] = Counter()
    allowed: Counter[str] = Counter()
    for receipt in receipts:
        deliveries[receipt.message_id] += 1
        allowed[receipt.message_id] += 1 if receipt.crashed else 0
    return sum(max(0, count - 1 - allowed[item_id]) for item_id, count in deliveries.items())


def summarize(tally: Tally, remaining: int) -> Summary:
    """Compare the ids sent with the ids deleted; ``remaining`` is the queue's final count."""
    sent, deleted = set(tally.sent), set(tally.deleted)
    received = {receipt.message_id for receipt in tally.receipts}
    crashed = sum(1 for receipt in tally.receipts if receipt.crashed)
    redelivered = sum(1 for receipt in tally.receipts if receipt.receive_count > 1)
    lost = len(sent - deleted)
    duplicates = _duplicates(tally.receipts)
    checks = [
        (lost > 0, f"{lost} message(s) sent but never deleted"),
        (duplicates > 0, f"{duplicates} unexpected duplicate delivery(ies)"),
        (remaining > 0, f"{remaining} message(s) left in the queue"),
        (bool((received | deleted) - sent), "ids received or deleted that were never sent"),
        (len(tally.deleted) > len(deleted), "some ids were deleted more than once"),
        (crashed == 0, "the crashing consumer received no message"),
        (crashed > redelivered, "the crashed consumer's message was not redelivered"),
    ]
    problems = tuple(tally.problems) + tuple(text for failed, text in checks if failed)
    return Summary(
        sent=len(tally.sent),
        received=len(tally.receipts),
        deleted=len(tally.deleted),
        redelivered=redelivered,
        lost=lost,
        duplicates=duplicates,
        remaining=remaining,
        crashed=crashed,
        problems=problems,
    )


def format_summary(summary: Summary) -> str:
    """The summary as aligned lines of plain text, ending with OK or FAILED and the reasons."""
    rows = [
        ("sent", summary.sent, ""),
        ("received", summary.received, f"({summary.crashed} by the consumer that crashed)"),
        ("deleted", summary.deleted, ""),
        ("redelivered", summary.redelivered, "(after a visibility timeout expired)"),
        ("lost", summary.lost, "(ids sent but never deleted)"),
        ("duplicates", summary.duplicates, "(deliveries beyond the intended redelivery)"),
        ("left in queue", summary.remaining, ""),
    ]
    lines = ["", "Summary"]
    lines.extend(f"  {name:<14}{value:>6}  {note}".rstrip() for name, value, note in rows)
    if summary.ok:
        lines.append(f"OK: all {summary.sent} messages were delivered and deleted; none lost,")
        lines.append("    none processed twice, and the crashed consumer's message came back.")
    else:
        lines.append("FAILED:")
        lines.extend(f"  - {problem}" for problem in summary.problems)
    return "\n".join(lines) + "\n"


# -- the terminal display (in the parent) ------------------------------------------------------


class Display:
    """Event lines and a progress line: redrawn in place with ``\\r`` on a terminal, else plain."""

    def __init__(self, out: TextIO, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._out = out
        self._tty = out.isatty()
        self._monotonic = monotonic
        self._start = monotonic()
        self._drawn = ""  # the progress line on screen (terminal only)
        self._last_text = ""
        self._last_time = float("-inf")

    def elapsed(self) -> float:
        """Seconds since the display was made."""
        return self._monotonic() - self._start

    def line(self, text: str) -> None:
        """Print a line of text (above the progress line on a terminal)."""
        self._clear()
        self._out.write(text + "\n")
        self._redraw()
        self._out.flush()

    def event(self, text: str) -> None:
        """Print a line stamped with the time since the start."""
        self.line(f"[{self.elapsed():5.2f}s] {text}")

    def progress(self, text: str, force: bool = False) -> None:
        """Show the progress ``text``, at most a few times a second unless ``force``."""
        now = self._monotonic()
        interval = _TTY_REFRESH if self._tty else _PLAIN_REFRESH
        if text == self._last_text or (not force and now - self._last_time < interval):
            return
        self._last_text, self._last_time = text, now
        stamped = f"[{self.elapsed():5.2f}s] {text}"
        if self._tty:
            self._clear()
            self._drawn = stamped
            self._redraw()
        else:
            self._out.write(stamped + "\n")
        self._out.flush()

    def finish(self) -> None:
        """End the progress line, leaving it on screen."""
        if self._drawn:
            self._out.write("\n")
            self._drawn = ""
            self._out.flush()

    def _clear(self) -> None:
        if self._drawn:
            self._out.write("\r" + " " * len(self._drawn) + "\r")

    def _redraw(self) -> None:
        if self._drawn:
            self._out.write(self._drawn)


# -- running the demo (in the parent) ----------------------------------------------------------


if TYPE_CHECKING:  # only in annotations: queue.Queue is not subscriptable before Python 3.9
    #: Where the reader threads put each worker's lines (None when its output ends).
    _Reports = queue_module.Queue[Tuple["_Worker", Optional[str]]]


class _Worker:
    """One worker process, the thread that reads its reports, and whether they have ended."""

    def __init__(self, spec: WorkerSpec, process: subprocess.Popen[str], sink: _Reports) -> None:
        self.spec = spec
        self.process = process
        self.finished = False
        # A daemon: a stuck pipe never keeps the interpreter alive.
        self.reader = threading.Thread(target=_read_lines, args=(self, sink), daemon=True)


def _read_lines(worker: _Worker, sink: _Reports) -> None:
    """Forward each line the worker prints, then None at the end of its output."""
    stream = worker.process.stdout
    assert stream is not None
    with stream:
        for line in stream:
            sink.put((worker, line))
    sink.put((worker, None))


class _Run:
    """One run of the demo in ``folder``: starts the workers in phases and tallies their reports."""

    def __init__(self, config: DemoConfig, folder: str, display: Display) -> None:
        self.config = config
        self.queue_file = os.path.join(folder, "queue.json")
        self.done_file = os.path.join(folder, "producers-done")
        self.display = display
        self.tally = Tally()
        self.workers: List[_Worker] = []
        self.reports: _Reports = queue_module.Queue()
        self.deadline = time.monotonic() + config.timeout

    def execute(self) -> Summary:
        """Run every phase, stop every worker, and check the queue is empty."""
        # Made here, once, so the workers never race to create the file.
        with PyQueue(self.queue_file, durable=self.config.durable) as queue:
            try:
                self._phases()
            finally:
                self._stop_all()
                self.display.progress(self.tally.progress(self.config.messages), force=True)
                self.display.finish()
            remaining = queue.get_queue_info()["message_count"]
        return summarize(self.tally, remaining)

    def _phases(self) -> None:
        config = self.config
        producers = [self._start(spec) for spec in self._producer_specs()]
        crasher = self._start(self._spec("crasher", "crasher", config.crash_timeout, batch=1))
        if not self._pump(lambda: crasher.finished):
            return
        for number in range(1, config.consumers + 1):
            self._start(self._spec("consumer", f"consumer-{number}", config.visibility_timeout))
        self.display.event(
            f"{config.consumers} consumer(s) started "
            f"(visibility timeout {config.visibility_timeout:g} s, batches of {config.batch})"
        )
        if not self._pump(lambda: all(worker.finished for worker in producers)):
            return
        with open(self.done_file, "w"):
            pass
        self.display.event(
            f"producers done ({len(self.tally.sent)} sent); consumers stop when the queue is empty"
        )
        self._pump(lambda: all(worker.finished for worker in self.workers))

    def _spec(
        self, role: str, name: str, visibility_timeout: float, batch: int = 0, **extra: Any
    ) -> WorkerSpec:
        config = self.config
        return WorkerSpec(
            role=role,
            name=name,
            queue_file=self.queue_file,
            done_file=self.done_file,
            deadline=config.timeout,
            batch=batch or config.batch,
            visibility_timeout=visibility_timeout,
            pace=config.pace,
            work=config.work,
            poll=config.poll,
            durable=config.durable,
            **extra,
        )

    def _producer_specs(self) -> List[WorkerSpec]:
        """One spec per producer, splitting the message numbers into contiguous ranges."""
        total, count = self.config.messages, self.config.producers
        bounds = [total * index // count for index in range(count + 1)]
        return [
            self._spec(
                "producer",
                f"producer-{index + 1}",
                0.0,
                first=bounds[index],
                stop=bounds[index + 1],
            )
            for index in range(count)
        ]

    def _start(self, spec: WorkerSpec) -> _Worker:
        process = subprocess.Popen(
            worker_command(spec),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=worker_env(),
            encoding="utf-8",
        )
        worker = _Worker(spec, process, self.reports)
        self.workers.append(worker)
        worker.reader.start()
        return worker

    def _pump(self, until: Callable[[], bool]) -> bool:
        """Handle reports until ``until()`` holds; False if the demo's deadline passed first."""
        while not until():
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.tally.problems.append(f"timed out after {self.config.timeout:g} s")
                return False
            try:
                worker, line = self.reports.get(timeout=min(left, _TTY_REFRESH))
            except queue_module.Empty:
                pass
            else:
                self._handle(worker, line)
            self.display.progress(self.tally.progress(self.config.messages))
        return True

    def _handle(self, worker: _Worker, line: Optional[str]) -> None:
        if line is None:
            self._reap(worker)
            return
        try:
            event = json.loads(line)
        except ValueError:
            self.tally.problems.append(f"{worker.spec.name} printed {line.strip()!r}")
            return
        crasher = worker.spec.role == "crasher"
        for receipt in self.tally.record(worker.spec.name, crasher, event):
            self._announce(receipt)

    def _announce(self, receipt: Receipt) -> None:
        if receipt.crashed:
            self.display.event(
                f"{receipt.worker} received {receipt.message_id} "
                f"(receive_count {receipt.receive_count}, visibility timeout "
                f"{self.config.crash_timeout:g} s) and crashes before deleting it"
            )
        elif receipt.receive_count > 1:
            self.display.event(
                f"{receipt.worker} received {receipt.message_id} again with receive_count "
                f"{receipt.receive_count}: redelivered once its visibility timeout expired"
            )

    def _reap(self, worker: _Worker) -> None:
        """Collect a worker whose output ended, and check how it exited."""
        worker.finished = True
        try:
            code = worker.process.wait(timeout=_EXIT_GRACE)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            code = worker.process.wait(timeout=_KILL_WAIT)
        expected = CRASH_EXIT_CODE if worker.spec.role == "crasher" else 0
        if code != expected:
            self.tally.problems.append(f"{worker.spec.name} exited with code {code}")
        elif worker.spec.role == "crasher":
            self.display.event(f"{worker.spec.name} exited with code {code} (a simulated crash)")

    def _stop_all(self) -> None:
        """Kill the workers still running (after a timeout or an interrupt) and wait for all."""
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait(timeout=_KILL_WAIT)
            worker.reader.join(timeout=_KILL_WAIT)


def run_demo(config: Optional[DemoConfig] = None, out: Optional[TextIO] = None) -> int:
    """Run the demo, print its story and summary to ``out``; returns 0 on success, else 1."""
    config = DemoConfig() if config is None else config
    display = Display(sys.stdout if out is None else out)
    folder = tempfile.mkdtemp(prefix="pyqueue-demo-")
    try:
        display.line(
            f"pyqueue demo: {config.messages} messages, {config.producers} producer(s), "
            f"{config.consumers} consumer(s), each in its own process"
        )
        display.line(f"queue: {os.path.join(folder, 'queue.json')} (removed at the end)")
        summary = _Run(config, folder, display).execute()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    display.line(format_summary(summary).rstrip("\n"))
    return 0 if summary.ok else 1


if __name__ == "__main__":  # pragma: no cover - runs in the worker processes, never measured
    sys.exit(child_main())
