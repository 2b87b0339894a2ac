"""The worker: a handler takes one ``ReceivedMessage``; its result is ignored; stats are typed;
the README's worker example type-checks as written."""

from typing import Dict

from typing_extensions import assert_type

from pyqueue_client import PyQueue, ReceivedMessage, Worker, WorkerStats


def handle(message: ReceivedMessage) -> None:
    print(message["Id"])


def handle_returning(message: ReceivedMessage) -> Dict[str, int]:
    return {"n": message["receive_count"]}


def handle_text(text: str) -> None:
    print(text)


def handle_two(message: ReceivedMessage, extra: int) -> None:
    print(message, extra)


def handle_nothing() -> None:
    print("no message")


def good_handlers(queue: PyQueue) -> None:
    worker = Worker(queue, handle, concurrency=8, visibility_timeout=60, stop_when_empty=True)
    assert_type(worker.run(), WorkerStats)
    assert_type(worker.stats["succeeded"], int)
    worker.stop()
    worker.stop(cold=True)
    Worker(queue, handle_returning, retry_delay=0, max_retry_delay=10.5, heartbeat=False)
    Worker(queue, lambda message: message["message_body"]["n"])


def bad_handlers(queue: PyQueue) -> None:
    Worker(queue, handle_text)  # type: ignore[arg-type]
    Worker(queue, handle_two)  # type: ignore[arg-type]
    Worker(queue, handle_nothing)  # type: ignore[arg-type]
    Worker(queue, "module:function")  # type: ignore[arg-type]


def bad_options(queue: PyQueue) -> None:
    Worker(queue, handle, 4)  # type: ignore[call-arg]
    Worker(queue, handle, concurrency="4")  # type: ignore[arg-type]
    Worker(handle, queue)  # type: ignore[arg-type]
    Worker(queue, handle).stop(True)  # type: ignore[call-arg]
    Worker(queue, handle).stats["done"]  # type: ignore[typeddict-item]


def readme_worker() -> None:
    jobs = PyQueue("jobs.db", queue_type="sqlite", queue_name="emails")
    jobs.add_messages([{"to": "a@example.com"}, {"to": "b@example.com"}])

    def send_email(message: ReceivedMessage) -> None:
        print("sending to", message["message_body"]["to"])  # raise to have it retried later

    stats = Worker(jobs, send_email, concurrency=4, stop_when_empty=True).run()
    assert stats["succeeded"] == 2
