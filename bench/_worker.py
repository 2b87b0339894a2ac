"""The benchmark's worker: one phase (``_phases.py``) on one queue library; one JSON line out.

The spec's ``impl`` picks the library, imported from whatever the running interpreter finds:
``ours`` and ``original`` are ``PyQueue`` of ``pyqueue_client`` (this checkout through
``PYTHONPATH``, or ``pyqueue-client==1.2.1`` in its own venv: the same import name, which is why
every measurement is a process of its own) with the spec's ``queue_type`` (local, sqlite or
remote); ``litequeue`` is ``LiteQueue``; ``persist-queue`` is ``persistqueue.SQLiteAckQueue``:

=========  =========================  ======================  ==============================
operation  PyQueue                    litequeue               persist-queue
=========  =========================  ======================  ==============================
add        ``add_message(body, id)``  ``put(json_text)``      ``put(body)`` (pickled)
receive    ``receive_messages(n)``    ``pop()`` (LOCKED)      ``get(block=False, raw=True)``
delete     ``delete_message(h)``      ``done(id, claim_id)``  ``ack(id=pqid)``
=========  =========================  ======================  ==============================

The two PyQueues are bridged by feature detection, never by name (except ``durable``, long
polling and delays, which only ours has): the original's local receive returns stored messages
(``id``, not hidden) and deletes by id, its remote one names the handle ``receipt_handle``, and
it has neither ``delete_messages`` nor ``add_messages``. The peers have no batch receive and
refuse a batch above 1; their payloads are built untimed in the form each stores (litequeue: JSON
text), so they never pay for encoding while ours does. Standard library only, Python 3.8 syntax.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import sys
from typing import Any, Dict, List, Optional, Sequence, Set

from _phases import Client, Items, Library, main

#: ``PRAGMA synchronous`` values, as SQLite numbers them.
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
#: Ids per ``check_existence`` request (the server refuses bodies above 256 KiB).
_ID_CHUNK = 1000


def connection_facts(connection: Any, distribution: str) -> Dict[str, str]:
    """The durability settings of a library's own SQLite connection, and the library version."""
    from importlib import metadata

    level = int(connection.execute("PRAGMA synchronous").fetchone()[0])
    journal = str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = "checkout"
    synchronous = SYNCHRONOUS_NAMES.get(level, str(level))
    return {"synchronous": synchronous, "journal_mode": journal, "version": version}


def one_at_a_time(batch: int) -> None:
    """Refuse a batch receive for a library that has none."""
    if batch != 1:
        raise ValueError(f"this library receives one message at a time, not {batch}")


# -- PyQueue: ours and the original -----------------------------------------------------------


