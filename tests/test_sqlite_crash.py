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

import random
import sqlite3
import sys
import time
from pathlib import Path
from typing import Dict, List, Set

import pytest

from pyqueue_client import PyQueue

from ._workers import (
    MAX_KILL_DELAY,
    CrashRound,
    assert_matches_history,
    crash_seed,
    kill_and_record,
)
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
    seed = crash_seed()
    delays = random.Random(seed).uniform
    options = ["--queue-type=sqlite", f"--queue-name={QUEUE_NAME}"] + (
        [] if durable else ["--fast"]
    )
    database = tmp_path / "queue.db"
    history = CrashRound(set(), set(), set(), set())
    wal_sizes: Dict[int, int] = {}
    for number in range(KILLS):
        context = f"seed {seed}, kill {number + 1} of {KILLS}"
        delay = delays(0, MAX_KILL_DELAY)
        env = child_env()
        kill_and_record(env, tmp_path, database, number, seed, delay, options, history, context)

        wal_sizes[number + 1] = _wal_bytes(database)
        raw = _raw_ids(database, context)
        ids = _fresh_queue_ids(database, context)
        assert ids == set(raw), f"{context}: the library and sqlite3 disagree"
        assert_matches_history(ids, history, context)
    # Shown with ``pytest -rP``: how much of the database each killed child left in the WAL.
    print(f"seed {seed}; -wal bytes after each kill: {wal_sizes}")
