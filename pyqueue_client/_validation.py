"""Argument checks for the public API: each returns the normalized value or raises ValidationError.

They run in the facade, once, before any backend is touched, so a bad call changes nothing.
"""

from __future__ import annotations

import json
import math
import re
from typing import Dict, Iterable, List, Mapping, Optional

from ._errors import ValidationError
from ._types import MessageBody

__all__ = [
    "MAX_BODY_DEPTH",
    "MAX_DELAY",
    "MAX_ID_BYTES",
    "MAX_RECEIVE",
    "MAX_RECEIVE_COUNT",
    "MAX_RETENTION",
    "MAX_VISIBILITY_TIMEOUT",
    "MAX_WAIT",
    "MIN_RETENTION",
    "attribute_changes",
    "body",
    "body_id",
    "flag",
    "item_id",
    "item_ids",
    "max_messages",
    "optional_seconds",
    "peek_limit",
    "peek_offset",
    "positive_seconds",
    "queue_name",
    "receipt_handle",
    "seconds",
    "visibility_timeout",
]

#: The most messages one receive may return (as in SQS's 10, raised to the server's 100).
MAX_RECEIVE = 100
#: The longest visibility timeout, in seconds (12 hours, as in SQS).
MAX_VISIBILITY_TIMEOUT = 43200
#: The longest delay of a new message, in seconds (15 minutes, as in SQS).
MAX_DELAY = 900
#: The longest a receive waits for a message, in seconds (as in SQS).
MAX_WAIT = 20
#: The shortest and longest retention, in seconds (1 minute and 14 days, as in SQS).
MIN_RETENTION = 60
MAX_RETENTION = 1_209_600
#: The most receives before a message moves to the dead-letter queue (as in SQS).
MAX_RECEIVE_COUNT = 1000

