"""``--queue``: every form it takes, the errors it gives (naming the flag), and how the older
``--queue-file``/``--queue-type``/``--queue-name`` options combine with it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pyqueue_client import PyQueue, cli
from pyqueue_client._cli_queue import QueueSpec, open_queue, parse_queue


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path`` with neither QUEUE_FILE_PATH nor PYQUEUE_API_KEY set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUE_FILE_PATH", raising=False)
    monkeypatch.delenv("PYQUEUE_API_KEY", raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "settings"),
    [
        ("queue.json", {"queue_type": "local", "queue_file": "queue.json"}),
        ("jobs/q#1.json", {"queue_type": "local", "queue_file": "jobs/q#1.json"}),
        ("C:\\queues\\q.json", {"queue_type": "local", "queue_file": "C:\\queues\\q.json"}),
        ("local:queue.db", {"queue_type": "local", "queue_file": "queue.db"}),
        ("LOCAL:a:b.json", {"queue_type": "local", "queue_file": "a:b.json"}),
        ("local:", {"queue_type": "local", "queue_file": None}),
        ("queue.db", {"queue_type": "sqlite", "queue_file": "queue.db"}),
        ("Q.SQLITE3", {"queue_type": "sqlite", "queue_file": "Q.SQLITE3"}),
        (
            "queue.sqlite#emails",
            {"queue_type": "sqlite", "queue_file": "queue.sqlite", "queue_name": "emails"},
        ),
        ("sqlite:queue.db", {"queue_type": "sqlite", "queue_file": "queue.db"}),
        (
            "sqlite:data/q.db#emails",
            {"queue_type": "sqlite", "queue_file": "data/q.db", "queue_name": "emails"},
        ),
        ("sqlite:#emails", {"queue_type": "sqlite", "queue_file": None, "queue_name": "emails"}),
        (
            "http://127.0.0.1:8000/emails",
            {
                "queue_type": "remote",
                "server_url": "http://127.0.0.1:8000",
                "queue_name": "emails",
            },
        ),
        (
            "https://queues.example.com/",
            {
                "queue_type": "remote",
                "server_url": "https://queues.example.com",
                "queue_name": "default",
            },
        ),
        (
            "https://example.com/pyqueue/emails-dlq",
            {
                "queue_type": "remote",
                "server_url": "https://example.com/pyqueue",
                "queue_name": "emails-dlq",
            },
        ),
        (
            "http://localhost:8000/api/v1/queues/orders/",
            {"queue_type": "remote", "server_url": "http://localhost:8000", "queue_name": "orders"},
        ),
    ],
)
def test_queue_forms(text: str, settings: Dict[str, Any]) -> None:
    spec = parse_queue(text)
    assert spec.text == text
    assert dict(spec.settings) == settings
    assert spec.takes_api_key == (settings["queue_type"] == "remote")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "name a queue, e.g. queue.json"),
        ("sqlit:queue.db", "unknown kind of queue 'sqlit:' in 'sqlit:queue.db'"),
        ("ftp://host/q", "local:ftp://host/q is a file of that name"),
        ("sqlite:q.db#no/slash", "'no/slash' is not a queue name: use 1 to 80 letters"),
        ("q.db#..", "'..' is not a queue name"),
        ("http:///emails", "names no server"),
        ("http://admin:secret@host/emails", "put the API key in $PYQUEUE_API_KEY or --api-key"),
        ("http://host/emails?x=1", "without ? or #"),
        ("http://host/emails#x", "without ? or #"),
        ("http://host/em%20ails", "'em%20ails' is not a queue name"),
    ],
)
def test_queue_errors_name_the_flag(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["info", "--queue", text])
    assert exited.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("pyqueue info: error: argument --queue: ")
    assert message in err
    assert err.count("\n") == 1
    assert "secret" not in err or "admin:secret" in text  # only ever the user's own text


@pytest.mark.parametrize(
    ("text", "settings"),
    [
        (
            "sqs://eu-west-1/jobs",
            {"queue_type": "sqs", "queue_name": "jobs", "region": "eu-west-1"},
        ),
        ("sqs:///jobs", {"queue_type": "sqs", "queue_name": "jobs"}),
    ],
)
def test_sqs_queues_become_the_facades_keywords(text: str, settings: Dict[str, Any]) -> None:
    assert dict(parse_queue(text).settings) == settings


@pytest.mark.parametrize("text", ["sqs://eu-west-1/", "sqs://eu-west-1/a/b", "sqs://r/q?x=1"])
def test_sqs_queue_needs_one_name(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"is sqs://REGION/QUEUE or sqs:///QUEUE"):
        parse_queue(text)


def _namespace(**values: Any) -> argparse.Namespace:
    base: Dict[str, Any] = {
        "queue": None,
        "queue_file": None,
        "queue_type": None,
        "queue_name": None,
        "api_key": None,
        "timeout": 30.0,
    }
    base.update(values)
    return argparse.Namespace(**base)


def test_open_queue_gives_the_remote_queue_its_key_and_timeout(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: List[Dict[str, Any]] = []

    def fake_queue(**settings: Any) -> PyQueue:
        seen.append(settings)
        return PyQueue(queue_type="memory")

    monkeypatch.setattr("pyqueue_client._cli_queue.PyQueue", fake_queue)
    remote = parse_queue("http://127.0.0.1:9/emails")
    open_queue(_namespace(queue=remote, api_key="from-flag", timeout=5.0)).close()
    monkeypatch.setenv("PYQUEUE_API_KEY", "from-env")
    open_queue(_namespace(queue=remote)).close()
    open_queue(_namespace(queue_file="q.db", queue_type="sqlite", queue_name="jobs")).close()
    open_queue(_namespace()).close()
    assert seen == [
        {**remote.settings, "api_key": "from-flag", "timeout": 5.0},
        {**remote.settings, "api_key": "from-env", "timeout": 30.0},
        {"queue_type": "sqlite", "queue_file": "q.db", "queue_name": "jobs"},
        {"queue_type": "local", "queue_file": None},
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--queue", "q.json", "--queue-file", "a.json", "--queue-name", "x"],
            "--queue names the queue already; leave out --queue-file, --queue-name",
        ),
        (["--queue", "q.db", "--api-key", "k"], "--api-key is for http(s):// queues"),
    ],
)
def test_options_that_clash_are_usage_errors(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: List[str], message: str
) -> None:
    assert cli.main(["info", *argv]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"pyqueue info: error: {message}")
    assert err.endswith(" (see pyqueue info --help)\n")
    assert list(in_tmp.iterdir()) == []  # nothing was opened


@pytest.mark.parametrize(
    ("argv", "label"),
    [
        (["--queue", "sqlite:#emails"], "queue.db#emails"),
        (["--queue", "local:"], "queue.json"),
        (["--queue", "data.db"], "data.db"),
        (["--queue-type", "sqlite", "--queue-name", "jobs"], "queue.db#jobs"),
        (["--queue-file", "chosen.json"], "chosen.json"),
        ([], "queue.json"),
    ],
)
def test_messages_name_the_queue_as_written_with_the_default_file_filled_in(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: List[str], label: str
) -> None:
    assert cli.main(["clear", *argv]) == cli.EXIT_OK
    assert capsys.readouterr().out == f"cleared {label}\n"


def test_queue_spec_is_a_plain_value() -> None:
    spec = QueueSpec("q.json", {"queue_type": "local", "queue_file": "q.json"})
    assert spec.takes_api_key is False
    assert parse_queue("q.json") == spec
