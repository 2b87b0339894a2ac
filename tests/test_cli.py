"""The command line and the demo: the demo for real, its roles in-process, and every subcommand.

The real runs (``slow``) start worker processes and print through the inherited stdout, so they
read it with ``capfd``; everything else calls ``cli.main`` or the demo's functions directly.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
import tempfile
import time
import types
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from pyqueue_client import PyQueue, cli
from pyqueue_client import _demo as demo
from pyqueue_client._demo import DemoConfig, Job

SUMMARY_LINE = re.compile(
    r"^  (sent|received|deleted|redelivered|lost|duplicates|left in queue) +(\d+)", re.MULTILINE
)

#: The demo's options for a quick real run.
QUICK = ["--messages", "30", "--producers", "2", "--consumers", "2", "--crash-timeout", "0.3"]


def _summary_numbers(output: str) -> Dict[str, int]:
    return {name: int(value) for name, value in SUMMARY_LINE.findall(output)}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path``, with temporary folders made there and no QUEUE_FILE_PATH set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUE_FILE_PATH", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _job(folder: Path, role: str, **fields: Any) -> Job:
    """A job for ``folder``, started now, with a small batch and a quick crash timeout."""
    config = DemoConfig(batch=2, crash_timeout=0, timeout=fields.pop("timeout", 5.0))
    return Job(role, role, str(folder), time.time(), config, **fields)


# -- the demo, for real -------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_tells_the_story_and_leaves_nothing_behind(
    in_tmp: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", *QUICK]) == 0
    out = capfd.readouterr().out
    assert out.startswith("pyqueue demo: 30 messages, 2 producers, 2 consumers and a crasher,")
    assert "\nqueue: " + str(in_tmp / "pyqueue-demo-") in out
    crash = re.search(r"crasher received (msg-\d+) \(receive_count 1, receipt handle receipt_", out)
    assert crash is not None, out
    assert "get_queue_info(): message_count " in out
    assert "invisible_messages 1 (the crasher's" in out
    assert f"received {crash.group(1)} again (receive_count 2, a new receipt handle)" in out
    assert out.count(" done: 15 sent") == 2
    numbers = _summary_numbers(out)
    assert numbers == {
        "sent": 30,
        "received": 31,
        "deleted": 30,
        "redelivered": 1,
        "lost": 0,
        "duplicates": 0,
        "left in queue": 0,
    }
    assert out.rstrip().endswith("came back (at-least-once delivery).")
    assert list(in_tmp.iterdir()) == []  # the queue's folder and everything in it are gone


def _fake_workers(scripts: Dict[str, str]) -> Callable[[Job], List[str]]:
    """Worker commands that run ``scripts[role]`` instead of the real role, where given."""
    real = demo.worker_command

    def command(job: Job) -> List[str]:
        script = scripts.get(job.role)
        return real(job) if script is None else [sys.executable, "-c", script]

    return command


@pytest.mark.slow
def test_demo_reports_workers_that_fail(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "worker_command", _fake_workers({"consumer": "raise SystemExit(4)"}))
    assert demo.run_demo(DemoConfig(messages=10, crash_timeout=0.1)) == 1
    out = capfd.readouterr().out
    assert "FAILED:\n  - consumer-1 exited with code 4\n  - consumer-2 exited with code 4\n" in out
    assert "  - lost: 10, not 0\n  - left in queue: 10, not 0\n" in out
    assert "the crasher received no message, or it was not redelivered" in out
    assert list(in_tmp.iterdir()) == []


@pytest.mark.slow
def test_demo_times_out_and_kills_its_workers(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    hang = "import time; time.sleep(60)"
    monkeypatch.setattr(demo, "worker_command", _fake_workers({"crasher": hang}))
    started = time.monotonic()
    assert demo.run_demo(DemoConfig(messages=10, timeout=1.0)) == 1
    assert time.monotonic() - started < 30  # not the hanging worker's 60 s
    out = capfd.readouterr().out
    # On a loaded machine the real producers may still be starting when the second runs out, so
    # they can be listed as killed too: only the order of the first line is fixed.
    assert "FAILED:\n  - timed out after 1 s\n" in out
    assert "\n  - crasher exited with code " in out
    assert "consumers started" not in out  # the story stopped where the crasher hung
    assert list(in_tmp.iterdir()) == []


def test_worker_command_runs_this_module_with_the_job() -> None:
    job = Job("consumer", "consumer-1", "folder", 12.5, DemoConfig(messages=7), 0, 0)
    command = demo.worker_command(job)
    assert command[:3] == [sys.executable, "-m", "pyqueue_client._demo"]
    assert Job.from_json(command[3]) == job


# -- the worker roles, in-process -------------------------------------------------------------


def test_producer_sends_its_range_in_batches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with PyQueue(tmp_path / "queue.json") as queue:
        report = demo.produce(_job(tmp_path, "producer", first=3, stop=8), queue)
        stored = queue.get_messages()
    assert report == {"sent": ["msg-00003", "msg-00004", "msg-00005", "msg-00006", "msg-00007"]}
    assert [message["id"] for message in stored] == report["sent"]
    assert stored[2]["message_body"] == {"task": "resize", "image": "msg-00005.png"}
    assert capsys.readouterr().out.endswith("] producer done: 5 sent\n")


def test_crash_then_consume_redelivers_the_crashed_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with PyQueue(tmp_path / "queue.json") as queue:
        sent = demo.produce(_job(tmp_path, "producer", first=0, stop=3), queue)
        # crash_timeout 0: the crashed message is visible again at once.
        crashed = demo.crash(_job(tmp_path, "crasher"), queue)
        assert queue.get_queue_info()["message_count"] == 3  # received, never deleted
        (tmp_path / "producers-done").touch()
        consumed = demo.consume(_job(tmp_path, "consumer"), queue)
        assert queue.get_queue_info()["message_count"] == 0
    assert crashed == {"crashed": [["msg-00000", 1]]}
    assert consumed == {
        "received": [["msg-00000", 2], ["msg-00001", 1], ["msg-00002", 1]],
        "deleted": ["msg-00000", "msg-00001", "msg-00002"],
    }
    out = capsys.readouterr().out
    assert "crasher received msg-00000 (receive_count 1, receipt handle receipt_" in out
    assert "consumer received msg-00000 again (receive_count 2, a new receipt handle):\n" in out
    assert out.endswith("] consumer done: 3 deleted\n")
    table, problems = demo.summarize({**sent, **crashed, **consumed}, remaining=0)
    assert problems == []
    assert _summary_numbers(table) == {
        "sent": 3,
        "received": 4,
        "deleted": 3,
        "redelivered": 1,
        "lost": 0,
        "duplicates": 0,
        "left in queue": 0,
    }


def test_workers_wait_for_messages_until_time_is_up(tmp_path: Path) -> None:
    with PyQueue(tmp_path / "queue.json") as queue:
        crasher = _job(tmp_path, "crasher", timeout=0.2)
        assert demo.crash(crasher, queue) == {}  # nothing ever arrived
        consumer = _job(tmp_path, "consumer", timeout=0.2)  # no done file: producers "running"
        assert demo.consume(consumer, queue) == {"received": [], "deleted": []}
    assert not crasher.running()
    assert not consumer.running()


def test_consumer_reports_only_the_deletes_that_succeeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_delete = PyQueue.delete_messages

    def lose_first_handle(self: PyQueue, handles: List[str]) -> Any:
        return real_delete(self, handles[1:])

    monkeypatch.setattr(PyQueue, "delete_messages", lose_first_handle)
    (tmp_path / "producers-done").touch()
    with PyQueue(tmp_path / "queue.json") as queue:
        queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"])
        # "a" stays in flight for 30 s, so the consumer stops only when its time is up.
        report = demo.consume(_job(tmp_path, "consumer", timeout=0.5), queue)
    assert report == {"received": [["a", 1], ["b", 1]], "deleted": ["b"]}


def test_work_runs_a_role_and_writes_its_report(tmp_path: Path) -> None:
    job = _job(tmp_path, "producer", first=0, stop=2)
    assert demo.work([json.dumps(job)]) == 0
    report = json.loads((tmp_path / "producer.json").read_text())
    assert report == {"sent": ["msg-00000", "msg-00001"]}


def test_work_exits_quietly_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(job: Job, queue: PyQueue) -> Dict[str, List[Any]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "produce", interrupted)
    assert demo.work([json.dumps(_job(tmp_path, "producer"))]) == 130
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "producer.json").exists()


def test_summary_names_every_kind_of_failure() -> None:
    report: demo.Report = {
        "sent": ["a", "b", "c"],
        "received": [["b", 1], ["b", 2], ["x", 1]],  # b twice, with no crash to excuse it
        "crashed": [],
        "deleted": ["b"],
    }
    table, problems = demo.summarize(report, remaining=1)
    assert problems == [
        "lost: 2, not 0",
        "duplicates: 1, not 0",
        "left in queue: 1, not 0",
        "the crasher received no message, or it was not redelivered",
    ]
    assert "\n  lost               2  (sent but never deleted)\n" in table


def test_summary_wants_the_crashed_message_redelivered() -> None:
    report: demo.Report = {
        "sent": ["a", "b"],
        "received": [["b", 1]],
        "crashed": [["a", 1]],
        "deleted": ["b"],
    }
    assert demo.summarize(report, remaining=1)[1] == [
        "lost: 1, not 0",
        "left in queue: 1, not 0",
        "the crasher received no message, or it was not redelivered",
    ]


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
    assert cli.main(["receive", "--max", "1", "--visibility-timeout", "60"]) == 0
    (received,) = _json_out(capsys)
    assert received["Id"] == "m1"
    assert received["receive_count"] == 1
    assert received["ReceiptHandle"].startswith("receipt_")
    assert cli.main(["info", "--json"]) == 0
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
    assert cli.main(["receive", "--max", "1", "--visibility-timeout", "600"]) == 0
    capsys.readouterr()
    assert cli.main(["copy", "--to-file", "queue.db", "--to-name", "jobs"]) == 0
    assert capsys.readouterr().out == "copied 2 message(s) from queue.json to queue.db\n"
    sqlite_options = ["--queue-type", "sqlite", "--queue-file", "queue.db", "--queue-name", "jobs"]
    assert cli.main(["peek", *sqlite_options]) == 0
    copied = _json_out(capsys)
    assert [(m["id"], m["receive_count"]) for m in copied] == [("a", 1), ("b", 0)]
    assert cli.main(["receive", *sqlite_options, "--max", "5"]) == 0
    assert [m["Id"] for m in _json_out(capsys)] == ["b"]  # "a" is still in flight
    assert cli.main(["info", "--json", "--queue-type", "sqlite"]) == 0  # default file: queue.db
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
    assert cli.main(["info", "--json"]) == 0
    assert _json_out(capsys)["message_count"] == 1
    assert not (in_tmp / "queue.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["send", "[1]"], "message must be a dict"),
        (["info", "--queue-file", "missing/q.json"], "does not exist"),
    ],
)
def test_library_errors_print_one_line_and_exit_1(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: List[str], message: str
) -> None:
    assert cli.main(argv) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"pyqueue {argv[0]}: error: ")
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
        (["send", "{}", "--id", ""], "argument --id: must be a non-empty string, not ''"),
        (["info", "--queue-name", ""], "argument --queue-name: must be a non-empty string"),
        (["copy", "--to-file", "x.db", "--to-name", ""], "argument --to-name: must be a non-empty"),
        (["receive", "--max", "two"], "argument --max: not a whole number: 'two'"),
        (["receive", "--max", "0"], "argument --max: must be between 1 and 100, not 0"),
        (["receive", "--visibility-timeout", "nan"], "must be a number of seconds, not nan"),
        (["peek", "--max", "-1"], "argument --max: must be at least 0, not -1"),
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
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1  # one line, no usage block


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("pyqueue 2.")


def test_demo_subcommand_passes_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: List[DemoConfig] = []

    def fake_run_demo(config: DemoConfig) -> int:
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
    def interrupted(config: DemoConfig) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_demo", interrupted)
    assert cli.main(["demo"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "pyqueue demo: interrupted\n"


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
    monkeypatch.setattr(sys, "argv", ["__main__.py", "info", "--json", "--queue-file", "q.json"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("pyqueue_client", run_name="__main__")
    assert exited.value.code == 0
    assert _json_out(capsys)["queue_file"] == "q.json"
