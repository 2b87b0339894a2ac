"""The original client library (``pyqueue-client`` 1.2.1 from PyPI) against ``pyqueue serve``.

Its package name is ours too, so it runs in a child process from its own virtual environment,
cached in ``.venv-original-client/`` at the project root (git-ignored; built on first use, which
needs PyPI). One child script calls each of its methods once against a server running in this
process and prints what each returned or raised; the tests below check those results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from pyqueue_client.server import QueueServer

from ._server_support import ADMIN_KEY, READER_KEY, WRITER_KEY, config, running
from .conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

ORIGINAL = "pyqueue-client==1.2.1"
VENV = Path(PROJECT_ROOT) / ".venv-original-client"
#: Upper bounds for building the environment and for the script.
INSTALL_TIMEOUT = 600
SCRIPT_TIMEOUT = 120

# Each step is one call of the original library; its result or exception goes into the report.
SCRIPT = r"""
import json
import sys

from pyqueue_client import PyQueue

url, admin, reader, writer = sys.argv[1:5]
report = {}


def step(name, call):
    try:
        report[name] = {"returned": call(), "raised": None}
    except Exception as exc:
        report[name] = {"returned": None, "raised": type(exc).__name__ + ": " + str(exc)}


def queue(key, name="clientq"):
    return PyQueue(queue_type="remote", server_url=url, api_key=key, queue_name=name)


q = queue(admin)
step("clear_queue", q.clear_queue)
step("add_message", lambda: q.add_message({"order": 1}))
step("add_message_body_id", lambda: q.add_message({"id": "client-id-1", "order": 2}))
step("add_message_item_id", lambda: q.add_message({"order": 3}, item_id="client-id-2"))
step("add_message_string", lambda: q.add_message("plain string", item_id="client-id-3"))
step("add_ten", lambda: [q.add_message({"fill": i}) for i in range(10)])
step("get_messages", q.get_messages)
step("remote_get_messages_2", lambda: q.remote_client.get_messages(max_messages=2))
step("get_message", lambda: q.get_message("client-id-1"))
step("has_message", lambda: q.has_message("client-id-2"))
step("has_message_unknown", lambda: q.has_message("nope"))
step("remote_get_message", lambda: q.remote_client.get_message("client-id-3"))
step("remote_get_message_unknown", lambda: q.remote_client.get_message("nope"))
step("check_existence", lambda: q.check_existence(["client-id-1", "nope", "client-id-2"]))
step("receive_messages", lambda: q.receive_messages(max_messages=2, visibility_timeout=30))
handle = (report["receive_messages"]["returned"] or [{}])[0].get("receipt_handle")
step("delete_message", lambda: q.delete_message(handle))
step("delete_message_again", lambda: q.delete_message(handle))
step("remove_message", lambda: q.remove_message("client-id-3"))
step("remove_message_unknown", lambda: q.remove_message("nope"))
step("update_message", lambda: q.update_message("client-id-2", {"updated": True}))
step("updated", lambda: q.remote_client.get_message("client-id-2"))
step("receive_only_new", lambda: q.receive_messages(max_messages=100, only_new=True))
step("get_queue_info", q.get_queue_info)
step("health_check", q.health_check)

d = queue(admin, "darq")
step("add_three", lambda: [d.add_message({"i": i}, item_id="d%d" % i) for i in range(3)])
step("receive_and_delete", lambda: d.receive_messages(max_messages=2, delete_after_receive=True))
step("info_after_receive_and_delete", d.get_queue_info)

w = queue(writer, "orders")
step("writer_add_message", lambda: w.add_message({"w": 1}))
step("writer_health_check", w.health_check)
r = queue(reader, "orders")
step("reader_add_message", lambda: r.add_message({"r": 1}))
step("reader_clear_queue", r.clear_queue)
step("reader_receive", lambda: r.receive_messages(max_messages=1))
x = queue("pq-not-a-key")
step("wrong_key_add_message", lambda: x.add_message({"x": 1}))
step("wrong_key_get_message", lambda: x.remote_client.get_message("client-id-1"))
step("wrong_key_check_existence", lambda: x.check_existence(["client-id-1"]))
step("bad_queue_name", lambda: queue(admin, "a b").add_message({"odd": 1}))

