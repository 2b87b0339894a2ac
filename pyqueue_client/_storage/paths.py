"""Checks of a queue file's path, shared by the file-backed backends."""

from __future__ import annotations

import os

from .._errors import QueuePathError

__all__ = ["check_queue_path"]


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
