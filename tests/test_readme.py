"""The README's code, run as written.

The quick start of ``README.md`` runs block by block (the remote example against a local server);
the examples of the original library's README (1.2.x, whose successor this is) run on every
backend through the ``queue`` fixture (see ``conftest.BACKENDS``), with the fake ``clock``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pyqueue_client import PyQueue
from pyqueue_client.server import QueueServer, ServerConfig

from .conftest import ISO_MICROSECONDS, FakeClock, ids_of

README = Path(__file__).resolve().parent.parent / "README.md"


def _quick_start_blocks() -> List[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quick start") : text.index("## API reference")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_quick_start_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _quick_start_blocks()
    assert len(blocks) >= 5
    namespace: Dict[str, object] = {}
    config = ServerConfig(port=0, data_dir=str(tmp_path / "server"), durable=False)
    with QueueServer(config) as server:
        assert server.generated_key is not None
        for block in blocks:
            # the remote example names a public server; point it at this one instead
            local = block.replace("https://api.pyqueue.com", server.url)
            local = local.replace("your-api-key-here", server.generated_key)
            exec(compile(local, str(README), "exec"), namespace)
        remote = namespace["queue"]
        assert isinstance(remote, PyQueue)
        assert remote.get_queue_info()["message_count"] == 1
        for value in namespace.values():
            if isinstance(value, PyQueue):
                value.close()  # the examples leave their queues open, as scripts may
    assert (tmp_path / "queue.json").exists()
    assert (tmp_path / "queue.db").exists()


# -- the original README's examples, as written, on every backend ------------------------------


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
