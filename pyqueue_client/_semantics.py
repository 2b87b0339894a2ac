"""The queue rules, as pure code over in-memory records: no I/O, the current time passed in.

Visibility, receipt handles, receive counts, delays, ``only_new``, expiry and counting live here.
The in-memory and local JSON backends run every call through a :class:`QueueState`; the SQLite
backend runs the same rules as the SQL statements of ``_semantics_sql`` (each one names the
method here that it mirrors), and a differential test holds the two to the same results.

Times are canonical naive UTC strings (see ``_times``), compared as strings on the hot paths.
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice
from typing import (
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypedDict,
    cast,
)

from ._ids import receipt_handle
from ._times import format_time, later
from ._types import (
    DEFAULT_ATTRIBUTES,
    BatchDeleteFailure,
    DeleteMessagesResult,
    MessageBody,
    QueueAttributes,
    QueueInfo,
    ReceivedMessage,
    StoredMessage,
)

__all__ = [
    "Counts",
    "Delivery",
    "NewMessage",
    "Policy",
    "QueueState",
    "Receipt",
    "Record",
    "attributes_from_json",
    "attributes_json",
    "changed_attributes",
    "copy_body",
    "delivered",
    "for_each_handle",
    "policy_of",
    "received_message",
    "record_from",
    "stored_message",
]


class _DeadLetter(TypedDict, total=False):
    #: In a dead-letter queue: the queue the message came from (a name, or a JSON file's path).
    source_queue: str


class Record(StoredMessage, _DeadLetter):
    """A stored message with its current receipt handle: one element of the JSON file's array."""

    current_receipt_handle: Optional[str]


class Policy(NamedTuple):
    """What a queue's attributes ask of a receive."""

    #: Receives after which a message goes to the dead-letter queue instead (None: never).
    max_receive_count: Optional[int] = None
    #: Messages older than this many seconds are dropped, never delivered (None: kept).
    retention_seconds: Optional[float] = None


class Receipt(NamedTuple):
    """What one receive did: the deliveries, and the records it took out for the dead-letter
    queue (already removed from this queue)."""

    deliveries: List[Delivery]
    dead: List[Record]


class NewMessage(NamedTuple):
    """A checked message on its way into a queue: its id and its body as JSON text.

    The text is what validation produced when it checked the body, so a backend that stores
    text stores it as it is, and one that keeps objects decodes it (a private copy).
    """

    id: str
    body_json: str


class Delivery(NamedTuple):
    """One message handed out by a receive, and when it becomes visible again.

    ``invisible_until`` is None when the receive deleted the message (``delete_after_receive``).
    """

    message: ReceivedMessage
    invisible_until: Optional[str]


class Counts(NamedTuple):
    """The counting keys every backend reports in ``get_queue_info``."""

    message_count: int
    visible_messages: int
    never_received: int
    total_receives: int
    delayed_messages: int = 0

    def info(
        self, queue_type: str, where: Optional[Mapping[str, str]] = None, size: Optional[int] = None
    ) -> QueueInfo:
        """``get_queue_info``'s answer: the type, ``where`` the queue is (file, name), the counts
        (invisible ones derived) and, for a file, its ``size``, in the README's order."""
        info: Dict[str, object] = {"queue_type": queue_type, **(where or {})}
        info["message_count"] = self.message_count
        info["visible_messages"] = self.visible_messages
        info["invisible_messages"] = self.message_count - self.visible_messages
        info["never_received"] = self.never_received
        info["total_receives"] = self.total_receives
        info["delayed_messages"] = self.delayed_messages
        if size is not None:
            info["file_size"] = size
        return cast(QueueInfo, info)


# -- the views every backend builds its answers with ----------------------------------------------


def copy_body(body: MessageBody) -> MessageBody:
    """A deep copy of a JSON body, so callers never share our stored objects."""
    copied: MessageBody = json.loads(json.dumps(body))
    return copied