_LIMITS = {
    "visibility_timeout": MAX_VISIBILITY_TIMEOUT,
    "delay_seconds": MAX_DELAY,
    "wait_time_seconds": MAX_WAIT,
}
_CLEARABLE = frozenset({"retention_seconds", "max_receive_count", "dead_letter_queue"})
#: The longest message id, in bytes of UTF-8 (SQS's own ids are 36 characters).
MAX_ID_BYTES = 512
#: The deepest nesting of objects and arrays a body may have. JSON itself has no limit, but a
#: body nested about a thousand deep cannot be read back by Python's ``json``: refused at the
#: door, it can never make a queue unreadable.
MAX_BODY_DEPTH = 64
# Control characters (C0, DEL, C1) in an id would travel into logs and paths.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# What changes nesting in JSON text: brackets, and strings (whose brackets do not count).
_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def body_json(message: object, name: str = "message") -> str:
    """A JSON-object body (a dict or other mapping), returned as its JSON text."""
    # type() first: the Mapping check goes through the ABC machinery, slow on every add
    if type(message) is not dict and not isinstance(message, Mapping):
        raise ValidationError(
            f"{name} must be a dict (a JSON object), not {type(message).__name__}"
        )
    try:
        as_dict = message if type(message) is dict else dict(message)
        text = json.dumps(as_dict, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be JSON-serializable: {exc}") from None
    except RecursionError:
        raise _too_deep(name) from None
    _check_depth(text, name)
    return text


def _too_deep(name: str) -> ValidationError:
    return ValidationError(f"{name} is nested more than {MAX_BODY_DEPTH} objects or arrays deep")


def _check_depth(text: str, name: str) -> None:
    """Refuse JSON text nested deeper than ``MAX_BODY_DEPTH``."""
    # Fewer brackets than the limit cannot nest deeper: most bodies stop here.
    if text.count("[") + text.count("{") <= MAX_BODY_DEPTH:
        return
    depth = 0
    for token in _NESTING.findall(text):
        if token in "[{":
            depth += 1
            if depth > MAX_BODY_DEPTH:
                raise _too_deep(name)
        elif token in "]}":
            depth -= 1


def body(message: object, name: str = "message") -> MessageBody:
    """A JSON-object body (a dict or other mapping), returned as a private copy in JSON form."""
    copied: MessageBody = json.loads(body_json(message, name))
    return copied


def item_id(value: object, name: str = "item_id") -> str:
    """A message id: a non-empty string of at most ``MAX_ID_BYTES`` bytes, without control
    characters."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, not {value!r}")
    if len(value) * 4 > MAX_ID_BYTES and len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ValidationError(f"{name} must be at most {MAX_ID_BYTES} bytes long")
    if _CONTROL.search(value):
        raise ValidationError(f"{name} must not contain control characters, not {value!r}")
    return value


def body_id(message: Mapping[str, object]) -> Optional[str]:
    """The id a body carries in its ``"id"`` key (strings, or integers as their decimal text)."""
    value = message.get("id")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return item_id(value, 'message["id"]')


def item_ids(values: object) -> List[str]:
    """A collection of message ids (a list, tuple, set...; a lone string is refused)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValidationError(f"item_ids must be a list of strings, not {type(values).__name__}")
    return [item_id(value, "each item id") for value in values]


def queue_name(value: object, name: str = "queue_name") -> str:
    """A queue's name: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, not {value!r}")
    return value


def receipt_handle(value: object) -> str:
    """A receipt handle: a string (an unknown one simply deletes nothing)."""
    if not isinstance(value, str):
        raise ValidationError(f"receipt_handle must be a string, not {type(value).__name__}")
    return value


def _integer(value: object, name: str, low: int, high: Optional[int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValidationError(f"{name} must be {bounds}, not {value}")
    return value


def max_messages(value: object) -> int:
    """``receive_messages``' batch size: 1 to ``MAX_RECEIVE``."""
    return _integer(value, "max_messages", 1, MAX_RECEIVE)


def peek_limit(value: object) -> Optional[int]:
    """``get_messages``' limit: None for all, else a count of at least 0."""
    return None if value is None else _integer(value, "max_messages", 0, None)


def peek_offset(value: object) -> int:
    """``get_messages``' offset: a count of at least 0."""
    return _integer(value, "offset", 0, None)


def seconds(value: object, name: str, high: float, low: float = 0) -> float:
    """A number of seconds from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValidationError(f"{name} must be a number of seconds, not {value!r}")
    if not low <= value <= high:
        raise ValidationError(f"{name} must be between {low:.0f} and {high:.0f} s, not {value}")
    return value


def optional_seconds(value: object, name: str, high: float) -> Optional[float]:
    """None (the queue's attribute), or a number of seconds from 0 to ``high``."""
    return None if value is None else seconds(value, name, high)


def visibility_timeout(value: object) -> float:
    """Seconds a received message stays hidden: 0 to ``MAX_VISIBILITY_TIMEOUT``."""
    return seconds(value, "visibility_timeout", MAX_VISIBILITY_TIMEOUT)


def attribute_changes(changes: Mapping[str, object]) -> Dict[str, object]:
    """The checked changes of ``set_queue_attributes`` (SQS's ranges); the keys left out are
    not in ``changes``. ``None`` clears the attributes that allow it."""
    checked: Dict[str, object] = {}
    for name, value in changes.items():
        if value is None and name in _CLEARABLE:
            checked[name] = None
        elif name == "max_receive_count":
            checked[name] = _integer(value, name, 1, MAX_RECEIVE_COUNT)
        elif name == "dead_letter_queue":
            checked[name] = queue_name(value, name)
        elif name == "retention_seconds":
            checked[name] = seconds(value, name, MAX_RETENTION, MIN_RETENTION)
        else:
            checked[name] = seconds(value, name, _LIMITS[name])
    return checked


def positive_seconds(value: object, name: str) -> float:
    """A timeout in seconds: a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a positive number of seconds, not {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValidationError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def flag(value: object, name: str) -> bool:
    """A boolean option: True or False (integers 0 and 1 too, as the original accepted)."""
    if not isinstance(value, (bool, int)):
        raise ValidationError(f"{name} must be True or False, not {value!r}")
    return bool(value)
