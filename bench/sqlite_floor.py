"""Where the SQLite time goes: each library against the bare SQL statements it runs.

``sqlite_run.py`` compares whole libraries. This asks a narrower question: how fast could either
library be if its Python cost nothing? For each operation it times, in one process and in turns
(so the machine's load falls on every column alike):

- ``ours``: ``PyQueue(queue_type="sqlite", durable=False)``;
- ``ours, bare SQL``: the statements our backend sends for the same calls (from its module),
  on a plain ``sqlite3`` connection with the same settings;
- ``litequeue`` and ``litequeue, bare SQL``: the same for ``LiteQueue`` 0.14 (its own schema,
  made by the library; its statements, copied from its source).

All at ``synchronous=NORMAL`` in WAL mode, as litequeue runs. The bare columns are the ceiling
of each design: no library can beat its own statements. Their ratio is the best any rewrite of
our Python could reach against litequeue.

Run with the litequeue venv's interpreter and this checkout on ``PYTHONPATH`` (``sqlite_run.py``
makes that venv); ``make bench`` does::

    PYTHONPATH=. bench/.venv-litequeue/bin/python bench/sqlite_floor.py

Standard library only, plus the two libraries measured. Prints a Markdown table; ``--output``
also writes it with the date and the command.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from _report import machine_facts

#: One operation: set up a queue in a folder, then run the timed part; returns seconds.
Phase = Callable[[str, int], float]
BODY = {"task": "resize", "image": "photo-0001.jpg", "sizes": [64, 128, 256], "n": 0}


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


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
    try:
        return _timed(lambda: [queue.add_message(body) for body in bodies])
    finally:
        queue.close()


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

    try:
        return _timed(drain)
    finally:
        queue.close()


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
    try:
        return _timed(lambda: [db.execute(sql, row) for row in rows])
    finally:
        db.close()


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

    try:
        return _timed(drain)
    finally:
        db.close()


# -- litequeue ----------------------------------------------------------------------------------


def _lite(folder: str) -> Any:
    # imported by name: litequeue lives only in its own venv
    module: Any = importlib.import_module("litequeue")
    return module.LiteQueue(os.path.join(folder, "lq.db"))


def lite_add(folder: str, n: int) -> float:
    """``put(text)`` n times (the JSON text made beforehand)."""
    queue = _lite(folder)
    texts = [json.dumps(dict(BODY, n=i)) for i in range(n)]
    try:
        return _timed(lambda: [queue.put(text) for text in texts])
    finally:
        queue.close()


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

    try:
        return _timed(drain)
    finally:
        queue.close()


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
    try:
        return _timed(lambda: [db.execute(_LITE_INSERT, row) for row in rows])
    finally:
        db.close()


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

    try:
        return _timed(drain)
    finally:
        db.close()


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
    head = ["workload (msgs/s)", *names, "ours / litequeue", "bare ours / bare litequeue"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for operation, label in ROWS.items():
        rates = [best[(name, operation)] for name in names]
        ours, bare, lite, lite_bare = rates
        cells = [f"{rate:,.0f}" for rate in rates]
        cells += [f"{ours / lite:.2f}x", f"{bare / lite_bare:.2f}x"]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    ceiling = [best[("ours, bare SQL", op)] / best[("litequeue", op)] for op in ROWS]
    lines.append("")
    lines.append(
        "Ceiling (bare ours against the litequeue library): "
        + ", ".join(f"{op} {ratio:.2f}x" for op, ratio in zip(ROWS, ceiling))
        + ". No Python on top of our statements can be faster than they are alone."
    )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Measure, print the table, and write it when asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="messages per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best counts")
    parser.add_argument("--output", help="also write the table here, with the date and command")
    args = parser.parse_args(argv)
    best = measure(args.n, args.rounds)
    table = render(best)
    print(table)
    if args.output:
        facts = machine_facts()
        header = [
            "# SQLite: each library against its own bare SQL",
            "",
            f"- Date: {facts.date}",
            "- Command: `PYTHONPATH=. bench/.venv-litequeue/bin/python bench/sqlite_floor.py"
            + "".join(f" {arg}" for arg in (argv if argv is not None else sys.argv[1:]))
            + "`",
            f"- {facts.python}, SQLite {sqlite3.sqlite_version}; {facts.cores} cores,"
            f" {facts.cpu}; load average (1/5/15 min) at the end: {facts.load}",
            f"- N={args.n:,} per measurement, best of {args.rounds} rounds, the columns taking"
            " turns; synchronous=NORMAL, WAL.",
            "",
        ]
        with open(args.output, "w", encoding="utf-8") as file:
            file.write("\n".join(header) + "\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