print(json.dumps(report))
"""


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def original_client_python() -> Path:
    """The interpreter of the cached environment holding the original library (built once)."""
    stamp = VENV / "installed.txt"
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == ORIGINAL:
        return _python(VENV)
    # Built aside and moved into place in one step, so a half-built environment is never used
    # and concurrent test runs do not trip over each other.
    building = VENV.with_name(f"{VENV.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(building)], check=True, timeout=INSTALL_TIMEOUT
        )
        subprocess.run(
            [str(_python(building)), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", ORIGINAL],
            check=True,
            timeout=INSTALL_TIMEOUT,
        )  # fmt: skip
        (building / "installed.txt").write_text(ORIGINAL + "\n", encoding="utf-8")
        shutil.rmtree(VENV, ignore_errors=True)
        os.replace(building, VENV)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return _python(VENV)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueServer]:
    """Our server, in this process, with the test keys."""
    with running(config(tmp_path_factory.mktemp("original-client"))) as started:
        yield started


@pytest.fixture(scope="module")
def report(server: QueueServer, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """What each method of the original library returned or raised."""
    done = run_original(
        ["-c", SCRIPT, server.url, ADMIN_KEY, READER_KEY, WRITER_KEY],
        tmp_path_factory.mktemp("client-cwd"),
    )
    result: Dict[str, Any] = json.loads(done.stdout)
    return result


def run_original(args: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the original library's interpreter, isolated from this checkout (``-I``, no
    ``PYTHON*`` variables): its package name is ours too."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    done = subprocess.run(
        [str(original_client_python()), "-I", *args],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def returned(report: Dict[str, Any], step: str) -> Any:
    """What a step returned, failing the test if it raised."""
    assert report[step]["raised"] is None, report[step]["raised"]
    return report[step]["returned"]


def raised(report: Dict[str, Any], step: str) -> str:
    """The exception a step raised (``Type: message``)."""
    message: str = report[step]["raised"]
    assert message is not None, report[step]["returned"]
    return message


def test_it_is_the_original_library(tmp_path: Path) -> None:
    shown = run_original(["-m", "pip", "show", "pyqueue-client"], tmp_path).stdout
    assert "Version: 1.2.1" in shown
    assert "Requires: requests, urllib3" in shown


def test_clear_queue(report: Dict[str, Any]) -> None:
    assert returned(report, "clear_queue") is True


def test_add_message_keeps_the_ids_it_sends(report: Dict[str, Any]) -> None:
    generated = returned(report, "add_message")
    assert len(generated) == 36  # the uuid4 the client chose and sent
    assert returned(report, "add_message_body_id") == "client-id-1"
    assert returned(report, "add_message_item_id") == "client-id-2"
    assert returned(report, "add_message_string") == "client-id-3"
    assert len(set(returned(report, "add_ten"))) == 10


def test_get_messages(report: Dict[str, Any]) -> None:
    messages = returned(report, "get_messages")
    assert len(messages) == 10  # one page: the original library asks for 10
    assert messages[0]["message_body"] == {"order": 1}
    assert messages[0]["status"] == "available"
    assert messages[0]["receipt_handle"] is None
    assert len(returned(report, "remote_get_messages_2")) == 2


def test_get_message_and_has_message(report: Dict[str, Any]) -> None:
    assert returned(report, "get_message")["message_body"] == {"id": "client-id-1", "order": 2}
    assert returned(report, "has_message") is True
    assert returned(report, "has_message_unknown") is False
    assert returned(report, "remote_get_message")["message_body"] == {"content": "plain string"}
    assert returned(report, "remote_get_message_unknown") is None


def test_check_existence(report: Dict[str, Any]) -> None:
    assert returned(report, "check_existence") == ["client-id-1", "client-id-2"]


def test_receive_and_delete(report: Dict[str, Any]) -> None:
    received = returned(report, "receive_messages")
    assert [m["message_body"] for m in received] == [
        {"order": 1},
        {"id": "client-id-1", "order": 2},
    ]
    assert all(m["status"] == "in_flight" and m["receipt_handle"] for m in received)
    assert received[0]["receipt_handle"] == received[0]["ReceiptHandle"]
    assert returned(report, "delete_message") is True
    assert "404" in raised(report, "delete_message_again")
    assert raised(report, "delete_message_again").startswith("ConnectionError")


def test_remove_and_update(report: Dict[str, Any]) -> None:
    assert returned(report, "remove_message") is True
    assert "404" in raised(report, "remove_message_unknown")
    assert returned(report, "update_message") is True
    assert returned(report, "updated")["message_body"] == {"updated": True}


def test_receive_only_new(report: Dict[str, Any]) -> None:
    ids = [m["id"] for m in returned(report, "receive_only_new")]
    assert "client-id-1" not in ids  # received before
    assert "client-id-2" in ids
    assert len(ids) == 11


def test_receive_with_delete_after_receive(report: Dict[str, Any]) -> None:
    taken = returned(report, "receive_and_delete")
    assert [m["id"] for m in taken] == ["d0", "d1"]
    assert returned(report, "info_after_receive_and_delete")["message_count"] == 1


def test_get_queue_info_and_health(report: Dict[str, Any]) -> None:
    info = returned(report, "get_queue_info")
    assert info["queue_name"] == "clientq"
    assert info["message_count"] == 12
    assert info["in_flight_messages"] == 12
    assert returned(report, "health_check") is True


def test_permissions_and_keys(report: Dict[str, Any]) -> None:
    assert len(returned(report, "writer_add_message")) == 36
    assert returned(report, "writer_health_check") is False
    assert "403" in raised(report, "reader_add_message")
    assert "403" in raised(report, "reader_clear_queue")
    assert returned(report, "reader_receive")[0]["message_body"] == {"w": 1}
    assert "401" in raised(report, "wrong_key_add_message")
    assert returned(report, "wrong_key_get_message") is None
    assert returned(report, "wrong_key_check_existence") == []


def test_queue_names_outside_the_safe_set_are_refused(report: Dict[str, Any]) -> None:
    assert "422" in raised(report, "bad_queue_name")
