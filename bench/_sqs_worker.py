"""One client's measurements for the ``sqs`` suite, run in a process of its own.

``python bench/_sqs_worker.py ours|boto3 calls ENDPOINT QUEUE_URL KEY SECRET ROUNDS``: each
round sends a batch of 10, receives 10 and deletes them in one batch; prints, as JSON, the
process (CPU) time and wall time of every call. ``... cold ...``: the import, the client and a
first ``GetQueueAttributes``, timed from inside a fresh interpreter.

Runs on this checkout's interpreter (``ours``) or in boto3's venv (``boto3``), so it imports only
the standard library at the top.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

#: Calls each round makes, in order.
CALLS = ("send", "receive", "delete")
_WARM_UP = 5
_REGION = "us-east-1"


class _Ours:
    def __init__(self, endpoint: str, url: str, key: str, secret: str) -> None:
        from pyqueue_client import PyQueue

        self.queue = PyQueue(
            queue_type="sqs",
            queue_url=url,
            endpoint_url=endpoint,
            region=_REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def send(self, bodies: List[Dict[str, Any]]) -> None:
        self.queue.add_messages(bodies)

    def receive(self) -> List[str]:
        received = self.queue.receive_messages(max_messages=10, visibility_timeout=60)
        return [message["ReceiptHandle"] for message in received]

    def delete(self, handles: List[str]) -> None:
        self.queue.delete_messages(handles)

    def first_call(self) -> None:
        self.queue.get_queue_info()


class _Boto3:
    def __init__(self, endpoint: str, url: str, key: str, secret: str) -> None:
        # imported by name: boto3 lives in the peer's venv, and it has no type hints
        boto3 = importlib.import_module("boto3")
        self.url = url
        self.client = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name=_REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def send(self, bodies: List[Dict[str, Any]]) -> None:
        # the same request as ours: the JSON body and the id as a message attribute
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(body, separators=(",", ":")),
                "MessageAttributes": {
                    "pyqueue_id": {"DataType": "String", "StringValue": f"m-{time.time_ns()}"}
                },
            }
            for index, body in enumerate(bodies)
        ]
        self.client.send_message_batch(QueueUrl=self.url, Entries=entries)

    def receive(self) -> List[str]:
        answer = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            MessageAttributeNames=["pyqueue_id"],
            MessageSystemAttributeNames=[
                "SentTimestamp",
                "ApproximateReceiveCount",
                "ApproximateFirstReceiveTimestamp",
            ],
        )
        return [message["ReceiptHandle"] for message in answer.get("Messages", [])]

    def delete(self, handles: List[str]) -> None:
        entries = [{"Id": str(index), "ReceiptHandle": h} for index, h in enumerate(handles)]
        self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)

    def first_call(self) -> None:
        self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])


def _timed(call: Callable[[], Any]) -> Tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = call()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _calls(client: Any, rounds: int) -> Dict[str, List[List[float]]]:
    """Per call: a list of ``[cpu seconds, wall seconds]``, warm-up rounds left out."""
    times: Dict[str, List[List[float]]] = {name: [] for name in CALLS}
    bodies = [
        {"task": "resize", "image": f"img-{i:04d}.png", "size": [640, 480]} for i in range(10)
    ]
    for round_number in range(_WARM_UP + rounds):
        _, send_cpu, send_wall = _timed(functools.partial(client.send, bodies))
        handles, receive_cpu, receive_wall = _timed(client.receive)
        _, delete_cpu, delete_wall = _timed(functools.partial(client.delete, handles))
        if len(handles) != 10:
            raise RuntimeError(f"received {len(handles)} messages, not 10")
        if round_number >= _WARM_UP:
            times["send"].append([send_cpu, send_wall])
            times["receive"].append([receive_cpu, receive_wall])
            times["delete"].append([delete_cpu, delete_wall])
    return times


def main(argv: List[str]) -> int:
    """Measure and print the JSON result."""
    which, mode, endpoint, url, key, secret, rounds = argv
    started = time.perf_counter()
    client = (_Ours if which == "ours" else _Boto3)(endpoint, url, key, secret)
    if mode == "cold":
        client.first_call()
        print(json.dumps({"cold_seconds": time.perf_counter() - started}))
        return 0
    print(json.dumps(_calls(client, int(rounds))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
