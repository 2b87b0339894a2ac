"""The queue rules, as pure code over in-memory records: no I/O, the current time passed in.

Visibility, receipt handles, receive counts, ``only_new``, expiry and counting live here and only
here. The in-memory and local JSON backends run every call through a :class:`QueueState`; backends
that keep their data elsewhere (SQL, HTTP) implement the same rules and pass the same contract
tests.

Times are naive UTC and stored as canonical ISO-8601 strings with microseconds
(``2026-01-22T12:00:00.000000``). Canonical strings sort like the instants they name, so the hot
paths compare strings and never parse.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import (
    Callable,
    Dict,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Sequence,
    TypedDict,
)

from ._types import (
    BatchDeleteFailure,
    DeleteMessagesResult,
    MessageBody,
    ReceivedMessage,
    StoredMessage,
)

__all__ = [
    "Clock",
    "Counts",
    "NewMessage",
    "QueueState",
    "Record",
    "canonical_time",
    "copy_body",
    "format_time",
    "new_message_id",
    "new_receipt_handle",
    "parse_time",
    "utc_now",
]

#: A function returning the current time as a naive UTC datetime.
Clock = Callable[[], datetime]

_TIME_FORMAT_LENGTH = len("2026-01-22T12:00:00.000000")
_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?\Z"
)


class Record(TypedDict):
    """A stored message with its tracking fields: one element of the local file's JSON array."""

    id: str
    timestamp: str
    message_body: MessageBody
    receive_count: int
    first_received_at: Optional[str]
    invisible_until: Optional[str]
    current_receipt_handle: Optional[str]


class NewMessage(NamedTuple):
    """A checked message on its way into a queue: its id and its body as JSON text.

    The text is what validation produced when it checked the body, so a backend that stores
    text stores it as it is, and one that keeps objects decodes it (a private copy).
    """

    id: str
    body_json: str


class Counts(TypedDict):
    """The counting keys every backend reports in ``get_queue_info``."""

    message_count: int
    visible_messages: int
    invisible_messages: int
    never_received: int
    total_receives: int


