"""The shapes that come back from a queue: message TypedDicts, queue info, batch results."""

from typing import Any, Dict, List, Optional

from typing_extensions import assert_type

from pyqueue_client import (
    BatchDeleteFailure,
    DeleteFailureReason,
    DeleteMessagesResult,
    MessageBody,
    PyQueue,
    QueueInfo,
    ReceivedMessage,
    StoredMessage,
)

# -- message bodies --------------------------------------------------------------------------


def message_bodies(queue: PyQueue) -> None:
    body: MessageBody = {"task": "send_email", "to": ["a@example.com"], "retries": 3, "x": None}
    queue.add_message(body)
    counts: Dict[str, int] = {"attempt": 1}
    queue.add_message(counts)
    batch: List[MessageBody] = [{"task": "a"}, {"task": "b", "priority": 1}]
    assert_type(queue.add_messages(batch, item_ids=["m1", None]), List[str])
    assert_type(queue.update_message("m1", body), bool)


# -- ReceivedMessage -------------------------------------------------------------------------


def received_message_fields(queue: PyQueue) -> None:
    for msg in queue.receive_messages():
        assert_type(msg, ReceivedMessage)
        assert_type(msg["Id"], str)
        assert_type(msg["ReceiptHandle"], str)
        assert_type(msg["message_body"], Dict[str, Any])
        assert_type(msg["message_body"]["task"], Any)
        assert_type(msg["timestamp"], str)
        assert_type(msg["receive_count"], int)
        # Set on the first receive, so never None once received.
        assert_type(msg["first_received_at"], str)


def received_message_wrong_keys(queue: PyQueue) -> None:
    msg = queue.receive_messages(max_messages=1)[0]
    print(msg["id"])  # type: ignore[typeddict-item]
    print(msg["receipt_handle"])  # type: ignore[typeddict-item]
    print(msg["invisible_until"])  # type: ignore[typeddict-item]
    count: str = msg["receive_count"]  # type: ignore[assignment]
    print(count)


def received_message_as_in_readme() -> None:
    readme: ReceivedMessage = {
        "Id": "550e8400-e29b-41d4-a716-446655440000",
        "ReceiptHandle": "receipt_abc123...",
        "message_body": {"task": "send_email", "user_id": 12345, "custom_field": "any value"},
        "timestamp": "2026-01-22T12:00:00.000000",
        "receive_count": 3,
        "first_received_at": "2026-01-22T11:00:00.000000",
    }
    print(readme)


# -- StoredMessage ---------------------------------------------------------------------------


def stored_message_fields(queue: PyQueue) -> None:
    for msg in queue.get_messages():
        assert_type(msg, StoredMessage)
        assert_type(msg["id"], str)
        assert_type(msg["timestamp"], str)
        assert_type(msg["message_body"], Dict[str, Any])
        assert_type(msg["receive_count"], int)
        assert_type(msg["first_received_at"], Optional[str])
        assert_type(msg["invisible_until"], Optional[str])
    found = queue.get_message("m1")
    if found is not None:
        assert_type(found, StoredMessage)
        assert_type(found["first_received_at"], Optional[str])


def stored_message_wrong_keys(queue: PyQueue) -> None:
    msg = queue.get_messages()[0]
    # Receipt handles belong to the consumer that received the message, never to a peek.
    print(msg["ReceiptHandle"])  # type: ignore[typeddict-item]
    print(msg["current_receipt_handle"])  # type: ignore[typeddict-item]
    print(msg["Id"])  # type: ignore[typeddict-item]
    # None until the first receive, so it must be narrowed first.
    received_at: str = msg["first_received_at"]  # type: ignore[assignment]
    print(received_at)


def stored_message_may_be_absent(queue: PyQueue) -> None:
    found = queue.get_message("m1")
    print(found["message_body"])  # type: ignore[index]


def stored_message_as_in_readme() -> None:
    never_received: StoredMessage = {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "timestamp": "2026-01-22T12:00:00.000000",
        "message_body": {"task": "send_email"},
        "receive_count": 0,
        "first_received_at": None,
        "invisible_until": None,
    }
    print(never_received)
    # The README's file format also holds the receipt handle; the public view never does.
    on_disk: StoredMessage = {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "timestamp": "2026-01-22T12:00:00.000000",
        "message_body": {"task": "send_email"},
        "receive_count": 3,
        "first_received_at": "2026-01-22T11:00:00.000000",
        "invisible_until": "2026-01-22T12:01:00.000000",
        "current_receipt_handle": "receipt_abc123...",  # type: ignore[typeddict-unknown-key]
    }
    print(on_disk)


# -- QueueInfo -------------------------------------------------------------------------------


def queue_info_keys(queue: PyQueue) -> None:
    info = queue.get_queue_info()
    assert_type(info["queue_type"], str)
    assert_type(info["message_count"], int)
    assert_type(info["visible_messages"], int)
    assert_type(info["invisible_messages"], int)
    assert_type(info["never_received"], int)
    assert_type(info["total_receives"], int)
    # Only some backends report these.
    assert_type(info.get("queue_file"), Optional[str])
    assert_type(info.get("file_size"), Optional[int])
    assert_type(info.get("queue_name"), Optional[str])
    if "file_size" in info:
        assert_type(info["file_size"], int)


def queue_info_as_in_readme() -> None:
    local: QueueInfo = {
        "queue_type": "local",
        "queue_file": "queue.json",
        "message_count": 15,
        "visible_messages": 10,
        "invisible_messages": 5,
        "never_received": 8,
        "total_receives": 22,
        "delayed_messages": 0,
        "file_size": 4096,
    }
    print(local)


def queue_info_wrong(queue: PyQueue) -> None:
    info = queue.get_queue_info()
    print(info["size"])  # type: ignore[typeddict-item]
    count: str = info["message_count"]  # type: ignore[assignment]
    print(count)
    # Every backend reports the counting keys.
    partial: QueueInfo = {"queue_type": "memory"}  # type: ignore[typeddict-item]
    print(partial)


# -- DeleteMessagesResult --------------------------------------------------------------------


def delete_messages_result(queue: PyQueue) -> None:
    handles = [msg["ReceiptHandle"] for msg in queue.receive_messages()]
    result = queue.delete_messages(handles)
    assert_type(result, DeleteMessagesResult)
    assert_type(result["Successful"], List[str])
    assert_type(result["Failed"], List[BatchDeleteFailure])
    for failure in result["Failed"]:
        assert_type(failure["ReceiptHandle"], str)
        assert_type(failure["reason"], DeleteFailureReason)
    print(result["failed"])  # type: ignore[typeddict-item]
