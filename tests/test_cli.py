"""The command line and the demo: one real multi-process demo, and every piece in-process.

The real runs (``slow``) start worker processes; everything else calls ``cli.main`` or the demo's
functions directly with a fake clock, so no test sleeps for real beyond the demo's own short
visibility timeouts.
"""

from __future__ import annotations

import io
import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
import types
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from pyqueue_client import PyQueue, cli
from pyqueue_client import _demo as demo
from pyqueue_client._demo import (
    CRASH_EXIT_CODE,
    DemoConfig,
    Display,
    Receipt,
    Runtime,
    Tally,
    WorkerSpec,
)

from .conftest import PROJECT_ROOT, child_env

SUMMARY_LINE = re.compile(
    r"^  (sent|received|deleted|redelivered|lost|duplicates|left in queue) +(\d+)", re.MULTILINE
)

#: A small, quick demo for the in-process runs.
QUICK = DemoConfig(
    messages=12,
    producers=2,
    consumers=2,
    batch=4,
    crash_timeout=0.3,
    timeout=60.0,
    pace=0.0,
    work=0.0,
    poll=0.02,
    durable=False,
)


def _summary_numbers(output: str) -> Dict[str, int]:
    return {name: int(value) for name, value in SUMMARY_LINE.findall(output)}


