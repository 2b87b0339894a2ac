"""The server's own key file: where a generated admin key is kept, and how keys are managed.

Without ``--api-keys``, ``pyqueue serve`` keeps its keys in ``<data folder>/api_keys.json``, in
the existing server's key-file format (``_auth``), readable by its owner only (mode 0600 on
POSIX). The first start writes one random admin key there and prints it once; a restart reads
the file again, so clients keep working. ``pyqueue keys`` creates, lists and revokes the keys of
such a file (or of any key file); a running server reads it at start-up only.

A key is shown when it is made, never again: listings name each key by its id, the first
hex digits of its SHA-256, which identify it without revealing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._errors import ConfigurationError
from .._storage.atomic import write_atomic
from ._auth import (
    ADMIN,
    PERMISSIONS,
    WILDCARD,
    ApiKey,
    KeyRing,
    parse_key_document,
    read_key_document,
)

__all__ = [
    "KEY_FILE_NAME",
    "KeyInfo",
    "create_key",
    "key_file_of",
    "key_id",
    "list_keys",
    "load_or_create",
    "new_key",
    "revoke_key",
]

#: The key file's name in the server's data folder.
KEY_FILE_NAME = "api_keys.json"
#: Hex digits of a key's id.
_ID_LENGTH = 12
#: Who may read the key file: its owner.
_PRIVATE = 0o600

#: One key as listings show it: id, description, and permissions by queue (or ``*``).
KeyInfo = Dict[str, Any]


def key_file_of(data_dir: str) -> str:
    """The key file in ``data_dir``."""
    return os.path.join(data_dir, KEY_FILE_NAME)


def new_key() -> str:
    """A new random API key (256 bits)."""
    return "pq-" + secrets.token_urlsafe(32)


def key_id(key: str) -> str:
    """A key's id: the start of its SHA-256 in hex, which does not reveal the key."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:_ID_LENGTH]


def load_or_create(data_dir: str) -> Tuple[KeyRing, Optional[str]]:
    """The keys of ``data_dir``'s key file, and the admin key when this call made the file.

    The first time, the file gets one new admin key (and the folder is created).
    """
    path = key_file_of(data_dir)
    if os.path.exists(path):
        return KeyRing.from_file(path), None
    key = new_key()
    _write(path, {key: _entry(ADMIN.description, {WILDCARD: list(PERMISSIONS)})})
    return KeyRing.from_file(path), key


def create_key(path: str, description: str, queues: Mapping[str, Sequence[str]]) -> str:
    """Add a new key with ``description`` and these permissions per queue to the key file at
    ``path`` (made if missing); returns the key."""
    document = _read(path) if os.path.exists(path) else {}
    key = new_key()
    document[key] = _entry(description, queues)
    parse_key_document(document, path)
    _write(path, document)
    return key


def list_keys(path: str) -> List[KeyInfo]:
    """The keys of the file at ``path``, without their secrets, in file order."""
    return [
        {"id": key_id(key), "description": entry.description, "queues": _permissions(entry)}
        for key, entry in parse_key_document(read_key_document(path), path)
    ]


def revoke_key(path: str, wanted: str) -> KeyInfo:
    """Remove the key whose id is (or starts with) ``wanted``; returns what it was.

    Refuses an id that matches no key or several, and the file's last key (a server cannot
    start on an empty key file).
    """
    document = _read(path)
    matches = [key for key in document if wanted and key_id(key).startswith(wanted)]
    if len(matches) != 1:
        found = "no key" if not matches else f"{len(matches)} keys"
        raise ConfigurationError(f"{found} in {path!r} with an id starting {wanted!r}")
    if len(document) == 1:
        raise ConfigurationError(
            f"refusing to revoke the last key of {path!r}: create another one first"
        )
    [key] = matches
    entry = document.pop(key)
    _write(path, document)
    return {"id": key_id(key), "description": entry.get("description", "")}


def _permissions(entry: ApiKey) -> Dict[str, List[str]]:
    return {
        name: [permission for permission in PERMISSIONS if permission in granted]
        for name, granted in entry.queues.items()
    }


def _entry(description: str, queues: Mapping[str, Sequence[str]]) -> Dict[str, Any]:
    return {"description": description, "queues": {name: list(p) for name, p in queues.items()}}


def _read(path: str) -> Dict[str, Any]:
    """The key file's document, checked as the server checks it."""
    document = read_key_document(path)
    parse_key_document(document, path)
    return dict(document)


def _write(path: str, document: Mapping[str, Any]) -> None:
    """Replace the key file (and make its folder), readable by its owner only."""
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if not os.path.exists(path):
            # Made private before anything is in it; the replace keeps the mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE))
        os.chmod(path, _PRIVATE)
        write_atomic(path, [data], durable=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot write API key file {path!r}: {exc.strerror}") from None
