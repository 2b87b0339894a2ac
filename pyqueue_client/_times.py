"""Time as the library stores it: naive UTC, written as canonical ISO-8601 strings.

Canonical strings (``2026-01-22T12:00:00.000000``) sort like the instants they name, so the queue
rules and the SQL compare strings and never parse. Older files and other servers wrote other
forms; :func:`canonical_time` reads them all.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Callable

__all__ = ["Clock", "canonical_time", "format_time", "later", "parse_time", "utc_now"]

#: A function returning the current time as a naive UTC datetime.
Clock = Callable[[], datetime]

_TIME_FORMAT_LENGTH = len("2026-01-22T12:00:00.000000")
_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?\Z"
)


def utc_now() -> datetime:
    """The current time as a naive UTC datetime (the library's default clock)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def format_time(moment: datetime) -> str:
    """Format a naive UTC datetime the canonical way: ISO-8601 with microseconds."""
    return moment.isoformat(timespec="microseconds")


def later(moment: datetime, seconds: float) -> str:
    """The canonical time ``seconds`` after ``moment``."""
    return format_time(moment + timedelta(seconds=seconds))


def canonical_time(text: str) -> str:
    """Return ``text`` as a canonical naive UTC timestamp.

    Accepts what older files and servers wrote: a ``T`` or a space between date and time, with or
    without seconds and fractional seconds (any number of digits), and with a ``Z`` or ``+HH:MM``
    offset (converted to UTC). Raises ``ValueError`` for anything else.
    """
    if len(text) == _TIME_FORMAT_LENGTH and text[19:20] == ".":
        datetime.fromisoformat(text)  # validates; the string is already canonical
        return text
    return format_time(parse_time(text))


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 timestamp into a naive UTC datetime (see :func:`canonical_time`)."""
    match = _ISO_TIME.match(text)
    if match is None:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second or 0),
        int((fraction or "0")[:6].ljust(6, "0")),
    )
    if offset and offset not in "Zz":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment
