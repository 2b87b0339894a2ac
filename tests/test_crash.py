"""A process killed with SIGKILL at random moments never leaves a broken or stuck queue behind.

One child after another runs the ``churn`` loop of ``tests/_workers.py`` (add / receive / delete
on one queue file) and is killed at a random moment, 20 times on the same file; once with durable
writes (the default: fsync, rename over) and once with ``durable=False`` (which moves the old file
aside while it renames the new one in, and relies on recovery after a crash). After every kill a
fresh ``PyQueue`` must read the file cleanly and promptly (the dead child's lock is free), the file
must be a JSON array with unique ids, and it must agree with the children's logs: nothing that was
added is lost unless some child had started deleting it, nothing appears that no child had
started adding, and nothing whose delete returned True comes back.

The kill delays come from a seed printed in every assertion message; set
``PYQUEUE_CRASH_SEED`` to replay a run's delays (the exact kill points still depend on timing).
"""

from __future__ import annotations

import json
import random
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
#: A kill must not leave the lock held: the next call gets it well within this many seconds.
LOCK_TIMEOUT = 5.0


def _file_ids(queue_file: Path, context: str) -> List[str]:
    """The ids in the raw file, which must be a JSON array of messages with unique ids."""
    try:
        records = json.loads(queue_file.read_bytes())
    except ValueError as exc:
        raise AssertionError(f"{context}: the queue file is not valid JSON: {exc}") from None
    assert isinstance(records, list), f"{context}: the file holds a {type(records).__name__}"
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)), f"{context}: duplicate ids in the file"
    return ids


def _fresh_queue_ids(queue_file: Path, context: str) -> Set[str]:
    """Open the file with a new ``PyQueue`` (as a restarted program would) and list its ids."""
    began = time.monotonic()
    with PyQueue(queue_file, lock_timeout=LOCK_TIMEOUT) as queue:
        ids = {message["id"] for message in queue.get_messages()}
        waited = time.monotonic() - began
        assert queue.health_check(), f"{context}: health_check() is False"
        assert queue.get_queue_info()["message_count"] == len(ids), context
    assert waited < LOCK_TIMEOUT / 2, f"{context}: the first call waited {waited:.2f} s"
    return ids


def _leftovers(folder: Path, queue_file: Path) -> List[str]:
    """Hidden siblings of the queue file (staged or set-aside versions) left by killed writers."""
    return sorted(path.name for path in folder.glob(f".{queue_file.name}.*"))


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "fast"])
def test_sigkill_at_random_moments_never_corrupts_or_loses(tmp_path: Path, durable: bool) -> None:
    """20 SIGKILLs of an add/receive/delete loop on one file: the queue stays readable, the lock
    is free, and the file matches the logs (see the module docstring)."""
    seed = crash_seed()
    delays = random.Random(seed).uniform
    options = [] if durable else ["--fast"]
    queue_file = tmp_path / "queue.json"
    history = CrashRound(set(), set(), set(), set())
    leftovers: Dict[int, List[str]] = {}
    for number in range(KILLS):
        context = f"seed {seed}, kill {number + 1} of {KILLS}"
        delay = delays(0, MAX_KILL_DELAY)
        env = child_env()
        kill_and_record(env, tmp_path, queue_file, number, seed, delay, options, history, context)

        if durable:  # renamed over, never moved aside: readable without any recovery
            assert queue_file.exists(), f"{context}: the queue file is missing"
            _file_ids(queue_file, context)
        ids = _fresh_queue_ids(queue_file, context)
        assert ids == set(_file_ids(queue_file, context)), context
        assert_matches_history(ids, history, context)
        leftovers[number + 1] = _leftovers(tmp_path, queue_file)
    # Shown with ``pytest -rP``: what killed writers left next to the queue file.
    print(f"seed {seed}; hidden files after each kill: {leftovers}")
