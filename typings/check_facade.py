"""Constructing a ``PyQueue`` (the overloads on ``queue_type``) and what each method returns."""

import ssl
from datetime import datetime
from pathlib import Path
from typing import List, Optional, TypedDict

from typing_extensions import assert_type

import pyqueue_client
from pyqueue_client import (
    QUEUE_FILE_PATH,
    DeleteMessagesResult,
    FileQueueType,
    PyQueue,
    QueueInfo,
    ReceivedMessage,
    StoredMessage,
    copy_queue,
)

SERVER = "http://127.0.0.1:8000"


def fixed_clock() -> datetime:
    return datetime(2026, 1, 22, 12, 0, 0)


# -- construction that type-checks -----------------------------------------------------------


def local_queues() -> None:
    assert_type(PyQueue(), PyQueue)
    assert_type(PyQueue("queue.json"), PyQueue)
    assert_type(PyQueue(Path("queue.json")), PyQueue)
    assert_type(PyQueue(queue_file=QUEUE_FILE_PATH), PyQueue)
    assert_type(PyQueue(queue_type="local"), PyQueue)
    assert_type(PyQueue(queue_type="local", queue_file="queue.json"), PyQueue)
    # The original signature, positionally, and its remote-only arguments left at None.
    assert_type(PyQueue("queue.json", "local", None, None, "default", 30), PyQueue)
    assert_type(PyQueue(queue_type="local", server_url=None, api_key=None), PyQueue)
    # The keyword-only options.
    assert_type(PyQueue("queue.json", durable=False, lock_timeout=2.5), PyQueue)
    assert_type(PyQueue("queue.json", clock=fixed_clock), PyQueue)
    assert_type(PyQueue(clock=lambda: datetime(2026, 1, 22)), PyQueue)


def memory_queues() -> None:
    assert_type(PyQueue(queue_type="memory"), PyQueue)
    assert_type(PyQueue(queue_type="memory", clock=fixed_clock), PyQueue)
    assert_type(PyQueue(None, queue_type="memory"), PyQueue)


def remote_queues() -> None:
    # The README's keyword form (every keyword) is check_readme.quick_start_remote.
    assert_type(PyQueue(queue_type="remote", server_url=SERVER), PyQueue)
    assert_type(PyQueue(queue_type="remote", server_url=SERVER, timeout=2.5), PyQueue)
    assert_type(PyQueue(queue_type="remote", server_url=SERVER, api_key=None), PyQueue)
    assert_type(PyQueue(queue_file=None, queue_type="remote", server_url=SERVER), PyQueue)
    # The original signature, positionally.
    assert_type(PyQueue(None, "remote", SERVER, "key", "tasks", 30), PyQueue)


def context_manager() -> None:
    with PyQueue("queue.json") as queue:
        assert_type(queue, PyQueue)
    with PyQueue(queue_type="memory") as memory:
        assert_type(memory, PyQueue)
    with PyQueue(queue_type="remote", server_url=SERVER, api_key="key") as remote:
        assert_type(remote, PyQueue)


def module_constants() -> None:
    assert_type(QUEUE_FILE_PATH, str)
    assert_type(pyqueue_client.__version__, str)


# -- construction that is rejected -----------------------------------------------------------


def local_with_remote_arguments() -> None:
    PyQueue(queue_type="local", server_url=SERVER)  # type: ignore[call-overload]
    PyQueue("queue.json", server_url=SERVER)  # type: ignore[call-overload]
    PyQueue(queue_type="local", api_key="key")  # type: ignore[call-overload]
    PyQueue("queue.json", "local", SERVER)  # type: ignore[call-overload]


def remote_without_server_url() -> None:
    PyQueue(queue_type="remote")  # type: ignore[call-overload]
    PyQueue(queue_type="remote", queue_name="tasks", api_key="key")  # type: ignore[call-overload]
    PyQueue(queue_type="remote", server_url=None)  # type: ignore[call-overload]


def sqs_queues() -> None:
    assert_type(PyQueue(queue_type="sqs", queue_name="jobs", region="eu-west-1"), PyQueue)
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"
    assert_type(PyQueue(queue_type="sqs", queue_url=url, create_queue=True), PyQueue)
    assert_type(PyQueue(queue_type="sqs", profile="work", aws_session_token=None), PyQueue)


def sqs_options_elsewhere() -> None:
    PyQueue("queue.json", region="eu-west-1")  # type: ignore[call-overload]
    PyQueue(queue_type="remote", server_url=SERVER, profile="p")  # type: ignore[call-overload]
    PyQueue(queue_type="sqs", server_url=SERVER)  # type: ignore[call-overload]
    PyQueue(queue_type="sqs", durable=False)  # type: ignore[call-overload]


def remote_with_local_arguments() -> None:
    PyQueue("queue.json", "remote", SERVER)  # type: ignore[call-overload]
    PyQueue(queue_type="remote", server_url=SERVER, durable=False)  # type: ignore[call-overload]


def unknown_queue_type() -> None:
    PyQueue(queue_type="bogus")  # type: ignore[call-overload]
    PyQueue("queue.json", "bogus")  # type: ignore[call-overload]


def memory_with_local_arguments() -> None:
    PyQueue(queue_type="memory", queue_file="queue.json")  # type: ignore[call-overload]
    PyQueue("queue.json", queue_type="memory")  # type: ignore[call-overload]
    PyQueue(queue_type="memory", lock_timeout=1.0)  # type: ignore[call-overload]


def wrong_option_types() -> None:
    PyQueue("queue.json", timeout="30")  # type: ignore[call-overload]
    PyQueue(queue_file=42)  # type: ignore[call-overload]


# -- what each method returns ----------------------------------------------------------------


