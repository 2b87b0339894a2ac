"""Vendoring: the package copied into another one works there, under that name, alone.

The package is copied to ``someapp/_vendor/pyqueue_client`` (and ``otherapp/_vendor/...``) in a
temporary folder, and a fresh interpreter imports it as ``someapp._vendor.pyqueue_client`` with
a top-level ``pyqueue_client`` made unimportable. There every file and memory backend, the
server with a remote queue, and the demo (whose workers import the package again by its
vendored name) run; its loggers live under the vendored name. Two copies in one process share a
queue file and call each other's servers without getting in each other's way.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Optional

import pytest

from .conftest import PROJECT_ROOT, PYTHON, uncovered_env

#: Installed first in the child: a top-level ``pyqueue_client`` cannot be imported there.
_BLOCK_TOP_LEVEL = """
import sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "pyqueue_client" or name.startswith("pyqueue_client."):
            raise ImportError(f"{name} must not be imported: the vendored copy is in use")
        return None
sys.meta_path.insert(0, _Blocked())
"""

_EVERY_BACKEND = """
import logging, os, sys
from someapp._vendor import pyqueue_client as pq
from someapp._vendor.pyqueue_client.server import QueueServer, ServerConfig

records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.name)
logging.getLogger("someapp._vendor.pyqueue_client").addHandler(Keep())
logging.getLogger("someapp._vendor.pyqueue_client").setLevel(logging.INFO)

def exercise(queue):
    queue.add_message({"n": 1}, item_id="m-1")
    [received] = queue.receive_messages()
    assert queue.delete_message(received["ReceiptHandle"])
    assert queue.get_queue_info()["message_count"] == 0
    queue.close()

exercise(pq.PyQueue(queue_type="memory"))
exercise(pq.PyQueue(queue_type="local", queue_file="q.json"))
exercise(pq.PyQueue(queue_type="sqlite", queue_file="q.db"))
config = ServerConfig(port=0, data_dir="server-data", durable=False)
with QueueServer(config) as server:
    exercise(pq.PyQueue(queue_type="remote", server_url=server.url, api_key=server.generated_key))
def top_level(name):
    return name.split(".")[0] == "pyqueue_client"

assert not any(top_level(name) for name in sys.modules)
assert not any(top_level(name) for name in logging.root.manager.loggerDict)
assert "someapp._vendor.pyqueue_client.queue" in records, records
print("vendored ok")
"""

_TWO_COPIES = """
import threading
from someapp._vendor import pyqueue_client as one
from otherapp._vendor import pyqueue_client as two
from someapp._vendor.pyqueue_client import server as server_one
from otherapp._vendor.pyqueue_client import server as server_two

assert one.PyQueue is not two.PyQueue

def produce(package, first):
    with package.PyQueue(queue_type="local", queue_file="shared.json", durable=False) as queue:
        for n in range(first, first + 50):
            queue.add_message({"n": n}, item_id=f"m-{n}")

threads = [threading.Thread(target=produce, args=(package, first))
           for package, first in ((one, 0), (two, 50), (one, 100), (two, 150))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(60)
with two.PyQueue(queue_type="local", queue_file="shared.json") as queue:
    assert queue.get_queue_info()["message_count"] == 200

with server_one.QueueServer(server_one.ServerConfig(port=0, data_dir="one")) as first, \\
        server_two.QueueServer(server_two.ServerConfig(port=0, data_dir="two")) as second:
    for package, server in ((one, second), (two, first)):
        with package.PyQueue(queue_type="remote", server_url=server.url,
                             api_key=server.generated_key) as queue:
            queue.add_message({"from": package.__name__})
            [message] = queue.receive_messages()
            assert message["message_body"] == {"from": package.__name__}
try:
    one.PyQueue(queue_type="memory").add_message("not a dict")
except two.ValidationError:
    raise AssertionError("the copies must not share exception classes")
except one.ValidationError:
    pass
print("two copies ok")
"""


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    """A folder with ``someapp`` and ``otherapp``, each vendoring a copy of the package."""
    for app in ("someapp", "otherapp"):
        vendor = tmp_path / app / "_vendor"
        vendor.mkdir(parents=True)
        (tmp_path / app / "__init__.py").write_text("", encoding="utf-8")
        (vendor / "__init__.py").write_text("", encoding="utf-8")
        shutil.copytree(
            Path(PROJECT_ROOT) / "pyqueue_client",
            vendor / "pyqueue_client",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return tmp_path


def _run(folder: Path, *args: str, cwd: Optional[Path] = None) -> str:
    """Run Python with ``args``, ``folder`` (the apps) on its path, and not the checkout."""
    env = uncovered_env()
    env["PYTHONPATH"] = str(folder)
    done = subprocess.run(
        [PYTHON, *args],
        cwd=cwd or folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _program(body: str) -> str:
    return textwrap.dedent(_BLOCK_TOP_LEVEL) + textwrap.dedent(body)


def test_the_top_level_package_is_really_blocked(apps: Path) -> None:
    program = _program("import pyqueue_client\n")
    done = subprocess.run(
        [PYTHON, "-c", program], cwd=apps, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "the vendored copy is in use" in done.stderr


def test_every_backend_and_the_server_run_from_a_vendored_copy(apps: Path) -> None:
    assert "vendored ok" in _run(apps, "-c", _program(_EVERY_BACKEND))


@pytest.mark.slow
def test_the_demo_runs_from_a_vendored_copy(apps: Path, tmp_path: Path) -> None:
    # The workers are fresh interpreters that import the package by its vendored name: they
    # must find it without the parent's path (gone here) or folder (elsewhere).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    program = _program(
        f"""
        import os, sys
        sys.path.insert(0, {str(apps)!r})
        os.environ.pop("PYTHONPATH")
        from someapp._vendor.pyqueue_client.cli import main
        sys.exit(main(["demo", "--messages", "12", "--crash-timeout", "1"]))
        """
    )
    output = _run(apps, "-c", program, cwd=elsewhere)
    assert "OK: all 12 messages were delivered and deleted" in output


def test_two_vendored_copies_in_one_process(apps: Path) -> None:
    assert "two copies ok" in _run(apps, "-c", _program(_TWO_COPIES))
