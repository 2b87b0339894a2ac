"""The queue subcommands in this process: what each prints, its exit code, its errors, and the
promises of the command line as a whole (every default in ``--help``, the Python API's defaults,
one-line errors, a quiet end on a closed pipe). ``test_cli_end_to_end.py`` runs them for real."""

from __future__ import annotations

import inspect
import io
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from pyqueue_client import PyQueue, cli
from pyqueue_client import _cli_commands as commands
from pyqueue_client import _cli_output as output
from pyqueue_client._types import DEFAULT_ATTRIBUTES

from .conftest import DEFAULTS


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class _TerminalStdin(_Terminal):
    """A terminal's stdin: ``answer`` for a question, ``data`` for JSON lines or handles."""

    def __init__(self, answer: str = "", data: bytes = b"") -> None:
        super().__init__(answer)
        self.data = io.BytesIO(data)

    @property
    def buffer(self) -> io.BytesIO:
        """The bytes a command reads."""
        return self.data


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path`` with no QUEUE_FILE_PATH, and an empty stdin that is no terminal."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUE_FILE_PATH", raising=False)
    monkeypatch.delenv("PYQUEUE_API_KEY", raising=False)
    _stdin(monkeypatch, b"")
    return tmp_path


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.fixture
def queue(in_tmp: Path) -> Iterator[PyQueue]:
    """The SQLite queue ``Q`` names, opened by the library."""
    with PyQueue(in_tmp / "q.db", queue_type="sqlite", queue_name="jobs") as opened:
        yield opened


Q = ["--queue", "sqlite:q.db#jobs"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _lines(*bodies: Any) -> bytes:
    return b"".join(json.dumps(body).encode() + b"\n" for body in bodies)


# -- send ---------------------------------------------------------------------------------------


def test_send_adds_every_json_line_in_batches(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    batches: List[int] = []
    real = PyQueue.add_messages

    def counted(self: PyQueue, messages: Any, *args: Any, **kwargs: Any) -> List[str]:
        batches.append(len(messages))
        return real(self, messages, *args, **kwargs)

    monkeypatch.setattr(PyQueue, "add_messages", counted)
    data = _lines({"id": "a"}, {"id": 7}, {"n": 3}) + b"\n  \r\n" + b'{"id": "d"}'  # no last \n
    _stdin(monkeypatch, data)
    assert _run(capsys, "send", *Q, "--batch", "2") == (
        0,
        "sent 4 message(s) to sqlite:q.db#jobs\n",
        "",
    )
    assert batches == [2, 1, 1]  # each flush sends what had arrived: lines 1-3, then the last
    assert [m["id"] for m in queue.get_messages()][:2] == ["a", "7"]
    assert queue.get_messages()[3]["id"] == "d"


def test_send_delay_hides_the_messages(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, _lines({"n": 1}))
    assert _run(capsys, "send", *Q, "--delay", "60")[0] == 0
    assert _run(capsys, "send", *Q, '{"n": 2}', "--id", "now", "--delay", "0")[1] == "now\n"
    info = queue.get_queue_info()
    assert (info["delayed_messages"], info["visible_messages"]) == (1, 1)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b'{"n": 1}\n{"n": 2}\n{nope}\n{"n": 4}\n', "stdin line 3: not valid JSON ("),
        (b'{"n": 1}\n{"n": 2}\n\n[4]\n', "stdin line 4: a message must be a JSON object, not list"),
        (
            b'{"n": 1}\n{"n": 2}\n{"n": NaN}\n{"n": 4}\n',
            "stdin line 3: message must be JSON-serial",
        ),
        (b'{"n": 1}\n\n{"n": 2}\n{"id": [5]}\n', 'stdin line 4: message["id"] must be a non-empty'),
    ],
)
def test_send_stops_at_a_bad_line_after_sending_the_lines_before_it(
    queue: PyQueue,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    error: str,
) -> None:
    _stdin(monkeypatch, data)
    code, out, err = _run(capsys, "send", *Q)
    assert (code, out) == (cli.EXIT_ERROR, "")
    assert err.startswith("pyqueue send: error: " + error)
    assert err.endswith("; the 2 message(s) before it were sent\n")
    assert queue.get_queue_info()["message_count"] == 2