def method_results(queue: PyQueue) -> None:
    assert_type(queue.add_message({"task": "send_email"}), str)
    assert_type(queue.add_message({"task": "send_email"}, item_id="m1"), str)
    assert_type(queue.add_message({"task": "send_email"}, None), str)
    assert_type(queue.add_messages([{"n": 1}, {"n": 2}]), List[str])
    assert_type(queue.add_messages([{"n": 1}, {"n": 2}], item_ids=["m1", None]), List[str])
    assert_type(queue.get_messages(), List[StoredMessage])
    assert_type(queue.get_messages(max_messages=10), List[StoredMessage])
    assert_type(queue.get_message("m1"), Optional[StoredMessage])
    assert_type(queue.has_message("m1"), bool)
    assert_type(queue.check_existence(["m1", "m2"]), List[str])
    assert_type(queue.check_existence(("m1", "m2")), List[str])
    assert_type(queue.check_existence({"m1"}), List[str])
    assert_type(queue.receive_messages(), List[ReceivedMessage])
    assert_type(queue.receive_messages(5, 60, False, True), List[ReceivedMessage])
    assert_type(queue.receive_messages(visibility_timeout=0.5), List[ReceivedMessage])
    assert_type(queue.delete_message("handle"), bool)
    assert_type(queue.delete_messages(["handle-1", "handle-2"]), DeleteMessagesResult)
    assert_type(queue.remove_message("m1"), bool)
    assert_type(queue.update_message("m1", {"task": "send_sms"}), bool)
    assert_type(queue.clear_queue(), bool)
    assert_type(queue.get_queue_info(), QueueInfo)
    assert_type(queue.health_check(), bool)
    assert_type(queue.cleanup_expired_messages(), bool)
    assert_type(queue.close(), None)


def handles_flow_between_methods(queue: PyQueue) -> None:
    received = queue.receive_messages(max_messages=10)
    assert_type(queue.delete_message(received[0]["ReceiptHandle"]), bool)
    handles = [message["ReceiptHandle"] for message in received]
    assert_type(queue.delete_messages(handles), DeleteMessagesResult)
    ids = queue.add_messages([{"n": 1}])
    assert_type(queue.check_existence(ids), List[str])
    assert_type(queue.check_existence(m["id"] for m in queue.get_messages()), List[str])


# -- method calls that are rejected ----------------------------------------------------------


def wrong_arguments(queue: PyQueue) -> None:
    queue.receive_messages(max_messages="5")  # type: ignore[arg-type]
    queue.receive_messages(visibility_timeout="30")  # type: ignore[arg-type]
    queue.add_message("not a dict")  # type: ignore[arg-type]
    queue.add_message({"task": "x"}, item_id=7)  # type: ignore[arg-type]
    queue.add_messages({"task": "x"})  # type: ignore[arg-type]
    queue.get_messages(max_messages="10")  # type: ignore[arg-type]
    queue.get_message(42)  # type: ignore[arg-type]
    queue.update_message("m1", "new text")  # type: ignore[arg-type]
    received = queue.receive_messages(max_messages=1)
    # The whole message instead of its receipt handle.
    queue.delete_message(received[0])  # type: ignore[arg-type]


def wrong_result_types(queue: PyQueue) -> None:
    message_id: int = queue.add_message({"task": "x"})  # type: ignore[assignment]
    found: StoredMessage = queue.get_message("m1")  # type: ignore[assignment]
    first: ReceivedMessage = queue.get_messages()[0]  # type: ignore[assignment]
    print(message_id, found, first)


# -- user types flow through ----------------------------------------------------------------


class Task(TypedDict):
    """A user's own body type."""

    task: str
    to: str


class TaskQueue(PyQueue):
    """A user's subclass keeps its type in ``with``."""


def typed_bodies_and_subclasses(path: str) -> None:
    queue = PyQueue(queue_file=path)
    task: Task = {"task": "send_email", "to": "user@example.com"}
    assert_type(queue.add_message(task), str)
    assert_type(queue.add_messages([task, task]), List[str])
    assert_type(queue.update_message("id", task), bool)
    assert_type(PyQueue(None, "memory"), PyQueue)
    with TaskQueue(queue_file=path) as mine:
        assert_type(mine, TaskQueue)


# -- sqlite, run-time choices, copying, TLS -------------------------------------------------


def sqlite_queues(path: Path, chosen: FileQueueType) -> None:
    assert_type(PyQueue(queue_type="sqlite"), PyQueue)
    assert_type(PyQueue(path, queue_type="sqlite", queue_name="emails", durable=False), PyQueue)
    assert_type(PyQueue(path, "sqlite", None, None, "emails"), PyQueue)
    assert_type(PyQueue(path, queue_type=chosen, queue_name="jobs"), PyQueue)
    assert_type(copy_queue(PyQueue(path), PyQueue(path, queue_type="sqlite")), int)
    assert_type(copy_queue(PyQueue(path), PyQueue(path), progress=lambda done, total: None), int)
    assert_type(PyQueue().get_messages(10, offset=20), List[StoredMessage])


def remote_with_tls(context: ssl.SSLContext) -> None:
    queue = PyQueue(
        queue_type="remote",
        server_url="https://127.0.0.1:8443",
        api_key="key",
        ssl_context=context,
    )
    assert_type(queue, PyQueue)


def sqlite_with_remote_arguments(path: Path) -> None:
    PyQueue(path, queue_type="sqlite", server_url="http://x")  # type: ignore[call-overload]
    PyQueue(path, queue_type="sqlite", ssl_context=None)  # type: ignore[call-overload]


def local_with_tls(context: ssl.SSLContext) -> None:
    PyQueue("queue.json", ssl_context=context)  # type: ignore[call-overload]
