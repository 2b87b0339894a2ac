"""Checks of a queue file's path, shared by the file-backed backends."""

from __future__ import annotations

import os

from .._errors import ConfigurationError, QueuePathError

__all__ = ["check_queue_path", "format_of", "opened_with_the_wrong_type"]

_SQLITE_HEADER = b"SQLite format 3\x00"
_BOM = b"\xef\xbb\xbf"


def check_queue_path(path: str) -> None:
    """Refuse a path whose folder is missing, or that names a folder, before any I/O."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise QueuePathError(
            f"cannot use queue file {path!r}: folder {folder!r} does not exist. Create it first.",
            path,
        )
    if os.path.isdir(path):
        raise QueuePathError(f"cannot use queue file {path!r}: it is a folder", path)


def format_of(head: bytes) -> str:
    """The queue format a file's first bytes show: ``"sqlite"``, ``"local"`` (a JSON array) or
    ``""`` when they show neither."""
    if head.startswith(_SQLITE_HEADER):
        return "sqlite"
    if (
        head[len(_BOM) :].lstrip().startswith(b"[")
        if head.startswith(_BOM)
        else head.lstrip()[:1] == b"["
    ):
        return "local"
    return ""


def opened_with_the_wrong_type(path: str, found: str, opened_as: str) -> ConfigurationError:
    """The error for a queue file of one format opened as another: which type opens it."""
    names = {"sqlite": "a SQLite queue database", "local": "a local JSON queue file"}
    return ConfigurationError(
        f"{path!r} is {names[found]}, not a {opened_as} queue: open it with "
        f"queue_type={found!r} (the file was not changed)"
    )
