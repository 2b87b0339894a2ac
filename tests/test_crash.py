"""A process killed with SIGKILL at random moments never leaves a broken or stuck queue behind,
on the local JSON file or on SQLite.

One child after another runs the ``churn`` loop of ``tests/_workers.py`` (add / receive / delete)
on one store and is killed at a random moment, 20 times on the same store; once with durable
writes (the default: fsync and rename over for the JSON file, ``synchronous=FULL`` for SQLite)
and once with ``durable=False`` (the JSON file is then moved aside while the new one is renamed
in, and recovered after a crash; SQLite runs with ``synchronous=NORMAL``, which may lose the last
commits on power loss but not on a process crash). SQLite's children churn on a named queue (not
the default one, so names are exercised too). After every kill:

- the store as the dead child left it is sound, read without the library: a durable JSON file is
  a JSON array (it is renamed over, never moved aside, so it needs no recovery); the database,
  opened read-only with plain ``sqlite3`` (its ``-wal`` and ``-shm`` files included), passes
  ``PRAGMA integrity_check`` and holds no other queue. Each holds every id once;
- a fresh ``PyQueue`` opens it, writes to it and reads it promptly: no lock outlives its process;
- it agrees with the children's logs: nothing that was added is lost unless some child had
  started deleting it, nothing appears that no child had started adding, and nothing whose
  delete returned True comes back.

The kill delays come from a seed printed in every assertion message; set
``PYQUEUE_CRASH_SEED`` to replay a run's delays (the exact kill points still depend on timing).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Set, Union

import pytest

from ._workers import (
    MAX_KILL_DELAY,
    QUEUE_TYPES,
    STORE_NAMES,
    CrashRound,
    assert_matches_history,
    crash_seed,
    kill_and_record,
    queue_at,
    stored_ids,
)
from .conftest import child_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL semantics are POSIX"),
]

KILLS = 20
#: The named queue SQLite's children churn on.
QUEUE_NAME = "crash"
#: A kill must not leave a lock held: the next call gets it well within this many seconds.
LOCK_TIMEOUT = 5.0


def _raw_ids(queue_type: str, store: Path, context: str) -> List[str]:
    """The store's ids read without the library (see ``stored_ids``), each there once; the
    database must hold no queue but ``QUEUE_NAME``."""
    ids = stored_ids(queue_type, store, QUEUE_NAME, context)
    assert len(ids) == len(set(ids)), f"{context}: duplicate ids in the store"
    if queue_type == "sqlite":
        everything = stored_ids(queue_type, store, None, context)
        assert everything == ids, f"{context}: messages in a queue nobody used"
    return ids


def _fresh_queue_ids(queue_type: str, store: Path, context: str) -> Set[str]:
    """Open the store with a new ``PyQueue`` (as a restarted program would), write (a
    ``cleanup_expired_messages`` call, which adds and removes nothing) and list its ids; all of it
    within a fraction of ``LOCK_TIMEOUT``."""
    began = time.monotonic()
    with queue_at(queue_type, store, QUEUE_NAME, durable=True, lock_timeout=LOCK_TIMEOUT) as queue:
        assert queue.cleanup_expired_messages(), context
        ids = {message["id"] for message in queue.get_messages()}
        waited = time.monotonic() - began
        assert queue.health_check(), f"{context}: health_check() is False"
        assert queue.get_queue_info()["message_count"] == len(ids), context
    assert waited < LOCK_TIMEOUT / 2, f"{context}: opening, writing and reading took {waited:.2f} s"
    return ids


def _left_behind(queue_type: str, store: Path) -> Union[List[str], int]:
    """What a killed writer left next to the store: the JSON file's hidden siblings (staged or
    set-aside versions), or the size of the database's ``-wal`` file (commits not yet
    checkpointed)."""
    if queue_type == "local":
        return sorted(path.name for path in store.parent.glob(f".{store.name}.*"))
    wal = store.with_name(store.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "fast"])
@pytest.mark.parametrize("queue_type", QUEUE_TYPES)
def test_sigkill_at_random_moments_never_corrupts_or_loses(
    tmp_path: Path, queue_type: str, durable: bool
) -> None:
    """20 SIGKILLs of an add/receive/delete loop on one store: it stays sound, no lock is left
    behind, and the queue matches the logs (see the module docstring)."""
    seed = crash_seed()
    delays = random.Random(seed).uniform
    options = [f"--queue-type={queue_type}", f"--queue-name={QUEUE_NAME}"]
    options += [] if durable else ["--fast"]
    store = tmp_path / STORE_NAMES[queue_type]
    history = CrashRound(set(), set(), set(), set())
    left_behind: Dict[int, Union[List[str], int]] = {}
    for number in range(KILLS):
        context = f"seed {seed}, kill {number + 1} of {KILLS}"
        delay = delays(0, MAX_KILL_DELAY)
        env = child_env()
        kill_and_record(env, tmp_path, store, number, seed, delay, options, history, context)

        left_behind[number + 1] = _left_behind(queue_type, store)
        # A fast JSON write may have moved the file aside: only a fresh queue recovers it.
        as_left: Optional[List[str]] = None
        if durable or queue_type == "sqlite":
            as_left = _raw_ids(queue_type, store, context)
        ids = _fresh_queue_ids(queue_type, store, context)
        if as_left is not None:
            assert ids == set(as_left), f"{context}: the library and the raw store disagree"
        assert ids == set(_raw_ids(queue_type, store, context)), context
        assert_matches_history(ids, history, context)
    # Shown with ``pytest -rP``: what each killed child left next to the store.
    print(f"seed {seed}; left next to the store after each kill: {left_behind}")
