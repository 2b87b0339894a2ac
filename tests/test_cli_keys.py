"""The server's keys survive a restart, and ``pyqueue keys`` manages them.

Without ``--api-keys``, the first start writes a random admin key to ``<data>/api_keys.json``
(mode 0600) and shows it once; a restart reads it again, so clients keep working. ``pyqueue
keys`` creates keys with per-queue permissions (shown once), lists them without their secrets
and revokes them; a server started afterwards honours the file.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from pyqueue_client.cli import EXIT_ERROR, main
from pyqueue_client.server import QueueServer, ServerConfig

from ._server_support import PlainClient, running

Q = "/api/v1/queues/orders"


def _settings(data: Path) -> ServerConfig:
    return ServerConfig(port=0, data_dir=str(data), durable=False, socket_timeout=10.0)


def _keys(capsys: pytest.CaptureFixture[str], *args: str) -> Tuple[int, Any, str]:
    """Run ``pyqueue keys ARGS``: exit code, the JSON it printed (or None), and stderr."""
    code = main(["keys", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


def _status(
    server: QueueServer, key: str, method: str = "GET", path: str = "/api/v1/auth/me"
) -> int:
    with PlainClient(server.url, key) as client:
        body = {"message_body": {"k": 1}} if method == "POST" else None
        return client.call(method, path, body).status


def test_the_generated_admin_key_is_kept_and_reused_on_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running(_settings(data)) as first:
        key = first.generated_key
        assert key is not None
        assert _status(first, key) == 200
    saved = data / "api_keys.json"
    assert key in saved.read_text(encoding="utf-8")
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    with running(_settings(data)) as second:
        assert second.generated_key is None  # shown once, at the first start
        assert _status(second, key) == 200


def test_keys_create_list_and_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    with running(_settings(data)) as first:
        admin = first.generated_key
    assert admin is not None
    code, created, _ = _keys(
        capsys, "--data", str(data), "create", "--description", "reader", "--queue", "orders=READ"
    )
    assert code == 0
    reader = created["key"]
    code, listed, _ = _keys(capsys, "--data", str(data), "list")
    assert code == 0
    assert [entry["description"] for entry in listed] == [
        "admin (every permission on every queue)",
        "reader",
    ]
    assert listed[1] == {
        "id": created["id"],
        "description": "reader",
        "queues": {"orders": ["read"]},
    }
    assert admin not in json.dumps(listed)
    assert reader not in json.dumps(listed)

    with running(_settings(data)) as server:
        assert _status(server, reader, "GET", f"{Q}/messages") == 200
        assert _status(server, reader, "POST", f"{Q}/messages") == 403
        assert _status(server, admin, "POST", f"{Q}/messages") == 200

    code, revoked, _ = _keys(capsys, "--data", str(data), "revoke", created["id"][:6])
    assert code == 0
    assert revoked["revoked"] == {"id": created["id"], "description": "reader"}
    with running(_settings(data)) as server:
        assert _status(server, reader) == 401
        assert _status(server, admin) == 200


def test_a_key_file_elsewhere_and_every_queue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys" / "mine.json"
    code, created, _ = _keys(capsys, "--file", str(path), "create", "--queue", "*")
    assert code == 0
    assert created["file"] == str(path)
    code, listed, _ = _keys(capsys, "--file", str(path), "list")
    assert listed[0]["queues"] == {"*": ["read", "write", "delete", "manage"]}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["create", "--queue", "orders=read,fly"], "unknown permission 'fly'"),
        (["create", "--queue", "=read"], "names no queue"),
        (["create", "--queue", "a", "--queue", "a=read"], "names a queue twice"),
        (["create", "--queue", "bad/name"], "queue name must be"),
        (["list"], "cannot read API key file"),
    ],
)
def test_mistakes_are_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: List[str], said: str
) -> None:
    code, _, err = _keys(capsys, "--data", str(tmp_path / "none"), *arguments)
    assert code == EXIT_ERROR
    assert said in err


def test_the_last_key_is_not_revoked_and_a_broken_file_is_not_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.json"
    code, created, _ = _keys(capsys, "--file", str(path), "create", "--queue", "orders")
    code, _, err = _keys(capsys, "--file", str(path), "revoke", created["id"])
    assert code == EXIT_ERROR
    assert "refusing to revoke the last key" in err
    code, _, err = _keys(capsys, "--file", str(path), "revoke", "not-an-id")
    assert code == EXIT_ERROR
    assert "no key in" in err
    path.write_text("{not json", encoding="utf-8")
    code, _, err = _keys(capsys, "--file", str(path), "create", "--queue", "orders")
    assert code == EXIT_ERROR
    assert "is not valid JSON" in err
    assert path.read_text(encoding="utf-8") == "{not json"


def test_an_unwritable_key_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    code, _, err = _keys(capsys, "--file", str(blocker / "keys.json"), "create", "--queue", "q")
    assert code == EXIT_ERROR
    assert "cannot write API key file" in err