def utc_now() -> datetime:
    """The current time as a naive UTC datetime (the library's default clock)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def format_time(moment: datetime) -> str:
    """Format a naive UTC datetime the canonical way: ISO-8601 with microseconds."""
    return moment.isoformat(timespec="microseconds")


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


def new_message_id() -> str:
    """A fresh message id (a UUID4 string, as the original library made)."""
    # What str(uuid.uuid4()) gives, at a third of the cost (it runs on every add without an id).
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_receipt_handle() -> str:
    """A fresh, unguessable receipt handle (192 random bits)."""
    return "receipt_" + secrets.token_urlsafe(24)


def copy_body(body: MessageBody) -> MessageBody:
    """A deep copy of a JSON body, so callers never share our stored objects."""
    copied: MessageBody = json.loads(json.dumps(body))
    return copied


def new_record(item_id: str, body: MessageBody, now: datetime) -> Record:
    """A never-received message, stamped ``now``."""
    return {
        "id": item_id,
        "timestamp": format_time(now),
        "message_body": body,
        "receive_count": 0,
        "first_received_at": None,
        "invisible_until": None,
        "current_receipt_handle": None,
    }


def _copy_record(record: Record) -> Record:
    return {**record, "message_body": copy_body(record["message_body"])}


def delete_each(
    receipt_handles: Iterable[object], delete_one: Callable[[str], bool]
) -> DeleteMessagesResult:
    """The batch delete every backend shares: ``delete_one`` per valid handle, each outcome kept.

    A value that is not a non-empty string fails as ``"invalid"`` without reaching
    ``delete_one``; a handle that deletes nothing fails as ``"not_found"``. Never raises for one
    bad handle.
    """
    successful: List[str] = []
    failed: List[BatchDeleteFailure] = []
    for handle in receipt_handles:
        if not isinstance(handle, str) or not handle:
            failed.append({"ReceiptHandle": str(handle), "reason": "invalid"})
        elif delete_one(handle):
            successful.append(handle)
        else:
            failed.append({"ReceiptHandle": handle, "reason": "not_found"})
    return {"Successful": successful, "Failed": failed}


def record_from(stored: StoredMessage, handle: Optional[str]) -> Record:
    """A full record from a stored message and its current receipt handle."""
    return {
        "id": stored["id"],
        "timestamp": stored["timestamp"],
        "message_body": stored["message_body"],
        "receive_count": stored["receive_count"],
        "first_received_at": stored["first_received_at"],
        "invisible_until": stored["invisible_until"],
        "current_receipt_handle": handle,
    }


def stored_view(record: Record) -> StoredMessage:
    """The public view of a record: a copy, without its receipt handle."""
    return {
        "id": record["id"],
        "timestamp": record["timestamp"],
        "message_body": copy_body(record["message_body"]),
        "receive_count": record["receive_count"],
        "first_received_at": record["first_received_at"],
        "invisible_until": record["invisible_until"],
    }


def _received_view(record: Record, handle: str, first_received_at: str) -> ReceivedMessage:
    return {
        "Id": record["id"],
        "ReceiptHandle": handle,
        "message_body": copy_body(record["message_body"]),
        "timestamp": record["timestamp"],
        "receive_count": record["receive_count"],
        "first_received_at": first_received_at,
    }


def is_visible(record: Record, now_text: str) -> bool:
    """Whether a record can be received at the canonical time ``now_text``."""
    until = record["invisible_until"]
    return until is None or until <= now_text


class QueueState:
    """One queue held in memory: records in queue order plus an index of live receipt handles.

    Every method is one step of the queue rules. ``dirty`` collects, in the order the changes
    happened, the ids whose stored form changed (added, updated, received, removed), so a storage
    layer can re-serialize only those. It is a dict used as an ordered set.
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self.records: Dict[str, Record] = {}
        self._handles: Dict[str, str] = {}
        self.dirty: Dict[str, None] = {}
        for record in records:
            self.records[record["id"]] = record
            handle = record["current_receipt_handle"]
            if handle is not None:
                self._handles[handle] = record["id"]

    def __len__(self) -> int:
        return len(self.records)

    def add(self, items: Sequence[NewMessage], now: datetime) -> List[str]:
        """Append new messages; an id already present is left as it is (idempotent add)."""
        for item_id, body_json in items:
            if item_id not in self.records:
                self.records[item_id] = new_record(item_id, json.loads(body_json), now)
                self.dirty[item_id] = None
        return [item.id for item in items]

    def export_records(self) -> List[Record]:
        """Copies of every record, tracking fields included, in queue order."""
        return [_copy_record(record) for record in self.records.values()]

    def import_records(self, records: Iterable[Record]) -> int:
        """Append records as they are (ids, tracking fields, handles); existing ids are skipped."""
        added = 0
        for record in records:
            if record["id"] in self.records:
                continue
            copied = _copy_record(record)
            self.records[copied["id"]] = copied
            if copied["current_receipt_handle"] is not None:
                self._handles[copied["current_receipt_handle"]] = copied["id"]
            self.dirty[copied["id"]] = None
            added += 1
        return added

    def peek(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        """``max_messages`` messages (all when None) from position ``offset``, untouched."""
        stop = None if max_messages is None else offset + max_messages
        return [stored_view(record) for record in islice(self.records.values(), offset, stop)]

    def get(self, item_id: str) -> Optional[StoredMessage]:
        """The message with this id, or None."""
        record = self.records.get(item_id)
        return None if record is None else stored_view(record)

    def existing(self, item_ids: Iterable[str]) -> List[str]:
        """The given ids that are in the queue, in the given order."""
        return [item_id for item_id in item_ids if item_id in self.records]

    def receive(
        self,
        now: datetime,
        max_messages: int,
        visibility_timeout: float,
        delete_after_receive: bool = False,
        only_new: bool = False,
        make_handle: Callable[[], str] = new_receipt_handle,
    ) -> List[ReceivedMessage]:
        """Hand out up to ``max_messages`` visible messages in queue order.

        Each one's receive count goes up, its first receive time is set once, it gets a new receipt
        handle (the old one stops working) and it hides until ``now + visibility_timeout``. With
        ``delete_after_receive`` it leaves the queue in the same step instead.
        """
        now_text = format_time(now)
        until_text = format_time(now + timedelta(seconds=visibility_timeout))
        picked = self._pick_visible(now_text, max_messages, only_new)
        received = []
        for record in picked:
            first = record["first_received_at"] or now_text
            self._forget_handle(record)
            handle = make_handle()
            record["receive_count"] += 1
            record["first_received_at"] = first
            record["invisible_until"] = until_text
            record["current_receipt_handle"] = handle
            received.append(_received_view(record, handle, first))
            if delete_after_receive:
                self._drop(record["id"])
            else:
                self._handles[handle] = record["id"]
                self.dirty[record["id"]] = None
        return received

    def _pick_visible(self, now_text: str, limit: int, only_new: bool) -> List[Record]:
        picked: List[Record] = []
        for record in self.records.values():
            if only_new and record["receive_count"]:
                continue
            if is_visible(record, now_text):
                picked.append(record)
                if len(picked) >= limit:
                    break
        return picked

    def delete(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        """Delete the messages whose current receipt handle is given; never raises per handle."""
        return delete_each(receipt_handles, self._delete_one)

    def _delete_one(self, handle: str) -> bool:
        item_id = self._handles.get(handle)
        if item_id is None:
            return False
        self._drop(item_id)
        return True

    def remove(self, item_id: str) -> bool:
        """Remove a message by id, whatever its visibility."""
        if item_id not in self.records:
            return False
        self._drop(item_id)
        return True

    def update(self, item_id: str, body: MessageBody, now: datetime) -> bool:
        """Replace a message's body and refresh its timestamp; tracking fields are kept."""
        record = self.records.get(item_id)
        if record is None:
            return False
        record["message_body"] = body
        record["timestamp"] = format_time(now)
        self.dirty[item_id] = None
        return True

    def clear(self) -> None:
        """Remove every message."""
        self.dirty.update(dict.fromkeys(self.records))
        self.records.clear()
        self._handles.clear()

    def cleanup_expired(self, now: datetime) -> int:
        """Clear ``invisible_until`` where it has passed; returns how many were cleared."""
        now_text = format_time(now)
        cleared = 0
        for record in self.records.values():
            until = record["invisible_until"]
            if until is not None and until <= now_text:
                record["invisible_until"] = None
                self.dirty[record["id"]] = None
                cleared += 1
        return cleared

    def counts(self, now: datetime) -> Counts:
        """The counting keys of ``get_queue_info`` at time ``now``."""
        now_text = format_time(now)
        visible = never = receives = 0
        for record in self.records.values():
            visible += is_visible(record, now_text)
            never += record["receive_count"] == 0
            receives += record["receive_count"]
        return {
            "message_count": len(self.records),
            "visible_messages": visible,
            "invisible_messages": len(self.records) - visible,
            "never_received": never,
            "total_receives": receives,
        }

    def _forget_handle(self, record: Record) -> None:
        handle = record["current_receipt_handle"]
        if handle is not None:
            self._handles.pop(handle, None)

    def _drop(self, item_id: str) -> None:
        record = self.records.pop(item_id)
        self._forget_handle(record)
        self.dirty[item_id] = None
