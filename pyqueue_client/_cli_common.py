"""What every ``pyqueue`` subcommand shares: exit codes, the usage error, and argument types.

The argument types check a value with the library's own validators, so the command line and the
Python API accept the same ranges, and turn a refusal into argparse's error, which names the
flag the user typed (``argument --max: must be between 1 and 100, not 0``), not the API's
parameter (``max_messages``).
"""

from __future__ import annotations

import argparse
import json
from typing import Callable, Optional, TypeVar

from . import _validation as check
from ._errors import ValidationError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_EMPTY",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "UsageError",
    "checked",
    "count",
    "delay_seconds",
    "json_value",
    "message_id",
    "peek_limit",
    "positive_seconds",
    "queue_name",
    "receive_limit",
    "visibility_seconds",
    "wait_seconds",
]

#: Done.
EXIT_OK = 0
#: The command failed (a library error, a handle not deleted, a problem the demo found).
EXIT_ERROR = 1
#: The command line itself is wrong (argparse uses 2 as well).
EXIT_USAGE = 2
#: ``receive --wait``: the wait ended with no message.
EXIT_EMPTY = 3
#: Ctrl+C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
#: The reader of stdout went away (128 + SIGPIPE, as a shell reports it).
EXIT_BROKEN_PIPE = 141

_T = TypeVar("_T")
_R = TypeVar("_R")


class UsageError(Exception):
    """The options cannot work together (found after parsing); exits with ``EXIT_USAGE``."""


class CommandError(Exception):
    """The command could not do all it was asked (bad input line, stale handle); exits with
    ``EXIT_ERROR`` after one line on stderr."""


def checked(
    convert: Callable[[str], _T], validate: Callable[[_T], _R], name: str, what: str
) -> Callable[[str], _R]:
    """An argument type: ``convert`` the text (``what`` names the kind on failure), then check it
    with ``validate``, a validator of the Python API whose messages start with ``name``."""

    def parse(text: str) -> _R:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        try:
            return validate(value)
        except ValidationError as exc:
            message = str(exc)
            if message.startswith(name + " "):
                message = message[len(name) + 1 :]
            raise argparse.ArgumentTypeError(message) from None

    return parse


#: A message id, as ``add_message(item_id=...)`` takes it.
message_id = checked(str, check.item_id, "item_id", "an id")
#: A queue's name, as ``PyQueue(queue_name=...)`` takes it.
queue_name = checked(str, check.queue_name, "queue_name", "a name")


def _seconds_check(name: str, high: float) -> Callable[[float], float]:
    return lambda value: check.seconds(value, name, high)


#: ``receive --max``: 1 to 100, as ``receive_messages(max_messages=...)``.
receive_limit = checked(int, check.max_messages, "max_messages", "a whole number")
#: ``peek --max``, ``redrive --max``: 0 or more, as ``get_messages(max_messages=...)``.
peek_limit: Callable[[str], Optional[int]] = checked(
    int, check.peek_limit, "max_messages", "a whole number"
)
#: A visibility timeout: 0 to 43200 seconds.
visibility_seconds = checked(
    float, check.visibility_timeout, "visibility_timeout", "a number of seconds"
)
#: A long poll's wait: 0 to 20 seconds.
wait_seconds = checked(
    float,
    _seconds_check("wait_time_seconds", check.MAX_WAIT),
    "wait_time_seconds",
    "a number of seconds",
)
#: A new message's delay: 0 to 900 seconds.
delay_seconds = checked(
    float,
    _seconds_check("delay_seconds", check.MAX_DELAY),
    "delay_seconds",
    "a number of seconds",
)
#: A timeout or an interval: a positive, finite number of seconds.
positive_seconds = checked(
    float,
    lambda value: check.positive_seconds(value, "seconds"),
    "seconds",
    "a number of seconds",
)


def count(high: int) -> Callable[[str], int]:
    """An argument type: a whole number from 1 to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between 1 and {high}, not {value}")
        return value

    return parse


def json_value(text: str) -> object:
    """An argument parsed as JSON (the library then checks that it is an object)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None
