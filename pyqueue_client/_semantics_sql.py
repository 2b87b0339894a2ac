"""The queue rules of ``_semantics`` as SQL, for the SQLite backend: one statement per rule.

Each statement names the Python rule it mirrors; the differential test runs the same random
operations through both and compares every result. Named parameters: ``:queue`` (the queue's
name), ``:now`` (the canonical current time), and the ones each statement lists.

Visible messages are found through a partial index of rows whose ``invisible_until`` is NULL,
kept exact by :data:`EXPIRE` at the start of each receive (through a second partial index,
ordered by expiry), so a receive costs O(log n) however deep the queue is.
"""

from __future__ import annotations

from ._ids import HANDLE_RANDOM_BYTES

__all__ = [
    "ADD",
    "ALL_ATTRIBUTES",
    "ALL_HEADS",
    "ALL_HIDDEN",
    "ALL_UNHIDDEN",
    "ATTRIBUTES",
    "CHANGE_VISIBILITY",
    "COUNTS",
    "DEAD_LETTER",
    "DELETE_BY_HANDLE",
    "DROP",
    "EXPIRE",
    "EXPIRED_ANY",
    "HIDE",
    "HIDE_RETURNING",
    "NEXT_VISIBLE",
    "PICKS",
    "PICK_WITH_POLICY",
    "RECEIVED_COLUMNS",
    "REDRIVE",
    "REDRIVE_PICK",
    "TAKE",
    "TAKE_RETURNING",
]

#: ``new_record``: a never-received message stamped ``:now``, hidden until ``:until`` (NULL: no
#: delay). An id already in the queue is left alone.
ADD = (
    "INSERT OR IGNORE INTO messages (queue, id, timestamp, body, invisible_until)"
    " VALUES (?, ?, ?, ?, ?)"
)

_WHERE_EXPIRED = "WHERE queue = :queue AND invisible_until IS NOT NULL AND invisible_until <= :now"
#: A queue's attributes (JSON text), if it has any.
ATTRIBUTES = "SELECT attributes FROM queues WHERE name = :queue"
#: Whether ``EXPIRE`` has anything to do (a read, which in WAL mode waits for no writer), and the
#: queue's attributes, which every receive needs: one statement.
EXPIRED_ANY = (
    f"SELECT EXISTS (SELECT 1 FROM messages {_WHERE_EXPIRED}),"
    " (SELECT attributes FROM queues WHERE name = :queue)"
)
#: ``cleanup_expired``: hidden messages whose time has come become visible.
EXPIRE = f"UPDATE messages SET invisible_until = NULL {_WHERE_EXPIRED}"

_PICK = (
    "SELECT seq FROM messages INDEXED BY messages_visible"
    " WHERE queue = :queue AND invisible_until IS NULL{only_new} ORDER BY seq LIMIT :limit"
)
#: ``_pick_visible``: the first ``:limit`` visible messages in queue order (``only_new`` walks
#: the visible index past messages received before: cheap while those are few).
PICKS = {False: _PICK.format(only_new=""), True: _PICK.format(only_new=" AND receive_count = 0")}

#: What a receive reports of each message: its view's fields and its seq.
RECEIVED_COLUMNS = "seq, id, timestamp, body, receive_count, first_received_at"
#: ``receive`` (and ``delivered``): one more receive, the first receive time set once, hidden
#: until ``:until``, a new handle (``_ids.receipt_handle``: fresh random bits, and the row's seq,
#: by which a delete finds the row). ``{pick}`` is one of PICKS, or a list of seqs.
_NEW_HANDLE = f"'receipt_' || lower(hex(randomblob({HANDLE_RANDOM_BYTES}))) || '_' || seq"
HIDE = (
    "UPDATE messages SET receive_count = receive_count + 1,"
    " first_received_at = COALESCE(first_received_at, :now),"
    " invisible_until = :until, receipt_handle = " + _NEW_HANDLE + " WHERE seq IN ({pick})"
)
HIDE_RETURNING = HIDE + " RETURNING " + RECEIVED_COLUMNS + ", receipt_handle"
#: ``receive`` with ``delete_after_receive``: the picked messages leave the queue; the rows as
#: they were go through ``delivered`` in Python.
TAKE = "DELETE FROM messages WHERE seq IN ({pick})"
TAKE_RETURNING = TAKE + " RETURNING " + RECEIVED_COLUMNS

