"""Shared fixtures: a queue per backend for the contract suite (and the README's examples), a
controllable clock, and the TLS tests' certificates."""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Mapping, Sequence

import pytest

from pyqueue_client import PyQueue, QueueAttributes
from pyqueue_client.server import QueueServer, ServerConfig

from ._tls import FALLBACK, TlsFiles, make_tls_files

#: The project root, so child processes import this checkout of the package.
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)

#: A queue's attributes until someone sets them, as the README documents them.
DEFAULTS: QueueAttributes = {
    "visibility_timeout": 30,
    "delay_seconds": 0,
    "wait_time_seconds": 0,
    "retention_seconds": None,
    "max_receive_count": None,
    "dead_letter_queue": None,
}

#: Backends the contract suite runs on: a name -> (tmp_path, clock) -> a context giving a queue.
QueueFactory = Callable[[Path, "FakeClock"], ContextManager[PyQueue]]

#: How the library writes times: naive UTC, ISO-8601 with microseconds.
ISO_MICROSECONDS = "%Y-%m-%dT%H:%M:%S.%f"


def ids_of(messages: Sequence[Mapping[str, Any]]) -> List[str]:
    """The ids of received (``Id``) or stored (``id``) messages, in order."""
    return [message["Id"] if "Id" in message else message["id"] for message in messages]


class FakeClock:
    """A clock the test moves by hand; starts at a fixed naive UTC instant."""

    def __init__(self, start: datetime = datetime(2026, 1, 22, 12, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)


@contextmanager
def _memory(tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    with PyQueue(queue_type="memory", clock=clock) as queue:
        yield queue


@contextmanager
def _local(tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    with PyQueue(queue_file=tmp_path / "queue.json", durable=False, clock=clock) as queue:
        yield queue


@contextmanager
def _sqlite(tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    with PyQueue(
        queue_file=tmp_path / "queue.db", queue_type="sqlite", durable=False, clock=clock
    ) as queue:
        yield queue


@contextmanager
def _sqlite_without_returning(tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    """The two-statement receive used where SQLite is older than 3.35 (no RETURNING)."""
    with _sqlite(tmp_path, clock) as queue:
        queue._queue._use_returning = False  # type: ignore[attr-defined]
        yield queue


@contextmanager
def _remote(tmp_path: Path, clock: FakeClock) -> Iterator[PyQueue]:
    """A remote queue on a real ``pyqueue serve`` on 127.0.0.1, sharing the test's clock."""
    config = ServerConfig(
        port=0, data_dir=str(tmp_path / "server-data"), durable=False, clock=clock
    )
    with QueueServer(config) as server, PyQueue(
        queue_type="remote",
        server_url=server.url,
        api_key=server.generated_key,
        queue_name="contract",
        timeout=30,
    ) as queue:
        yield queue


BACKENDS: Dict[str, QueueFactory] = {
    "memory": _memory,
    "local": _local,
    "sqlite": _sqlite,
    "sqlite-no-returning": _sqlite_without_returning,
    "remote": _remote,
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


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A private certificate authority and a server certificate it signed for ``localhost``,
    ``127.0.0.1`` and ``::1``, made once a run with the ``openssl`` command line (EC P-256, valid
    two days) in a temporary folder.

    Where ``openssl`` is not on ``PATH``, the committed set in ``tests/data/tls/`` (the same
    names, valid 2000-2100) is used instead, so the TLS tests still run.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        return FALLBACK
    return make_tls_files(openssl, tmp_path_factory.mktemp("tls"))


def child_env() -> Dict[str, str]:
    """Environment for child processes: imports resolve to this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PROJECT_ROOT, env.get("PYTHONPATH")]))
    return env


def uncovered_env() -> Dict[str, str]:
    """Environment for child processes that run a copy of the package (a vendored copy, an
    installed wheel) or look at what an import loads: coverage is not started there, since it
    would count the copy's lines as the package's, or import modules of its own."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("COV_CORE_", "COVERAGE_"))
    }


PYTHON = sys.executable