def test_send_id_goes_with_a_json_argument(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "send", "--id", "x")
    assert code == cli.EXIT_USAGE
    assert err.startswith(
        "pyqueue send: error: --id goes with a JSON argument; a JSON line carries"
    )
    assert list(in_tmp.iterdir()) == []


def test_send_shows_progress_on_a_terminal(
    queue: PyQueue,
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(output, "_REDRAW", 0.0)
    lines = in_tmp / "lines.jsonl"
    lines.write_bytes(_lines(*({"n": n} for n in range(30))))
    with lines.open("rb") as raw:  # a regular file: its size gives a bar
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(raw))
        monkeypatch.setattr(output, "_CHUNK", 64)  # several reads, several redraws
        assert _run(capsys, "send", *Q)[:2] == (0, "sent 30 message(s) to sqlite:q.db#jobs\n")
    drawn = terminal.getvalue()
    assert "] 100%  sent 30 (" in drawn
    assert drawn.count("\r") >= 3
    assert drawn.endswith("\r")  # the line is erased before the count is printed


def test_send_counts_on_a_terminal_when_the_size_is_unknown(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    _stdin(monkeypatch, _lines({"n": 1}, {"n": 2}))  # no file number: no size, no bar
    assert _run(capsys, "send", *Q, "--batch", "1")[:2] == (
        0,
        "sent 2 message(s) to sqlite:q.db#jobs\n",
    )
    assert terminal.getvalue().startswith("\rsent 2 (")


def test_send_from_a_terminal_says_how_to_end(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", _TerminalStdin(data=_lines({"n": 1})))
    code, out, err = _run(capsys, "send", *Q)
    assert (code, out) == (0, "sent 1 message(s) to sqlite:q.db#jobs\n")
    assert err == "reading JSON lines (one message each) from stdin; Ctrl+D ends\n"


def test_send_interrupted_reports_what_was_sent(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(stream: Any) -> Iterator[output.LineBatch]:
        yield output.LineBatch([b'{"n": 1}', b'{"n": 2}'], 18)
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "read_lines", interrupted)
    assert _run(capsys, "send", *Q) == (130, "", "interrupted: 2 message(s) sent\n")
    assert queue.get_queue_info()["message_count"] == 2


def test_read_lines_raises_what_the_reader_met() -> None:
    class Broken(io.BytesIO):
        def read1(self, size: Optional[int] = -1) -> bytes:
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(output.read_lines(Broken()))


def test_read_chunks_waits_for_a_slow_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import threading

    read_end, write_end = os.pipe()

    def write_later() -> None:
        os.write(write_end, b'{"n": 1}\n')
        os.close(write_end)

    timer = threading.Timer(0.2, write_later)
    timer.start()
    with os.fdopen(read_end, "rb") as stream:
        batches = list(output.read_chunks(stream, poll=0.01))  # polls until the line comes
    timer.join()
    assert batches == [[b'{"n": 1}\n']]


# -- receive, delete, visibility --------------------------------------------------------------


def test_receive_json_lines_then_delete_from_stdin(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queue.add_messages([{"n": n} for n in range(3)], ["a", "b", "c"])
    code, out, _ = _run(capsys, "receive", *Q, "--max", "2", "--json")
    assert code == 0
    received = [json.loads(line) for line in out.splitlines()]
    assert [m["Id"] for m in received] == ["a", "b"]
    assert received[0]["message_body"] == {"n": 0}
    _stdin(monkeypatch, out.encode())
    assert _run(capsys, "delete", *Q) == (0, "deleted 2 message(s)\n", "")
    assert [m["id"] for m in queue.get_messages()] == ["c"]


def test_delete_takes_handles_as_arguments_or_bare_lines(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queue.add_messages([{"n": n} for n in range(3)], ["a", "b", "c"])
    first, second, third = (m["ReceiptHandle"] for m in queue.receive_messages(3))
    assert _run(capsys, "delete", *Q, first)[:2] == (0, "deleted 1 message(s)\n")
    _stdin(monkeypatch, f"{second}\n\n{third}\r\n".encode())
    assert _run(capsys, "delete", *Q)[:2] == (0, "deleted 2 message(s)\n")
    _stdin(monkeypatch, b"\n \n")
    assert _run(capsys, "delete", *Q)[:2] == (0, "deleted 0 message(s)\n")
    assert queue.get_messages() == []


def test_delete_reports_stale_handles(queue: PyQueue, capsys: pytest.CaptureFixture[str]) -> None:
    queue.add_message({"n": 1}, "a")
    (handle,) = (m["ReceiptHandle"] for m in queue.receive_messages(1, 0))
    queue.receive_messages(1)  # a new handle: the first is stale
    code, out, err = _run(capsys, "delete", *Q, handle, "nonsense")
    assert (code, out) == (cli.EXIT_ERROR, "deleted 0 message(s)\n")
    assert err == (
        "pyqueue delete: error: 2 receipt handle(s) deleted nothing (2 not_found): a handle is "
        "stale once its message is received again or deleted\n"
    )


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"{broken", "stdin line 2: not valid JSON ("),
        (b"[1]", None),  # not an object: a handle like any other line (and not found)
        (b'{"Id": "a"}', "stdin line 2: a JSON line needs a ReceiptHandle string"),
        (b'{"ReceiptHandle": 5}', "stdin line 2: a JSON line needs a ReceiptHandle string"),
    ],
)
def test_delete_refuses_json_lines_without_a_handle(
    queue: PyQueue,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    line: bytes,
    error: Optional[str],
) -> None:
    _stdin(monkeypatch, b"some-handle\n" + line + b"\n")
    code, _, err = _run(capsys, "delete", *Q)
    assert code == cli.EXIT_ERROR
    assert err.startswith("pyqueue delete: error: " + (error or "2 receipt handle(s)"))


def test_receive_wait_exits_3_when_nothing_comes(
    queue: PyQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "receive", *Q, "--wait", "0.1", "--json") == (cli.EXIT_EMPTY, "", "")
    assert _run(capsys, "receive", *Q) == (0, "[]\n", "")  # no --wait: an empty answer is fine
    queue.add_message({"n": 1}, "a")
    code, out, _ = _run(capsys, "receive", *Q, "--wait", "1", "--delete")
    assert code == 0
    assert [m["Id"] for m in json.loads(out)] == ["a"]
    assert queue.get_messages() == []


def test_receive_only_new_and_visibility_timeout(
    queue: PyQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    queue.add_messages([{"n": 1}, {"n": 2}], ["old", "new"])
    queue.receive_messages(1, 0)  # "old" is received once, and visible again at once
    _, out, _ = _run(capsys, "receive", *Q, "--only-new", "--visibility-timeout", "0")
    assert [m["Id"] for m in json.loads(out)] == ["new"]
    _, out, _ = _run(capsys, "receive", *Q, "--json")
    assert [json.loads(line)["receive_count"] for line in out.splitlines()] == [2, 2]


def test_visibility_hides_and_shows_a_message(
    queue: PyQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    queue.add_message({"n": 1}, "a")
    (handle,) = (m["ReceiptHandle"] for m in queue.receive_messages(1))
    assert _run(capsys, "visibility", *Q, handle, "0") == (0, "visible again\n", "")
    assert queue.get_queue_info()["visible_messages"] == 1
    assert _run(capsys, "visibility", *Q, handle, "90.5") == (0, "hidden for 90.5 s\n", "")
    assert queue.get_queue_info()["visible_messages"] == 0
    code, _, err = _run(capsys, "visibility", *Q, "stale", "10")
    assert code == cli.EXIT_ERROR
    assert err.startswith("pyqueue visibility: error: the receipt handle is stale or unknown")


# -- attributes, redrive, purge -----------------------------------------------------------------


def test_attributes_show_and_set(queue: PyQueue, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "attributes", *Q)
    assert code == 0
    assert out.splitlines()[0] == "visibility_timeout  30"
    assert "dead_letter_queue   -" in out
    argv = ["--set", "visibility-timeout=45", "--set", "max_receive_count=3", "--set"]
    code, out, _ = _run(capsys, "attributes", *Q, *argv, " dead_letter_queue = jobs-dlq", "--json")
    assert code == 0
    expected = {
        **DEFAULTS,
        "visibility_timeout": 45,
        "max_receive_count": 3,
        "dead_letter_queue": "jobs-dlq",
    }
    assert json.loads(out) == expected
    assert queue.get_queue_attributes() == expected
    argv = ["--set", "max_receive_count=none", "--set", "dead_letter_queue=NULL"]
    assert _run(capsys, "attributes", *Q, *argv)[0] == 0
    assert queue.get_queue_attributes() == {**DEFAULTS, "visibility_timeout": 45}


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("colour=blue", "write NAME=VALUE with NAME one of visibility_timeout, delay_seconds"),
        ("visibility_timeout", "write NAME=VALUE"),
        ("delay_seconds=soon", "delay_seconds: not a number: 'soon'"),
        ("max_receive_count=2.5", "max_receive_count: not a number: '2.5'"),
        ("wait_time_seconds=21", "wait_time_seconds must be between 0 and 20 s, not 21.0"),
        ("visibility_timeout=none", "visibility_timeout must be a number of seconds, not None"),
    ],
)
def test_attribute_errors_name_the_setting(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], setting: str, error: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["attributes", "--set", setting])
    assert exited.value.code == cli.EXIT_USAGE
    assert f"argument --set: {error}" in capsys.readouterr().err


