"""Each queue command for real: ``python -m pyqueue_client`` in child processes, as a script or a
person at a shell uses them, including ``receive --json | delete`` in a real shell pipeline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import List

import pytest

from pyqueue_client import PyQueue

from ._cli_support import (
    COMMAND_TIMEOUT,
    PYQUEUE,
    cli_env,
    json_lines,
    run_cli,
    run_pipeline,
    shell_command,
)

Q = ["--queue", "sqlite:q.db#jobs"]


def test_a_days_work_on_a_sqlite_queue(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"id": f"m{n}", "n": n}) + "\n" for n in range(5))
    sent = run_cli(["send", *Q], tmp_path, stdin=lines)
    assert (sent.returncode, sent.stdout, sent.stderr) == (
        0,
        "sent 5 message(s) to sqlite:q.db#jobs\n",
        "",
    )

    piped = run_pipeline(tmp_path, ["receive", *Q, "--max", "2", "--json"], ["delete", *Q])
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "deleted 2 message(s)\n", "")

    info = run_cli(["info", *Q, "--json"], tmp_path)
    assert json.loads(info.stdout)["message_count"] == 3

    received = run_cli(["receive", *Q, "--max", "1", "--json"], tmp_path)
    (line,) = json_lines(received.stdout)
    handle = json.loads(line)["ReceiptHandle"]
    shown = run_cli(["visibility", *Q, handle, "0"], tmp_path)
    assert (shown.returncode, shown.stdout) == (0, "visible again\n")

    settings = ["--set", "max_receive_count=1", "--set", "dead_letter_queue=jobs-dlq"]
    changed = run_cli(["attributes", *Q, *settings], tmp_path)
    assert changed.returncode == 0
    assert "max_receive_count   1\n" in changed.stdout

    # m2 was received once already; m3 and m4 now; a second receive moves all three.
    assert run_cli(["receive", *Q, "--visibility-timeout", "0"], tmp_path).returncode == 0
    empty = run_cli(["receive", *Q, "--json", "--wait", "0.2"], tmp_path)
    assert (empty.returncode, empty.stdout) == (3, "")
    moved = run_cli(["redrive", "--queue", "sqlite:q.db#jobs-dlq"], tmp_path)
    assert moved.stdout == "moved 3 message(s) back to their queues\n"

    copied = run_cli(["copy", *Q, "--to", "copy.json"], tmp_path)
    assert copied.stdout == "copied 3 message(s) from sqlite:q.db#jobs to copy.json\n"
    peeked = run_cli(["peek", "--queue", "copy.json"], tmp_path)
    assert [m["id"] for m in json.loads(peeked.stdout)] == ["m2", "m3", "m4"]

    refused = run_cli(["purge", *Q], tmp_path)  # stdin is no terminal: --yes is needed
    assert refused.returncode == 2
    purged = run_cli(["purge", *Q, "--yes"], tmp_path)
    assert (purged.returncode, purged.stdout) == (0, "purged sqlite:q.db#jobs\n")
    with PyQueue(tmp_path / "q.db", queue_type="sqlite", queue_name="jobs") as queue:
        assert queue.get_queue_info()["message_count"] == 0


def test_older_options_and_json_files_keep_working(tmp_path: Path) -> None:
    assert run_cli(["send", '{"task": "email"}', "--id", "job-1"], tmp_path).stdout == "job-1\n"
    sqlite = ["--queue-type", "sqlite", "--queue-file", "queue.db", "--queue-name", "emails"]
    copied = run_cli(["copy", "--to-file", "queue.db", "--to-name", "emails"], tmp_path)
    assert copied.stdout == "copied 1 message(s) from queue.json to queue.db\n"
    received = run_cli(["receive", *sqlite, "--delete"], tmp_path)
    assert [m["Id"] for m in json.loads(received.stdout)] == ["job-1"]
    env = cli_env(QUEUE_FILE_PATH=str(tmp_path / "queue.json"))
    cleared = run_cli(["clear"], tmp_path, env=env)
    assert cleared.stdout == f"cleared {tmp_path / 'queue.json'}\n"


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (["receive", "--max", "101"], 2, "argument --max: must be between 1 and 100, not 101"),
        (["send", "--delay", "901", "{}"], 2, "argument --delay: must be between 0 and 900 s"),
        (["info", "--queue", "nowhere/q.json"], 1, "does not exist"),
        (["peek", "--queue", "http://127.0.0.1:9/q", "--timeout", "5"], 1, "127.0.0.1:9"),
    ],
)
def test_errors_are_one_line_without_a_traceback(
    tmp_path: Path, argv: List[str], code: int, error: str
) -> None:
    done = run_cli(argv, tmp_path)
    assert done.returncode == code
    assert done.stdout == ""
    assert error in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    with PyQueue(tmp_path / "q.db", queue_type="sqlite", queue_name="jobs") as queue:
        queue.add_messages([{"text": "x" * 1000}] * 200)  # far more than a pipe holds
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        done = subprocess.run(
            [*PYQUEUE, "peek", *Q],
            cwd=str(tmp_path),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
    # The way people meet it: the first line, then the reader leaves.
    head = subprocess.run(
        shell_command(["peek", *Q]) + " | head -1",
        shell=True,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert (head.stdout, head.stderr) == ("[\n", "")
