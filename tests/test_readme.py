"""The README's code, and the Python examples of ``docs/``, run as written.

The quick start, the consumer loop and the worker of ``README.md`` run block by block (the remote
example against a local server); ``docs/examples.md`` (the examples of the original library's
README, 1.2.x, whose successor this is) runs on every backend through the ``queue`` fixture (see
``conftest.BACKENDS``), with the fake ``clock``, and the tests below them assert what those
examples promise. A Python block that is not meant to run says so with a ``<!-- not run: why -->``
line above it; every other one must be run here. Every relative link of the README and of
``docs/`` names a file (and a heading) that exists, and the file formats shown in
``docs/file-formats.md`` are what the library reads and writes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

from pyqueue_client import PyQueue
from pyqueue_client.server import QueueServer, ServerConfig

from .conftest import ISO_MICROSECONDS, FakeClock, ids_of

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples.md"
FILE_FORMATS = DOCS / "file-formats.md"

#: A fenced block, with the ``<!-- not run: ... -->`` line that may stand above it.
_BLOCK = re.compile(r"(<!-- not run: [^>]+-->\n)?```(\w*)\n(.*?)```", re.DOTALL)
#: The sections of the README whose Python blocks run, each up to the next section.
QUICK_START, CONSUMER_LOOP, WORKER = (
    "## Quick start",
    "## A consumer loop",
    "## The worker: a function on every message",
)
_README_RUN = (QUICK_START, CONSUMER_LOOP, WORKER)


def _blocks(text: str, language: str = "python") -> List[str]:
    """The blocks of ``language`` in ``text`` that are meant to run, in order."""
    return [code for skip, lang, code in _BLOCK.findall(text) if lang == language and not skip]


def _section(path: Path, heading: str) -> str:
    """From ``heading`` to the next heading of the same level."""
    text = path.read_text(encoding="utf-8")
    start = text.index(heading + "\n")
    level = heading.split(" ", 1)[0]
    end = text.find("\n" + level + " ", start + len(heading))
    return text[start : len(text) if end < 0 else end]


def _run(code: str, namespace: Dict[str, Any], where: Path = README) -> None:
    exec(compile(code, str(where), "exec"), namespace)


def _close_queues(namespace: Dict[str, Any], keep: Optional[PyQueue] = None) -> None:
    for value in namespace.values():
        if isinstance(value, PyQueue) and value is not keep:
            value.close()  # the examples leave their queues open, as scripts may


@pytest.fixture
def server(tmp_path: Path) -> Iterator[QueueServer]:
    """A ``pyqueue serve`` on 127.0.0.1 for the examples that name a public server."""
    config = ServerConfig(port=0, data_dir=str(tmp_path / "server"), durable=False)
    with QueueServer(config) as running:
        assert running.generated_key is not None
        yield running


def _on_server(code: str, server: QueueServer, key: str = "your-api-key-here") -> str:
    """The example pointed at ``server``: the README names a public one, with a made-up key."""
    assert server.generated_key is not None
    return code.replace("https://api.pyqueue.com", server.url).replace(key, server.generated_key)


def test_quick_start_blocks_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: QueueServer
) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _blocks(_section(README, QUICK_START))
    assert len(blocks) >= 5
    namespace: Dict[str, Any] = {}
    for block in blocks:
        _run(_on_server(block, server), namespace)
    remote = namespace["queue"]
    assert isinstance(remote, PyQueue)
    assert remote.queue_type == "remote"
    assert remote.get_queue_info()["message_count"] == 1
    _close_queues(namespace)
    assert (tmp_path / "queue.json").exists()
    assert (tmp_path / "queue.db").exists()


def _interrupted_when_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl+C stands in for the wait of a receive that finds nothing: the loop then ends."""
    receive = PyQueue.receive_messages

    def receive_or_interrupt(self: PyQueue, *args: Any, **kwargs: Any) -> Any:
        kwargs["wait_time_seconds"] = 0
        messages = receive(self, *args, **kwargs)
        if not messages:
            raise KeyboardInterrupt
        return messages

    monkeypatch.setattr(PyQueue, "receive_messages", receive_or_interrupt)


