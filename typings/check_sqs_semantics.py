"""What a worker needs: delays, long polling, visibility changes, attributes, redrive."""

from pathlib import Path
from typing import List, Optional

from typing_extensions import assert_type

from pyqueue_client import DeleteMessagesResult, PyQueue, QueueAttributes, ReceivedMessage


def delays_and_waits(queue: PyQueue) -> None:
    assert_type(queue.add_message({"n": 1}, delay_seconds=5), str)
    assert_type(queue.add_message({"n": 1}, "id-1", delay_seconds=0.5), str)
    assert_type(queue.add_messages([{"n": 1}], delay_seconds=None), List[str])
    received = queue.receive_messages(10, None, wait_time_seconds=20)
    assert_type(received, List[ReceivedMessage])
    assert_type(
        queue.receive_messages(max_messages=1, wait_time_seconds=0.5), List[ReceivedMessage]
    )


def delays_and_waits_are_keyword_only(queue: PyQueue) -> None:
    queue.add_message({"n": 1}, None, 5)  # type: ignore[call-arg]
    queue.receive_messages(10, 30, False, False, 20)  # type: ignore[call-arg]
    queue.add_message({"n": 1}, delay_seconds="5")  # type: ignore[arg-type]


def visibility_changes(queue: PyQueue) -> None:
    message = queue.receive_messages(max_messages=1)[0]
    assert_type(queue.change_message_visibility(message["ReceiptHandle"], 60), bool)
    result = queue.change_messages_visibility([message["ReceiptHandle"]], 0)
    assert_type(result, DeleteMessagesResult)
    queue.change_message_visibility(message["ReceiptHandle"], "60")  # type: ignore[arg-type]


def attributes(queue: PyQueue, dead_letters: Path) -> None:
    current = queue.get_queue_attributes()
    assert_type(current, QueueAttributes)
    assert_type(current["visibility_timeout"], float)
    assert_type(current["retention_seconds"], Optional[float])
    assert_type(current["max_receive_count"], Optional[int])
    assert_type(current["dead_letter_queue"], Optional[str])
    changed = queue.set_queue_attributes(visibility_timeout=60, delay_seconds=5)
    assert_type(changed, QueueAttributes)
    queue.set_queue_attributes(max_receive_count=5, dead_letter_queue="jobs-dead")
    queue.set_queue_attributes(max_receive_count=5, dead_letter_queue=dead_letters)
    queue.set_queue_attributes(retention_seconds=None, max_receive_count=None)
    queue.set_queue_attributes(60)  # type: ignore[call-arg]
    queue.set_queue_attributes(visibility_timeout=None)  # type: ignore[arg-type]
    queue.set_queue_attributes(max_receive_count="5")  # type: ignore[arg-type]
    queue.set_queue_attributes(colour="blue")  # type: ignore[call-arg]


def redrive(dead: PyQueue) -> None:
    assert_type(dead.redrive_messages(), int)
    assert_type(dead.redrive_messages(max_messages=10), int)
    dead.redrive_messages("all")  # type: ignore[arg-type]
