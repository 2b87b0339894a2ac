"""``pyqueue demo``: producers and consumers in separate processes sharing one local JSON queue.

A crasher receives one message with a short visibility timeout and dies before deleting it; once
that timeout expires a consumer receives the message again (``receive_count`` 2, a new receipt
handle): delivery is at-least-once. Each worker is a fresh interpreter (``python -m
pyqueue_client._demo JOB``) sharing nothing but the queue file and its lock; it prints its part of
the story and leaves what it did in ``<name>.json`` beside the queue, in a temporary folder removed
at the end. The summary checks that nothing was lost, processed twice or left in the queue.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._facade import PyQueue

__all__ = ["CRASH_EXIT_CODE", "DemoConfig", "Job", "consume", "crash", "produce", "run_demo"]

#: The crasher's exit code; any other from it, or any but 0 from another worker, is a failure.
CRASH_EXIT_CODE = 3

_PACE = 0.05  # seconds between a producer's batches, so consumers work while producers send
_POLL = 0.05  # seconds a consumer waits before asking again when nothing is visible
_WORK = 0.01  # seconds of pretend work per message, so the consumers share the load
_VISIBILITY_TIMEOUT = 30.0  # the consumers': long, so they never lose a message
_DONE = "producers-done"  # a file: consumers stop once it exists and the queue is empty

#: What workers did: ``sent`` and ``deleted`` ids; ``received`` and ``crashed`` [id, count] pairs.
Report = Dict[str, List[Any]]


class DemoConfig(NamedTuple):
    """What ``run_demo`` does; the defaults finish in a few seconds."""

    messages: int = 200
    producers: int = 2
    consumers: int = 3
    batch: int = 10  # messages per add_messages / receive_messages call
    crash_timeout: float = 1.0  # the crasher's visibility timeout: when its message comes back
    timeout: float = 60.0  # seconds before the workers are killed and the demo fails


class Job(NamedTuple):
    """One worker's part, given to its process as one JSON argument (a NamedTuple is an array)."""

    role: str  # "producer", "crasher" or "consumer"
    name: str
    folder: str  # the queue file, the done marker and the reports
    started: float  # the demo's time.time() at the start: zero of the printed timestamps
    config: DemoConfig
    first: int = 0  # a producer sends the messages numbered first to stop - 1
    stop: int = 0

    @classmethod
    def from_json(cls, text: str) -> Job:
        """The job that ``json.dumps(job)`` wrote."""
        role, name, folder, started, config, first, stop = json.loads(text)
        return cls(role, name, folder, started, DemoConfig(*config), first, stop)

    def running(self) -> bool:
        """Whether the demo's time is not up (no worker outlives a stuck demo)."""
        return time.time() < self.started + self.config.timeout


def say(started: float, *lines: str) -> None:
    """Print ``lines``, the first stamped with the seconds since ``started``."""
    # One write for all: every process shares this stdout, and lines must not interleave.
    sys.stdout.write(f"[{time.time() - started:5.2f}s] " + "\n         ".join(lines) + "\n")
    sys.stdout.flush()


# -- the worker roles, each in its own process ------------------------------------------------


def produce(job: Job, queue: PyQueue) -> Report:
    """Add messages ``msg-<first>`` to ``msg-<stop - 1>`` in batches."""
    ids = [f"msg-{number:05d}" for number in range(job.first, job.stop)]
    sent: List[str] = []
    for start in range(0, len(ids), job.config.batch):
        if start:
            time.sleep(_PACE)
        chunk = ids[start : start + job.config.batch]
        sent += queue.add_messages([{"task": "resize", "image": f"{i}.png"} for i in chunk], chunk)
    say(job.started, f"{job.name} done: {len(sent)} sent")
    return {"sent": sent}


def crash(job: Job, queue: PyQueue) -> Report:
    """Receive one message with the short crash timeout, and never delete it."""
    while job.running():
        for message in queue.receive_messages(1, job.config.crash_timeout):
            say(
                job.started,
                f"{job.name} received {message['Id']} (receive_count {message['receive_count']},"
                f" receipt handle {message['ReceiptHandle'][:16]}...)",
                f"and crashes before deleting it: the message is hidden for its visibility timeout"
                f" ({job.config.crash_timeout:g} s)",
            )
            return {"crashed": [[message["Id"], message["receive_count"]]]}
        time.sleep(_POLL)
    return {}


