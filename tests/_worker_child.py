"""A worker process for the process tests of the worker.

``python -m tests._worker_child QUEUE_TYPE STORE LOG MODE [options]`` runs a ``Worker`` on the
queue ``jobs`` of ``STORE`` (a JSON file is its own queue). Its handler writes ``start ID`` and
``done ID`` lines to ``LOG``; in ``slow`` mode it takes ``--seconds`` in between, in ``block``
mode it never finishes (until the process ends). The worker's log goes to ``LOG.worker``; the
final stats are printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from typing import Optional, Sequence

from pyqueue_client import ReceivedMessage, Worker

from ._sqs_child import open_queue


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the worker until it stops; see the module's docstring."""
    parser = argparse.ArgumentParser()
    parser.add_argument("queue_type")
    parser.add_argument("store")
    parser.add_argument("log")
    parser.add_argument("mode", choices=["fast", "slow", "block"])
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--visibility", type=float, default=30.0)
    parser.add_argument("--burst", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(filename=args.log + ".worker", level=logging.INFO)
    lock = threading.Lock()
    with open(args.log, "a", encoding="utf-8") as log:

        def write(line: str) -> None:
            with lock:
                log.write(line + "\n")
                log.flush()

        def handle(message: ReceivedMessage) -> None:
            write(f"start {message['Id']}")
            if args.mode == "slow":
                time.sleep(args.seconds)
            elif args.mode == "block":
                threading.Event().wait()
            write(f"done {message['Id']}")

        queue = open_queue(args.queue_type, args.store)
        worker = Worker(
            queue,
            handle,
            concurrency=args.concurrency,
            visibility_timeout=args.visibility,
            wait_time_seconds=0.2,
            stop_when_empty=args.burst,
        )
        print(json.dumps(worker.run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
