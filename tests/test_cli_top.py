"""``pyqueue top``: the table of every queue of a store, refreshed; for real in a pseudo-terminal,
and in this process for its pieces (frames into a pipe, errors, Ctrl+C)."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pyqueue_client import PyQueue, RemoteError, cli
from pyqueue_client import _cli_top as top
from pyqueue_client._facade import store_queues

from ._cli_support import COMMAND_TIMEOUT, PYQUEUE, cli_env
from ._server_support import ADMIN_KEY, READER_KEY, config, running


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUE_FILE_PATH", raising=False)
    return tmp_path


def _table(out: str) -> Dict[str, List[str]]:
    """The rows of the last frame in ``out``, by queue name."""
    last = out.rsplit("QUEUE ", 1)[1]
    return {row.split()[0]: row.split()[1:] for row in last.splitlines()[1:] if row.strip()}


def test_store_queues_lists_every_queue_of_a_database(in_tmp: Path) -> None:
    with PyQueue("q.db", queue_type="sqlite", queue_name="b") as queue:
        queue.add_message({"n": 1})
        queue._sibling("a").add_message({"n": 2})
        queues = store_queues(queue)
        assert list(queues) == ["a", "b"]
        assert queues["b"] is queue
        assert queues["a"].get_queue_info()["message_count"] == 1


def test_store_queues_lists_what_a_servers_key_may_use(tmp_path: Path) -> None:
    with running(config(tmp_path)) as server:
        for key, expected in ((ADMIN_KEY, ["emails", "orders"]), (READER_KEY, ["orders"])):
            with PyQueue(
                queue_type="remote", server_url=server.url, api_key=key, queue_name="orders"
            ) as queue:
                if key == ADMIN_KEY:
                    queue.add_message({"n": 1})
                    queue._sibling("emails").add_message({"n": 2})
                queues = store_queues(queue)
                assert list(queues) == expected
                assert queues["orders"].get_queue_info()["message_count"] == 1


def test_top_prints_frames_into_a_pipe(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with PyQueue("jobs.json") as queue:
        queue.set_queue_attributes(max_receive_count=1, dead_letter_queue="dead.json")
        queue.add_messages([{"n": 1}, {"n": 2}, {"n": 3}], ["a", "b", "c"])
        queue.receive_messages(1, visibility_timeout=0)
        queue.receive_messages(1, visibility_timeout=60)  # "a" moves to dead.json, "b" in flight
        queue.add_message({"n": 4}, delay_seconds=60)
    assert cli.main(["top", "--queue", "jobs.json", "--count", "2", "--interval", "0.01"]) == 0
    out = capsys.readouterr().out
    frames = out.split("\n\n")
    assert len(frames) == 4  # title and table, twice
    assert re.match(
        r"pyqueue top: jobs.json, every 0.01 s  \d\d:\d\d:\d\d  2 queue\(s\)$", frames[0]
    )
    assert frames[1].splitlines()[0].split("  ")[0] == "QUEUE"
    #                       total visible in-flight delayed never-received receives
    assert _table(out) == {
        "dead.json": ["1", "1", "0", "0", "0", "1"],
        "jobs.json": ["3", "1", "1", "1", "2", "1"],
    }


def test_top_of_an_empty_store(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["top", "--queue", "sqlite:q.db", "--count", "1"]) == 0
    assert capsys.readouterr().out.endswith(" 0 queue(s)\n\n(no queues yet)\n")


def test_top_shows_a_later_failure_and_retries(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: List[int] = []
    real = store_queues

    def flaky(queue: PyQueue) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RemoteError("the server went away", "http://127.0.0.1:9")
        return real(queue)

    monkeypatch.setattr(top, "store_queues", flaky)
    assert cli.main(["top", "--queue", "q.json", "--count", "3", "--interval", "0.01"]) == 0
    frames = capsys.readouterr().out.split("\n\n")
    assert frames[3] == "error: the server went away"
    assert frames[5].startswith("QUEUE")  # the third refresh worked again


def test_top_fails_at_once_when_the_first_refresh_does(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["top", "--queue", "http://127.0.0.1:9/", "--timeout", "5"]
    assert cli.main(argv) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("pyqueue top: error: ")


def test_ctrl_c_ends_top_normally(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("pyqueue_client._cli_top.time.sleep", interrupted)
    assert cli.main(["top", "--queue", "q.json"]) == 0
    assert capsys.readouterr().out.count("QUEUE") == 1


def _read_until(master: int, seen: bytearray, done: Any, timeout: float) -> None:
    """Append what the terminal shows to ``seen`` until ``done(seen)`` (bounded wait)."""
    deadline = time.monotonic() + timeout
    while not done(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"gave up waiting; the terminal showed {bytes(seen)[-2000:]!r}"
        readable, _, _ = select.select([master], [], [], min(left, 0.5))
        if readable:
            try:
                seen += os.read(master, 65536)
            except OSError:  # the child closed the terminal
                return


def test_top_in_a_terminal_until_ctrl_c(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("Windows has no pseudo-terminals")
    import pty

    with PyQueue(tmp_path / "q.db", queue_type="sqlite", queue_name="jobs") as queue:
        queue.add_message({"n": 1})
        master, slave = pty.openpty()
        child = subprocess.Popen(
            [*PYQUEUE, "top", "--queue", "sqlite:q.db", "--interval", "0.2"],
            cwd=str(tmp_path),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=cli_env(COLUMNS="100"),
        )
        os.close(slave)
        seen = bytearray()
        try:
            _read_until(master, seen, lambda out: b"jobs " in out, COMMAND_TIMEOUT)
            queue.add_messages([{"n": 2}, {"n": 3}])
            queue._sibling("emails").add_message({"n": 4})
            # Later refreshes show the new counts and the new queue.
            _read_until(master, seen, lambda out: b"emails " in out, COMMAND_TIMEOUT)
            _read_until(master, seen, lambda out: out.count(b"\x1b[H\x1b[2J") >= 4, COMMAND_TIMEOUT)
            child.send_signal(signal.SIGINT)
            assert child.wait(COMMAND_TIMEOUT) == 0
            _read_until(master, seen, lambda out: out.endswith(b"\x1b[?25h"), COMMAND_TIMEOUT)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(COMMAND_TIMEOUT)
            os.close(master)
    shown = seen.decode()
    assert shown.startswith("\x1b[?25l")  # the cursor is hidden while the table refreshes
    assert ", every 0.2 s, Ctrl+C quits  " in shown
    last = shown.rsplit("\x1b[H\x1b[2J", 1)[1]
    assert _table(last.replace("\r", "").replace("\x1b[?25h", "")) == {
        "emails": ["1", "1", "0", "0", "1", "0"],
        "jobs": ["3", "3", "0", "0", "3", "0"],
    }
    assert "Traceback" not in shown
