"""The SQLite backend: many named queues in one database file, fast at any depth.

The queue rules run as the SQL of ``_semantics_sql``, each call atomic (one statement, or one
``BEGIN IMMEDIATE`` transaction for batches). A call that is one statement runs without
``BEGIN``/``COMMIT``: SQLite makes each statement atomic, and a writing statement takes the write
lock before it reads, so it cannot act on a stale snapshot. Deleted messages leave the table.

Every index costs pages in the write-ahead log on each commit, and commits bound the speed, so
there are only two partial indexes (visible messages; hidden ones by expiry) and the unique
``(queue, id)``. A receipt handle ends with its row's ``seq``, so a delete finds its row by
primary key; handles copied in from other backends (``import_records``) are looked up in a small
side table instead. Connections, schema and migrations are ``_storage.sqlite_db``'s.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from .. import _semantics_sql as sql
from .._ids import handle_number, receipt_handle
from .._semantics import (
    Counts,
    Delivery,
    NewMessage,
    Policy,
    Record,
    attributes_from_json,
    attributes_json,
    changed_attributes,
    delivered,
    for_each_handle,
    policy_of,
    received_message,
    record_from,
    stored_message,
)
from .._storage.sqlite_db import Database
from .._times import Clock, format_time, later
from .._types import DeleteMessagesResult, MessageBody, QueueAttributes, QueueInfo, StoredMessage
from ._waiting import LongPolling, changes_for, seconds_until

__all__ = ["SqliteQueue", "SqliteStore"]

_log = logging.getLogger(__name__.rsplit(".", 2)[0] + ".sqlite")

#: RETURNING arrived in SQLite 3.35.0.
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
# How many ids one ``IN (...)`` may bind; SQLite before 3.32 allowed 999 variables.
_IN_CHUNK = 500
_STORED = "id, timestamp, body, receive_count, first_received_at, invisible_until"


class SqliteStore:
    """Named queues in one SQLite database file, and their attributes.

    ``share_connections`` (for a server) serves every thread from a few shared connections.
    Queues opened here share the store's connections; ``close()`` closes them all.
    """

    def __init__(
        self,
        path: str,
        clock: Clock,
        durable: bool = True,
        lock_timeout: float = 10.0,
        use_returning: bool = _HAS_RETURNING,
    ) -> None:
        self.db = Database(path, durable, lock_timeout)
        self._clock = clock
        self._use_returning = use_returning
        #: name -> attributes, when this store owns the file (see ``own_the_file``)
        self._known: Optional[Dict[str, QueueAttributes]] = None

    @property
    def path(self) -> str:
        """The database file's path, as given."""
        return self.db.path

    def share_connections(self, size: int, wait: float) -> None:
        """See ``Database.share_connections``."""
        self.db.share_connections(size, wait)

    def own_the_file(self) -> None:
        """Promise that only this store changes queue attributes in this file (a server that
        owns its data folder): they are then kept in memory, not read on every add."""
        self._known = {}

    def open_queue(self, name: str) -> SqliteQueue:
        """The queue called ``name``: a light view over the shared connections."""
        return SqliteQueue(self.db, name, self._clock, self._use_returning, self._known)

    def queue_names(self) -> List[str]:
        """The queues that hold messages or have attributes, sorted."""
        with self.db.statements(1, write=False) as db:
            return [
                row[0]
                for row in db.execute(
                    "SELECT queue FROM messages UNION SELECT name FROM queues ORDER BY 1"
                )
            ]

    def get_attributes(self, name: str) -> QueueAttributes:
        with self.db.statements(1, write=False) as db:
            row = db.execute(sql.ATTRIBUTES, {"queue": name}).fetchone()
        return attributes_from_json(None if row is None else row[0])

    def queue_stats(self) -> Dict[str, Tuple[int, int, int, str]]:
        """Every queue that holds messages: its messages, visible ones and delayed ones, and its
        head's timestamp, from indexes only (a thousand queues in three statements)."""
        params = {"now": format_time(self._clock())}
        with self.db.statements(3, write=False) as db:
            heads = db.execute(sql.ALL_HEADS).fetchall()
            unhidden = dict(db.execute(sql.ALL_UNHIDDEN).fetchall())
            hidden = {row[0]: row[1:] for row in db.execute(sql.ALL_HIDDEN, params)}
        stats = {}
        for queue, total, head in heads:
            expired, delayed = hidden.get(queue, (0, 0))
            stats[queue] = (total, unhidden.get(queue, 0) + int(expired), int(delayed), head)
        return stats

    def all_attributes(self) -> Dict[str, QueueAttributes]:
        """The attributes of every queue that has any set (the others have the defaults)."""
        with self.db.statements(1, write=False) as db:
            rows = db.execute(sql.ALL_ATTRIBUTES).fetchall()
        return {name: attributes_from_json(text) for name, text in rows}

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        with self.db.transaction() as db:
            row = db.execute("SELECT attributes FROM queues WHERE name = ?", (name,)).fetchone()
            attributes = changed_attributes(
                attributes_from_json(None if row is None else row[0]), changes
            )
            db.execute(
                "INSERT OR REPLACE INTO queues (name, attributes) VALUES (?, ?)",
                (name, attributes_json(attributes)),
            )
            if self._known is not None:
                self._known[name] = attributes
        return attributes

    def health_check(self) -> bool:
        try:
            with self.db.transaction(write=False) as db:
                db.execute("SELECT 1 FROM messages LIMIT 1").fetchall()
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close every connection (shared ones once the calls using them give them back)."""
        self.db.close()


class SqliteQueue(LongPolling):
    """One named queue of a :class:`SqliteStore`."""

    def __init__(
        self,
        db: Database,
        name: str,
        clock: Clock,
        use_returning: bool,
        known: Optional[Dict[str, QueueAttributes]] = None,
    ) -> None:
        self._known = known
        self._db = db
        self._queue = name
        self._clock = clock
        self._use_returning = use_returning
        self._changes = changes_for(_changes_key(db.path, name), db.path + "-wal")

    # -- adding and reading ---------------------------------------------------------------------

    def add_messages(
        self, items: Sequence[NewMessage], delay_seconds: Optional[float] = None
    ) -> List[str]:
        if delay_seconds is None:
            delay_seconds = self._attributes()["delay_seconds"]
        moment = self._clock()
        now = format_time(moment)
        until = later(moment, delay_seconds) if delay_seconds > 0 else None
        rows = [(self._queue, item_id, now, body, until) for item_id, body in items]
        with self._db.statements(len(rows)) as db:
            db.executemany(sql.ADD, rows)
        self._changes.notify()
        return [item.id for item in items]

    def get_messages(self, max_messages: Optional[int], offset: int = 0) -> List[StoredMessage]:
        limit = -1 if max_messages is None else max_messages
        with self._db.statements(1, write=False) as db:
            rows = db.execute(
                f"SELECT {_STORED} FROM messages WHERE queue = ? ORDER BY seq LIMIT ? OFFSET ?",
                (self._queue, limit, offset),
            ).fetchall()
        return [_stored(row) for row in rows]

    def get_message(self, item_id: str) -> Optional[StoredMessage]:
        with self._db.statements(1, write=False) as db:
            row = db.execute(
                f"SELECT {_STORED} FROM messages WHERE queue = ? AND id = ?", (self._queue, item_id)
            ).fetchone()
        return None if row is None else _stored(row)

    def check_existence(self, item_ids: Sequence[str]) -> List[str]:
        found: Set[str] = set()
        unique = list(dict.fromkeys(item_ids))
        with self._db.statements(-(-len(unique) // _IN_CHUNK), write=False) as db:
            for start in range(0, len(unique), _IN_CHUNK):
                chunk = unique[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in db.execute(
                        f"SELECT id FROM messages WHERE queue = ? AND id IN ({marks})",
                        (self._queue, *chunk),
                    )
                )
        return [item_id for item_id in item_ids if item_id in found]

    # -- receiving, deleting, hiding ------------------------------------------------------------

    def _receive_once(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
    ) -> Tuple[List[Delivery], QueueAttributes]:
        moment = self._clock()
        now = format_time(moment)
        # Clearing expired timeouts needs no transaction with the pick: it only makes visible
        # what already is. With RETURNING, the pick and its change are then one statement. The
        # same statement reads the attributes, so a receive costs no extra one for them.
        attributes = self._expire(now)
        if visibility_timeout is None:
            visibility_timeout = attributes["visibility_timeout"]
        until = None if delete_after_receive else later(moment, visibility_timeout)
        params = {"queue": self._queue, "limit": max_messages, "now": now, "until": until}
        policy = policy_of(attributes)
        if policy.max_receive_count or policy.retention_seconds is not None:
            rows = self._receive_under(policy, moment, params, delete_after_receive, only_new)
        else:
            pick = sql.PICKS[only_new]
            with self._db.statements(1 if self._use_returning else 3) as db:
                if not self._use_returning:
                    # Without RETURNING: the picked seqs first, then the change on exactly those.
                    pick = ",".join(str(row[0]) for row in db.execute(pick, params))
                rows = self._deliver(db, pick, params, delete_after_receive)
        rows.sort(key=lambda row: int(row[0]))
        deliveries = []
        for _, item_id, time, body, count, first, handle in rows:
            decoded = _decoded(body, item_id)
            if decoded is not None:
                message = received_message(item_id, handle, decoded, time, count, first)
                deliveries.append(Delivery(message, until))
        return deliveries, attributes

    def _deliver(
        self, db: sqlite3.Connection, pick: str, params: Any, delete_after_receive: bool
    ) -> List[Any]:
        if delete_after_receive:
            return self._take(db, pick, params, params["now"])
        return self._hide(db, pick, params)

    def _receive_under(
        self,
        policy: Policy,
        moment: datetime,
        params: Dict[str, Any],
        delete_after_receive: bool,
        only_new: bool,
    ) -> List[Any]:
        """A receive that drops messages past the retention and moves those received
        ``max_receive_count`` times to the dead-letter queue, in one transaction."""
        oldest = None
        if policy.retention_seconds is not None:
            oldest = later(moment, -policy.retention_seconds)
        limit = params["limit"]
        pick = sql.PICK_WITH_POLICY.format(only_new=" AND receive_count = 0" if only_new else "")
        delivered_rows: List[Any] = []
        dead_letters = 0
        dead_letter_queue = self._attributes()["dead_letter_queue"]
        with self._db.transaction() as db:
            while len(delivered_rows) < limit:
                wanted = limit - len(delivered_rows)
                candidates = db.execute(pick, {**params, "limit": wanted}).fetchall()
                old, dead, live = _sorted_out(candidates, oldest, policy.max_receive_count)
                if old:
                    db.execute(sql.DROP.format(seqs=_seqs(old)))
                if dead:
                    moved = {"dlq": dead_letter_queue, "queue": self._queue}
                    db.execute(sql.DEAD_LETTER.format(seqs=_seqs(dead)), moved)
                    db.execute(sql.DROP.format(seqs=_seqs(dead)))
                    dead_letters += len(dead)
                if live:
                    delivered_rows += self._deliver(db, _seqs(live), params, delete_after_receive)
                if len(candidates) < wanted or not (old or dead):
                    break
        if dead_letters:
            changes_for(_changes_key(self._db.path, dead_letter_queue or "")).notify()
        return delivered_rows

    def _next_visible_in(self) -> Optional[float]:
        params = {"queue": self._queue, "now": format_time(self._clock())}
        with self._db.statements(1, write=False) as db:
            moment = db.execute(sql.NEXT_VISIBLE, params).fetchone()[0]
        return seconds_until(moment, self._clock)

    def _attributes(self) -> QueueAttributes:
        known = self._known
        if known is not None and self._queue in known:
            return known[self._queue]
        with self._db.statements(1, write=False) as db:
            row = db.execute(sql.ATTRIBUTES, {"queue": self._queue}).fetchone()
        attributes = attributes_from_json(None if row is None else row[0])
        if known is not None:
            known[self._queue] = attributes
        return attributes

    def _hide(self, db: sqlite3.Connection, pick: str, params: Any) -> List[Any]:
        """``HIDE`` the picked rows; returns each as it is now (``RECEIVED_COLUMNS``, handle)."""
        if self._use_returning:
            return db.execute(sql.HIDE_RETURNING.format(pick=pick), params).fetchall()
        db.execute(sql.HIDE.format(pick=pick), params)
        columns = f"{sql.RECEIVED_COLUMNS}, receipt_handle"
        return db.execute(f"SELECT {columns} FROM messages WHERE seq IN ({pick})").fetchall()

    def _take(self, db: sqlite3.Connection, pick: str, params: Any, now: str) -> List[Any]:
        """``TAKE`` the picked rows; returns each as the receive delivered it (``delivered``),
        with a handle that will never delete anything again."""
        if self._use_returning:
            rows = db.execute(sql.TAKE_RETURNING.format(pick=pick), params).fetchall()
        else:
            query = f"SELECT {sql.RECEIVED_COLUMNS} FROM messages WHERE seq IN ({pick})"
            rows = db.execute(query).fetchall()
            db.execute(sql.TAKE.format(pick=pick), params)
        return [(*row[:4], *delivered(row[4], row[5], now), receipt_handle(row[0])) for row in rows]

    def _expire(self, now: str) -> QueueAttributes:
        """Make messages whose timeout has passed visible again; returns the queue's attributes,
        read by the same statement. Most receives find nothing to clear and so never take the
        write lock twice."""
        params = {"queue": self._queue, "now": now}
        with self._db.statements(1) as db:
            expired, attributes = db.execute(sql.EXPIRED_ANY, params).fetchone()
            if expired:
                db.execute(sql.EXPIRE, params)
        return attributes_from_json(attributes)

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        return self._by_handle(sql.DELETE_BY_HANDLE, receipt_handles, {})

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float
    ) -> DeleteMessagesResult:
        until = later(self._clock(), visibility_timeout)
        result = self._by_handle(sql.CHANGE_VISIBILITY, receipt_handles, {"until": until})
        self._changes.notify()
        return result

    def _by_handle(
        self, statement: str, receipt_handles: Sequence[object], extra: Dict[str, object]
    ) -> DeleteMessagesResult:
        with self._db.statements(len(receipt_handles)) as db:

            def act(handle: str) -> bool:
                params = {"queue": self._queue, "handle": handle, "seq": handle_number(handle)}
                return bool(db.execute(statement, {**params, **extra}).rowcount)

            return for_each_handle(receipt_handles, act)

    # -- changing -------------------------------------------------------------------------------

    def remove_message(self, item_id: str) -> bool:
        with self._db.statements(1) as db:
            return bool(
                db.execute(
                    "DELETE FROM messages WHERE queue = ? AND id = ?", (self._queue, item_id)
                ).rowcount
            )

    def update_message(self, item_id: str, body: MessageBody) -> bool:
        now = format_time(self._clock())
        with self._db.statements(1) as db:
            return bool(
                db.execute(
                    "UPDATE messages SET body = ?, timestamp = ? WHERE queue = ? AND id = ?",
                    (json.dumps(body), now, self._queue, item_id),
                ).rowcount
            )

    def clear_queue(self) -> None:
        with self._db.statements(1) as db:
            db.execute("DELETE FROM messages WHERE queue = ?", (self._queue,))

    def cleanup_expired_messages(self) -> bool:
        self._expire(format_time(self._clock()))
        return True

    def redrive_messages(self, max_messages: Optional[int]) -> int:
        """Dead letters back to their source queues as new, oldest first, in one transaction."""
        params = {"queue": self._queue, "limit": -1 if max_messages is None else max_messages}
        with self._db.statements(1, write=False) as db:
            if not db.execute(sql.REDRIVE_PICK, {**params, "limit": 1}).fetchone():
                return 0  # nothing to move: no write (nor a new file)
        with self._db.transaction() as db:
            rows = db.execute(sql.REDRIVE_PICK, params).fetchall()
            for seq, _ in rows:
                db.execute(sql.REDRIVE, {"seq": seq})
            db.execute(sql.DROP.format(seqs=_seqs(seq for seq, _ in rows)))
        for source in {source for _, source in rows}:
            changes_for(_changes_key(self._db.path, source)).notify()
        return len(rows)

    # -- statistics -----------------------------------------------------------------------------

    def get_queue_info(self) -> QueueInfo:
        params = {"queue": self._queue, "now": format_time(self._clock())}
        with self._db.statements(1, write=False) as db:
            count, visible, never, receives, delayed = db.execute(sql.COUNTS, params).fetchone()
        counts = Counts(count, int(visible), int(never), int(receives), int(delayed))
        where = {"queue_file": self._db.path, "queue_name": self._queue}
        return counts.info("sqlite", where, self._db.file_size())

    def health_check(self) -> bool:
        try:
            with self._db.transaction(write=False) as db:
                db.execute("SELECT 1 FROM messages WHERE queue = ? LIMIT 1", (self._queue,))
        except Exception:
            return False
        return True

    # -- copying between backends ---------------------------------------------------------------

    def export_records(self) -> List[Record]:
        """Every message with all its tracking fields, in queue order."""
        with self._db.statements(1) as db:
            rows = db.execute(
                f"SELECT {_STORED}, receipt_handle, source_queue FROM messages"
                " WHERE queue = ? ORDER BY seq",
                (self._queue,),
            ).fetchall()
        return [_record(row) for row in rows]

    def import_records(self, records: Sequence[Record]) -> int:
        """Append records as they are (ids kept); ids already present are skipped.

        Their receipt handles keep working: each goes into the side table with its row's seq.
        """
        added = 0
        with self._db.transaction() as db:
            for record in records:
                handle = record["current_receipt_handle"]
                cursor = db.execute(
                    "INSERT OR IGNORE INTO messages (queue, id, timestamp, body, receive_count,"
                    " first_received_at, invisible_until, receipt_handle, source_queue)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        self._queue,
                        record["id"],
                        record["timestamp"],
                        json.dumps(record["message_body"]),
                        record["receive_count"],
                        record["first_received_at"],
                        record["invisible_until"],
                        handle,
                        record.get("source_queue"),
                    ),
                )
                if not cursor.rowcount:
                    continue
                added += 1
                if handle is not None and handle_number(handle) != cursor.lastrowid:
                    db.execute(
                        "INSERT OR IGNORE INTO imported_handles (handle, seq) VALUES (?, ?)",
                        (handle, cursor.lastrowid),
                    )
        return added


def _decoded(body: str, item_id: str) -> Optional[MessageBody]:
    """A stored body, or None (logged, never delivered) for one that cannot be read back: a
    body nested deeper than Python's ``json`` reads, stored before bodies had a nesting limit.
    The other messages of the receive are delivered; this one comes back after its timeout,
    and a dead-letter policy ends that."""
    try:
        decoded: MessageBody = json.loads(body)
    except (ValueError, RecursionError):
        _log.error("message %s cannot be read back and is not delivered", item_id)
        return None
    return decoded


def _changes_key(path: str, queue: str) -> str:
    """The long-polling key of a queue in the database at ``path``."""
    return f"sqlite:{os.path.abspath(path)}#{queue}"


def _seqs(seqs: Iterable[int]) -> str:
    """Row numbers as an SQL list (integers from the database: nothing to escape)."""
    return ",".join(str(int(seq)) for seq in seqs)


def _sorted_out(
    candidates: Sequence[Any], oldest: Optional[str], max_receive_count: Optional[int]
) -> Tuple[List[int], List[int], List[int]]:
    """Candidates (seq, receive count, timestamp) as the policy sorts them: past the retention,
    due for the dead-letter queue, and to deliver (``QueueState.receive``'s order of checks)."""
    old, dead, live = [], [], []
    for seq, count, timestamp in candidates:
        if oldest is not None and timestamp < oldest:
            old.append(seq)
        elif max_receive_count and count >= max_receive_count:
            dead.append(seq)
        else:
            live.append(seq)
    return old, dead, live


def _record(row: Any) -> Record:
    """A full record from (stored columns..., receipt_handle, source_queue)."""
    record = record_from(_stored(row[:6]), row[6])
    if row[7] is not None:
        record["source_queue"] = row[7]
    return record


def _stored(row: Any) -> StoredMessage:
    item_id, timestamp, body, count, first, until = row
    return stored_message(item_id, timestamp, json.loads(body), count, first, until)