def consume(job: Job, queue: PyQueue) -> Report:
    """Receive, process and delete batches until the producers are done and the queue is empty."""
    report: Report = {"received": [], "deleted": []}
    while job.running():
        batch = queue.receive_messages(job.config.batch, _VISIBILITY_TIMEOUT)
        if not batch:
            if _drained(job, queue):
                break
            time.sleep(_POLL)
            continue
        for message in batch:
            report["received"].append([message["Id"], message["receive_count"]])
            if message["receive_count"] > 1:
                say(
                    job.started,
                    f"{job.name} received {message['Id']} again (receive_count"
                    f" {message['receive_count']}, a new receipt handle):",
                    "at-least-once delivery, so the crash lost nothing",
                )
            time.sleep(_WORK)  # the real work on message["message_body"] would go here
        deleted = set(queue.delete_messages([m["ReceiptHandle"] for m in batch])["Successful"])
        report["deleted"] += [m["Id"] for m in batch if m["ReceiptHandle"] in deleted]
    say(job.started, f"{job.name} done: {len(report['deleted'])} deleted")
    return report


def _drained(job: Job, queue: PyQueue) -> bool:
    # The marker first: once it exists nothing is added, so an empty queue stays empty.
    done = os.path.exists(os.path.join(job.folder, _DONE))
    return done and queue.get_queue_info()["message_count"] == 0


def work(argv: Sequence[str]) -> int:
    """A worker process's entry point: ``argv`` is ``[job_json]``; returns the exit code."""
    job = Job.from_json(argv[0])
    roles = {"producer": produce, "crasher": crash, "consumer": consume}
    try:
        with PyQueue(os.path.join(job.folder, "queue.json")) as queue:
            report = roles[job.role](job, queue)
            with open(os.path.join(job.folder, f"{job.name}.json"), "w") as file:
                json.dump(report, file)
            if job.role == "crasher":
                os._exit(CRASH_EXIT_CODE)  # pragma: no cover - at once: no delete, no cleanup
    except KeyboardInterrupt:  # Ctrl+C reaches every process; the parent reports it, once
        return 130
    return 0


# -- the parent: starts the workers in the story's order, then sums up ------------------------


def worker_command(job: Job) -> List[str]:
    """The command line that runs one worker in a fresh interpreter."""
    return [sys.executable, "-m", __name__, json.dumps(job)]


