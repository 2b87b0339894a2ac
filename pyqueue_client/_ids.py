"""The names the library makes up: message ids and receipt handles.

A receipt handle is ``receipt_<144 random bits>_<n>``: one random token per receive, and for each
message a number that is unique within that receive. The SQLite backend uses the row's ``seq``
as the number, so a delete finds its row by primary key; the other backends use the message's
place in the receive. Handles are unguessable by anyone who did not receive the batch.
"""

from __future__ import annotations

import os
import secrets
from typing import Optional

__all__ = ["handle_number", "new_message_id", "receipt_handle", "receipt_token"]

_HANDLE_PREFIX = "receipt_"


def new_message_id() -> str:
    """A fresh message id (a UUID4 string, as the original library made)."""
    # What str(uuid.uuid4()) gives, at a third of the cost (it runs on every add without an id).
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def receipt_token() -> str:
    """The random part of one receive's handles, ready for :func:`receipt_handle`."""
    return _HANDLE_PREFIX + secrets.token_urlsafe(18) + "_"


def receipt_handle(token: str, number: int) -> str:
    """The handle of the message numbered ``number`` in the receive that drew ``token``."""
    return f"{token}{number}"


def handle_number(handle: str) -> Optional[int]:
    """The number a receipt handle ends with (``..._<n>``), or None."""
    digits = handle[handle.rfind("_") + 1 :]
    # isascii: int() would also read other scripts' digits; 18 digits always fit in 64 bits
    if "_" in handle and digits.isdigit() and digits.isascii() and len(digits) <= 18:
        return int(digits)
    return None
