"""``pyqueue keys``: create, list and revoke the API keys of a ``pyqueue serve`` key file.

The file is ``<data folder>/api_keys.json`` (``--data``, as ``pyqueue serve`` takes it), or any
key file in the existing server's format (``--file``). Answers are JSON on stdout, notes go to
stderr. A new key is printed once; listings show
each key's id (the start of its SHA-256), never the key. A running server reads its keys at
start-up: restart it to apply a change.

    pyqueue keys create --description "orders worker" --queue orders=read,delete
    pyqueue keys list
    pyqueue keys revoke 3f2a9c
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, List

from ._errors import ConfigurationError

__all__ = ["arguments", "run"]

#: What a ``--queue`` grants when it names no permissions.
_ALL = "read,write,delete,manage"


def arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``keys``'s arguments: where the key file is, and one action."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--data",
        default="pyqueue-data",
        metavar="DIR",
        help="the server's data folder, holding api_keys.json (default: %(default)s)",
    )
    where.add_argument(
        "--file",
        metavar="FILE",
        help="a key file elsewhere, as serve's --api-keys (default: the data folder's)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a new key; prints it once")
    create.add_argument(
        "--description", default="", help="who or what the key is for (default: none)"
    )
    create.add_argument(
        "--queue",
        action="append",
        required=True,
        metavar="NAME[=PERMISSIONS]",
        help=(
            "a queue (or * for every queue) and its permissions, comma-separated among read, "
            "write, delete, manage (default: all); repeat for more queues, e.g. orders=read,delete"
        ),
    )
    actions.add_parser("list", help="the keys, by id, with their permissions (never the keys)")
    revoke = actions.add_parser("revoke", help="remove a key")
    revoke.add_argument("id", help="the key's id as listed (a unique start of it is enough)")


def run(args: argparse.Namespace) -> int:
    """Run ``keys``'s action; returns the exit code."""
    # The server's modules load only for this command, as for serve.
    from .server import _keys  # noqa: PLC0415

    path: str = args.file or _keys.key_file_of(args.data)
    if args.action == "create":
        key = _keys.create_key(path, args.description, _grants(args.queue))
        print(json.dumps({"id": _keys.key_id(key), "key": key, "file": path}, indent=2))
        print("The key is shown once. Restart pyqueue serve to apply.", file=sys.stderr)
    elif args.action == "list":
        print(json.dumps(_keys.list_keys(path), indent=2))
    else:
        revoked = _keys.revoke_key(path, args.id)
        print(json.dumps({"revoked": revoked, "file": path}, indent=2))
        print("Restart pyqueue serve to apply.", file=sys.stderr)
    return 0


def _grants(entries: List[str]) -> Dict[str, List[str]]:
    """``NAME[=PERMISSIONS]`` entries as permissions by queue (checked by the key file's rules)."""
    grants: Dict[str, List[str]] = {}
    for entry in entries:
        name, _, listed = entry.partition("=")
        if not name or name in grants:
            problem = "names no queue" if not name else "names a queue twice"
            raise ConfigurationError(f"--queue {entry!r} {problem}")
        grants[name] = [part.strip() for part in (listed or _ALL).split(",") if part.strip()]
    return grants