class _Run:
    """One run of the demo: its folder, its start time and its worker processes by name."""

    def __init__(self, config: DemoConfig, folder: str) -> None:
        self.config = config
        self.folder = folder
        self.started = time.time()
        self.workers: Dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str, name: str, first: int = 0, stop: int = 0) -> str:
        """Start one worker, importing this copy of the package; returns its name."""
        env = dict(os.environ)
        # The folder the top-level package lies in (a vendored copy's name has more parts).
        root = os.path.abspath(__file__)
        for _ in range(__name__.count(".") + 1):
            root = os.path.dirname(root)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        job = Job(role, name, self.folder, self.started, self.config, first, stop)
        self.workers[name] = subprocess.Popen(worker_command(job), env=env)
        return name

    def wait(self, names: Sequence[str]) -> None:
        """Wait for these workers; ``subprocess.TimeoutExpired`` once the demo's time is up."""
        for name in names:
            left = self.started + self.config.timeout - time.time()
            self.workers[name].wait(timeout=max(0.0, left))

    def story(self, queue: PyQueue) -> None:
        """Start the producers and the crasher, the consumers once it crashed; wait for all."""
        config, started = self.config, self.started
        bounds = [config.messages * i // config.producers for i in range(config.producers + 1)]
        producers = [
            self.start("producer", f"producer-{i + 1}", bounds[i], bounds[i + 1])
            for i in range(config.producers)
        ]
        self.wait([self.start("crasher", "crasher")])
        info = queue.get_queue_info()
        say(
            started,
            f"get_queue_info(): message_count {info['message_count']}, invisible_messages"
            f" {info['invisible_messages']} (the crasher's: in flight, not lost)",
        )
        consumers = [self.start("consumer", f"consumer-{n + 1}") for n in range(config.consumers)]
        say(
            started,
            f"{config.consumers} consumers started: each receives up to {config.batch} messages"
            f" (visibility timeout {_VISIBILITY_TIMEOUT:g} s),",
            "processes them and deletes each by its receipt handle",
        )
        self.wait(producers)
        open(os.path.join(self.folder, _DONE), "w").close()
        say(started, "producers done; consumers stop once the queue is empty")
        self.wait(consumers)

    def stop(self) -> List[str]:
        """Kill the workers still running and wait for all; returns the unexpected exits."""
        for process in self.workers.values():
            if process.poll() is None:
                process.kill()
            process.wait()
        return [
            f"{name} exited with code {process.returncode}"
            for name, process in self.workers.items()
            if process.returncode != (CRASH_EXIT_CODE if name == "crasher" else 0)
        ]

    def collect(self) -> Report:
        """The workers' reports merged into one."""
        merged: Report = {"sent": [], "received": [], "crashed": [], "deleted": []}
        for name in self.workers:
            path = os.path.join(self.folder, f"{name}.json")
            # None, or one cut short by a kill: that worker's exit code already says what failed.
            with contextlib.suppress(OSError, ValueError), open(path) as file:
                for key, items in json.load(file).items():
                    merged[key] += items
        return merged


def summarize(report: Report, remaining: int) -> Tuple[str, List[str]]:
    """The summary table of a merged report and the problems it shows (none on success).

    ``remaining`` is the queue's final ``message_count``.
    """
    sent, deleted, crashed = report["sent"], report["deleted"], len(report["crashed"])
    received = report["received"] + report["crashed"]
    redelivered = sum(1 for _, count in received if count > 1)
    lost = len(set(sent) - set(deleted))
    # Deliveries beyond one per message, but for the one redelivery each crash calls for.
    duplicates = max(0, len(received) - len({item_id for item_id, _ in received}) - crashed)
    rows = [
        ("sent", len(sent), ""),
        ("received", len(received), f"({crashed} by the consumer that crashed)"),
        ("deleted", len(deleted), ""),
        ("redelivered", redelivered, "(after a visibility timeout expired)"),
        ("lost", lost, "(sent but never deleted)"),
        ("duplicates", duplicates, "(deliveries beyond the intended redelivery)"),
        ("left in queue", remaining, ""),
    ]
    problems = [f"{name}: {value}, not 0" for name, value, _ in rows[4:] if value]
    if not 0 < crashed <= redelivered:
        problems.append("the crasher received no message, or it was not redelivered")
    table = "\n".join(f"  {name:<14}{value:>6}  {note}".rstrip() for name, value, note in rows)
    return "\nSummary\n" + table, problems


def run_demo(config: Optional[DemoConfig] = None) -> int:
    """Run the demo, printing its story and summary; returns 0 on success, else 1."""
    config = DemoConfig() if config is None else config
    folder = tempfile.mkdtemp(prefix="pyqueue-demo-")
    run, problems = _Run(config, folder), []
    try:
        print(
            f"pyqueue demo: {config.messages} messages, {config.producers} producers,"
            f" {config.consumers} consumers and a crasher, each in its own process\n"
            f"queue: {os.path.join(folder, 'queue.json')} (a local JSON queue, removed at the end)",
            flush=True,  # before the workers write to the same stdout
        )
        # Made here, once, so the workers never race to create the file.
        with PyQueue(os.path.join(folder, "queue.json")) as queue:
            try:
                run.story(queue)
            except subprocess.TimeoutExpired:
                problems.append(f"timed out after {config.timeout:g} s")
            problems += run.stop()
            table, found = summarize(run.collect(), queue.get_queue_info()["message_count"])
    finally:
        run.stop()  # no worker outlives the demo, whatever happened
        shutil.rmtree(folder, ignore_errors=True)
    print(table)
    if problems or found:
        print("FAILED:\n" + "\n".join(f"  - {problem}" for problem in problems + found))
        return 1
    print(
        f"OK: all {config.messages} messages were delivered and deleted; none lost, none processed"
        "\n    twice, and the crashed consumer's message came back (at-least-once delivery)."
    )
    return 0


if __name__ == "__main__":  # pragma: no cover - runs in the worker processes, never measured
    sys.exit(work(sys.argv[1:]))