def stored_message(
    item_id: str,
    timestamp: str,
    body: MessageBody,
    receive_count: int,
    first_received_at: Optional[str],
    invisible_until: Optional[str],
) -> StoredMessage:
    """A message as peeking shows it: never with its receipt handle."""
    return {
        "id": item_id,
        "timestamp": timestamp,
        "message_body": body,
        "receive_count": receive_count,
        "first_received_at": first_received_at,
        "invisible_until": invisible_until,
    }


def received_message(
    item_id: str,
    handle: str,
    body: MessageBody,
    timestamp: str,
    receive_count: int,
    first_received_at: str,
) -> ReceivedMessage:
    """A message as a consumer receives it (SQS-style key names)."""
    return {
        "Id": item_id,
        "ReceiptHandle": handle,
        "message_body": body,
        "timestamp": timestamp,
        "receive_count": receive_count,
        "first_received_at": first_received_at,
    }


def record_from(stored: StoredMessage, handle: Optional[str]) -> Record:
    """A full record from a stored message and its current receipt handle."""
    return cast(Record, {**stored, "current_receipt_handle": handle})


def _stored_view(record: Record) -> StoredMessage:
    return stored_message(
        record["id"],
        record["timestamp"],
        copy_body(record["message_body"]),
        record["receive_count"],
        record["first_received_at"],
        record["invisible_until"],
    )


def _copy_record(record: Record) -> Record:
    return {**record, "message_body": copy_body(record["message_body"])}


# -- the rules ------------------------------------------------------------------------------------


def delivered(receive_count: int, first_received_at: Optional[str], now: str) -> Tuple[int, str]:
    """What a receive makes of a message's tracking: one more receive, first receive set once.

    (SQL twin: ``_semantics_sql.HIDE``.)
    """
    return receive_count + 1, first_received_at or now


def policy_of(attributes: QueueAttributes) -> Policy:
    """What ``attributes`` ask of a receive (no dead letters without a dead-letter queue)."""
    dead_letters = attributes["dead_letter_queue"] is not None
    return Policy(
        attributes["max_receive_count"] if dead_letters else None,
        attributes["retention_seconds"],
    )


def is_visible(invisible_until: Optional[str], now: str) -> bool:
    """Whether a message hidden until ``invisible_until`` can be received at ``now``."""
    return invisible_until is None or invisible_until <= now


def for_each_handle(
    receipt_handles: Iterable[object], act: Callable[[str], bool]
) -> DeleteMessagesResult:
    """A batch call by receipt handle: ``act`` per valid handle, each outcome kept.

    A value that is not a non-empty string fails as ``"invalid"`` without reaching ``act``; a
    handle ``act`` finds nothing for fails as ``"not_found"``. Never raises for one bad handle.
    """
    successful: List[str] = []
    failed: List[BatchDeleteFailure] = []
    for handle in receipt_handles:
        if not isinstance(handle, str) or not handle:
            failed.append({"ReceiptHandle": str(handle), "reason": "invalid"})
        elif act(handle):
            successful.append(handle)
        else:
            failed.append({"ReceiptHandle": handle, "reason": "not_found"})
    return {"Successful": successful, "Failed": failed}