def test_the_consumer_loop_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    [block] = _blocks(_section(README, CONSUMER_LOOP))
    with PyQueue(queue_type="sqlite", queue_file="queue.db", queue_name="emails") as producer:
        producer.add_messages([{"to": f"user{n}@example.com"} for n in range(12)])
        _interrupted_when_empty(monkeypatch)
        namespace: Dict[str, Any] = {}
        _run(block, namespace)
        _close_queues(namespace)
        assert producer.get_queue_info()["message_count"] == 0
    out = capsys.readouterr().out
    assert out.count("Processing: {'to': 'user") == 12
    assert out.endswith("Shutting down consumer...\n")


def test_the_worker_section_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    [block] = _blocks(_section(README, WORKER))
    namespace: Dict[str, Any] = {}
    _run(block, namespace)  # it asserts what it promises itself
    _close_queues(namespace)


def _queue_info_block() -> str:
    [block] = [b for b in _blocks(README.read_text("utf-8")) if b.startswith('{"queue_type"')]
    return block


def test_the_readme_queue_info_is_what_a_local_queue_answers(tmp_path: Path) -> None:
    shown = eval(_queue_info_block())  # a dict literal, as the README prints it
    with PyQueue(queue_file=tmp_path / "queue.json") as queue:
        queue.add_message({"n": 1})
        info = queue.get_queue_info()
    assert list(shown) == list(info)
    assert {key: type(value) for key, value in shown.items()} == {
        key: type(value) for key, value in info.items()
    }


# -- docs/examples.md: the original README's examples, as written, on every backend ---------------

#: What the examples' queue holds before each block: the ids they name, and two more.
_EXAMPLE_IDS = ("first", "message-uuid", "msg-1", "msg-3", "fifth", "sixth", "last")


def _example_blocks() -> Tuple[List[str], str]:
    """The examples page's blocks that continue with a ``queue``, and its consumer pattern."""
    blocks = _blocks(EXAMPLES.read_text(encoding="utf-8"))
    [consumer] = [block for block in blocks if "while True:" in block]
    return [block for block in blocks if block is not consumer], consumer


