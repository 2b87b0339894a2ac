"""API keys and per-queue permissions, in the existing PyQueue server's key-file format.

The file is a JSON object from key to ``{"description": ..., "queues": {name: [permissions]}}``,
where a name is a queue or ``"*"`` (every queue) and permissions are ``read``, ``write``,
``delete`` and ``manage`` in any case. A key's permissions on a queue are those listed for the
queue together with those listed for ``"*"``.

Keys are compared in constant time: the presented key and every known key are hashed to equal
length digests and all of them are compared, so neither the time taken nor an exception reveals
anything about the keys, whatever bytes the client sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Dict, FrozenSet, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .._errors import ConfigurationError
from .._rest import API_KEY_HEADER
from ._params import HttpError, queue_name

__all__ = [
    "PERMISSIONS",
    "WILDCARD",
    "ApiKey",
    "KeyRing",
    "parse_key_document",
    "read_key_document",
]

#: Every permission, in the order they are listed in answers.
PERMISSIONS: Tuple[str, ...] = ("read", "write", "delete", "manage")
#: The queue name in a key file that stands for every queue.
WILDCARD = "*"


class ApiKey(NamedTuple):
    """What one API key may do: its description and its permissions per queue (or ``*``)."""

    description: str
    queues: Mapping[str, FrozenSet[str]]

    def permissions_on(self, queue: str) -> List[str]:
        """The permissions this key has on ``queue``, in the canonical order."""
        granted = self.queues.get(queue, frozenset()) | self.queues.get(WILDCARD, frozenset())
        return [permission for permission in PERMISSIONS if permission in granted]

    def allows(self, queue: str, permission: str) -> bool:
        """Whether this key has ``permission`` on ``queue``."""
        return permission in self.permissions_on(queue)


#: The key that stands for every caller when authentication is off, and the generated admin key.
ADMIN = ApiKey("admin (every permission on every queue)", {WILDCARD: frozenset(PERMISSIONS)})
_OPEN = ApiKey("no authentication (every permission on every queue)", ADMIN.queues)


class KeyRing:
    """The known API keys; ``authenticate`` turns an ``X-API-Key`` header into an :class:`ApiKey`.

    ``open_access`` makes every request an admin, for ``--no-auth`` on a loopback address.
    """

    def __init__(self, keys: Sequence[Tuple[str, ApiKey]], open_access: bool = False) -> None:
        self._keys = [(_digest(key.encode("ascii")), entry) for key, entry in keys]
        self.open_access = open_access

    @classmethod
    def from_file(cls, path: str) -> KeyRing:
        """Load a key file; raises ``ConfigurationError`` saying what is wrong (never a key)."""
        return cls(parse_key_document(read_key_document(path), path))

    def authenticate(self, presented: Optional[str]) -> ApiKey:
        """The key's permissions, or ``HttpError(401)`` for a missing or unknown key."""
        if self.open_access:
            return _OPEN
        if presented is None:
            raise _unauthorized(f"missing API key: send it in the {API_KEY_HEADER} header")
        digest = _digest(_wire_bytes(presented))
        found: Optional[ApiKey] = None
        for known, entry in self._keys:
            # Every key is compared, match or not, so the time does not depend on which matched.
            if hmac.compare_digest(digest, known):
                found = entry
        if found is None:
            raise _unauthorized("invalid API key")
        return found


def _unauthorized(detail: str) -> HttpError:
    return HttpError(401, detail, {"WWW-Authenticate": "ApiKey"})


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


def _wire_bytes(presented: str) -> bytes:
    """The header value as the bytes the client sent (header text arrives decoded as Latin-1)."""
    try:
        return presented.encode("latin-1")
    except UnicodeEncodeError:
        # Not from the wire (a caller passed text): any stable encoding will simply not match.
        return presented.encode("utf-8", "surrogatepass")


# -- the key file --------------------------------------------------------------------------------


def read_key_document(path: str) -> Any:
    """A key file's JSON, unchecked; ``ConfigurationError`` if it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file, object_pairs_hook=_unique_keys)
    except OSError as exc:
        raise ConfigurationError(f"cannot read API key file {path!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigurationError(f"API key file {path!r} is not valid JSON: {exc}") from None


def _unique_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            # Never name the key itself: the message may end up in a log.
            raise ValueError("a name appears twice in one object (a key listed twice?)")
        result[name] = value
    return result


def parse_key_document(document: object, path: str) -> List[Tuple[str, ApiKey]]:
    """The keys of a key file's JSON (``path`` names it in errors), checked: raises
    ``ConfigurationError`` saying what is wrong, never naming a key."""
    if not isinstance(document, dict) or not document:
        raise ConfigurationError(
            f"API key file {path!r} must be a JSON object with at least one key, e.g. "
            '{"my-secret-key": {"description": "...", "queues": {"*": ["read", "write"]}}}'
        )
    return [
        (_checked_key(key, number, path), _parse_entry(entry, number, path))
        for number, (key, entry) in enumerate(document.items(), start=1)
    ]


def _checked_key(key: str, number: int, path: str) -> str:
    # Printable ASCII without spaces: HTTP headers cannot carry anything else reliably.
    if not key or not all("!" <= char <= "~" for char in key):
        raise ConfigurationError(
            f"API key number {number} in {path!r} must be printable ASCII without spaces"
        )
    return key


def _parse_entry(entry: object, number: int, path: str) -> ApiKey:
    where = f"API key number {number} in {path!r}"
    if not isinstance(entry, dict) or not isinstance(entry.get("queues"), dict):
        raise ConfigurationError(f'{where} must be an object with a "queues" object')
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ConfigurationError(f"{where}: description must be a string")
    queues = {
        _checked_queue(name, where): _parse_permissions(permissions, name, where)
        for name, permissions in entry["queues"].items()
    }
    return ApiKey(description, queues)


def _checked_queue(name: str, where: str) -> str:
    if name == WILDCARD:
        return name
    try:
        return queue_name(name)
    except HttpError as exc:
        raise ConfigurationError(f"{where}: {exc.detail}") from None


def _parse_permissions(permissions: object, queue: str, where: str) -> FrozenSet[str]:
    if not isinstance(permissions, list):
        raise ConfigurationError(f"{where}: the permissions of {queue!r} must be a list")
    granted = set()
    for permission in permissions:
        lowered = permission.lower() if isinstance(permission, str) else None
        if lowered not in PERMISSIONS:
            raise ConfigurationError(
                f"{where}: unknown permission {permission!r} for {queue!r}; "
                f"use {', '.join(PERMISSIONS)} (any case)"
            )
        granted.add(lowered)
    return frozenset(granted)
