"""``pyqueue send`` of JSON lines into SQLite, against its target (20,000 messages/s) and floors.

Each round writes N JSON lines to a file, then times, in turns (so the machine's load falls on
every row alike), on a new database each time:

- ``send < file``: ``python -m pyqueue_client send --queue sqlite:DB#bench`` reading the file;
- ``send, stdin a pipe``: the same reading a pipe fed by another process;
- ``start-up, empty stdin``: the same command with nothing to send (interpreter, import, open);
- ``library add_messages``: in this process, the bodies already parsed, ``add_messages`` in
  batches of the CLI's default size: the library's floor, with no command line around it;
- ``json.loads only``: parsing the lines, which the command must do and the library cannot.

Rates are N divided by the best round's wall time. Everything runs with the defaults a user
gets (fsync on). Not part of ``make bench``::

    .venv/bin/python bench/cli_send.py [--n 100000] [--rounds 3] [--batch 1000]

Exits 1 when the best ``send < file`` round is below the target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH))  # this checkout's library

from pyqueue_client import PyQueue  # noqa: E402
from pyqueue_client._cli_commands import DEFAULT_SEND_BATCH  # noqa: E402

TARGET = 20_000
_PRODUCER = "import shutil, sys; shutil.copyfileobj(open(sys.argv[1], 'rb'), sys.stdout.buffer)"


def _lines_file(folder: str, n: int) -> str:
    path = os.path.join(folder, "lines.jsonl")
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            body = {"task": "email", "to": f"user{i}@example.com", "template": "welcome", "n": i}
            out.write(json.dumps(body) + "\n")
    return path


def _send_command(database: str, batch: int) -> List[str]:
    queue = f"sqlite:{database}#bench"
    return [sys.executable, "-m", "pyqueue_client", "send", "--queue", queue, "--batch", str(batch)]


def _timed_run(command: List[str], stdin_path: str, piped: bool) -> float:
    start = time.perf_counter()
    if piped:
        producer = subprocess.Popen(
            [sys.executable, "-c", _PRODUCER, stdin_path], stdout=subprocess.PIPE
        )
        subprocess.run(command, stdin=producer.stdout, stdout=subprocess.DEVNULL, check=True)
        assert producer.stdout is not None
        producer.stdout.close()
        producer.wait()
    else:
        with open(stdin_path, "rb") as stdin:
            subprocess.run(command, stdin=stdin, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _library(database: str, lines_path: str, batch: int) -> float:
    with open(lines_path, "rb") as source:
        bodies = [json.loads(line) for line in source]
    with PyQueue(database, queue_type="sqlite", queue_name="bench") as queue:
        start = time.perf_counter()
        for first in range(0, len(bodies), batch):
            queue.add_messages(bodies[first : first + batch])
        return time.perf_counter() - start


def _parse_only(lines_path: str) -> float:
    with open(lines_path, "rb") as source:
        lines = source.read().split(b"\n")
    start = time.perf_counter()
    for line in lines:
        if line:
            json.loads(line)
    return time.perf_counter() - start


def main(argv: List[str]) -> int:
    """Run the rounds and print the table; 1 if ``send < file`` misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=100_000, help="lines (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument(
        "--batch", type=int, default=DEFAULT_SEND_BATCH, help="send --batch (default: %(default)s)"
    )
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        lines_path = _lines_file(folder, options.n)
        empty = os.path.join(folder, "empty.jsonl")
        open(empty, "w").close()
        counter = iter(range(10**6))

        def database() -> str:
            return os.path.join(folder, f"q{next(counter)}.db")

        rows: Dict[str, Callable[[], float]] = {
            "send < file": lambda: _timed_run(
                _send_command(database(), options.batch), lines_path, False
            ),
            "send, stdin a pipe": lambda: _timed_run(
                _send_command(database(), options.batch), lines_path, True
            ),
            "start-up, empty stdin": lambda: _timed_run(
                _send_command(database(), options.batch), empty, False
            ),
            "library add_messages": lambda: _library(database(), lines_path, options.batch),
            "json.loads only": lambda: _parse_only(lines_path),
        }
        best = {name: float("inf") for name in rows}
        for _ in range(options.rounds):
            for name, run in rows.items():
                best[name] = min(best[name], run())
    print(
        f"pyqueue send: {options.n:,} JSON lines into sqlite, --batch {options.batch}, "
        f"best of {options.rounds}\n"
    )
    print("| measurement | seconds | messages/s |")
    print("|---|---:|---:|")
    for name, seconds in best.items():
        rate = "-" if name.startswith("start-up") else f"{options.n / seconds:,.0f}"
        print(f"| {name} | {seconds:.3f} | {rate} |")
    rate = options.n / best["send < file"]
    verdict = "met" if rate >= TARGET else "missed"
    print(f"\ntarget {TARGET:,}/s: {verdict} ({rate:,.0f}/s)")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
