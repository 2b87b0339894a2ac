"""The command line against a real ``pyqueue serve`` on 127.0.0.1: ``--queue http://...`` with
the key from ``$PYQUEUE_API_KEY`` or ``--api-key``, each command in a child process."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterator, Optional

import pytest

from pyqueue_client import PyQueue, cli
from pyqueue_client.server import QueueServer

from ._cli_support import cli_env, json_lines, run_cli, run_pipeline
from ._server_support import ADMIN_KEY, READER_KEY, config, running


@pytest.fixture
def server(tmp_path: Path) -> Iterator[QueueServer]:
    """A server with the test keys (admin, an orders reader, an orders writer)."""
    with running(config(tmp_path)) as started:
        yield started


def test_send_receive_delete_and_info_on_a_server(server: QueueServer, tmp_path: Path) -> None:
    orders = ["--queue", f"{server.url}/orders"]
    env = cli_env(PYQUEUE_API_KEY=ADMIN_KEY)
    lines = "".join(json.dumps({"id": f"o{n}", "n": n}) + "\n" for n in range(250))
    sent = run_cli(["send", *orders], tmp_path, stdin=lines, env=env)
    assert (sent.returncode, sent.stdout, sent.stderr) == (
        0,
        f"sent 250 message(s) to {server.url}/orders\n",
        "",
    )
    piped = run_pipeline(
        tmp_path, ["receive", *orders, "--max", "5", "--json"], ["delete", *orders], env=env
    )
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "deleted 5 message(s)\n", "")
    info = run_cli(["info", *orders, "--json"], tmp_path, env=env)
    assert json.loads(info.stdout)["message_count"] == 245

    received = run_cli(
        ["receive", *orders, "--max", "1", "--json", "--wait", "1"], tmp_path, env=env
    )
    (line,) = json_lines(received.stdout)
    assert json.loads(line)["Id"] == "o5"
    handle = json.loads(line)["ReceiptHandle"]
    shown = run_cli(["visibility", *orders, handle, "0"], tmp_path, env=env)
    assert (shown.returncode, shown.stdout) == (0, "visible again\n")

    # The key as a flag instead of the environment variable.
    flag = ["--api-key", ADMIN_KEY]
    changed = run_cli(
        ["attributes", *orders, *flag, "--set", "visibility_timeout=40", "--json"], tmp_path
    )
    assert json.loads(changed.stdout)["visibility_timeout"] == 40

    copied = run_cli(["copy", *orders, *flag, "--to", "sqlite:local.db#orders"], tmp_path)
    assert (
        copied.stdout
        == f"copied 245 message(s) from {server.url}/orders to sqlite:local.db#orders\n"
    )
    with PyQueue(tmp_path / "local.db", queue_type="sqlite", queue_name="orders") as local:
        assert local.get_messages(1)[0]["id"] == "o5"

    purged = run_cli(["purge", *orders, *flag, "--yes"], tmp_path)
    assert purged.stdout == f"purged {server.url}/orders\n"
    assert (
        run_cli(["info", *orders, "--json"], tmp_path, env=env).stdout.count('"message_count": 0')
        == 1
    )


def test_top_lists_the_queues_a_key_may_use(server: QueueServer, tmp_path: Path) -> None:
    env = cli_env(PYQUEUE_API_KEY=ADMIN_KEY)
    for name in ("orders", "emails"):
        sent = run_cli(["send", "--queue", f"{server.url}/{name}", "{}"], tmp_path, env=env)
        assert sent.returncode == 0
    everything = run_cli(["top", "--queue", server.url, "--count", "1"], tmp_path, env=env)
    assert everything.returncode == 0
    assert everything.stdout.startswith(f"pyqueue top: {server.url}, every 2 s  ")
    assert everything.stdout.splitlines()[2].startswith("QUEUE")
    rows = everything.stdout.splitlines()[3:]
    assert [row.split()[:2] for row in rows] == [["emails", "1"], ["orders", "1"]]
    reader = run_cli(
        ["top", "--queue", server.url + "/", "--api-key", READER_KEY, "--count", "1"], tmp_path
    )
    assert [row.split()[0] for row in reader.stdout.splitlines()[3:]] == ["orders"]


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (READER_KEY, "send: error: the API key lacks the permission for POST "),
        ("not-a-key", "invalid API key. Pass a valid api_key (with --api-key or $PYQUEUE_API_KEY)"),
        (None, "missing API key"),
    ],
)
def test_refused_keys_are_one_line_errors(
    server: QueueServer, tmp_path: Path, key: Optional[str], error: str
) -> None:
    env = cli_env() if key is None else cli_env(PYQUEUE_API_KEY=key)
    done = run_cli(["send", "--queue", f"{server.url}/orders", "{}"], tmp_path, env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert error in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    if key is not None:
        assert key not in done.stderr


def test_a_batch_the_server_refuses_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYQUEUE_API_KEY", ADMIN_KEY)
    big = json.dumps({"text": "x" * 4000}) + "\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(big.encode())))
    with running(config(tmp_path, max_body_bytes=1024)) as server:
        code = cli.main(["send", "--queue", f"{server.url}/orders"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (cli.EXIT_ERROR, "")
    assert captured.err.startswith("pyqueue send: error: ")
    assert "413" in captured.err
    assert captured.err.count("\n") == 1
