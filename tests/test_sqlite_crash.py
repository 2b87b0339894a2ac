"""A process killed with SIGKILL at random moments never leaves a broken or stuck SQLite queue.

One child after another runs the ``churn`` loop of ``tests/_workers.py`` (add / receive / delete)
on one named queue of one database and is killed at a random moment, 20 times on the same file;
once with durable writes (the default: ``synchronous=FULL``) and once with ``durable=False``
(``synchronous=NORMAL``, which may lose the last commits on power loss but not on a process
crash). After every kill:

- the database, opened read-only with plain ``sqlite3`` as the dead child left it (its ``-wal``
  and ``-shm`` files included), passes ``PRAGMA integrity_check``;
- a fresh ``PyQueue`` opens it, reads it and writes to it promptly: no lock outlives its process;
- it agrees with the children's logs: nothing that was added is lost unless some child had
  started deleting it, nothing appears that no child had started adding, and nothing whose
  delete returned True comes back.

The kill delays come from a seed printed in every assertion message; set
``PYQUEUE_CRASH_SEED`` to replay a run's delays (the exact kill points still depend on timing).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Set

import pytest

from pyqueue_client import PyQueue

from ._workers import Worker, read_log, start, wait_for
from .conftest import child_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL semantics are POSIX"),
]

KILLS = 20
#: The named queue the children churn on (not the default, so names are exercised too).
QUEUE_NAME = "crash"
#: A kill must not leave a lock held: the next write gets it well within this many seconds.
LOCK_TIMEOUT = 5.0
#: Longest random wait between the child's first completed add and its SIGKILL.
MAX_KILL_DELAY = 0.15
#: ``Popen.returncode`` of a child that SIGKILL ended.
KILLED = -int(getattr(signal, "SIGKILL", 9))


class Round(NamedTuple):
    """What the killed children logged, as sets of ids."""

    adding: Set[str]
    added: Set[str]
    deleting: Set[str]
    deleted: Set[str]


def _seed() -> int:
    configured = os.environ.get("PYQUEUE_CRASH_SEED")
    return int(configured) if configured else random.SystemRandom().randrange(2**32)


def _run_and_kill(
    tmp_path: Path, database: Path, number: int, seed: int, delay: float, durable: bool
) -> Worker:
    """Start a churning child, let it complete one add, then SIGKILL it ``delay`` s later."""
    log = tmp_path / f"churn{number}.log"
    options = [
        "--queue-type=sqlite",
        f"--queue-name={QUEUE_NAME}",
        f"--log={log}",
        f"--prefix=r{number}",
        f"--seed={seed + number}",
    ]
    if not durable:
        options.append("--fast")
    worker = start(child_env(), tmp_path, f"churn{number}", "churn", str(database), *options)
    try:
        wait_for(
            lambda: "added" in read_log(log) or worker.process.poll() is not None,
            30,
            f"churn{number} to add its first message",
        )
        time.sleep(delay)
    finally:
        worker.kill()  # SIGKILL
    return worker


def _round(log: Path) -> Round:
    events = read_log(log)
    return Round(
        *(set(events.get(name, [])) for name in ("adding", "added", "deleting", "deleted"))
    )


def _raw_ids(database: Path, context: str) -> List[str]:
    """Check the database as the killed child left it, with plain read-only ``sqlite3``; its ids.

    Read-only means no checkpoint, so the check sees the ``-wal`` file the child left, too.
    """
    connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        assert integrity == ["ok"], f"{context}: integrity_check says {integrity}"
        rows = connection.execute(
            "SELECT id FROM messages WHERE queue = ? ORDER BY seq", (QUEUE_NAME,)
        ).fetchall()
        others = connection.execute(
            "SELECT COUNT(*) FROM messages WHERE queue != ?", (QUEUE_NAME,)
        ).fetchone()[0]
    finally:
        connection.close()
    assert others == 0, f"{context}: {others} message(s) in a queue nobody used"
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), f"{context}: duplicate ids in the queue"
    return ids


def _fresh_queue_ids(database: Path, context: str) -> Set[str]:
    """Open the database with a new ``PyQueue`` (as a restarted program would), write (a
    ``cleanup_expired_messages`` transaction, which adds and removes nothing) and list its ids;
    all of it within a fraction of ``LOCK_TIMEOUT``."""
    began = time.monotonic()
    with PyQueue(database, "sqlite", queue_name=QUEUE_NAME, lock_timeout=LOCK_TIMEOUT) as queue:
        assert queue.cleanup_expired_messages(), context
        ids = {message["id"] for message in queue.get_messages()}
        waited = time.monotonic() - began
        assert queue.health_check(), f"{context}: health_check() is False"
        assert queue.get_queue_info()["message_count"] == len(ids), context
    assert waited < LOCK_TIMEOUT / 2, f"{context}: opening, writing and reading took {waited:.2f} s"
    return ids


def _wal_bytes(database: Path) -> int:
    """The size of the ``-wal`` file next to the database: commits not yet checkpointed."""
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "fast"])
def test_sigkill_at_random_moments_never_corrupts_or_loses(tmp_path: Path, durable: bool) -> None:
    """20 SIGKILLs of an add/receive/delete loop on one database: it stays sound, no lock is left
    behind, and the queue matches the logs (see the module docstring)."""
    seed = _seed()
    delays = random.Random(seed).uniform
    database = tmp_path / "queue.db"
    history = Round(set(), set(), set(), set())
    wal_sizes: Dict[int, int] = {}
    for number in range(KILLS):
        context = f"seed {seed}, kill {number + 1} of {KILLS}"
        delay = delays(0, MAX_KILL_DELAY)
        worker = _run_and_kill(tmp_path, database, number, seed, delay, durable)
        assert worker.process.returncode == KILLED, f"{context}: {worker.describe()}"
        logged = _round(tmp_path / f"churn{number}.log")
        assert logged.added, f"{context}: the child never completed an add"
        for seen, new in zip(history, logged):
            seen.update(new)

        wal_sizes[number + 1] = _wal_bytes(database)
        raw = _raw_ids(database, context)
        ids = _fresh_queue_ids(database, context)
        assert ids == set(raw), f"{context}: the library and sqlite3 disagree"
        lost = history.added - history.deleting - ids
        assert not lost, f"{context}: added, never deleted, but gone: {sorted(lost)}"
        back = history.deleted & ids
        assert not back, f"{context}: deleted (delete_message returned True) yet present: {back}"
        unknown = ids - history.adding
        assert not unknown, f"{context}: in the queue but never added: {sorted(unknown)}"
    # Shown with ``pytest -rP``: how much of the database each killed child left in the WAL.
    print(f"seed {seed}; -wal bytes after each kill: {wal_sizes}")
