"""Shared fixtures: a queue per backend for the contract suite, a controllable clock."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest

from pyqueue_client import PyQueue

#: The project root, so child processes import this checkout of the package.
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)

#: Backends the contract suite runs on: a name -> a factory from (tmp_path, clock) to a queue.
QueueFactory = Callable[[Path, "FakeClock"], PyQueue]


class FakeClock:
    """A clock the test moves by hand; starts at a fixed naive UTC instant."""

    def __init__(self, start: datetime = datetime(2026, 1, 22, 12, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)


def _memory(tmp_path: Path, clock: FakeClock) -> PyQueue:
    return PyQueue(queue_type="memory", clock=clock)


def _local(tmp_path: Path, clock: FakeClock) -> PyQueue:
    return PyQueue(queue_file=tmp_path / "queue.json", durable=False, clock=clock)


def _sqlite(tmp_path: Path, clock: FakeClock) -> PyQueue:
    return PyQueue(
        queue_file=tmp_path / "queue.db", queue_type="sqlite", durable=False, clock=clock
    )


def _sqlite_without_returning(tmp_path: Path, clock: FakeClock) -> PyQueue:
    """The two-statement receive used where SQLite is older than 3.35 (no RETURNING)."""
    queue = _sqlite(tmp_path, clock)
    queue._backend._use_returning = False  # type: ignore[attr-defined]
    return queue


BACKENDS: Dict[str, QueueFactory] = {
    "memory": _memory,
    "local": _local,
    "sqlite": _sqlite,
    "sqlite-no-returning": _sqlite_without_returning,
}


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock shared by the queue under test."""
    return FakeClock()


@pytest.fixture(params=sorted(BACKENDS))
def queue(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    """A fresh, empty queue on each backend of the contract suite, driven by ``clock``."""
    with BACKENDS[request.param](tmp_path, clock) as made:
        yield made


def child_env() -> Dict[str, str]:
    """Environment for child processes: imports resolve to this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PROJECT_ROOT, env.get("PYTHONPATH")]))
    return env


PYTHON = sys.executable