def new_record(item_id: str, body: MessageBody, now: datetime, delay_seconds: float) -> Record:
    """A never-received message stamped ``now``, hidden for ``delay_seconds`` if above 0.

    (SQL twin: ``_semantics_sql.ADD``.)
    """
    return {
        "id": item_id,
        "timestamp": format_time(now),
        "message_body": body,
        "receive_count": 0,
        "first_received_at": None,
        "invisible_until": later(now, delay_seconds) if delay_seconds > 0 else None,
        "current_receipt_handle": None,
    }


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

    def add(
        self, items: Sequence[NewMessage], now: datetime, delay_seconds: float = 0
    ) -> List[str]:
        """Append new messages; an id already present is left as it is (idempotent add)."""
        for item_id, body_json in items:
            if item_id not in self.records:
                record = new_record(item_id, json.loads(body_json), now, delay_seconds)
                self.records[item_id] = record
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
        return [_stored_view(record) for record in islice(self.records.values(), offset, stop)]

    def get(self, item_id: str) -> Optional[StoredMessage]:
        """The message with this id, or None."""
        record = self.records.get(item_id)
        return None if record is None else _stored_view(record)

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
        policy: Optional[Policy] = None,
    ) -> Receipt:
        """Hand out up to ``max_messages`` visible messages in queue order.

        Each one's receive count goes up, its first receive time is set once (:func:`delivered`),
        it gets a new receipt handle (the old one stops working) and it hides until
        ``now + visibility_timeout``. With ``delete_after_receive`` it leaves the queue in the
        same step instead. Under a ``policy``, a message older than the retention is dropped and
        one already received ``max_receive_count`` times is taken out for the dead-letter queue,
        and the receive goes on to the next. (SQL twin: ``_semantics_sql.PICKS``, ``HIDE``,
        ``TAKE``, and ``DEAD_LETTER``.)
        """
        policy = policy or Policy()
        now_text = format_time(now)
        until = None if delete_after_receive else later(now, visibility_timeout)
        oldest = None if policy.retention_seconds is None else later(now, -policy.retention_seconds)
        receipt = Receipt([], [])
        for record in list(self._visible(now_text, only_new)):
            number = len(receipt.deliveries)
            if number >= max_messages:
                break
            if oldest is not None and record["timestamp"] < oldest:
                self._drop(record["id"])
            elif policy.max_receive_count and record["receive_count"] >= policy.max_receive_count:
                self._drop(record["id"])
                receipt.dead.append(record)
            else:
                delivery = self._deliver(record, number, now_text, until, delete_after_receive)
                receipt.deliveries.append(delivery)
        return receipt

    def _deliver(
        self,
        record: Record,
        number: int,
        now_text: str,
        until: Optional[str],
        delete_after_receive: bool,
    ) -> Delivery:
        count, first = delivered(record["receive_count"], record["first_received_at"], now_text)
        self._forget_handle(record)
        handle = receipt_handle(number)
        record["receive_count"] = count
        record["first_received_at"] = first
        record["invisible_until"] = until
        record["current_receipt_handle"] = handle
        body = copy_body(record["message_body"])
        message = received_message(record["id"], handle, body, record["timestamp"], count, first)
        if delete_after_receive:
            self._drop(record["id"])
        else:
            self._handles[handle] = record["id"]
            self.dirty[record["id"]] = None
        return Delivery(message, until)

    def _visible(self, now_text: str, only_new: bool) -> Iterator[Record]:
        for record in self.records.values():
            if only_new and record["receive_count"]:
                continue
            if is_visible(record["invisible_until"], now_text):
                yield record

    def next_visible_at(self, now: datetime) -> Optional[str]:
        """When the next hidden message becomes visible (None: none is hidden).

        (SQL twin: ``_semantics_sql.NEXT_VISIBLE``.)
        """
        now_text = format_time(now)
        hidden = [
            until
            for until in (record["invisible_until"] for record in self.records.values())
            if until is not None and until > now_text
        ]
        return min(hidden, default=None)

    def take_dead_letters(self, records: Sequence[Record], source: str) -> None:
        """Keep ``records`` (taken out of queue ``source``) as dead letters: id, body, timestamp
        and receive count kept, not hidden, no handle, and where they came from. A dead letter
        of the same id is replaced. (SQL twin: ``_semantics_sql.DEAD_LETTER``.)
        """
        for record in records:
            if record["id"] in self.records:
                self._drop(record["id"])
            dead: Record = {
                **record,
                "invisible_until": None,
                "current_receipt_handle": None,
                "source_queue": source,
            }
            self.records[record["id"]] = dead
            self.dirty[record["id"]] = None

    def dead_letters(self, max_messages: Optional[int]) -> Dict[str, List[str]]:
        """The ids of the oldest ``max_messages`` dead letters (all when None), by the queue
        each came from. (SQL twin: ``_semantics_sql.REDRIVE_PICK``.)"""
        by_source: Dict[str, List[str]] = {}
        dead = [record for record in self.records.values() if record.get("source_queue")]
        for record in dead[:max_messages]:
            by_source.setdefault(record["source_queue"], []).append(record["id"])
        return by_source

    def take_for_redrive(self, item_ids: Sequence[str], source: str) -> List[Record]:
        """Take out the dead letters of these ids that came from queue ``source``."""
        taken = []
        for item_id in item_ids:
            record = self.records.get(item_id)
            if record is not None and record.get("source_queue") == source:
                self._drop(item_id)
                taken.append(record)
        return taken

    def take_redriven(self, records: Sequence[Record]) -> int:
        """Append redriven messages as new (receive tracking cleared). A message whose id is
        already here stays as it is: the same id names the same message. Returns how many."""
        added = 0
        for record in records:
            if record["id"] in self.records:
                continue
            fresh: Record = {
                "id": record["id"],
                "timestamp": record["timestamp"],
                "message_body": record["message_body"],
                "receive_count": 0,
                "first_received_at": None,
                "invisible_until": None,
                "current_receipt_handle": None,
            }
            self.records[record["id"]] = fresh
            self.dirty[record["id"]] = None
            added += 1
        return added

    def delete(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        """Delete the messages whose current receipt handle is given; never raises per handle.

        (SQL twin: ``_semantics_sql.DELETE_BY_HANDLE``.)
        """
        return for_each_handle(receipt_handles, self._delete_one)

    def _delete_one(self, handle: str) -> bool:
        item_id = self._handles.get(handle)
        if item_id is None:
            return False
        self._drop(item_id)
        return True

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float, now: datetime
    ) -> DeleteMessagesResult:
        """Hide the messages of these current handles until ``now + visibility_timeout``.

        Counted from now, as in SQS; 0 makes a message visible at once. A stale or unknown handle
        fails. (SQL twin: ``_semantics_sql.CHANGE_VISIBILITY``.)
        """
        until = later(now, visibility_timeout)

        def change_one(handle: str) -> bool:
            item_id = self._handles.get(handle)
            if item_id is None:
                return False
            self.records[item_id]["invisible_until"] = until
            self.dirty[item_id] = None
            return True

        return for_each_handle(receipt_handles, change_one)

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
        """Clear ``invisible_until`` where it has passed; returns how many were cleared.

        (SQL twin: ``_semantics_sql.EXPIRE``.)
        """
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
        """The counting keys of ``get_queue_info`` at time ``now``. (SQL twin: ``COUNTS``.)"""
        now_text = format_time(now)
        visible = never = receives = delayed = 0
        for record in self.records.values():
            shown = is_visible(record["invisible_until"], now_text)
            visible += shown
            never += record["receive_count"] == 0
            delayed += not shown and record["receive_count"] == 0
            receives += record["receive_count"]
        return Counts(len(self.records), visible, never, receives, delayed)

    def _forget_handle(self, record: Record) -> None:
        handle = record["current_receipt_handle"]
        if handle is not None:
            self._handles.pop(handle, None)

    def _drop(self, item_id: str) -> None:
        record = self.records.pop(item_id)
        self._forget_handle(record)
        self.dirty[item_id] = None


# -- attributes -----------------------------------------------------------------------------------


def changed_attributes(current: QueueAttributes, changes: Mapping[str, object]) -> QueueAttributes:
    """``current`` with the (already validated) ``changes`` applied; unknown keys are ignored."""
    merged = dict(current)
    merged.update((key, value) for key, value in changes.items() if key in DEFAULT_ATTRIBUTES)
    return cast(QueueAttributes, merged)


def attributes_from_json(text: Optional[str]) -> QueueAttributes:
    """Stored attributes (JSON text, or None for a queue never configured), defaults filled in."""
    stored = json.loads(text) if text else {}
    return changed_attributes(DEFAULT_ATTRIBUTES, stored if isinstance(stored, dict) else {})


def attributes_json(attributes: QueueAttributes) -> str:
    """Attributes as the JSON text stores keep."""
    return json.dumps(attributes, sort_keys=True, allow_nan=False)
