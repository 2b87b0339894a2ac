"""Child processes for the process tests of long polling, dead letters and redrive.

``python -m tests._sqs_child ROLE QUEUE_TYPE STORE [DEAD] [options]``: ``wait`` receives with a
long poll and prints what it got and how long it waited; ``fail`` receives and never deletes
(a handler that always fails) until the queue stays empty; ``work`` receives and deletes, writing
each delivered id to its log; ``move`` adds, receives and redrives in a loop (to be killed),
writing each id to its log once its add returned.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional, Sequence

from pyqueue_client import PyQueue


def open_queue(queue_type: str, store: str, name: str = "jobs") -> PyQueue:
    """The queue ``name`` of ``store`` (a JSON file is its own queue: ``name`` is ignored)."""
    if queue_type == "local":
        return PyQueue(store, durable=False)
    return PyQueue(store, queue_type="sqlite", queue_name=name, durable=False)


def _wait(args: argparse.Namespace) -> int:
    queue = open_queue(args.queue_type, args.store)
    print("ready", flush=True)
    started = time.monotonic()
    received = queue.receive_messages(wait_time_seconds=args.seconds)
    print(json.dumps({"ids": [m["Id"] for m in received], "waited": time.monotonic() - started}))
    return 0


def _fail(args: argparse.Namespace) -> int:
    queue = open_queue(args.queue_type, args.store)
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < args.seconds:
        if queue.receive_messages(max_messages=5, visibility_timeout=0):
            idle_since = time.monotonic()
    return 0


def _work(args: argparse.Namespace) -> int:
    queue = open_queue(args.queue_type, args.store)
    idle_since = time.monotonic()
    with open(args.log, "a", encoding="utf-8") as log:
        while time.monotonic() - idle_since < args.seconds:
            received = queue.receive_messages(max_messages=5, visibility_timeout=30)
            if received:
                idle_since = time.monotonic()
            for message in received:
                if queue.delete_message(message["ReceiptHandle"]):
                    log.write(message["Id"] + "\n")
                    log.flush()
    return 0


def _move(args: argparse.Namespace) -> int:
    queue = open_queue("local", args.store)
    dead = open_queue("local", args.dead)
    with open(args.log, "a", encoding="utf-8") as log:
        for number in range(100_000):
            item_id = f"{args.prefix}-{number}"
            queue.add_message({"n": number}, item_id=item_id)
            log.write(item_id + "\n")
            log.flush()
            queue.receive_messages(visibility_timeout=0)
            queue.receive_messages(visibility_timeout=0)
            if number % 3 == 0:
                dead.redrive_messages(max_messages=2)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one role; see the module's docstring."""
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["wait", "fail", "work", "move"])
    parser.add_argument("queue_type")
    parser.add_argument("store")
    parser.add_argument("--dead", default="")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--log", default="")
    parser.add_argument("--prefix", default="m")
    args = parser.parse_args(argv)
    roles = {"wait": _wait, "fail": _fail, "work": _work, "move": _move}
    return roles[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
