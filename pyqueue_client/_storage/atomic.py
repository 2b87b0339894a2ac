"""Replace a file's contents so that a crash leaves the old bytes or the new, never a mix.

The new contents go to a sibling file, ``.<name>.next``, first. With ``durable=True`` that file is
fsynced, ``os.replace``d over the target, and the folder is fsynced so the rename itself survives
a power loss (POSIX). With ``durable=False`` there is no fsync, and the target is not renamed
over: on ext4, renaming onto an existing file starts writeback of the new file's data (the
``auto_da_alloc`` safeguard), which costs several times the write itself. Instead the target is
first moved aside to ``.<name>.prev``, the new file is renamed into the free name, and the old one
is removed. A process that dies in between leaves the old contents in ``.prev``, and
:func:`recover` moves them back before the next read, so a crash always means old or new state.
The caller holds the queue's lock around all of this: no reader sees the gap, and only one writer
uses the ``.next`` and ``.prev`` names at a time.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Iterable, Optional, Tuple

__all__ = ["FileStamp", "file_stamp", "has_backup", "recover", "write_atomic"]

#: What identifies one version of a file we wrote: (inode, size, mtime in ns).
FileStamp = Tuple[int, int, int]

_WINDOWS_REPLACE_RETRIES = 10


def file_stamp(stat: os.stat_result) -> FileStamp:
    """The identity of a file version, from its ``stat``."""
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _sibling(path: str, suffix: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.{suffix}")


def write_atomic(path: str, pieces: Iterable[bytes], durable: bool) -> FileStamp:
    """Replace ``path`` with the concatenated ``pieces``; returns the new file's stamp.

    Raises ``OSError``.

    On failure ``path`` keeps its old contents.
    """
    staged = _sibling(path, "next")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(staged, flags, 0o666)
        try:
            _copy_mode(path, fd)
            for piece in pieces:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
            stamp = file_stamp(os.fstat(fd))
        finally:
            os.close(fd)
    except BaseException:
        _remove_quietly(staged)
        raise
    if durable:
        _replace_durably(staged, path)
    else:
        _swap_in(staged, path)
    return stamp


def has_backup(path: str) -> bool:
    """Whether a fast-mode write that a crash interrupted left the old contents aside."""
    return os.path.exists(_sibling(path, "prev"))


def recover(path: str) -> bool:
    """Undo a fast-mode write that a crash interrupted; True if the old contents were restored."""
    previous = _sibling(path, "prev")
    if os.path.exists(path) or not os.path.exists(previous):
        return False
    os.replace(previous, path)
    return True


def _copy_mode(path: str, fd: int) -> None:
    """Keep the target's permission bits across the replace (POSIX only)."""
    if sys.platform != "win32":
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            return
        os.fchmod(fd, mode)


def _replace_durably(staged: str, path: str) -> None:
    try:
        _replace(staged, path)
    except BaseException:
        _remove_quietly(staged)
        raise
    _fsync_folder(os.path.dirname(os.path.abspath(path)))


def _swap_in(staged: str, path: str) -> None:
    aside = _sibling(path, "prev")
    previous: Optional[str] = aside
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        previous = None
    except BaseException:
        _remove_quietly(staged)
        raise
    try:
        _replace(staged, path)
    except BaseException:
        if previous is not None:
            os.replace(previous, path)
        _remove_quietly(staged)
        raise
    if previous is not None:
        _remove_quietly(previous)


def _replace(staged: str, path: str) -> None:
    if sys.platform == "win32":
        # A reader outside our lock (an editor, a virus scanner) can briefly hold the target open.
        for _ in range(_WINDOWS_REPLACE_RETRIES - 1):
            try:
                os.replace(staged, path)
                return
            except PermissionError:
                time.sleep(0.01)
    os.replace(staged, path)


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
