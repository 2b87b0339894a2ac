"""The names the library makes up: message ids and receipt handles.

A receipt handle is ``receipt_<192 random bits, hex>_<n>``: fresh random bits for every message
of every receive, so one handle tells nothing about any other, even of the same batch. ``n`` is
a number the backend picks: the SQLite backend uses the row's ``seq``, so a delete finds its row
by primary key (its SQL twin, ``_semantics_sql.HIDE``, draws the bits with ``randomblob``); the
other backends use the message's place in its receive.
"""

from __future__ import annotations

import os
import secrets
from typing import Optional

__all__ = ["HANDLE_RANDOM_BYTES", "handle_number", "new_message_id", "receipt_handle"]

#: Random bytes in every receipt handle (192 bits).
HANDLE_RANDOM_BYTES = 24


def new_message_id() -> str:
    """A fresh message id (a UUID4 string, as the original library made)."""
    # What str(uuid.uuid4()) gives, at a third of the cost (it runs on every add without an id).
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def receipt_handle(number: int) -> str:
    """A new, unguessable receipt handle for the message the backend numbers ``number``."""
    return f"receipt_{secrets.token_hex(HANDLE_RANDOM_BYTES)}_{number}"


def handle_number(handle: str) -> Optional[int]:
    """The number a receipt handle ends with (``..._<n>``), or None."""
    digits = handle[handle.rfind("_") + 1 :]
    # isascii: int() would also read other scripts' digits; 18 digits always fit in 64 bits
    if "_" in handle and digits.isdigit() and digits.isascii() and len(digits) <= 18:
        return int(digits)
    return None
