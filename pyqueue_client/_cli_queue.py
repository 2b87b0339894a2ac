"""``--queue``: the one way to name a queue on the command line, and :func:`open_queue`.

``--queue`` takes::

    queue.json                 a local JSON queue file (a name ending in .db, .sqlite or .sqlite3
                               is a SQLite file: queue.db#emails is queue "emails" in it)
    local:queue.json           a local JSON queue file, whatever its name
    sqlite:queue.db#emails     queue "emails" in a SQLite file ("default" without #NAME)
    http://host:8000/emails    queue "emails" on a PyQueue server (https:// too; "default" without
                               a name); the API key comes from --api-key or $PYQUEUE_API_KEY
    sqs://eu-west-1/emails     an Amazon SQS queue (sqs:///emails: the region from the
                               environment), where this version has that backend

The older ``--queue-file``, ``--queue-type`` and ``--queue-name`` keep working; mixed with
``--queue`` they are a usage error. A command of another module that works on a queue declares
these options with :func:`add_queue_options` (or ``on_queue_file`` in the CLI's command table)
and opens the queue with :func:`open_queue`.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, cast
from urllib.parse import urlsplit

from ._cli_common import UsageError, positive_seconds, queue_name
from ._facade import PyQueue
from ._rest import API_PREFIX, QUEUE_NAME_RULE, is_queue_name

__all__ = [
    "API_KEY_ENV",
    "QueueSpec",
    "add_queue_options",
    "open_queue",
    "open_spec",
    "parse_queue",
    "queue_label",
    "queue_spec",
]

#: The environment variable that holds the API key of ``http(s)://`` queues.
API_KEY_ENV = "PYQUEUE_API_KEY"
#: A scheme of at least two letters: ``C:\queue.json`` is a Windows path, not a scheme.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):(.*)\Z", re.DOTALL)
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_DEFAULT_NAME = "default"
_EXAMPLES = "e.g. queue.json, sqlite:queue.db#emails or http://127.0.0.1:8000/emails"


class QueueSpec(NamedTuple):
    """A queue as the command line named it: the text (for messages), the ``PyQueue`` keyword
    arguments, and whether it takes ``--api-key``."""

    text: str
    settings: Mapping[str, Any]
    takes_api_key: bool = False


def _bad(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def _named(name: str) -> str:
    if not is_queue_name(name):
        raise _bad(f"{name!r} is not a queue name: use {QUEUE_NAME_RULE}")
    return name


def _file_spec(text: str, queue_type: str, path: str, name: Optional[str]) -> QueueSpec:
    # An empty path lets PyQueue choose the file ($QUEUE_FILE_PATH, else its default name).
    settings: Dict[str, Any] = {"queue_file": path or None, "queue_type": queue_type}
    if name is not None:
        settings["queue_name"] = _named(name)
    return QueueSpec(text, settings)


def _local(text: str, rest: str) -> QueueSpec:
    # The whole rest is the path: a JSON queue is its file, so "#" may be part of its name.
    return _file_spec(text, "local", rest, None)


def _sqlite(text: str, rest: str) -> QueueSpec:
    path, hash_sign, name = rest.rpartition("#")
    return _file_spec(text, "sqlite", path if hash_sign else rest, name if hash_sign else None)


def _bare_path(text: str) -> QueueSpec:
    path, hash_sign, _ = text.rpartition("#")
    if (path if hash_sign else text).lower().endswith(_SQLITE_SUFFIXES):
        return _sqlite(text, text)
    return _local(text, text)


def _server(text: str, rest: str) -> QueueSpec:
    parts = urlsplit(text)
    if not parts.hostname:
        raise _bad(f"{text!r} names no server: write http://HOST:PORT/QUEUE")
    if parts.username is not None or parts.password is not None:
        raise _bad(f"put the API key in ${API_KEY_ENV} or --api-key, not in the URL {text!r}")
    if parts.query or parts.fragment:
        raise _bad(f"a server queue is http://HOST:PORT/QUEUE, without ? or #: {text!r}")
    prefix, _, name = parts.path.rstrip("/").rpartition("/")
    # A URL copied from the REST API (.../api/v1/queues/emails) names the same queue.
    rest_path = API_PREFIX + "/queues"
    if prefix.endswith(rest_path):
        prefix = prefix[: -len(rest_path)]
    settings = {
        "queue_type": "remote",
        "server_url": f"{parts.scheme}://{parts.netloc}{prefix}",
        "queue_name": _named(name) if name else _DEFAULT_NAME,
    }
    return QueueSpec(text, settings, takes_api_key=True)


def _sqs(text: str, rest: str) -> QueueSpec:
    parts = urlsplit(text)
    name = parts.path.strip("/")
    if not name or "/" in name or parts.query or parts.fragment:
        raise _bad(f"an Amazon SQS queue is sqs://REGION/QUEUE or sqs:///QUEUE, not {text!r}")
    settings = {"queue_type": "sqs", "queue_name": name}
    if parts.netloc:
        settings["region"] = parts.netloc
    return QueueSpec(text, settings)


#: What each scheme of ``--queue`` names, and how to read the rest of it.
_SCHEMES: Mapping[str, Callable[[str, str], QueueSpec]] = {
    "local": _local,
    "sqlite": _sqlite,
    "http": _server,
    "https": _server,
    "sqs": _sqs,
}


def parse_queue(text: str) -> QueueSpec:
    """The argument type of ``--queue`` (see the module's docstring for the forms)."""
    if not text:
        raise _bad(f"name a queue, {_EXAMPLES}")
    found = _SCHEME.match(text)
    if found is None:
        return _bare_path(text)
    scheme = found.group(1).lower()
    read = _SCHEMES.get(scheme)
    if read is None:
        raise _bad(
            f"unknown kind of queue {scheme + ':'!r} in {text!r}: use local:, sqlite:, "
            f"http://, https:// or sqs:// (local:{text} is a file of that name)"
        )
    return read(text, found.group(2))


def add_queue_options(parser: argparse.ArgumentParser) -> None:
    """Declare ``--queue`` (with ``--api-key`` and ``--timeout``) and the older file options."""
    add = parser.add_argument
    add(
        "--queue",
        type=parse_queue,
        metavar="QUEUE",
        help="the queue: FILE.json, sqlite:FILE.db#NAME, http(s)://HOST:PORT/NAME or "
        "sqs://REGION/NAME (default: the local queue $QUEUE_FILE_PATH, else queue.json)",
    )
    add(
        "--api-key",
        metavar="KEY",
        help=f"http(s):// queues: the API key (default: ${API_KEY_ENV}; the variable keeps the "
        "key out of the process list)",
    )
    default_timeout = 30.0
    add(
        "--timeout",
        type=positive_seconds,
        default=default_timeout,
        metavar="S",
        help=f"http(s):// queues: seconds to wait for the server (default: {default_timeout:g})",
    )
    add(
        "--queue-file",
        metavar="PATH",
        help="older form: the queue file (default: $QUEUE_FILE_PATH, else queue.json or queue.db)",
    )
    add(
        "--queue-type",
        choices=("local", "sqlite"),
        help="older form: the file's kind (default: local)",
    )
    add(
        "--queue-name",
        type=queue_name,
        metavar="NAME",
        help="older form: the queue in a sqlite file (default: default)",
    )


_OLDER = ("queue_file", "queue_type", "queue_name")


def queue_spec(args: argparse.Namespace) -> QueueSpec:
    """The queue the options name: ``--queue``, else the older options (a local file by
    default)."""
    older = {name: getattr(args, name) for name in _OLDER if getattr(args, name) is not None}
    if args.queue is not None:
        if older:
            flags = ", ".join("--" + name.replace("_", "-") for name in older)
            raise UsageError(f"--queue names the queue already; leave out {flags}")
        return cast(QueueSpec, args.queue)
    settings: Dict[str, Any] = {"queue_type": "local", "queue_file": None, **older}
    text = settings["queue_file"] or ""
    if "queue_name" in older:
        text += "#" + older["queue_name"]
    return QueueSpec(text, settings)


def open_spec(
    spec: QueueSpec, args: argparse.Namespace, *, key_used_elsewhere: bool = False
) -> PyQueue:
    """Open the queue ``spec`` names, with the connection options of ``args``.

    ``--api-key`` for a queue that takes none is a usage error, unless ``key_used_elsewhere``
    (another queue of the same command takes it: ``copy`` from a server to a file).
    """
    settings = dict(spec.settings)
    if spec.takes_api_key:
        settings["api_key"] = args.api_key or os.environ.get(API_KEY_ENV) or None
        settings["timeout"] = args.timeout
    elif args.api_key is not None and not key_used_elsewhere:
        raise UsageError(f"--api-key is for http(s):// queues, and {spec.text!r} is not one")
    # The settings come from the table above, so PyQueue's overloads cannot check them here.
    open_any = cast(Callable[..., PyQueue], PyQueue)
    return open_any(**settings)


def open_queue(args: argparse.Namespace) -> PyQueue:
    """The queue named by the parsed queue options (see :func:`add_queue_options`)."""
    return open_spec(queue_spec(args), args)


def queue_label(spec: QueueSpec, queue: PyQueue) -> str:
    """How messages name the queue: as the user wrote it, with the default file filled in."""
    if "queue_file" in spec.settings and not spec.settings["queue_file"]:
        name = spec.settings.get("queue_name")
        return f"{queue.queue_file}" + (f"#{name}" if name else "")
    return spec.text
