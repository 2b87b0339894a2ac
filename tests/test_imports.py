"""What importing the package costs: modules that only some calls need stay unimported.

A cold start (a new interpreter: import, client, first call) pays for every module imported on
the way, so the package imports the worker, and the standard-library modules that only a rare
path needs, where they are used. These tests run a fresh interpreter and look at
``sys.modules``, so that an eager import added anywhere shows up here rather than as a slower
``make bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Dict, List

import pytest

import pyqueue_client
from pyqueue_client import _worker

from .conftest import uncovered_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Imported on first use only. What the package itself keeps out of every import.
LAZY_EVERYWHERE = ("pyqueue_client._worker", "signal", "html", "copy", "configparser")
#: Also kept out of a plain ``import pyqueue_client``: the HTTP stack comes with a backend.
LAZY_ON_IMPORT = (*LAZY_EVERYWHERE, "http.client", "urllib.request", "ssl", "sqlite3")

#: An SQS client, made as a cold start makes it (making it sends no request).
MAKE_SQS_CLIENT = """
from pyqueue_client import PyQueue
PyQueue(
    queue_type="sqs",
    queue_url="http://127.0.0.1:9/123456789012/q",
    endpoint_url="http://127.0.0.1:9",
    region="us-east-1",
    aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
    aws_secret_access_key="secret",
)
"""


def _modules_after(program: str) -> List[str]:
    """The names in ``sys.modules`` after a fresh interpreter runs ``program``."""
    script = program + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    # without coverage, whose own imports (signal, sqlite3, ...) would hide the package's
    env = uncovered_env()
    env["PYTHONPATH"] = ROOT
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules: List[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def test_importing_the_package_leaves_the_lazy_modules_out() -> None:
    modules = _modules_after("import pyqueue_client")
    assert "pyqueue_client" in modules
    assert [name for name in LAZY_ON_IMPORT if name in modules] == []


def test_an_sqs_client_leaves_the_lazy_modules_out() -> None:
    modules = _modules_after(MAKE_SQS_CLIENT)
    assert "pyqueue_client._backends.sqs" in modules
    assert [name for name in LAZY_EVERYWHERE if name in modules] == []


def test_the_worker_is_imported_on_first_use() -> None:
    modules = _modules_after("from pyqueue_client import Worker, WorkerStats")
    assert "pyqueue_client._worker" in modules


def test_the_lazy_names_are_the_worker_modules_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # Forget the cached names, so this process looks them up as a fresh one does.
    monkeypatch.delitem(vars(pyqueue_client), "Worker", raising=False)
    monkeypatch.delitem(vars(pyqueue_client), "WorkerStats", raising=False)
    assert pyqueue_client.Worker is _worker.Worker
    assert pyqueue_client.WorkerStats is _worker.WorkerStats
    assert vars(pyqueue_client)["Worker"] is _worker.Worker  # cached after the first look-up


def test_the_lazy_names_are_listed_and_star_imported() -> None:
    assert {"Worker", "WorkerStats", "PyQueue"} <= set(dir(pyqueue_client))
    namespace: Dict[str, object] = {}
    exec("from pyqueue_client import *", namespace)
    assert namespace["Worker"] is _worker.Worker
    assert set(pyqueue_client.__all__) <= set(namespace)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Wroker'"):
        getattr(pyqueue_client, "Wroker")  # noqa: B009 - a name the package lacks, on purpose
    with pytest.raises(ImportError):
        exec("from pyqueue_client import Wroker", {})
