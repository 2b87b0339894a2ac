"""The worker in this process: outcomes on every backend, retries with backoff into the
dead-letter queue (on a fake clock), heartbeats, stale handles, warm and cold stops, signals,
queue errors, and the ``pyqueue worker`` command run in-process."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

from pyqueue_client import (
    PyQueue,
    ReceivedMessage,
    UnsupportedOperationError,
    ValidationError,
    Worker,
    WorkerStats,
    cli,
)
from pyqueue_client import _worker as worker_module

from .conftest import ISO_MICROSECONDS, FakeClock

#: Upper bound for anything the tests wait for; far above what it takes on a loaded machine.
PATIENCE = 30.0


def wait_until(condition: Callable[[], object], what: str) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``PATIENCE`` seconds."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class Running:
    """A worker's ``run()`` on a thread; ``result()`` joins it and returns its stats."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.stats: List[WorkerStats] = []
        self.thread = threading.Thread(target=lambda: self.stats.append(worker.run()))
        self.thread.start()

    def result(self) -> WorkerStats:
        self.thread.join(PATIENCE)
        assert not self.thread.is_alive(), "the worker did not return"
        return self.stats[0]


@pytest.fixture
def sqlite_queue(tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    """A sqlite queue named ``jobs`` on the fake clock."""
    with PyQueue(
        tmp_path / "q.db", queue_type="sqlite", queue_name="jobs", durable=False, clock=clock
    ) as made:
        yield made


def stats(**counts: int) -> WorkerStats:
    """A ``WorkerStats`` with the counts given and zero elsewhere."""
    base = WorkerStats(received=0, succeeded=0, failed=0, released=0, extended=0, stale=0)
    base.update(counts)  # type: ignore[typeddict-item]
    return base


def test_every_message_is_handled_and_deleted_on_each_backend(queue: PyQueue) -> None:
    queue.add_messages([{"n": n} for n in range(30)], [f"m{n:02}" for n in range(30)])
    calls: List[str] = []
    lock = threading.Lock()

    def handle(message: ReceivedMessage) -> None:
        with lock:
            calls.append(message["Id"])
        if message["message_body"]["n"] % 10 == 0 and message["receive_count"] == 1:
            raise RuntimeError("first try fails")
        if message["message_body"]["n"] == 15 and message["receive_count"] == 1:
            raise SystemExit("a handler calling sys.exit() is a failure too")

    worker = Worker(queue, handle, retry_delay=0, stop_when_empty=True, wait_time_seconds=0.1)
    result = worker.run()
    assert result == stats(received=34, succeeded=30, failed=4)
    assert worker.stats == result
    again = ["m00", "m10", "m15", "m20"]
    assert sorted(calls) == sorted([f"m{n:02}" for n in range(30)] + again)
    assert queue.get_queue_info()["message_count"] == 0


def test_failures_back_off_then_the_dead_letter_queue_ends_them(
    tmp_path: Path, sqlite_queue: PyQueue, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    sqlite_queue.set_queue_attributes(max_receive_count=3, dead_letter_queue="dead")
    sqlite_queue.add_message({"secret": "never logged"}, item_id="job")

    def handle(message: ReceivedMessage) -> None:
        raise RuntimeError("always fails")

    worker = Worker(sqlite_queue, handle, retry_delay=1, max_retry_delay=1.5, wait_time_seconds=0.1)
    caplog.set_level(logging.INFO, logger="pyqueue_client.worker")
    running = Running(worker)

    def hidden_for() -> float:
        stored = sqlite_queue.get_message("job")
        assert stored is not None
        assert stored["invisible_until"] is not None
        until = clock.now.strptime(stored["invisible_until"], ISO_MICROSECONDS)
        return (until - clock.now).total_seconds()

    # 1 s after the first failure, 2 s capped at 1.5 s after the second, and none after the
    # third: that receive was the dead-letter policy's last, so the next one moves it.
    def failed(times: int) -> Callable[[], bool]:
        return lambda: worker.stats["failed"] == times

    for times, delay in ((1, 1.0), (2, 1.5)):
        wait_until(failed(times), f"failure {times}")
        assert hidden_for() == pytest.approx(delay)
        clock.advance(delay - 0.01)
        assert sqlite_queue.receive_messages(wait_time_seconds=0) == []
        clock.advance(0.01)
    with PyQueue(tmp_path / "q.db", queue_type="sqlite", queue_name="dead", clock=clock) as dead:
        wait_until(dead.get_messages, "the move to the dead-letter queue")
        assert [m["id"] for m in dead.get_messages()] == ["job"]
    worker.stop()
    assert running.result() == stats(received=3, failed=3)
    assert sqlite_queue.get_queue_info()["message_count"] == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert all(r.exc_info and "job" in r.getMessage() for r in errors)
    assert not any("never logged" in r.getMessage() for r in caplog.records)


def test_a_handler_slower_than_the_visibility_timeout_runs_once(tmp_path: Path) -> None:
    with PyQueue(tmp_path / "q.db", queue_type="sqlite", durable=False) as queue:
        queue.add_message({"slow": True}, item_id="slow")
        calls: List[int] = []

        def handle(message: ReceivedMessage) -> None:
            calls.append(message["receive_count"])
            time.sleep(1.6)  # real time: longer than the 1 s timeout, twice the heartbeat

        worker = Worker(
            queue,
            handle,
            concurrency=2,  # a free handler keeps polling: it would get the message if it lapsed
            visibility_timeout=1,
            wait_time_seconds=0.1,
            stop_when_empty=True,
        )
        result = worker.run()
    assert calls == [1]
    assert result["succeeded"] == 1
    assert result["extended"] >= 2
    assert result["stale"] == 0


def test_a_stale_handle_is_counted_and_never_deleted(clock: FakeClock) -> None:
    queue = PyQueue(queue_type="memory", clock=clock)
    queue.add_message({"n": 1}, item_id="m")
    started, finish = threading.Event(), threading.Event()

    def handle(message: ReceivedMessage) -> None:
        started.set()
        finish.wait(PATIENCE)

    worker = Worker(queue, handle, concurrency=1, visibility_timeout=1, wait_time_seconds=0.1)
    running = Running(worker)
    assert started.wait(PATIENCE)
    clock.advance(5)  # the worker stalled past its timeout: another consumer takes the message
    [taken] = queue.receive_messages(visibility_timeout=600)
    wait_until(lambda: worker.stats["stale"] == 1, "the failed heartbeat")
    finish.set()
    worker.stop()
    assert running.result() == stats(received=1, stale=1)
    assert queue.delete_message(taken["ReceiptHandle"])  # still there for its new holder


def test_messages_received_while_stopping_are_released_at_once(
    sqlite_queue: PyQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_queue.add_messages([{"n": n} for n in range(3)])
    real_receive = sqlite_queue.receive_messages
    handled: List[str] = []
    worker = Worker(sqlite_queue, lambda m: handled.append(m["Id"]), wait_time_seconds=0)

    def receive_then_stop(*args: Any, **kwargs: Any) -> List[ReceivedMessage]:
        got = real_receive(*args, **kwargs)
        worker.stop()  # the stop lands while this receive is on its way back
        return got

    monkeypatch.setattr(sqlite_queue, "receive_messages", receive_then_stop)
    assert worker.run() == stats(received=3, released=3)
    assert handled == []
    assert len(real_receive(10, wait_time_seconds=0)) == 3  # visible again, clock unmoved


def test_a_cold_stop_releases_running_messages_without_waiting(clock: FakeClock) -> None:
    queue = PyQueue(queue_type="memory", clock=clock)
    queue.add_messages([{"n": 1}, {"n": 2}])
    finish = threading.Event()
    started: List[str] = []

    def handle(message: ReceivedMessage) -> None:
        started.append(message["Id"])
        finish.wait(PATIENCE)

    worker = Worker(queue, handle, concurrency=2, wait_time_seconds=0.1)
    running = Running(worker)
    wait_until(lambda: len(started) == 2, "both handlers")
    worker.stop()
    worker.stop(cold=True)
    assert running.result() == stats(received=2, released=2)
    assert len(queue.receive_messages(10)) == 2  # visible again at once
    finish.set()


def test_signals_stop_warm_then_cold_and_the_old_handlers_come_back(clock: FakeClock) -> None:
    queue = PyQueue(queue_type="memory", clock=clock)
    queue.add_messages([{"n": 1}, {"n": 2}])
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    finish = threading.Event()
    worker: Worker

    def handle(message: ReceivedMessage) -> None:
        if message["message_body"]["n"] == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            wait_until(lambda: worker._stopping, "the first stop")
            os.kill(os.getpid(), signal.SIGINT)
        finish.wait(PATIENCE)

    worker = Worker(queue, handle, concurrency=1, wait_time_seconds=0.1)
    assert worker.run() == stats(received=1, released=1)  # on this, the main thread
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert len(queue.receive_messages(10)) == 2
    finish.set()


def test_a_warm_signal_lets_the_running_handler_finish(clock: FakeClock) -> None:
    queue = PyQueue(queue_type="memory", clock=clock)
    queue.add_messages([{"n": 1}, {"n": 2}])

    def handle(message: ReceivedMessage) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: worker._stopping, "the stop")

    worker = Worker(queue, handle, concurrency=1, wait_time_seconds=0.1)
    assert worker.run() == stats(received=1, succeeded=1)
    assert queue.get_queue_info()["message_count"] == 1


def test_queue_errors_are_logged_and_the_worker_carries_on(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    queue = PyQueue(queue_type="memory", clock=clock)
    queue.add_messages([{"n": 1}], ["m"])
    monkeypatch.setattr(worker_module, "_RECEIVE_ERROR_PAUSE", 0.0)
    failing: Dict[str, int] = {"receive_messages": 1, "delete_messages": 1}

    def broken(name: str) -> Callable[..., Any]:
        real = getattr(queue, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if failing[name]:
                failing[name] -= 1
                raise ConnectionError(f"{name} is down")
            return real(*args, **kwargs)

        return call

    for name in failing:
        monkeypatch.setattr(queue, name, broken(name))
    worker = Worker(queue, lambda m: None, stop_when_empty=True, wait_time_seconds=0.1)
    # The failed delete leaves the message hidden: the worker drains, the message stays.
    assert worker.run() == stats(received=1)
    assert queue.get_queue_info()["invisible_messages"] == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("receive failed" in text for text in errors)
    assert any("m not deleted" in text for text in errors)
    clock.advance(31)
    assert Worker(queue, lambda m: None, stop_when_empty=True, wait_time_seconds=0).run() == (
        stats(received=1, succeeded=1)
    )


def test_a_queue_without_attributes_gets_the_default_timeout(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = PyQueue(queue_type="memory", clock=clock)
    queue.add_message({"n": 1}, item_id="m")

    def unsupported() -> None:
        raise UnsupportedOperationError("get_queue_attributes", "memory")

    monkeypatch.setattr(queue, "get_queue_attributes", unsupported)
    seen: List[ReceivedMessage] = []
    Worker(queue, seen.append, stop_when_empty=True, wait_time_seconds=0).run()
    [message] = seen
    received = clock.now.strptime(message["first_received_at"], ISO_MICROSECONDS)
    assert received == clock.now  # and hidden for the default 30 s, so it was not seen twice
    assert worker_module.DEFAULT_VISIBILITY == 30.0


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"visibility_timeout": 0}, "visibility_timeout"),
        ({"wait_time_seconds": 21}, "wait_time_seconds"),
        ({"retry_delay": -1}, "retry_delay"),
        ({"max_retry_delay": "x"}, "max_retry_delay"),
        ({"heartbeat": "yes"}, "heartbeat"),
    ],
)
def test_bad_options_are_refused(options: Dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Worker(PyQueue(queue_type="memory"), lambda m: None, **options)


def test_a_handler_must_be_callable_and_the_timeout_positive() -> None:
    queue = PyQueue(queue_type="memory")
    with pytest.raises(ValidationError, match="callable"):
        Worker(queue, "handle")  # type: ignore[arg-type]
    queue.set_queue_attributes(visibility_timeout=0)
    with pytest.raises(ValidationError, match="above 0"):
        Worker(queue, lambda m: None).run()


# -- the command, in this process (the subprocess run is in test_worker_processes) --------------


@pytest.fixture
def handler_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module ``jobs_for_test`` with a handler ``handle`` that appends ids to ``done.txt``."""
    code = (
        "from pathlib import Path\n"
        "LOG = Path(__file__).with_name('done.txt')\n"
        "NOT_CALLABLE = 3\n"
        "def handle(message):\n"
        "    with LOG.open('a') as log:\n"
        "        log.write(message['Id'] + '\\n')\n"
    )
    (tmp_path / "jobs_for_test.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "jobs_for_test"


def test_the_command_runs_a_handler_until_the_queue_is_empty(
    tmp_path: Path, handler_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "q.db"
    with PyQueue(path, queue_type="sqlite", durable=False) as queue:
        queue.add_messages([{"n": n} for n in range(5)], [f"m{n}" for n in range(5)])
    argv = ["worker", f"{handler_module}:handle", "--burst", "--wait", "0.1"]
    argv += ["--queue-file", str(path), "--queue-type", "sqlite", "--concurrency", "2"]
    assert cli.main(argv) == 0
    done = (tmp_path / "done.txt").read_text(encoding="utf-8").split()
    assert sorted(done) == [f"m{n}" for n in range(5)]
    err = capsys.readouterr().err
    assert err.count(" done in ") == 5
    assert "worker stopped: received 5, succeeded 5" in err
    assert not logging.getLogger("pyqueue_client").handlers[1:]  # its handler is gone again


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("no_colon", "package.module:function"),
        ("no_such_module_here:handle", "cannot import"),
        ("jobs_for_test:missing", "has no"),
        ("jobs_for_test:NOT_CALLABLE", "not callable"),
    ],
)
def test_the_command_refuses_a_bad_handler(
    spec: str, error: str, handler_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["worker", spec, "--burst", "--queue-file", str(tmp_path / "q.json")]
    assert cli.main(argv) == cli.EXIT_ERROR
    assert error in capsys.readouterr().err


def test_retry_delays_double_and_stop_at_the_cap() -> None:
    worker = Worker(PyQueue(queue_type="memory"), lambda m: None, retry_delay=0.5)
    assert [worker._retry_in(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert worker._retry_in(1000) == 300.0
    assert Worker(PyQueue(queue_type="memory"), lambda m: None, retry_delay=0)._retry_in(9) == 0


def test_handlers_wake_one_another_until_all_run_at_once(sqlite_queue: PyQueue) -> None:
    # Ready messages wake one handler, which wakes the next: all four must still run together.
    sqlite_queue.add_messages([{"n": n} for n in range(4)])
    together = threading.Barrier(4, timeout=PATIENCE)
    worker = Worker(
        sqlite_queue,
        lambda message: together.wait(),
        concurrency=4,
        stop_when_empty=True,
        wait_time_seconds=0,
    )
    assert worker.run() == stats(received=4, succeeded=4)


def test_a_backlog_is_settled_in_whole_batches() -> None:
    queue = PyQueue(queue_type="memory")
    queue.add_messages([{"n": n} for n in range(12)])
    messages = queue.receive_messages(10) + queue.receive_messages(2)
    worker = Worker(queue, lambda m: None)
    outcomes: List[Any] = [(worker_module._Job(message, 0.0), None) for message in messages]
    worker._outcomes = list(outcomes)
    worker._backlog = True
    assert worker._outcomes_to_settle() == outcomes[:10]
    assert worker._outcomes_to_settle() == []  # two wait for more while the queue has a backlog
    worker._backlog = False
    assert worker._outcomes_to_settle() == outcomes[10:]
