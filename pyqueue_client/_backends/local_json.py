"""The local backend: a queue in one JSON file, shared safely by threads and processes.

Every call is one transaction: lock (``<file>.lock``) -> read -> queue rules -> atomic write ->
unlock. Reading is skipped when the file is still the version this object last wrote or read (same
inode, size and mtime), and writing re-serializes only the messages the call touched. A file that
is not a queue raises :class:`QueueCorruptedError` and is never written over.

A queue's attributes live beside it in ``<file>.attributes.json`` (written under the queue's
lock), so the queue file itself stays in the format the original library reads. The store is
the file system: a queue's name is its file's path.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from typing import Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Tuple

from .._errors import QueueCorruptedError, StorageError
from .._semantics import (
    Counts,
    QueueState,
    Record,
    attributes_from_json,
    attributes_json,
    changed_attributes,
)
from .._storage.atomic import FileStamp, file_stamp, has_backup, recover, write_atomic
from .._storage.json_format import FormatError, decode, encode, encode_record
from .._storage.lock import FileLock
from .._storage.paths import check_queue_path, format_of, opened_with_the_wrong_type
from .._times import Clock
from .._types import QueueAttributes, QueueInfo
from ._stateful import StatefulQueue, Take, give
from ._waiting import changes_for

__all__ = ["JsonFileStore", "LocalJsonQueue"]

#: Appended to a queue file's path to name its attributes file.
ATTRIBUTES_SUFFIX = ".attributes.json"
#: Appended to a queue file's path to name the journal of a move out of it.
MOVING_SUFFIX = ".moving.json"


@contextmanager
def _both_held(first: LocalJsonQueue, second: LocalJsonQueue) -> Iterator[None]:
    """Both queues' locks, always taken in the order of their paths, so two moves in opposite
    directions never wait for each other forever."""
    low, high = sorted((first, second), key=lambda queue: os.path.abspath(queue.path))
    with low._lock.held():
        if high is low:
            yield
            return
        with high._lock.held():
            yield


class _Snapshot(NamedTuple):
    """The file as this object last saw it, parsed, with each record's line of text."""

    #: the lock file's write mark when this version was read or written
    mark: bytes
    stamp: Optional[FileStamp]
    state: QueueState
    #: id -> its line of text; when ``in_order``, one per record and in queue order
    lines: Dict[str, bytes]
    in_order: bool


def _lines_in_order(snapshot: _Snapshot) -> Dict[str, bytes]:
    """Lines for every record in queue order, serializing those that have none yet."""
    known = snapshot.lines
    return {
        item_id: known.get(item_id) or encode_record(record)
        for item_id, record in snapshot.state.records.items()
    }