class FakeTime:
    """Sleep, clock and exit for the worker roles: time moves only when a worker sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: List[float] = []
        self.exits: List[int] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now

    def die(self, code: int) -> None:
        self.exits.append(code)

    def runtime(self) -> Runtime:
        return Runtime(self.sleep, self.monotonic, self.die)


class TerminalIO(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def fake_time() -> FakeTime:
    """A fresh fake clock for worker roles."""
    return FakeTime()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path``, with temporary folders made there and no QUEUE_FILE_PATH set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUE_FILE_PATH", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _spec(folder: Path, role: str, **fields: Any) -> WorkerSpec:
    return WorkerSpec(
        role=role,
        name=role,
        queue_file=str(folder / "queue.json"),
        done_file=str(folder / "done"),
        deadline=1.0,
        durable=False,
        **fields,
    )


def _demo_folders(folder: Path) -> List[Path]:
    return sorted(folder.glob("pyqueue-demo-*"))


# -- the demo, for real -------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_runs_in_separate_processes(tmp_path: Path) -> None:
    env = child_env()
    for name in ("TMPDIR", "TEMP", "TMP"):  # the demo's temporary folder goes in tmp_path
        env[name] = str(tmp_path)
    command = [sys.executable, "-m", "pyqueue_client", "demo", "--messages", "60"]
    command += ["--producers", "2", "--consumers", "3", "--crash-timeout", "0.5"]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    numbers = _summary_numbers(done.stdout)
    assert numbers["sent"] == 60
    assert numbers["deleted"] == 60
    assert numbers["lost"] == 0
    assert numbers["duplicates"] == 0
    assert numbers["left in queue"] == 0
    assert numbers["redelivered"] >= 1
    assert numbers["received"] == 60 + numbers["redelivered"]
    assert "again with receive_count 2" in done.stdout
    assert "\r" not in done.stdout  # not a terminal: plain lines only
    assert list(tmp_path.iterdir()) == []  # the queue's folder was removed


@pytest.mark.slow
def test_run_demo_in_process(in_tmp: Path) -> None:
    out = io.StringIO()
    assert demo.run_demo(QUICK, out) == 0
    text = out.getvalue()
    assert "crasher received msg-" in text
    assert "crasher exited with code 3" in text
    assert "again with receive_count 2" in text
    assert _summary_numbers(text)["lost"] == 0
    assert text.rstrip().endswith("the crashed consumer's message came back.")
    assert _demo_folders(in_tmp) == []


def _fake_workers(scripts: Dict[str, str]) -> Callable[[WorkerSpec], List[str]]:
    """Worker commands that run ``scripts[role]`` instead of the real role, where given."""
    real = demo.worker_command

    def command(spec: WorkerSpec) -> List[str]:
        script = scripts.get(spec.role)
        return real(spec) if script is None else [sys.executable, "-c", script]

    return command


HANG = "import time; time.sleep(60)"
CLOSE_STDOUT_AND_HANG = "import os, time; os.close(1); time.sleep(60)"
FAKE_CRASH = 'print(\'{"received": [["msg-00000", 1]]}\', flush=True); raise SystemExit(3)'


@pytest.mark.slow
def test_demo_reports_misbehaving_workers(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = {"producer": "print('hello')", "crasher": CLOSE_STDOUT_AND_HANG}
    monkeypatch.setattr(demo, "worker_command", _fake_workers(scripts))
    monkeypatch.setattr(demo, "_EXIT_GRACE", 0.2)  # the crasher closes stdout but lingers
    assert demo.run_demo(QUICK) == 1
    text = capsys.readouterr().out
    assert "producer-1 printed 'hello'" in text
    assert "crasher exited with code" in text
    assert "the crashing consumer received no message" in text
    assert "FAILED:" in text
    assert _demo_folders(in_tmp) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scripts", "timeout"),
    [
        ({"crasher": HANG}, 1.0),
        # Long enough for the crasher to start and exit even on a busy machine.
        ({"crasher": FAKE_CRASH, "producer": HANG}, 3.0),
    ],
    ids=["crasher-hangs", "producers-hang"],
)
def test_demo_times_out_and_kills_its_workers(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, scripts: Dict[str, str], timeout: float
) -> None:
    monkeypatch.setattr(demo, "worker_command", _fake_workers(scripts))
    out = io.StringIO()
    assert demo.run_demo(QUICK._replace(timeout=timeout), out) == 1
    assert f"timed out after {timeout:g} s" in out.getvalue()
    assert _demo_folders(in_tmp) == []


def test_worker_command_and_env_import_this_package(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = WorkerSpec("consumer", "consumer-1", "q.json", "done", 5.0)
    command = demo.worker_command(spec)
    assert command[:3] == [sys.executable, "-m", "pyqueue_client._demo"]
    assert WorkerSpec.from_json(command[3]) == spec
    monkeypatch.setenv("PYTHONPATH", "elsewhere")
    paths = demo.worker_env()["PYTHONPATH"].split(os.pathsep)
    assert paths == [PROJECT_ROOT, "elsewhere"]


# -- the worker roles, in-process -------------------------------------------------------------


def test_producer_sends_its_range_in_paced_batches(tmp_path: Path, fake_time: FakeTime) -> None:
    events: List[Dict[str, Any]] = []
    spec = _spec(tmp_path, "producer", first=3, stop=8, batch=2, pace=0.25)
    assert demo.produce(spec, events.append, fake_time.runtime()) == 0
    sent = ["msg-00003", "msg-00004"], ["msg-00005", "msg-00006"], ["msg-00007"]
    assert events == [{"sent": ids} for ids in sent]
    assert fake_time.sleeps == [0.25, 0.25]  # between batches, not before the first
    with PyQueue(spec.queue_file) as queue:
        stored = queue.get_message("msg-00005")
    assert stored is not None
    assert stored["message_body"] == {"task": "resize-image", "n": 5, "producer": "producer"}


def test_crash_then_consume_redelivers_the_crashed_message(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    events: List[Dict[str, Any]] = []
    runtime = fake_time.runtime()
    demo.produce(_spec(tmp_path, "producer", first=0, stop=3, batch=10), events.append, runtime)
    crash = _spec(tmp_path, "crasher", visibility_timeout=0)  # its message is back at once
    assert demo.crash_consumer(crash, events.append, runtime) == CRASH_EXIT_CODE
    assert fake_time.exits == [CRASH_EXIT_CODE]
    (tmp_path / "done").touch()
    consumer = _spec(tmp_path, "consumer", batch=10)
    assert demo.consume(consumer, events.append, runtime) == 0
    assert events[1:] == [
        {"received": [["msg-00000", 1]]},
        {"received": [["msg-00000", 2], ["msg-00001", 1], ["msg-00002", 1]]},
        {"deleted": ["msg-00000", "msg-00001", "msg-00002"]},
    ]
    tally = Tally()
    for event in events:
        tally.record("crasher" if event == events[1] else "consumer", event == events[1], event)
    summary = demo.summarize(tally, remaining=0)
    assert summary.ok, summary.problems
    assert (summary.sent, summary.received, summary.deleted) == (3, 4, 3)
    assert (summary.redelivered, summary.lost, summary.duplicates) == (1, 0, 0)


def test_crasher_gives_up_when_nothing_arrives(tmp_path: Path, fake_time: FakeTime) -> None:
    events: List[Dict[str, Any]] = []
    spec = _spec(tmp_path, "crasher", poll=0.25)
    assert demo.crash_consumer(spec, events.append, fake_time.runtime()) == 1
    assert events == [{"error": "crasher received nothing within 1 s"}]
    assert fake_time.sleeps == [0.25] * 4
    assert fake_time.exits == []


def test_consumer_waits_for_the_producers_then_gives_up(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    events: List[Dict[str, Any]] = []
    spec = _spec(tmp_path, "consumer", poll=0.5)  # no done file: producers are still "running"
    assert demo.consume(spec, events.append, fake_time.runtime()) == 1
    assert events == [{"error": "consumer gave up after 1 s with the queue not empty"}]
    assert fake_time.sleeps == [0.5, 0.5]


def test_consumer_reports_only_the_deletes_that_succeeded(
    tmp_path: Path, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PyQueue(tmp_path / "queue.json", durable=False) as queue:
        queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"])
    (tmp_path / "done").touch()

    def lose_first_handle(self: PyQueue, handles: List[str]) -> Any:
        return real_delete(self, handles[1:])

    real_delete = PyQueue.delete_messages
    monkeypatch.setattr(PyQueue, "delete_messages", lose_first_handle)
    events: List[Dict[str, Any]] = []
    spec = _spec(tmp_path, "consumer", visibility_timeout=0, work=0.125)
    # "a" stays (its delete "failed"), visible at once: the consumer gets it again and again
    assert demo.consume(spec, events.append, fake_time.runtime()) == 1
    assert events[:2] == [{"received": [["a", 1], ["b", 1]]}, {"deleted": ["b"]}]
    assert fake_time.sleeps[:2] == [0.125, 0.125]  # the simulated work, once per message


def test_child_main_runs_the_role_and_writes_json_lines(
    tmp_path: Path,
    fake_time: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = _spec(tmp_path, "producer", first=0, stop=2)  # one batch: no real sleep
    assert demo.child_main([spec.to_json()]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        {"sent": ["msg-00000", "msg-00001"]}
    ]
    monkeypatch.setattr(sys, "argv", ["_demo.py", _spec(tmp_path, "crasher").to_json()])
    out = io.StringIO()
    assert demo.child_main(None, out, fake_time.runtime()) == CRASH_EXIT_CODE
    assert fake_time.exits == [CRASH_EXIT_CODE]
    assert json.loads(out.getvalue()) == {"received": [["msg-00000", 1]]}


def test_child_main_exits_quietly_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(spec: WorkerSpec, emit: Any, runtime: Runtime) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(demo._ROLES, "producer", interrupted)
    spec = _spec(tmp_path, "producer")
    assert demo.child_main([spec.to_json()]) == demo.INTERRUPTED_EXIT_CODE
    assert capsys.readouterr() == ("", "")


# -- tally, summary and display ------------------------------------------------------------------


def test_tally_records_events_and_errors() -> None:
    tally = Tally()
    receipts = tally.record("consumer-1", False, {"received": [["a", 2]], "deleted": ["a"]})
    tally.record("producer-1", False, {"sent": ["a"], "error": "boom"})
    assert receipts == [Receipt("consumer-1", "a", 2, False)]
    assert (tally.sent, tally.deleted, tally.problems) == (["a"], ["a"], ["boom"])
    assert tally.progress(5) == "sent 1/5  received 1  deleted 1/5  redelivered 1"


def test_summary_counts_every_kind_of_failure() -> None:
    tally = Tally()
    tally.sent += ["a", "b", "c"]
    tally.receipts += [
        Receipt("crasher", "a", 1, True),
        Receipt("consumer-1", "b", 1, False),
        Receipt("consumer-2", "b", 2, False),  # b twice, with no crash to excuse it
        Receipt("consumer-1", "x", 1, False),  # never sent
    ]
    tally.deleted += ["b", "b"]
    summary = demo.summarize(tally, remaining=1)
    assert not summary.ok
    assert (summary.lost, summary.duplicates, summary.redelivered) == (2, 1, 1)
    assert summary.problems == (
        "2 message(s) sent but never deleted",
        "1 unexpected duplicate delivery(ies)",
        "1 message(s) left in the queue",
        "ids received or deleted that were never sent",
        "some ids were deleted more than once",
    )
    text = demo.format_summary(summary)
    assert "FAILED:\n  - 2 message(s) sent but never deleted\n" in text
    assert "\n  lost               2  (ids sent but never deleted)\n" in text


def test_summary_requires_a_crash_and_its_redelivery() -> None:
    tally = Tally()
    tally.sent.append("a")
    tally.deleted.append("a")
    tally.receipts.append(Receipt("consumer-1", "a", 1, False))
    assert demo.summarize(tally, 0).problems == ("the crashing consumer received no message",)
    tally.receipts.insert(0, Receipt("crasher", "a", 1, True))  # but nobody received it again
    assert demo.summarize(tally, 0).problems == (
        "the crashed consumer's message was not redelivered",
    )


class StepClock:
    """A monotonic clock the test sets by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_display_redraws_one_line_on_a_terminal() -> None:
    out, clock = TerminalIO(), StepClock()
    display = Display(out, clock)
    display.progress("sent 1")
    clock.now += 0.01
    display.progress("sent 2")  # too soon: skipped
    display.progress("sent 2", force=True)
    display.progress("sent 2", force=True)  # unchanged: skipped
    clock.now += 1.0
    display.event("crash")
    display.finish()
    display.finish()  # nothing left to end
    wipe = "\r" + " " * len("[ 0.00s] sent 1") + "\r"
    assert out.getvalue() == (
        f"[ 0.00s] sent 1{wipe}[ 0.01s] sent 2{wipe}[ 1.01s] crash\n[ 0.01s] sent 2\n"
    )