class PyQueueClient(Client):
    """A ``PyQueue`` of whichever ``pyqueue_client`` this interpreter imports; typed ``Any`` on
    purpose, because the two libraries' signatures differ."""

    module = "pyqueue_client"

    def __init__(self, queue: Any, args: argparse.Namespace) -> None:
        super().__init__(queue, args)
        self.batch_delete = hasattr(queue, "delete_messages")

    @classmethod
    def open(cls, args: argparse.Namespace, path: str, durable: bool) -> Client:
        """A queue on ``path``; a remote one is named after the run's (fresh) folder."""
        options: Dict[str, Any] = {"queue_type": args.queue_type, "queue_file": path}
        if args.queue_type == "remote":
            folder = re.sub(r"[^A-Za-z0-9-]", "-", os.path.basename(os.path.dirname(path)))
            options = {"queue_type": "remote", "queue_name": "bench-" + folder, "timeout": 30}
            options.update(server_url=args.server, api_key=args.key)
        elif args.queue_type == "sqlite":
            options["queue_name"] = "default"
        if args.impl == "ours" and args.queue_type != "remote":
            options["durable"] = durable
        module: Any = importlib.import_module(cls.module)
        return cls(module.PyQueue(**options), args)

    def add(self, payload: Any, item_id: str) -> str:
        """``add_message`` with the worker's id (the original's local one returns None)."""
        self.queue.add_message(payload, item_id=item_id)
        return item_id

    def add_later(self, payload: Any, item_id: str, delay: float) -> str:
        """``add_message`` with ``delay_seconds`` (ours only)."""
        self.queue.add_message(payload, item_id=item_id, delay_seconds=delay)
        return item_id

    def receive(self, batch: int) -> List[Any]:
        """``receive_messages`` of up to ``batch``, with the suite's visibility timeout."""
        timeout = self.args.visibility
        return list(self.queue.receive_messages(max_messages=batch, visibility_timeout=timeout))

    def receive_waiting(self, batch: int, wait: float) -> List[Any]:
        """``receive`` with ``wait_time_seconds`` (ours only)."""
        return list(
            self.queue.receive_messages(
                max_messages=batch, visibility_timeout=self.args.visibility, wait_time_seconds=wait
            )
        )

    def delete_one(self, received: Any) -> bool:
        """Delete one received message; True unless the library said False."""
        return self.queue.delete_message(delete_token(received)) is not False

    def delete_batch(self, received: Sequence[Any]) -> List[str]:
        """One ``delete_messages`` call; the ids whose handle succeeded."""
        by_handle = {delete_token(message): message_id(message) for message in received}
        result = self.queue.delete_messages(list(by_handle))
        return [by_handle[handle] for handle in result["Successful"]]

    def received_id(self, received: Any) -> str:
        """The id of a received (``Id``) or stored (``id``) message."""
        return message_id(received)

    def add_batch(self, items: Items) -> List[str]:
        """One ``add_messages`` call when the library has it (remote: one request per 100)."""
        if not hasattr(self.queue, "add_messages"):
            return super().add_batch(items)
        ids = [item_id for _, item_id in items]
        self.queue.add_messages([payload for payload, _ in items], ids)
        return ids

    def stored_ids(self, candidates: Sequence[str] = ()) -> Set[str]:
        """The ids ``get_messages`` lists; for a remote queue, those of ``candidates`` that
        ``check_existence`` finds (the original's remote listing stops at one page)."""
        if self.args.queue_type != "remote":
            return {message_id(message) for message in self.queue.get_messages()}
        found: Set[str] = set()
        for start in range(0, len(candidates), _ID_CHUNK):
            found.update(self.queue.check_existence(list(candidates[start : start + _ID_CHUNK])))
        return found

    def facts(self) -> Dict[str, str]:
        """For ours on SQLite: the connection's settings (a private attribute: bench only)."""
        if self.args.queue_type != "sqlite":
            return {}
        return connection_facts(self.queue._store.db._connection(), "pyqueue-client")

    def close(self) -> None:
        """Ours releases its lock file or connections; the original has nothing to close."""
        getattr(self.queue, "close", lambda: None)()


def delete_token(message: Dict[str, Any]) -> str:
    """What to pass to ``delete_message``: the receipt handle, or the original's message id."""
    token = message.get("ReceiptHandle") or message.get("receipt_handle") or message.get("id")
    if not isinstance(token, str):
        raise RuntimeError(f"received message has neither receipt handle nor id: {message!r}")
    return token


def message_id(message: Dict[str, Any]) -> str:
    """The id of a received (``Id``) or stored (``id``) message."""
    return str(message.get("Id") or message.get("id"))


# -- litequeue --------------------------------------------------------------------------------


class LiteQueueClient(Client):
    """``LiteQueue``: ``pop`` marks a message LOCKED (with a new claim id), ``done`` marks it
    DONE; done messages stay in the table (until ``prune``), as the library leaves them. It
    always sets ``synchronous=NORMAL`` (``durable`` is unused)."""

    module = "litequeue"

    @classmethod
    def open(cls, args: argparse.Namespace, path: str, durable: bool) -> Client:
        """``LiteQueue(path)`` with the library's defaults."""
        return cls(importlib.import_module(cls.module).LiteQueue(path), args)

    def prepare(self, body: Dict[str, Any]) -> Any:
        """litequeue stores text: the body's JSON, encoded before the clock starts."""
        return json.dumps(body)

    def add(self, payload: Any, item_id: str) -> str:
        """``put(text)``; returns the library's ``message_id`` (``item_id`` has no place)."""
        return str(self.queue.put(payload).message_id)

    def receive(self, batch: int) -> List[Any]:
        """``pop()``: the oldest READY message, now LOCKED; [] when there is none."""
        one_at_a_time(batch)
        message = self.queue.pop()
        return [] if message is None else [message]

    def delete_one(self, received: Any) -> bool:
        """``done(message_id, claim_id=...)``: False for a stale claim."""
        return bool(self.queue.done(received.message_id, claim_id=received.claim_id))

    def received_id(self, received: Any) -> str:
        """The ``message_id`` that ``put`` returned."""
        return str(received.message_id)

    def fill(self, items: Items) -> None:
        """Every ``put`` inside one of the library's own transactions."""
        with self.queue.transaction(mode="IMMEDIATE"):
            for payload, _ in items:
                self.queue.put(payload)

    def stored_ids(self, candidates: Sequence[str] = ()) -> Set[str]:
        """Ids of READY and LOCKED messages (not DONE or FAILED)."""
        status = importlib.import_module("litequeue").MessageStatus
        rows = self.queue.conn.execute(
            'SELECT message_id FROM "Queue" WHERE status IN (?, ?)',
            (int(status.READY), int(status.LOCKED)),
        ).fetchall()
        return {str(row[0]) for row in rows}

    def facts(self) -> Dict[str, str]:
        """The settings of the library's write connection."""
        return connection_facts(self.queue.conn, "litequeue")


