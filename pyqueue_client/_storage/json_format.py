"""The local queue file format: a JSON array of stored messages, one message per line.

```
[
{"id": "a", "timestamp": "...", "message_body": {...}, "receive_count": 0, ...},
{"id": "b", ...}
]
```

Any JSON array of messages is read (the original library wrote it indented); old messages with
only ``id``, ``timestamp`` and ``message_body`` are upgraded with default tracking fields. A file
written one message per line is parsed line by line, so each line's text can be reused as is on
the next write and only the messages an operation touched are serialized again. Pure: no I/O.
"""

from __future__ import annotations

import codecs
import json
from typing import Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, cast

from .._semantics import Record
from .._times import canonical_time

__all__ = ["Decoded", "FormatError", "decode", "encode", "encode_record"]

_EMPTY = b"[]\n"
_HEAD = b"[\n"
_TAIL = b"\n]\n"
_SEPARATOR = b",\n"
_LINES_PER_PIECE = 256
_FIELD_ORDER = (
    "id",
    "timestamp",
    "message_body",
    "receive_count",
    "first_received_at",
    "invisible_until",
    "current_receipt_handle",
)


class FormatError(ValueError):
    """The bytes are not a queue file; the message says why, in words for a person."""


class Decoded(NamedTuple):
    """A decoded queue file."""

    records: List[Record]
    #: id -> the exact bytes of its line, for records whose line can be written back unchanged
    #: (not for records that were upgraded or normalized on the way in).
    lines: Dict[str, bytes]


def encode_record(record: Record) -> bytes:
    """One record as a single line of JSON (ASCII, so any text round-trips)."""
    return json.dumps(record, allow_nan=False).encode()


def encode(lines: Sequence[bytes]) -> Iterator[bytes]:
    """The file's bytes for the given record lines, in queue order, as a few pieces.

    Pieces of a few hundred lines stay small enough to be built in reused memory: one buffer of
    the whole file would be a fresh allocation every write, and on a deep queue touching its
    pages costs more than the write itself.
    """
    if not lines:
        yield _EMPTY
        return
    for start in range(0, len(lines), _LINES_PER_PIECE):
        yield (_SEPARATOR if start else _HEAD) + _SEPARATOR.join(
            lines[start : start + _LINES_PER_PIECE]
        )
    yield _TAIL


def decode(data: bytes) -> Decoded:
    """Parse a queue file's bytes. Raises :class:`FormatError` for anything but a queue."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data.strip():
        return Decoded([], {})
    items = _split_lines(data)
    if items is None:
        return _decode_items(_parse_whole(data), {})
    return _decode_items(
        [item for item, _ in items], {i: line for i, (_, line) in enumerate(items)}
    )


def _split_lines(data: bytes) -> Optional[List[Tuple[object, bytes]]]:
    """Parse a one-message-per-line file line by line; None when the file has another layout."""
    if not (data.startswith(_HEAD) and data.endswith(_TAIL)):
        return None
    raw_lines = data[len(_HEAD) : -len(_TAIL)].split(b"\n")
    items = []
    last = len(raw_lines) - 1
    for index, raw in enumerate(raw_lines):
        line = raw[:-1] if index < last and raw.endswith(b",") else raw
        if index < last and line is raw:
            return None
        try:
            items.append((json.loads(line), line))
        except ValueError:  # not JSON, or not UTF-8: the whole-file parse says which
            return None
    return items


def _parse_whole(data: bytes) -> List[object]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise FormatError(f"not valid JSON ({exc})") from None
    if not isinstance(parsed, list):
        raise FormatError(f"expected a JSON array of messages, found {type(parsed).__name__}")
    return parsed


def _decode_items(items: List[object], lines_by_index: Mapping[int, bytes]) -> Decoded:
    records: List[Record] = []
    lines: Dict[str, bytes] = {}
    seen: Dict[str, int] = {}
    for index, item in enumerate(items):
        record, changed = _record(item, index)
        item_id = record["id"]
        if item_id in seen:
            raise FormatError(f"messages {seen[item_id]} and {index} share the id {item_id!r}")
        seen[item_id] = index
        records.append(record)
        if not changed and index in lines_by_index:
            lines[item_id] = lines_by_index[index]
    return Decoded(records, lines)


def _record(item: object, index: int) -> Tuple[Record, bool]:
    """Check one array element and upgrade it in place; True when it had to change."""
    if not isinstance(item, dict):
        raise FormatError(f"message {index} is a {type(item).__name__}, not an object")
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise FormatError(f"message {index} has no string id")
    if not isinstance(item.get("message_body"), dict):
        raise FormatError(f"message {index} ({item_id!r}) has no object message_body")
    if not isinstance(item.get("timestamp"), str):
        raise FormatError(f"message {index} ({item_id!r}) has no string timestamp")
    changed = _upgrade(item, index, item_id)
    return cast(Record, item), changed


def _upgrade(item: Dict[str, object], index: int, item_id: str) -> bool:
    changed = not all(key in item for key in _FIELD_ORDER)
    count = item.setdefault("receive_count", 0)
    if type(count) is not int or count < 0:
        raise FormatError(f"message {index} ({item_id!r}) has a bad receive_count {count!r}")
    for key in ("first_received_at", "invisible_until"):
        value = item.setdefault(key, None)
        if value is None:
            continue
        if not isinstance(value, str):
            raise FormatError(f"message {index} ({item_id!r}) has a bad {key} {value!r}")
        try:
            canonical = canonical_time(value)
        except ValueError:
            raise FormatError(f"message {index} ({item_id!r}) has a bad {key} {value!r}") from None
        if canonical != value:
            item[key] = canonical
            changed = True
    handle = item.setdefault("current_receipt_handle", None)
    if handle is not None and not isinstance(handle, str):
        raise FormatError(f"message {index} ({item_id!r}) has a bad receipt handle")
    return changed
