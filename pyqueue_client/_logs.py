"""The package's log on stderr, for the commands that run until they are stopped (``serve``,
``worker``): the library itself only ever adds a ``NullHandler``."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

__all__ = ["logged_to_stderr"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def logged_to_stderr(name: str, level: str) -> Iterator[None]:
    """Logger ``name``'s records on stderr at ``level`` while inside; the root logger is left
    alone, and the logger's level is put back on the way out."""
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    previous = logger.level
    logger.setLevel(level.upper())
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