# -- persist-queue ----------------------------------------------------------------------------

#: ``persistqueue.sqlackqueue.AckStatus``: inited, ready, unack (not yet acked).
_PERSIST_WAITING = (0, 1, 2)


class PersistQueueClient(Client):
    """``SQLiteAckQueue``: ``get`` marks a row unack, ``ack`` marks it acked (it stays stored).

    The defaults, one thread per process: ``multithreading=True`` only lets threads share one
    queue object. The library leaves ``synchronous`` at SQLite's default (FULL in CPython's
    builds); ``durable`` is unused. ``auto_resume=True`` (the default) turns unacked rows back to
    ready on open, which is why concurrency children open the queue before the clock starts.
    """

    module = "persistqueue"

    @classmethod
    def open(
        cls, args: argparse.Namespace, path: str, durable: bool, auto_resume: bool = True
    ) -> Client:
        """``SQLiteAckQueue(path)``; it keeps ``data.db`` inside the folder ``path``."""
        module: Any = importlib.import_module(cls.module)
        return cls(module.SQLiteAckQueue(path, auto_resume=auto_resume), args)

    @classmethod
    def leftover(cls, args: argparse.Namespace, path: str) -> Optional[Set[str]]:
        """Read without ``auto_resume``, which would turn in-flight rows back into ready ones."""
        try:
            client = cls.open(args, path, False, auto_resume=False)
            ids = client.stored_ids()
            client.close()
        except Exception:
            return None
        return ids

    @classmethod
    def copy_queue(cls, source: str, target: str) -> None:
        """The whole folder."""
        shutil.copytree(source, target)

    def add(self, payload: Any, item_id: str) -> str:
        """``put(body)``; returns the row id the library gives (``item_id`` has no place)."""
        return str(self.queue.put(payload))

    def receive(self, batch: int) -> List[Any]:
        """``get(block=False, raw=True)``: ``{"pqid", "data", "timestamp"}``; [] when empty."""
        one_at_a_time(batch)
        try:
            return [self.queue.get(block=False, raw=True)]
        except importlib.import_module("persistqueue").Empty:
            return []

    def delete_one(self, received: Any) -> bool:
        """``ack(id=pqid)``; it returns the id whether or not a row changed."""
        return self.queue.ack(id=received["pqid"]) is not None

    def received_id(self, received: Any) -> str:
        """The row id that ``put`` returned."""
        return str(received["pqid"])

    def stored_ids(self, candidates: Sequence[str] = ()) -> Set[str]:
        """Row ids that are not acked (inited, ready or unack)."""
        rows = self.queue.queue()
        return {str(row["id"]) for row in rows if int(row["status"]) in _PERSIST_WAITING}

    def facts(self) -> Dict[str, str]:
        """The settings of the library's writing connection."""
        return connection_facts(self.queue._putter, "persist-queue")


#: The ``impl`` names this worker knows.
LIBRARIES: Dict[str, Library] = {
    "ours": PyQueueClient,
    "original": PyQueueClient,
    "litequeue": LiteQueueClient,
    "persist-queue": PersistQueueClient,
}


if __name__ == "__main__":
    main(sys.argv[1:], LIBRARIES, __file__)