def test_every_attribute_can_be_set() -> None:
    assert list(commands._ATTRIBUTE_KINDS) == list(DEFAULT_ATTRIBUTES)


def test_redrive_moves_dead_letters_back(
    queue: PyQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    queue.set_queue_attributes(max_receive_count=1, dead_letter_queue="jobs-dlq")
    queue.add_messages([{"n": 1}, {"n": 2}], ["a", "b"])
    queue.receive_messages(2, 0)
    assert queue.receive_messages(2) == []  # both moved on their second receive
    dlq = ["--queue", "sqlite:q.db#jobs-dlq"]
    assert _run(capsys, "redrive", *dlq, "--max", "1") == (
        0,
        "moved 1 message(s) back to their queues\n",
        "",
    )
    assert _run(capsys, "redrive", *dlq)[1] == "moved 1 message(s) back to their queues\n"
    assert queue.get_queue_info()["message_count"] == 2


def test_purge_asks_on_a_terminal(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queue.add_message({"n": 1})
    monkeypatch.setattr("sys.stdin", _TerminalStdin("n\n"))
    assert _run(capsys, "purge", *Q) == (
        cli.EXIT_ERROR,
        "",
        "Remove every message from sqlite:q.db#jobs? [y/N] nothing removed\n",
    )
    assert queue.get_queue_info()["message_count"] == 1
    monkeypatch.setattr("sys.stdin", _TerminalStdin("Yes\n"))
    assert _run(capsys, "purge", *Q)[:2] == (0, "purged sqlite:q.db#jobs\n")
    assert queue.get_queue_info()["message_count"] == 0


def test_purge_in_a_script_needs_yes(queue: PyQueue, capsys: pytest.CaptureFixture[str]) -> None:
    queue.add_message({"n": 1})
    code, _, err = _run(capsys, "purge", *Q)
    assert code == cli.EXIT_USAGE
    assert err.startswith("pyqueue purge: error: purge removes every message: add --yes")
    assert queue.get_queue_info()["message_count"] == 1
    assert _run(capsys, "purge", *Q, "--yes") == (0, "purged sqlite:q.db#jobs\n", "")
    assert queue.get_queue_info()["message_count"] == 0


# -- info, copy ---------------------------------------------------------------------------------


def test_info_prints_a_table_or_json(queue: PyQueue, capsys: pytest.CaptureFixture[str]) -> None:
    queue.add_message({"n": 1})
    code, out, _ = _run(capsys, "info", *Q)
    assert code == 0
    assert out.splitlines()[:4] == [
        "queue_type          sqlite",
        "queue_file          q.db",
        "queue_name          jobs",
        "message_count       1",
    ]
    expected = {**queue.get_queue_info(), "queue_file": "q.db"}
    assert json.loads(_run(capsys, "info", *Q, "--json")[1]) == expected


def test_copy_to_any_queue_with_progress_on_a_terminal(
    queue: PyQueue,
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue.add_messages([{"n": n} for n in range(25)])
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr("pyqueue_client._facade.COPY_STEP", 10)
    code, out, _ = _run(capsys, "copy", *Q, "--to", "copy.json")
    assert (code, out) == (0, "copied 25 message(s) from sqlite:q.db#jobs to copy.json\n")
    assert "[########################] 100%  copied 25 (" in terminal.getvalue()
    with PyQueue(in_tmp / "copy.json") as copied:
        assert copied.get_messages() == queue.get_messages()


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--to", "a.db", "--to-file", "b.db"], "--to names the target already"),
        ([], "name the target with --to QUEUE (or --to-file PATH)"),
    ],
)
def test_copy_needs_one_target(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: List[str], error: str
) -> None:
    code, _, err = _run(capsys, "copy", *argv)
    assert code == cli.EXIT_USAGE
    assert err.startswith(f"pyqueue copy: error: {error}")


# -- the command line as a whole ----------------------------------------------------------------


def _subparsers() -> Dict[str, Any]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return dict(action.choices)  # type: ignore[arg-type]


def test_help_shows_every_default() -> None:
    missing = []
    for name, sub in _subparsers().items():
        for action in sub._actions:
            described = action.option_strings and action.dest != "help" and action.help
            if described and "default" not in str(action.help):
                missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []


def test_defaults_are_the_python_apis() -> None:
    subs = _subparsers()
    receive = inspect.signature(PyQueue.receive_messages).parameters
    assert subs["receive"].get_default("max") == receive["max_messages"].default
    # None in the API (the queue's attribute) is a left-out option on the command line.
    assert (
        subs["receive"].get_default("visibility_timeout") is receive["visibility_timeout"].default
    )
    assert subs["receive"].get_default("wait") is receive["wait_time_seconds"].default
    assert subs["receive"].get_default("delete") is receive["delete_after_receive"].default
    assert subs["receive"].get_default("only_new") is receive["only_new"].default
    add = inspect.signature(PyQueue.add_messages).parameters
    assert subs["send"].get_default("delay") is add["delay_seconds"].default
    redrive = inspect.signature(PyQueue.redrive_messages).parameters
    assert subs["redrive"].get_default("max") is redrive["max_messages"].default
    peek = inspect.signature(PyQueue.get_messages).parameters
    assert subs["peek"].get_default("max") is peek["max_messages"].default
    opened = inspect.signature(PyQueue.__init__).parameters
    assert subs["info"].get_default("timeout") == opened["timeout"].default


def test_a_closed_pipe_ends_quietly(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def closed(values: Any) -> None:
        raise BrokenPipeError

    monkeypatch.setattr(commands, "print_pairs", closed)
    assert _run(capsys, "info", *Q) == (cli.EXIT_BROKEN_PIPE, "", "")


def test_unexpected_errors_are_one_line_unless_debug(
    queue: PyQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: PyQueue) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(PyQueue, "get_queue_info", broken)
    code, _, err = _run(capsys, "info", *Q)
    assert code == cli.EXIT_ERROR
    assert err == (
        "pyqueue info: error: unexpected KeyError: 'surprise' (run with --debug for the "
        "traceback)\n"
    )
    with pytest.raises(KeyError):
        cli.main(["info", *Q, "--debug"])
    with pytest.raises(KeyError):
        cli.main(["--debug", "info", *Q])


def test_os_errors_are_one_line(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreadable() -> Any:
        raise PermissionError(13, "Permission denied", "<stdin>")

    monkeypatch.setattr(commands, "_stdin", unreadable)
    code, _, err = _run(capsys, "delete", *Q)
    assert code == cli.EXIT_ERROR
    assert err == "pyqueue delete: error: [Errno 13] Permission denied: '<stdin>'\n"
    with pytest.raises(PermissionError):
        cli.main(["delete", *Q, "--debug"])


def test_library_errors_show_no_traceback_unless_debug(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "bad.json").write_text("not json")
    code, _, err = _run(capsys, "info", "--queue", "bad.json")
    assert code == cli.EXIT_ERROR
    assert err.startswith("pyqueue info: error: queue file 'bad.json' is corrupted")
    assert err.count("\n") == 1
    with pytest.raises(Exception, match="is corrupted"):
        cli.main(["info", "--queue", "bad.json", "--debug"])
