"""The worker in real processes, on the JSON file and SQLite.

- 2,000 messages, 4 threads: each handled and deleted exactly once;
- SIGTERM mid-run: the running handlers finish, nothing else is hidden, nothing is lost;
- a second SIGTERM: the running messages are handed back too and the process exits at once;
- a SIGKILL'd worker: its messages come back after their timeout and another worker does them;
- ``pyqueue worker --burst`` end to end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, List

import pytest

from pyqueue_client import PyQueue, WorkerStats

from ._sqs_child import open_queue
from .conftest import PROJECT_ROOT, PYTHON, child_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="the tests use POSIX signals"),
]

#: Upper bound for a child to get somewhere or to exit; far above what it takes.
PATIENCE = 60.0


def _store(tmp_path: Path, kind: str) -> str:
    return str(tmp_path / ("jobs.json" if kind == "local" else "queue.db"))


def _fill(kind: str, store: str, count: int) -> List[str]:
    ids = [f"m{number:05}" for number in range(count)]
    with open_queue(kind, store) as queue:
        for start in range(0, count, 100):
            chunk = ids[start : start + 100]
            queue.add_messages([{"n": n} for n in range(start, start + len(chunk))], chunk)
    return ids


def _worker(kind: str, store: str, log: Path, mode: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "tests._worker_child", kind, store, str(log), mode, *options],
        cwd=PROJECT_ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> WorkerStats:
    """Wait for a worker to exit cleanly; its final stats."""
    out, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 0, err
    stats: WorkerStats = json.loads(out)
    return stats


def _lines(log: Path, word: str) -> List[str]:
    """The ids of the log's lines that start with ``word``."""
    if not log.exists():
        return []
    text = log.read_text(encoding="utf-8")
    return [line.split()[1] for line in text.splitlines() if line.startswith(word + " ")]


def _wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _left(kind: str, store: str) -> List[str]:
    with open_queue(kind, store) as queue:
        info = queue.get_queue_info()
        assert info["invisible_messages"] == 0  # nothing hidden: released ones visible at once
        return sorted(message["id"] for message in queue.get_messages())


@pytest.mark.parametrize("kind", ["local", "sqlite"])
def test_2000_messages_are_each_handled_once(tmp_path: Path, kind: str) -> None:
    store, log = _store(tmp_path, kind), tmp_path / "log.txt"
    ids = _fill(kind, store, 2000)
    stats = _finish(_worker(kind, store, log, "fast", "--burst"))
    done = _lines(log, "done")
    assert Counter(done) == Counter(ids)
    assert stats["succeeded"] == 2000
    assert stats["received"] == 2000
    assert _left(kind, store) == []


def test_sigterm_lets_running_handlers_finish_and_loses_nothing(tmp_path: Path) -> None:
    store, log = _store(tmp_path, "sqlite"), tmp_path / "log.txt"
    ids = _fill("sqlite", store, 40)
    worker = _worker("sqlite", store, log, "slow", "--seconds", "0.5")
    _wait_until(lambda: len(_lines(log, "start")) >= 4, "four running handlers")
    worker.send_signal(signal.SIGTERM)
    stats = _finish(worker)
    started, done = _lines(log, "start"), _lines(log, "done")
    assert sorted(started) == sorted(done)  # every running handler finished
    assert len(set(done)) == len(done) == stats["succeeded"]
    assert sorted(_left("sqlite", store) + done) == ids  # the rest is back, visible
    assert stats["received"] == stats["succeeded"] + stats["released"]


def test_a_second_sigterm_hands_back_the_running_messages(tmp_path: Path) -> None:
    store, log = _store(tmp_path, "sqlite"), tmp_path / "log.txt"
    ids = _fill("sqlite", store, 10)
    worker = _worker("sqlite", store, log, "block")
    _wait_until(lambda: len(_lines(log, "start")) == 4, "four blocked handlers")
    worker.send_signal(signal.SIGTERM)
    worker_log = Path(f"{log}.worker")
    _wait_until(lambda: "worker stopping" in worker_log.read_text(), "the first stop")
    worker.send_signal(signal.SIGTERM)
    stats = _finish(worker)
    assert stats["received"] == stats["released"] == 4
    assert _lines(log, "done") == []
    assert _left("sqlite", store) == ids


def test_a_killed_workers_messages_are_done_by_another_after_their_timeout(
    tmp_path: Path,
) -> None:
    store, log = _store(tmp_path, "sqlite"), tmp_path / "log.txt"
    ids = _fill("sqlite", store, 10)
    first = _worker("sqlite", store, log, "block", "--visibility", "1")
    _wait_until(lambda: len(_lines(log, "start")) == 4, "four blocked handlers")
    first.kill()
    first.communicate(timeout=PATIENCE)
    taken = _lines(log, "start")
    with PyQueue(store, queue_type="sqlite", queue_name="jobs") as queue:
        _wait_until(lambda: queue.get_queue_info()["invisible_messages"] == 0, "the timeout")
    stats = _finish(_worker("sqlite", store, tmp_path / "second.txt", "fast", "--burst"))
    assert stats["succeeded"] == 10
    assert sorted(_lines(tmp_path / "second.txt", "done")) == ids
    assert set(taken) <= set(ids)
    assert _left("sqlite", store) == []


def test_the_worker_command_drains_a_queue_and_exits_0(tmp_path: Path) -> None:
    store = str(tmp_path / "queue.json")
    ids = _fill("local", store, 20)
    (tmp_path / "jobs.py").write_text(
        "import sys\n"
        "def handle(message):\n"
        "    if message['Id'] == 'm00007' and message['receive_count'] == 1:\n"
        "        raise ValueError('the first try of m00007 fails')\n"
        "    sys.stdout.write(message['Id'] + '\\n')\n",
        encoding="utf-8",
    )
    env = child_env()
    env["QUEUE_FILE_PATH"] = store
    command = [PYTHON, "-m", "pyqueue_client", "worker", "jobs:handle", "--burst"]
    command += ["--retry-delay", "0", "--concurrency", "3"]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == ids
    assert "message m00007 failed (receive 1); retry in 0 s" in done.stderr
    assert "Traceback" in done.stderr
    assert done.stderr.count(" done in ") == 20
    assert os.path.exists(store)
    assert _left("local", store) == []
