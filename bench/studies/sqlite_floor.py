"""A study: where the SQLite time goes, each library against the bare SQL statements it runs.

The ``sqlite`` suite of ``bench/run.py`` compares whole libraries. This asks a narrower question:
how fast could either library be if its Python cost nothing? For each operation it times, in one
process and in turns (so the machine's load falls on every column alike):

- ``ours``: ``PyQueue(queue_type="sqlite", durable=False)``;
- ``ours, bare SQL``: the statements our backend sends for the same calls (from its module),
  on a plain ``sqlite3`` connection with the same settings;
- ``litequeue`` and ``litequeue, bare SQL``: the same for ``LiteQueue`` 0.14 (its own schema,
  made by the library; its statements, copied from its source).

All at ``synchronous=NORMAL`` in WAL mode, as litequeue runs. The bare columns are the ceiling
of each design: no library can beat its own statements. Their ratio is the best any rewrite of
our Python could reach against litequeue.

It runs on the interpreter of the litequeue venv that the ``sqlite`` suite uses
(``bench/.venv-litequeue``, Python 3.12), with this checkout's library; started by any other
Python it makes that venv if needed and runs itself there::

    .venv/bin/python bench/studies/sqlite_floor.py [--n 5000] [--rounds 5] [--output FILE]

It prints a Markdown table; ``--output`` also writes it with the date and the command (the
last one is ``bench/results/sqlite-floor.md``). Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# This checkout's library and the benchmark's shared helpers, whatever the interpreter.
sys.path[:0] = [os.path.dirname(BENCH), BENCH]

from _report import machine_facts, markdown_table  # noqa: E402
from _venv import LITEQUEUE, ensure_venv, find_python  # noqa: E402

#: One operation: set up a queue in a folder, then run the timed part; returns seconds.
Phase = Callable[[str, int], float]
BODY = {"task": "resize", "image": "photo-0001.jpg", "sizes": [64, 128, 256], "n": 0}


def _timed(queue: Any, work: Callable[[], object]) -> float:
    """Seconds ``work`` takes; then ``queue`` (a library's queue, or a connection) is closed."""
    try:
        start = time.perf_counter()
        work()
        return time.perf_counter() - start
    finally:
        queue.close()


def _bare_connection(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


# -- ours -------------------------------------------------------------------------------------


def _ours(folder: str) -> Any:
    from pyqueue_client import PyQueue

    return PyQueue(queue_type="sqlite", queue_file=os.path.join(folder, "q.db"), durable=False)


def ours_add(folder: str, n: int) -> float:
    """``add_message`` n times."""
    queue = _ours(folder)
    bodies = [dict(BODY, n=i) for i in range(n)]
    return _timed(queue, lambda: [queue.add_message(body) for body in bodies])


def ours_drain(folder: str, n: int) -> float:
    """``receive_messages(1)`` + ``delete_message`` until empty."""
    queue = _ours(folder)
    queue.add_messages([dict(BODY, n=i) for i in range(n)])

    def drain() -> None:
        while True:
            received = queue.receive_messages(max_messages=1, visibility_timeout=30)
            if not received:
                return
            queue.delete_message(received[0]["ReceiptHandle"])

    return _timed(queue, drain)


def _ours_bare(folder: str) -> Tuple[sqlite3.Connection, Any]:
    from pyqueue_client._backends import sqlite as backend

    _ours(folder).close()  # the schema, made by the library
    return _bare_connection(os.path.join(folder, "q.db")), backend


def ours_bare_add(folder: str, n: int) -> float:
    """Our backend's INSERT, one autocommit statement per message, values made beforehand."""
    db, _ = _ours_bare(folder)
    text = json.dumps(BODY, separators=(",", ":"))
    rows = [("default", str(uuid.uuid4()), "2026-01-01T00:00:00.000000", text) for _ in range(n)]
    sql = "INSERT OR IGNORE INTO messages (queue, id, timestamp, body) VALUES (?, ?, ?, ?)"
    return _timed(db, lambda: [db.execute(sql, row) for row in rows])


def ours_bare_drain(folder: str, n: int) -> float:
    """Our backend's receive (expiry check, UPDATE ... RETURNING) and delete (by seq)."""
    db, backend = _ours_bare(folder)
    text = json.dumps(BODY, separators=(",", ":"))
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO messages (queue, id, timestamp, body) VALUES ('default', ?, '2026', ?)",
        [(str(uuid.uuid4()), text) for _ in range(n)],
    )
    db.execute("COMMIT")
    pick = backend._PICK.format(only_new="")
    update = (
        "UPDATE messages SET receive_count = receive_count + 1,"
        " first_received_at = COALESCE(first_received_at, :now),"
        " invisible_until = :until, receipt_handle = :token || seq"
        f" WHERE seq IN ({pick})"
        " RETURNING seq, id, timestamp, body, receive_count, first_received_at"
    )
    expired = (
        "SELECT 1 FROM messages WHERE queue = ? AND invisible_until IS NOT NULL"
        " AND invisible_until <= ? LIMIT 1"
    )
    params = {"queue": "default", "limit": 1, "now": "2026-01-01", "until": "2026-01-02"}

    def drain() -> None:
        while True:
            db.execute(expired, ("default", "2026-01-01")).fetchone()
            rows = db.execute(update, dict(params, token="receipt_x_")).fetchall()
            if not rows:
                return
            handle = f"receipt_x_{rows[0][0]}"
            delete = {"queue": "default", "handle": handle, "seq": rows[0][0]}
            db.execute(backend._DELETE_BY_HANDLE, delete)

    return _timed(db, drain)


# -- litequeue ----------------------------------------------------------------------------------


def _lite(folder: str) -> Any:
    # imported by name: litequeue lives only in its own venv
    module: Any = importlib.import_module("litequeue")
    return module.LiteQueue(os.path.join(folder, "lq.db"))


def lite_add(folder: str, n: int) -> float:
    """``put(text)`` n times (the JSON text made beforehand)."""
    queue = _lite(folder)
    texts = [json.dumps(dict(BODY, n=i)) for i in range(n)]
    return _timed(queue, lambda: [queue.put(text) for text in texts])


def lite_drain(folder: str, n: int) -> float:
    """``pop()`` + ``done(message_id, claim_id)`` until empty."""
    queue = _lite(folder)
    with queue.transaction(mode="IMMEDIATE"):
        for i in range(n):
            queue.put(json.dumps(dict(BODY, n=i)))

    def drain() -> None:
        while True:
            message = queue.pop()
            if message is None:
                return
            queue.done(message.message_id, claim_id=message.claim_id)

    return _timed(queue, drain)


# litequeue 0.14's statements (``_insert_message``, ``_pop_returning``, ``done``), with its
# status numbers: READY 0, LOCKED 1, DONE 2.
_LITE_INSERT = (
    'INSERT INTO "Queue" (data, message_id, idempotency_key, status, in_time, lock_time,'
    " done_time) VALUES (:data, :message_id, NULL, 0, :now, NULL, NULL)"
)
_LITE_POP = (
    'UPDATE "Queue" SET status = 1, lock_time = :now, claim_id = claim_id + 1 WHERE rowid ='
    ' (SELECT rowid FROM "Queue" WHERE status = 0 ORDER BY message_id LIMIT 1) RETURNING *'
)
_LITE_DONE = (
    'UPDATE "Queue" SET status = 2, done_time = :now'
    " WHERE message_id = :message_id AND status = 1 AND claim_id = :claim_id"
)


def _lite_bare(folder: str) -> sqlite3.Connection:
    _lite(folder).close()  # the schema, made by the library
    return _bare_connection(os.path.join(folder, "lq.db"))


def lite_bare_add(folder: str, n: int) -> float:
    """litequeue's INSERT, autocommit, values made beforehand."""
    db = _lite_bare(folder)
    text = json.dumps(BODY)
    rows = [{"data": text, "message_id": str(uuid.uuid4()), "now": i} for i in range(n)]
    return _timed(db, lambda: [db.execute(_LITE_INSERT, row) for row in rows])


def lite_bare_drain(folder: str, n: int) -> float:
    """litequeue's pop (BEGIN IMMEDIATE, UPDATE ... RETURNING, COMMIT) and done (UPDATE)."""
    db = _lite_bare(folder)
    text = json.dumps(BODY)
    db.execute("BEGIN")
    for i in range(n):
        db.execute(_LITE_INSERT, {"data": text, "message_id": f"{i:012d}", "now": i})
    db.execute("COMMIT")

    def drain() -> None:
        while True:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(_LITE_POP, {"now": 1}).fetchone()
            db.execute("COMMIT")
            if row is None:
                return
            claim = {"now": 2, "message_id": row[1], "claim_id": row[7]}
            db.execute(_LITE_DONE, claim)

    return _timed(db, drain)


COLUMNS: List[Tuple[str, Dict[str, Phase]]] = [
    ("ours", {"add": ours_add, "drain": ours_drain}),
    ("ours, bare SQL", {"add": ours_bare_add, "drain": ours_bare_drain}),
    ("litequeue", {"add": lite_add, "drain": lite_drain}),
    ("litequeue, bare SQL", {"add": lite_bare_add, "drain": lite_bare_drain}),
]
ROWS = {"add": "enqueue: N x add", "drain": "drain: receive(1) + delete"}


def measure(n: int, rounds: int) -> Dict[Tuple[str, str], float]:
    """Best msgs/s of each (column, operation), the columns taking turns in every round."""
    best: Dict[Tuple[str, str], float] = {}
    for _ in range(rounds):
        for operation in ROWS:
            for column, phases in COLUMNS:
                with tempfile.TemporaryDirectory(prefix="pyqueue-floor-") as folder:
                    rate = n / phases[operation](folder, n)
                key = (column, operation)
                best[key] = max(best.get(key, 0.0), rate)
    return best


def render(best: Dict[Tuple[str, str], float]) -> str:
    """The Markdown table: rates, then the two ratios that matter."""
    names = [column for column, _ in COLUMNS]
    rows = [["workload (msgs/s)", *names, "ours / litequeue", "bare ours / bare litequeue"]]
    for operation, label in ROWS.items():
        rates = [best[(name, operation)] for name in names]
        ours, bare, lite, lite_bare = rates
        cells = [f"{rate:,.0f}" for rate in rates]
        rows.append([label, *cells, f"{ours / lite:.2f}x", f"{bare / lite_bare:.2f}x"])
    ceiling = [best[("ours, bare SQL", op)] / best[("litequeue", op)] for op in ROWS]
    return (
        markdown_table(rows)
        + "\n\nCeiling (bare ours against the litequeue library): "
        + ", ".join(f"{op} {ratio:.2f}x" for op, ratio in zip(ROWS, ceiling))
        + ". No Python on top of our statements can be faster than they are alone."
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Measure, print the table, and write it when asked; on litequeue's interpreter."""
    words = sys.argv[1:] if argv is None else argv
    if importlib.util.find_spec("litequeue") is None:
        venv = os.path.join(BENCH, ".venv-" + LITEQUEUE.venv)
        python = ensure_venv(venv, LITEQUEUE, find_python("3.12"))
        return subprocess.call([python, os.path.abspath(__file__), *words])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=5000, help="messages per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best counts")
    parser.add_argument("--output", help="also write the table here, with the date and command")
    args = parser.parse_args(words)
    table = render(measure(args.n, args.rounds))
    print(table)
    if args.output:
        facts = machine_facts()
        command = " ".join(["python bench/studies/sqlite_floor.py", *words])
        header = [
            "# SQLite: each library against its own bare SQL",
            "",
            f"- Date: {facts.date}",
            f"- Command: `{command}`",
            f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version};"
            f" {facts.cores} cores, {facts.cpu}; load average (1/5/15 min) at the end:"
            f" {facts.load}",
            f"- N={args.n:,} per measurement, best of {args.rounds} rounds, the columns taking"
            " turns; synchronous=NORMAL, WAL.",
            "",
        ]
        with open(args.output, "w", encoding="utf-8") as file:
            file.write("\n".join(header) + "\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