def test_the_examples_page_runs_on_every_backend(
    queue: PyQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("QUEUE_FILE_PATH", str(cwd / "myqueue.json"))
    blocks, _ = _example_blocks()
    assert len(blocks) >= 14
    processed: List[Any] = []
    namespace: Dict[str, Any] = {"process": processed.append}
    made: List[PyQueue] = []
    for block in blocks:
        queue.clear_queue()
        for item_id in _EXAMPLE_IDS:
            queue.add_message({"n": item_id}, item_id=item_id)
        namespace["queue"] = queue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _run(block, namespace, EXAMPLES)
        # the one warning an example may see: cleanup on a server, which tidies its own storage
        assert all("server" in str(w.message) for w in caught), [str(w.message) for w in caught]
        assert not caught or queue.queue_type == "remote"
        if namespace["queue"] is not queue:
            made.append(namespace["queue"])
    assert namespace["existing_ids"] == ["msg-1", "msg-3"]
    assert ids_of(namespace["first_10"]) == list(_EXAMPLE_IDS)
    # the old way hands whole messages to process(), the new way their bodies
    assert ids_of(processed[:5]) == list(_EXAMPLE_IDS[:5])
    assert processed[5:] == [{"n": "sixth"}, {"n": "last"}]
    assert queue.get_messages() == []
    assert [m.get_queue_info()["queue_file"] for m in made] == [
        "queue.json",
        str(cwd / "myqueue.json"),
    ]
    for other in made:
        other.close()


def test_the_original_consumer_pattern_runs(
    server: QueueServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 1.2.x loop, against a server: it sleeps when the queue is empty, so that sleep is
    where Ctrl+C comes; the others (its simulated work) return at once."""
    _, block = _example_blocks()
    real_sleep = time.sleep
    main = threading.main_thread()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is not main:
            real_sleep(seconds)
        elif seconds == 10:
            raise AssertionError("the consumer hit an error")  # its own retry pause
        elif seconds == 5:
            raise KeyboardInterrupt

    assert server.generated_key is not None
    with PyQueue(
        queue_type="remote", server_url=server.url, queue_name="tasks", api_key=server.generated_key
    ) as producer:
        producer.add_messages([{"task": n} for n in range(7)])
        monkeypatch.setattr(time, "sleep", sleep)
        namespace: Dict[str, Any] = {}
        _run(_on_server(block, server, key="your-api-key"), namespace, EXAMPLES)
        monkeypatch.undo()
        _close_queues(namespace)
        assert producer.get_queue_info()["message_count"] == 0
    out = capsys.readouterr().out
    assert out.count("Processed message ") == 7
    assert out.endswith("Shutting down consumer...\n")


# -- what the original README's examples promise, on every backend ------------------------------


def test_readme_adding_messages(queue: PyQueue) -> None:
    auto_id = queue.add_message({"task": "process_payment", "amount": 99.99, "currency": "USD"})
    custom = queue.add_message(
        {"task": "send_notification", "user_id": 12345}, item_id="notification-user-12345"
    )
    assert custom == "notification-user-12345"
    assert len(auto_id) == 36  # a UUID4
    assert queue.get_message(auto_id) is not None
    stored = queue.get_message(custom)
    assert stored is not None
    assert stored["message_body"] == {"task": "send_notification", "user_id": 12345}


def test_readme_receive_shape(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_message({"task": "send_email"}, item_id="message-uuid")
    messages = queue.receive_messages(
        max_messages=10,
        visibility_timeout=30,
        delete_after_receive=False,
        only_new=False,
    )
    assert len(messages) == 1
    message = messages[0]
    assert set(message) == {
        "Id",
        "ReceiptHandle",
        "message_body",
        "timestamp",
        "receive_count",
        "first_received_at",
    }
    assert message["Id"] == "message-uuid"
    assert message["message_body"] == {"task": "send_email"}
    assert message["receive_count"] == 1
    assert message["first_received_at"] == clock.now.strftime(ISO_MICROSECONDS)
    assert message["timestamp"] == clock.now.strftime(ISO_MICROSECONDS)
    assert message["ReceiptHandle"].startswith("receipt_")


def test_readme_visibility_timeout_behavior(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_message({"n": 1}, item_id="a")
    consumer_1 = queue.receive_messages(visibility_timeout=60)
    assert ids_of(consumer_1) == ["a"]
    clock.advance(59.9)
    assert queue.receive_messages(visibility_timeout=60) == []  # consumer 2 sees nothing
    clock.advance(0.1)
    again = queue.receive_messages(visibility_timeout=60)
    assert ids_of(again) == ["a"]
    assert again[0]["receive_count"] == 2
    assert again[0]["first_received_at"] == consumer_1[0]["first_received_at"]


def test_readme_only_new(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="old")
    queue.receive_messages(visibility_timeout=0)
    queue.add_message({"n": 2}, item_id="new")
    messages = queue.receive_messages(only_new=True)
    assert ids_of(messages) == ["new"]
    assert queue.receive_messages(only_new=True, visibility_timeout=0) == []
    assert ids_of(queue.receive_messages(visibility_timeout=0)) == ["old"]


def test_readme_auto_delete_on_receive(queue: PyQueue) -> None:
    for n in range(7):
        queue.add_message({"n": n}, item_id=f"m{n}")
    messages = queue.receive_messages(max_messages=5, delete_after_receive=True)
    assert ids_of(messages) == ["m0", "m1", "m2", "m3", "m4"]
    assert all(message["receive_count"] == 1 for message in messages)
    assert ids_of(queue.get_messages()) == ["m5", "m6"]
    # the handles of deleted messages delete nothing
    assert queue.delete_message(messages[0]["ReceiptHandle"]) is False


def test_readme_deleting_messages(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="first")
    queue.add_message({"n": 2}, item_id="message-uuid")
    messages = queue.receive_messages(max_messages=1)
    assert queue.delete_message(messages[0]["ReceiptHandle"]) is True
    assert queue.remove_message("message-uuid") is True
    assert queue.get_messages() == []
    assert queue.remove_message("message-uuid") is False


def test_readme_updating_messages(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_message({"task": "send_email"}, item_id="message-uuid")
    received = queue.receive_messages(visibility_timeout=30)
    clock.advance(5)
    updated = {"task": "send_email", "status": "updated", "priority": "high"}
    assert queue.update_message("message-uuid", updated) is True
    stored = queue.get_message("message-uuid")
    assert stored is not None
    assert stored["message_body"] == updated
    assert stored["timestamp"] == clock.now.strftime(ISO_MICROSECONDS)
    assert stored["receive_count"] == 1
    assert stored["first_received_at"] == received[0]["first_received_at"]
    assert stored["invisible_until"] is not None
    # the update keeps the receipt handle working
    assert queue.delete_message(received[0]["ReceiptHandle"]) is True
    assert queue.update_message("message-uuid", updated) is False


def test_readme_getting_messages(queue: PyQueue) -> None:
    for n in range(15):
        queue.add_message({"n": n}, item_id=f"m{n:02}")
    queue.receive_messages(max_messages=3)
    all_messages = queue.get_messages()
    first_10 = queue.get_messages(max_messages=10)
    assert ids_of(all_messages) == [f"m{n:02}" for n in range(15)]
    assert ids_of(first_10) == [f"m{n:02}" for n in range(10)]
    assert set(all_messages[0]) == {
        "id",
        "timestamp",
        "message_body",
        "receive_count",
        "first_received_at",
        "invisible_until",
    }
    assert queue.get_messages(max_messages=0) == []
    # peeking changes nothing
    assert [m["receive_count"] for m in queue.get_messages(max_messages=4)] == [1, 1, 1, 0]


def test_readme_checking_existence(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, item_id="msg-3")
    queue.add_message({"n": 2}, item_id="msg-1")
    assert queue.has_message("msg-1") is True
    assert queue.has_message("message-uuid") is False
    existing_ids = queue.check_existence(["msg-1", "msg-2", "msg-3", "msg-4"])
    assert existing_ids == ["msg-1", "msg-3"]  # the order asked, not the queue's
    assert queue.check_existence([]) == []
    assert queue.check_existence(("msg-3", "msg-3")) == ["msg-3", "msg-3"]


def test_readme_queue_info(queue: PyQueue, clock: FakeClock) -> None:
    for n in range(15):
        queue.add_message({"n": n})
    queue.receive_messages(max_messages=5, visibility_timeout=60)
    queue.receive_messages(max_messages=2, visibility_timeout=0)
    clock.advance(1)
    queue.receive_messages(max_messages=10, visibility_timeout=0)
    info = queue.get_queue_info()
    assert info["message_count"] == 15
    assert info["visible_messages"] == 10
    assert info["invisible_messages"] == 5
    assert info["never_received"] == 0
    assert info["total_receives"] == 5 + 2 + 10
    assert info["queue_type"] == queue.queue_type
    clock.advance(60)
    assert queue.get_queue_info()["visible_messages"] == 15


def test_readme_queue_maintenance(queue: PyQueue, clock: FakeClock) -> None:
    queue.add_message({"n": 1}, item_id="a")
    queue.receive_messages(visibility_timeout=10)
    clock.advance(10)
    if queue.queue_type == "remote":  # the server keeps its own storage tidy ("local only")
        with pytest.warns(UserWarning, match="server"):
            assert queue.cleanup_expired_messages() is False
    else:
        assert queue.cleanup_expired_messages() is True
        stored = queue.get_message("a")
        assert stored is not None
        assert stored["invisible_until"] is None
    assert ids_of(queue.receive_messages(visibility_timeout=0)) == ["a"]  # visible either way
    stored = queue.get_message("a")
    assert stored is not None
    assert stored["receive_count"] == 2
    assert queue.health_check() is True
    assert queue.clear_queue() is True
    assert queue.get_messages() == []
    assert queue.get_queue_info()["message_count"] == 0


def test_readme_consumer_pattern(queue: PyQueue, clock: FakeClock) -> None:
    """The README's consumer loop, bounded: failures come back after the timeout, then succeed."""
    for n in range(12):
        queue.add_message({"n": n}, item_id=f"job-{n}")
    attempts: Dict[str, int] = {}
    processed: List[str] = []

    def process_message(message_body: Dict[str, Any]) -> bool:
        key = f"job-{message_body['n']}"
        attempts[key] = attempts.get(key, 0) + 1
        return message_body["n"] % 4 != 0 or attempts[key] > 1  # every 4th fails once

    for _ in range(10):
        messages = queue.receive_messages(max_messages=5, visibility_timeout=60, only_new=False)
        if not messages:
            clock.advance(61)  # instead of sleeping: the failed ones become visible again
            continue
        for msg in messages:
            if process_message(msg["message_body"]):
                assert queue.delete_message(msg["ReceiptHandle"])
                processed.append(msg["Id"])
    assert sorted(processed) == sorted(f"job-{n}" for n in range(12))
    assert attempts == {f"job-{n}": 2 if n % 4 == 0 else 1 for n in range(12)}
    assert queue.get_messages() == []


def test_readme_migration_examples(queue: PyQueue) -> None:
    for n in range(6):
        queue.add_message({"n": n})
    seen: List[Dict[str, Any]] = []
    # Old way (still works)
    messages = queue.receive_messages(max_messages=5, delete_after_receive=True)
    for msg in messages:
        seen.append(msg["message_body"])
    # New way (recommended)
    messages = queue.receive_messages(max_messages=5, visibility_timeout=60)
    for msg in messages:
        seen.append(msg["message_body"])
        queue.delete_message(msg["ReceiptHandle"])
    assert seen == [{"n": n} for n in range(6)]
    assert queue.get_messages() == []


# -- every block is run or says why not; links; the table of contents; the file formats ---------


def _pages() -> List[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_every_python_block_is_run_or_says_why_not() -> None:
    run_here = [block for heading in _README_RUN for block in _blocks(_section(README, heading))]
    run_here += [_queue_info_block(), *_blocks(EXAMPLES.read_text(encoding="utf-8"))]
    everywhere = [block for page in _pages() for block in _blocks(page.read_text("utf-8"))]
    not_run = [block.splitlines()[0] for block in everywhere if block not in run_here]
    assert not_run == [], "run these blocks here, or mark them <!-- not run: why -->"


_LINK = re.compile(r"\[[^\]]*\]\(([^()\s]+)\)")


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def _anchors(page: Path) -> Set[str]:
    text = re.sub(r"```.*?```", "", page.read_text("utf-8"), flags=re.DOTALL)
    seen: Dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _relative_links(page: Path) -> List[str]:
    text = re.sub(r"```.*?```", "", page.read_text("utf-8"), flags=re.DOTALL)
    return [link for link in _LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", _pages(), ids=lambda page: page.name)
def test_every_relative_link_names_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(link)
    assert broken == []


def test_the_readme_lists_every_docs_page() -> None:
    listed = set(_relative_links(README))
    assert {f"docs/{page.name}" for page in DOCS.glob("*.md")} <= listed


def test_the_documented_json_queue_file_is_read_as_shown(tmp_path: Path) -> None:
    queue_file, one_message, received = _blocks(FILE_FORMATS.read_text("utf-8"), "json")
    path = tmp_path / "queue.json"
    path.write_text(queue_file, encoding="utf-8")
    with PyQueue(queue_file=path, clock=lambda: datetime(2026, 1, 22, 12, 0, 10)) as queue:
        stored = queue.get_messages()
        assert ids_of(stored) == ["a1", "b2"]
        assert stored[0]["invisible_until"] == "2026-01-22T12:00:30.000000"
        assert ids_of(queue.receive_messages()) == ["b2"]  # a1 is hidden until 12:00:30
    path.write_text(f"[{one_message}]", encoding="utf-8")
    with PyQueue(queue_file=path) as queue:
        [message] = queue.get_messages()
        assert message["message_body"]["custom_field"] == "any value"
        assert message["receive_count"] == 3
        assert set(json.loads(received)) == set(queue.receive_messages()[0])


def test_the_documented_attributes_file_is_what_a_local_queue_writes(tmp_path: Path) -> None:
    [documented] = re.findall(r"`(\{\"dead_letter_queue\".*?\})`", FILE_FORMATS.read_text("utf-8"))
    with PyQueue(queue_file=tmp_path / "queue.json") as queue:
        queue.set_queue_attributes(visibility_timeout=60)
    written = (tmp_path / "queue.json.attributes.json").read_text("utf-8")
    assert json.loads(written) == json.loads(documented)


def _statements(sql: str) -> Set[str]:
    return {" ".join(part.split()) for part in sql.split(";") if part.strip()}


def test_the_documented_sqlite_schema_is_what_a_new_file_holds(tmp_path: Path) -> None:
    [documented] = _blocks(FILE_FORMATS.read_text("utf-8"), "sql")
    path = tmp_path / "queue.db"
    with PyQueue(queue_file=path, queue_type="sqlite") as queue:
        queue.add_message({"n": 1})
    connection = sqlite3.connect(str(path))
    try:
        rows = connection.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    finally:
        connection.close()
    assert _statements(";".join(row[0] for row in rows)) == _statements(documented)
    assert f"`PRAGMA user_version` ({version})" in FILE_FORMATS.read_text("utf-8")
    assert f"(`{application_id:#x}`" in FILE_FORMATS.read_text("utf-8")