def test_display_prints_plain_lines_elsewhere() -> None:
    out, clock = io.StringIO(), StepClock()
    display = Display(out, clock)
    display.line("header")
    display.progress("sent 1")
    clock.now += 0.1
    display.progress("sent 2")  # too soon for a log
    clock.now += 0.5
    display.progress("sent 3")
    display.finish()
    assert out.getvalue() == "header\n[ 0.00s] sent 1\n[ 0.60s] sent 3\n"


# -- the queue subcommands ----------------------------------------------------------------------


def _json_out(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_send_receive_peek_info_clear(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["send", '{"task": "email"}', "--id", "m1"]) == 0
    assert capsys.readouterr().out == "m1\n"
    assert cli.main(["send", '{"id": "m2", "n": 2}']) == 0
    assert capsys.readouterr().out == "m2\n"
    assert cli.main(["peek", "--max", "1"]) == 0
    assert [m["id"] for m in _json_out(capsys)] == ["m1"]
    assert cli.main(["receive", "--visibility-timeout", "60"]) == 0
    (received,) = _json_out(capsys)
    assert received["Id"] == "m1"
    assert received["receive_count"] == 1
    assert received["ReceiptHandle"].startswith("receipt_")
    assert cli.main(["info"]) == 0
    info = _json_out(capsys)
    assert info["queue_file"] == "queue.json"
    assert (info["message_count"], info["invisible_messages"]) == (2, 1)
    assert cli.main(["receive", "--max", "5", "--delete"]) == 0
    assert [m["Id"] for m in _json_out(capsys)] == ["m2"]
    assert cli.main(["peek"]) == 0
    assert [m["id"] for m in _json_out(capsys)] == ["m1"]
    assert cli.main(["clear"]) == 0
    assert capsys.readouterr().out == "cleared queue.json\n"
    with PyQueue(in_tmp / "queue.json") as queue:
        assert queue.get_messages() == []


def test_sqlite_queues_and_copy_from_json(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["send", '{"n": 1}', "--id", "a"]) == 0
    assert cli.main(["send", '{"n": 2}', "--id", "b"]) == 0
    assert cli.main(["receive", "--visibility-timeout", "600"]) == 0
    capsys.readouterr()
    assert cli.main(["copy", "--to-file", "queue.db", "--to-name", "jobs"]) == 0
    assert capsys.readouterr().out == "copied 2 message(s) from queue.json to queue.db\n"
    sqlite_options = ["--queue-type", "sqlite", "--queue-file", "queue.db", "--queue-name", "jobs"]
    assert cli.main(["peek", *sqlite_options]) == 0
    copied = _json_out(capsys)
    assert [(m["id"], m["receive_count"]) for m in copied] == [("a", 1), ("b", 0)]
    assert cli.main(["receive", *sqlite_options, "--max", "5"]) == 0
    assert [m["Id"] for m in _json_out(capsys)] == ["b"]  # "a" is still in flight
    assert cli.main(["info", "--queue-type", "sqlite"]) == 0  # default file: queue.db
    info = _json_out(capsys)
    assert (info["queue_type"], info["queue_name"], info["message_count"]) == (
        "sqlite",
        "default",
        0,
    )


def test_queue_file_comes_from_the_option_or_the_environment(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_FILE_PATH", str(in_tmp / "from-env.json"))
    assert cli.main(["send", "{}", "--id", "a"]) == 0
    assert cli.main(["send", "{}", "--id", "b", "--queue-file", "chosen.json"]) == 0
    capsys.readouterr()
    assert cli.main(["peek", "--queue-file", "chosen.json"]) == 0
    assert [m["id"] for m in _json_out(capsys)] == ["b"]
    assert cli.main(["info"]) == 0
    assert _json_out(capsys)["message_count"] == 1
    assert not (in_tmp / "queue.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["send", "[1]"], "message must be a dict"),
        (["receive", "--max", "0"], "max_messages must be between 1 and 100"),
        (["receive", "--visibility-timeout", "nan"], "visibility_timeout must be a number"),
        (["peek", "--max", "-1"], "max_messages must be at least 0"),
        (["info", "--queue-file", "missing/q.json"], "does not exist"),
    ],
)
def test_library_errors_print_one_line_and_exit_2(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: List[str], message: str
) -> None:
    assert cli.main(argv) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("pyqueue: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1


def test_corrupted_queue_file_is_reported_and_left_alone(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "queue.json").write_text("not json")
    assert cli.main(["clear"]) == cli.EXIT_ERROR
    assert "is corrupted" in capsys.readouterr().err
    assert (in_tmp / "queue.json").read_text() == "not json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["send", "{nope"], "not valid JSON"),
        (["receive", "--max", "two"], "invalid int value"),
        (["demo", "--messages", "0"], "must be between 1 and 1000000, not 0"),
        (["demo", "--consumers", "many"], "not a whole number: 'many'"),
        (["demo", "--crash-timeout", "-1"], "must be a positive number of seconds"),
        (["demo", "--timeout", "inf"], "must be a positive number of seconds"),
        (["demo", "--timeout", "soon"], "not a number of seconds: 'soon'"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: List[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("pyqueue 2.")


def test_demo_subcommand_passes_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: List[DemoConfig] = []

    def fake_run_demo(config: DemoConfig, out: Optional[Any] = None) -> int:
        seen.append(config)
        return 1

    monkeypatch.setattr(cli, "run_demo", fake_run_demo)
    argv = ["demo", "--messages", "7", "--producers", "1", "--consumers", "4"]
    assert cli.main([*argv, "--batch", "3", "--crash-timeout", "0.5", "--timeout", "9"]) == 1
    assert seen == [
        DemoConfig(messages=7, producers=1, consumers=4, batch=3, crash_timeout=0.5, timeout=9)
    ]
    assert cli.main(["demo"]) == 1
    assert seen[1] == DemoConfig()


def test_interrupt_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(config: DemoConfig, out: Optional[Any] = None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_demo", interrupted)
    assert cli.main(["demo"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "pyqueue: interrupted\n"


@pytest.mark.parametrize(
    ("main_module", "prog"),
    [
        (None, "pyqueue"),
        ("pytest.__main__", "pyqueue"),
        ("pyqueue_client.__main__", "python -m pyqueue_client"),
    ],
)
def test_program_name(
    monkeypatch: pytest.MonkeyPatch, main_module: Optional[str], prog: str
) -> None:
    main = types.ModuleType("__main__")
    main.__spec__ = None if main_module is None else ModuleSpec(main_module, None)
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert cli.build_parser().prog == prog


def test_python_dash_m_runs_the_cli(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["__main__.py", "info", "--queue-file", "q.json"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("pyqueue_client", run_name="__main__")
    assert exited.value.code == 0
    assert _json_out(capsys)["queue_file"] == "q.json"