# A handle's row is found by the seq it ends with, or through the side table of imported
# handles. (NOT INDEXED: otherwise SQLite may prefer walking the queue's ids to two primary-key
# lookups.)
_BY_HANDLE = (
    " WHERE queue = :queue AND receipt_handle = :handle AND seq IN"
    " (SELECT :seq UNION ALL SELECT seq FROM imported_handles WHERE handle = :handle)"
)
#: ``_delete_one``: only the message's current handle deletes it.
DELETE_BY_HANDLE = "DELETE FROM messages NOT INDEXED" + _BY_HANDLE
#: ``change_visibility``: only the current handle; hidden until ``:until`` counted from now.
CHANGE_VISIBILITY = "UPDATE messages NOT INDEXED SET invisible_until = :until" + _BY_HANDLE

#: ``counts``: messages, visible ones at ``:now``, never received ones, receives in all, and
#: hidden ones never received (delayed).
COUNTS = (
    "SELECT COUNT(*),"
    " TOTAL(invisible_until IS NULL OR invisible_until <= :now),"
    " TOTAL(receive_count = 0), TOTAL(receive_count),"
    " TOTAL(invisible_until > :now AND receive_count = 0)"
    " FROM messages WHERE queue = :queue"
)
#: A summary of every queue at once, in three statements that read indexes, not rows (a thousand
#: queues without a thousand statements): each queue's messages and the timestamp of its head
#: (the message first in queue order, waiting longest) ...
ALL_HEADS = (
    "SELECT counted.queue, counted.total, head.timestamp FROM"
    " (SELECT queue, COUNT(*) AS total, MIN(seq) AS first"
    " FROM messages INDEXED BY messages_by_id GROUP BY queue) AS counted"
    " JOIN messages AS head ON head.seq = counted.first"
)
#: ... its messages never hidden or made visible again ...
ALL_UNHIDDEN = (
    "SELECT queue, COUNT(*) FROM messages INDEXED BY messages_visible"
    " WHERE invisible_until IS NULL GROUP BY queue"
)
#: ... and of its hidden ones, those whose time has come (visible) and those never received
#: (delayed), as ``counts`` counts them.
ALL_HIDDEN = (
    "SELECT queue, TOTAL(invisible_until <= :now),"
    " TOTAL(invisible_until > :now AND receive_count = 0)"
    " FROM messages INDEXED BY messages_hidden WHERE invisible_until IS NOT NULL GROUP BY queue"
)
#: Every queue's attributes (JSON text), for those that have any.
ALL_ATTRIBUTES = "SELECT name, attributes FROM queues"

#: ``next_visible_at``: the earliest hiding time still ahead (through the expiry index).
NEXT_VISIBLE = (
    "SELECT MIN(invisible_until) FROM messages"
    " WHERE queue = :queue AND invisible_until IS NOT NULL AND invisible_until > :now"
)

#: ``receive`` under a policy: the next candidates with what the policy looks at.
PICK_WITH_POLICY = (
    "SELECT seq, receive_count, timestamp FROM messages INDEXED BY messages_visible"
    " WHERE queue = :queue AND invisible_until IS NULL{only_new} ORDER BY seq LIMIT :limit"
)
#: ``take_dead_letters``: rows copied to the end of the dead-letter queue ``:dlq`` in queue order
#: (a dead letter of the same id there is replaced), with their tracking, not hidden, no handle,
#: and where they came from; ``DROP`` then removes them here. ``{seqs}``: the rows' seqs.
DEAD_LETTER = (
    "INSERT OR REPLACE INTO messages (queue, id, timestamp, body, receive_count,"
    " first_received_at, source_queue)"
    " SELECT :dlq, id, timestamp, body, receive_count, first_received_at, :queue"
    " FROM messages WHERE seq IN ({seqs}) ORDER BY seq"
)
#: Rows dropped by the retention (``{seqs}``: the rows' seqs).
DROP = "DELETE FROM messages WHERE seq IN ({seqs})"
#: ``take_for_redrive``: the oldest dead letters and where they came from.
REDRIVE_PICK = (
    "SELECT seq, source_queue FROM messages WHERE queue = :queue AND source_queue IS NOT NULL"
    " ORDER BY seq LIMIT :limit"
)
#: ``take_redriven``: one dead letter back in its source queue as new, at the end of the queue
#: (a new seq); a message of the same id already there stays, and the dead letter goes.
REDRIVE = (
    "INSERT OR IGNORE INTO messages (queue, id, timestamp, body)"
    " SELECT source_queue, id, timestamp, body FROM messages WHERE seq = :seq"
)
