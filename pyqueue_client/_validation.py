"""Argument checks for the public API: each returns the normalized value or raises ValidationError.

They run in the facade, once, before any backend is touched, so a bad call changes nothing.
"""

from __future__ import annotations

import json
import math
from typing import Iterable, List, Mapping, Optional

from ._errors import ValidationError
from ._types import MessageBody

__all__ = [
    "MAX_RECEIVE",
    "MAX_VISIBILITY_TIMEOUT",
    "body",
    "body_id",
    "flag",
    "item_id",
    "item_ids",
    "max_messages",
    "peek_limit",
    "peek_offset",
    "positive_seconds",
    "queue_name",
    "receipt_handle",
    "visibility_timeout",
]

#: The most messages one receive may return (as in SQS's 10, raised to the server's 100).
MAX_RECEIVE = 100
#: The longest visibility timeout, in seconds (12 hours, as in SQS).
MAX_VISIBILITY_TIMEOUT = 43200


def body_json(message: object, name: str = "message") -> str:
    """A JSON-object body (a dict or other mapping), returned as its JSON text."""
    # type() first: the Mapping check goes through the ABC machinery, slow on every add
    if type(message) is not dict and not isinstance(message, Mapping):
        raise ValidationError(
            f"{name} must be a dict (a JSON object), not {type(message).__name__}"
        )
    try:
        as_dict = message if type(message) is dict else dict(message)
        return json.dumps(as_dict, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be JSON-serializable: {exc}") from None


def body(message: object, name: str = "message") -> MessageBody:
    """A JSON-object body (a dict or other mapping), returned as a private copy in JSON form."""
    copied: MessageBody = json.loads(body_json(message, name))
    return copied


def item_id(value: object, name: str = "item_id") -> str:
    """A message id: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, not {value!r}")
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


def queue_name(value: object) -> str:
    """A queue's name: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"queue_name must be a non-empty string, not {value!r}")
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


def visibility_timeout(value: object) -> float:
    """Seconds a received message stays hidden: 0 to ``MAX_VISIBILITY_TIMEOUT``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValidationError(f"visibility_timeout must be a number of seconds, not {value!r}")
    if not 0 <= value <= MAX_VISIBILITY_TIMEOUT:
        raise ValidationError(
            f"visibility_timeout must be between 0 and {MAX_VISIBILITY_TIMEOUT} s, not {value}"
        )
    return value


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
