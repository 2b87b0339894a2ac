"""Replace a file's contents atomically: readers see the old bytes or the new, never a mix.

Write a temporary file in the same folder, flush and ``fsync`` it, ``os.replace`` it over the
target, then ``fsync`` the folder so the rename itself survives a power loss (POSIX). With
``durable=False`` both fsyncs are skipped: a process crash still cannot tear the file, but a power
loss may lose the latest writes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
from typing import Tuple

__all__ = ["FileStamp", "file_stamp", "write_atomic"]

#: What identifies one version of a file we wrote: (inode, size, mtime in ns).
FileStamp = Tuple[int, int, int]

_WINDOWS_REPLACE_RETRIES = 10


def file_stamp(stat: os.stat_result) -> FileStamp:
    """The identity of a file version, from its ``stat``."""
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def write_atomic(path: str, data: bytes, durable: bool) -> FileStamp:
    """Replace ``path`` with ``data``; returns the new file's stamp. Raises ``OSError``.

    On failure the temporary file is removed and ``path`` keeps its old contents.
    """
    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        try:
            _copy_mode(path, fd)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
            stamp = file_stamp(os.fstat(fd))
        finally:
            os.close(fd)
        _replace(temp, path)
    except BaseException:
        _remove_quietly(temp)
        raise
    if durable:
        _fsync_folder(folder)
    return stamp


def _copy_mode(path: str, fd: int) -> None:
    """Keep the target's permission bits across the replace (POSIX only)."""
    if sys.platform != "win32":
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            return
        os.fchmod(fd, mode)


def _replace(temp: str, path: str) -> None:
    if sys.platform == "win32":
        # A reader outside our lock (an editor, a virus scanner) can briefly hold the target open.
        for _ in range(_WINDOWS_REPLACE_RETRIES - 1):
            try:
                os.replace(temp, path)
                return
            except PermissionError:
                time.sleep(0.01)
    os.replace(temp, path)


def _fsync_folder(folder: str) -> None:
    if sys.platform != "win32":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