class LocalJsonQueue(StatefulQueue):
    """A queue stored in ``path``; ``durable`` fsyncs every write, ``lock_timeout`` bounds waits.

    ``store`` opens the other queue files a move needs (dead letters, redrive).
    """

    def __init__(
        self,
        store: JsonFileStore,
        path: str,
        clock: Clock,
        durable: bool = True,
        lock_timeout: float = 10.0,
    ):
        check_queue_path(path)
        super().__init__(clock, path, changes_for("json:" + os.path.abspath(path), path))
        self._store = store
        self._path = path
        self._durable = durable
        self._lock = FileLock(path + ".lock", lock_timeout)
        self._snapshot: Optional[_Snapshot] = None
        self._attributes_seen: Optional[Tuple[Optional[FileStamp], QueueAttributes]] = None

    @property
    def path(self) -> str:
        """The queue file's path, as given."""
        return self._path

    @contextmanager
    def _reading(self) -> Iterator[QueueState]:
        """A read of a queue whose file does not exist (and no crashed write or move left
        anything behind) sees an empty queue and creates nothing, not even the lock file."""
        # the queue file first: when it exists, as it mostly does, one stat decides
        if not (
            os.path.exists(self._path)
            or has_backup(self._path)
            or os.path.exists(self._path + MOVING_SUFFIX)
        ) and os.path.isdir(os.path.dirname(os.path.abspath(self._path))):
            yield QueueState()
            return
        with self._transaction() as state:
            yield state

    @contextmanager
    def _transaction(self) -> Iterator[QueueState]:
        while True:
            with self._lock.held():
                if not os.path.exists(self._path + MOVING_SUFFIX):
                    snapshot = self._load()
                    try:
                        yield snapshot.state
                        if snapshot.state.dirty:
                            self._save(snapshot)
                    except BaseException:
                        self._snapshot = None  # memory may be ahead of the file: read it again
                        raise
                    return
            self._finish_move()

    def _move(self, other: str, take: Take, kind: str) -> None:
        """Records go from this file to ``other``'s under both locks, taken in a fixed order.

        Two files cannot change in one step, so the move is journaled: the records are written
        beside this file (``.moving.json``) first, then this file without them, then the other
        file with them; the journal goes last. A crash at any point leaves the records in the
        journal, and the next call on this queue finishes the move before anything else.
        """
        partner = self._store.open_queue(other)
        while True:
            with _both_held(self, partner):
                if not os.path.exists(self._path + MOVING_SUFFIX):
                    mine, theirs = self._load(), partner._load()
                    try:
                        records = take(mine.state)
                        if records:
                            self._journal(kind, partner.path, records)
                        if mine.state.dirty:
                            self._save(mine)
                        if records:
                            give(kind, theirs.state, records, self.name)
                            partner._save(theirs)
                            os.remove(self._path + MOVING_SUFFIX)
                    except BaseException:
                        self._snapshot = partner._snapshot = None
                        raise
                    break
            self._finish_move()
        if records:
            partner._changes.notify()

    def _journal(self, kind: str, receiver: str, records: List[Record]) -> None:
        document = {"kind": kind, "to": receiver, "from": self.name, "records": records}
        self._lock.new_mark()  # other processes' cached views of this queue are now stale
        try:
            text = json.dumps(document, allow_nan=False).encode()
            write_atomic(self._path + MOVING_SUFFIX, [text], self._durable)
        except OSError as exc:
            raise self._storage_error("cannot write", exc) from exc

    def _finish_move(self) -> None:
        """Finish a move a crashed process left half done (see ``_move``)."""
        journal = self._path + MOVING_SUFFIX
        try:
            with open(journal, encoding="utf-8") as file:
                document = json.load(file)
        except FileNotFoundError:
            return  # another process finished it
        except (OSError, ValueError) as exc:
            raise QueueCorruptedError(journal, f"an unreadable move journal: {exc}") from None
        partner = self._store.open_queue(document["to"])
        records: List[Record] = document["records"]
        with _both_held(self, partner):
            if not os.path.exists(journal):
                return
            mine, theirs = self._load(), partner._load()
            for record in records:
                mine.state.remove(record["id"])
            if mine.state.dirty:
                self._save(mine)
            give(document["kind"], theirs.state, records, document["from"])
            partner._save(theirs)
            os.remove(journal)

    def _info(self, counts: Counts) -> QueueInfo:
        try:
            size = os.path.getsize(self._path)
        except OSError:
            size = 0
        return counts.info("local", {"queue_file": self._path}, size)

    def read_attributes(self) -> QueueAttributes:
        """The attributes stored beside the queue (the defaults when there are none). Written
        by an atomic replace, so read without the lock."""
        return self._read_attributes()

    def _attributes(self) -> QueueAttributes:
        """The stored attributes, read again only when their file changed (one stat a call)."""
        try:
            stamp: Optional[FileStamp] = file_stamp(os.stat(self._path + ATTRIBUTES_SUFFIX))
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            raise self._storage_error("cannot read", exc) from exc
        seen = self._attributes_seen
        if seen is None or seen[0] != stamp:
            seen = self._attributes_seen = (stamp, self._read_attributes())
        return seen[1]

    def write_attributes(self, changes: Mapping[str, object]) -> QueueAttributes:
        """Apply ``changes`` to the stored attributes, atomically; returns them all."""
        with self._lock.held():
            attributes = changed_attributes(self._read_attributes(), changes)
            path = self._path + ATTRIBUTES_SUFFIX
            try:
                write_atomic(path, [attributes_json(attributes).encode()], self._durable)
            except OSError as exc:
                raise self._storage_error("cannot write", exc) from exc
            return attributes

    def _read_attributes(self) -> QueueAttributes:
        path = self._path + ATTRIBUTES_SUFFIX
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except FileNotFoundError:
            return attributes_from_json(None)
        except OSError as exc:
            raise self._storage_error("cannot read", exc) from exc
        try:
            return attributes_from_json(text)
        except ValueError as exc:
            raise QueueCorruptedError(path, f"not a JSON object of attributes: {exc}") from None

    def _load(self) -> _Snapshot:
        mark = self._lock.read_mark()
        stamp = self._stamp()
        if stamp is None and self._recover():
            stamp = self._stamp()
        known = self._snapshot
        if known is not None and known.mark == mark and known.stamp == stamp:
            return known
        self._snapshot = None
        if stamp is None:
            return _Snapshot(mark, None, QueueState(), {}, in_order=True)
        state, lines = self._read()
        self._snapshot = _Snapshot(mark, stamp, state, lines, in_order=len(lines) == len(state))
        return self._snapshot

    def _stamp(self) -> Optional[FileStamp]:
        """The queue file's current version, or None when there is no file."""
        try:
            return file_stamp(os.stat(self._path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._storage_error("cannot read", exc) from exc

    def _recover(self) -> bool:
        """Put in place a write that a crashed process staged but did not finish."""
        try:
            return recover(self._path)
        except OSError as exc:
            raise self._storage_error("cannot recover", exc) from exc

    def _read(self) -> Tuple[QueueState, Dict[str, bytes]]:
        try:
            with open(self._path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return QueueState(), {}
        except OSError as exc:
            raise self._storage_error("cannot read", exc) from exc
        try:
            decoded = decode(data)
        except FormatError as exc:
            if format_of(data[:64]) == "sqlite":
                raise opened_with_the_wrong_type(self._path, "sqlite", "local JSON") from None
            raise QueueCorruptedError(self._path, str(exc)) from None
        # Upgraded records have no reusable line, so the next write serializes them; reading
        # alone never rewrites the file.
        return QueueState(decoded.records), decoded.lines

    def _save(self, snapshot: _Snapshot) -> None:
        state = snapshot.state
        lines = snapshot.lines if snapshot.in_order else _lines_in_order(snapshot)
        for item_id in state.dirty:
            record = state.records.get(item_id)
            if record is None:
                lines.pop(item_id, None)
            else:
                # assigning keeps an existing key's place and appends a new one, as records do
                lines[item_id] = encode_record(record)
        mark, stamp = self._write(encode(list(lines.values())))
        state.dirty.clear()
        self._snapshot = _Snapshot(mark, stamp, state, lines, in_order=True)

    def _write(self, data: Iterable[bytes]) -> Tuple[bytes, FileStamp]:
        """Write the file; the lock file's mark changes first, so no cache outlives the data."""
        try:
            mark = self._lock.new_mark()
            return mark, write_atomic(self._path, data, self._durable)
        except OSError as exc:
            raise self._storage_error("cannot write", exc) from exc

    def _storage_error(self, action: str, exc: OSError) -> StorageError:
        return StorageError(
            f"{action} queue file {self._path!r}: {exc.strerror or exc}", self._path
        )

    def close(self) -> None:
        """Close the lock file; the queue file itself is never held open between calls."""
        self._lock.close()


class JsonFileStore:
    """Queues in JSON files, one per file: a queue's name is its file's path.

    Opening the same path twice gives the same queue object, so its lock and cache are shared.
    """

    def __init__(self, clock: Clock, durable: bool = True, lock_timeout: float = 10.0) -> None:
        self._clock = clock
        self._durable = durable
        self._lock_timeout = lock_timeout
        self._queues: Dict[str, LocalJsonQueue] = {}
        self._guard = threading.Lock()

    def open_queue(self, name: str) -> LocalJsonQueue:
        """The queue in file ``name`` (created empty if missing)."""
        with self._guard:
            queue = self._queues.get(name)
            if queue is None:
                queue = LocalJsonQueue(self, name, self._clock, self._durable, self._lock_timeout)
                self._queues[name] = queue
            return queue

    def queue_names(self) -> List[str]:
        """The files opened through this store, sorted (the file system is not searched)."""
        with self._guard:
            return sorted(self._queues)

    def get_attributes(self, name: str) -> QueueAttributes:
        return self.open_queue(name).read_attributes()

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        return self.open_queue(name).write_attributes(changes)

    def health_check(self) -> bool:
        with self._guard:
            queues = list(self._queues.values())
        return all(queue.health_check() for queue in queues)

    def close(self) -> None:
        """Close the lock files of every queue opened here."""
        with self._guard:
            queues = list(self._queues.values())
        for queue in queues:
            queue.close()
