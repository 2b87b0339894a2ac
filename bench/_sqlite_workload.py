"""The SQLite suite's worker: one workload on one SQLite queue library; prints one JSON line.

``--impl`` picks the library: ``ours`` (this checkout's ``PyQueue(queue_type="sqlite")``, found
through ``PYTHONPATH``), ``litequeue`` (``LiteQueue``) or ``persist-queue``
(``persistqueue.SQLiteAckQueue``), each imported from the venv whose interpreter runs this file.
The workloads are in ``_phases.py``; this file only maps them onto each library's API:

============  ==========================  ======================  ===========================
workload      ours                        litequeue               persist-queue
============  ==========================  ======================  ===========================
add           ``add_message(body, id)``   ``put(json_text)``      ``put(body)`` (pickled)
receive       ``receive_messages(n)``     ``pop()`` (LOCKED)      ``get(block=False, raw=True)``
delete        ``delete_message(handle)``  ``done(id, claim_id)``  ``ack(id=pqid)``
batch delete  ``delete_messages``         (none)                  (none)
============  ==========================  ======================  ===========================

The peers have no batch receive: their clients refuse a batch above 1. Their payloads are built
before the clock starts, in the form each library stores (litequeue: the JSON text), so they
never pay for encoding in the timed part while ours does. Every result carries the
``synchronous`` level and journal mode that the library's own connection uses, as SQLite reports
them, so ``sqlite_run.py`` can check that each comparison is at equal durability.

Standard library only and Python 3.8 syntax. Usage: as ``_workload.py`` (see ``_phases.py``).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from _phases import VISIBILITY_TIMEOUT, Client, Library, copy_sqlite_file, main

#: ``PRAGMA synchronous`` values, as SQLite numbers them.
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def connection_facts(connection: Any, distribution: str) -> Dict[str, Any]:
    """The durability settings of a library's own SQLite connection, and the library version."""
    level = int(connection.execute("PRAGMA synchronous").fetchone()[0])
    journal = str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    return {
        "synchronous": SYNCHRONOUS_NAMES.get(level, str(level)),
        "journal_mode": journal.lower(),
        "version": distribution_version(distribution),
    }


def distribution_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``checkout`` when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "checkout"


def module_folder(name: str) -> str:
    """The folder a module (or package) was imported from."""
    module: Any = importlib.import_module(name)
    return os.path.dirname(os.path.abspath(str(module.__file__)))


def single(batch: int) -> None:
    """Refuse a batch receive for a library that has none."""
    if batch != 1:
        raise ValueError(f"this library receives one message at a time, not {batch}")


# -- ours -------------------------------------------------------------------------------------


class OursClient(Client):
    """``PyQueue(queue_type="sqlite")``; receipt handles delete, ``delete_messages`` batches."""

    batch_delete = True

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def add(self, payload: Any, item_id: str) -> str:
        """``add_message`` with the worker's id; returns it."""
        return str(self.queue.add_message(payload, item_id=item_id))

    def receive(self, batch: int) -> List[Any]:
        """``receive_messages`` of up to ``batch``, with the benchmark's visibility timeout."""
        messages: List[Any] = self.queue.receive_messages(
            max_messages=batch, visibility_timeout=VISIBILITY_TIMEOUT
        )
        return messages

    def delete_one(self, received: Any) -> bool:
        """``delete_message`` by receipt handle."""
        return bool(self.queue.delete_message(received["ReceiptHandle"]))

    def delete_batch(self, received: Sequence[Any]) -> List[str]:
        """One ``delete_messages`` call; the ids whose handle succeeded."""
        by_handle = {message["ReceiptHandle"]: message["Id"] for message in received}
        result = self.queue.delete_messages(list(by_handle))
        return [by_handle[handle] for handle in result["Successful"]]

    def received_id(self, received: Any) -> str:
        """The message's ``Id``."""
        return str(received["Id"])

    def fill(self, payloads: Sequence[Any], ids: Sequence[str]) -> None:
        """One ``add_messages`` call (one transaction)."""
        self.queue.add_messages(list(payloads), list(ids))

    def stored_ids(self) -> Set[str]:
        """Every id ``get_messages`` lists (deleted messages leave the table)."""
        return {str(message["id"]) for message in self.queue.get_messages()}

    def facts(self) -> Dict[str, Any]:
        """The settings of the connection this thread uses (a private attribute: bench only)."""
        connection = self.queue._store.db._connection()
        return connection_facts(connection, "pyqueue-client")

    def close(self) -> None:
        """Close the connections."""
        self.queue.close()


class OursLibrary(Library):
    """This checkout's SQLite backend; ``durable`` picks ``synchronous=FULL`` or ``NORMAL``."""

    queue_name = "queue.db"

    def open(self, path: str, durable: bool) -> Client:
        """``PyQueue(queue_file=path, queue_type="sqlite", durable=durable)``."""
        module: Any = importlib.import_module("pyqueue_client")
        queue = module.PyQueue(
            queue_file=path, queue_type="sqlite", queue_name="default", durable=durable
        )
        return OursClient(queue)

    def copy_queue(self, source: str, target: str) -> None:
        """The database file (and a WAL, if one was left)."""
        copy_sqlite_file(source, target)

    def location(self) -> str:
        """Where ``pyqueue_client`` came from."""
        return module_folder("pyqueue_client")


# -- litequeue --------------------------------------------------------------------------------


class LiteQueueClient(Client):
    """``LiteQueue``: ``pop`` marks a message LOCKED (with a new claim id), ``done`` marks it DONE.

    Done messages stay in the table (until ``prune``), as the library leaves them.
    """

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def prepare(self, body: Dict[str, Any]) -> Any:
        """litequeue stores text: the body's JSON, encoded before the clock starts."""
        return json.dumps(body)

    def add(self, payload: Any, item_id: str) -> str:
        """``put(text)``; returns the library's ``message_id`` (``item_id`` has no place)."""
        return str(self.queue.put(payload).message_id)

    def receive(self, batch: int) -> List[Any]:
        """``pop()``: the oldest READY message, now LOCKED; [] when there is none."""
        single(batch)
        message = self.queue.pop()
        return [] if message is None else [message]

    def delete_one(self, received: Any) -> bool:
        """``done(message_id, claim_id=...)``: False for a stale claim."""
        return bool(self.queue.done(received.message_id, claim_id=received.claim_id))

    def received_id(self, received: Any) -> str:
        """The ``message_id`` that ``put`` returned."""
        return str(received.message_id)

    def fill(self, payloads: Sequence[Any], ids: Sequence[str]) -> None:
        """Every ``put`` inside one of the library's own transactions."""
        with self.queue.transaction(mode="IMMEDIATE"):
            for payload in payloads:
                self.queue.put(payload)

    def stored_ids(self) -> Set[str]:
        """Ids of READY and LOCKED messages (not DONE or FAILED)."""
        status = self.queue_module().MessageStatus
        rows = self.queue.conn.execute(
            'SELECT message_id FROM "Queue" WHERE status IN (?, ?)',
            (int(status.READY), int(status.LOCKED)),
        ).fetchall()
        return {str(row[0]) for row in rows}

    @staticmethod
    def queue_module() -> Any:
        """The ``litequeue`` module."""
        return importlib.import_module("litequeue")

    def facts(self) -> Dict[str, Any]:
        """The settings of the library's write connection."""
        return connection_facts(self.queue.conn, "litequeue")

    def close(self) -> None:
        """Close the write connection and the read pool."""
        self.queue.close()


class LiteQueueLibrary(Library):
    """``litequeue.LiteQueue(path)``; it always sets ``synchronous=NORMAL`` (``durable`` unused)."""

    queue_name = "queue.db"

    def open(self, path: str, durable: bool) -> Client:
        """``LiteQueue(path)`` with the library's defaults."""
        return LiteQueueClient(LiteQueueClient.queue_module().LiteQueue(path))

    def copy_queue(self, source: str, target: str) -> None:
        """The database file (and a WAL, if one was left)."""
        copy_sqlite_file(source, target)

    def location(self) -> str:
        """Where ``litequeue`` came from."""
        return module_folder("litequeue")


# -- persist-queue ----------------------------------------------------------------------------

#: ``persistqueue.sqlackqueue.AckStatus``: inited, ready, unack (not yet acked).
_PERSIST_WAITING = (0, 1, 2)


class PersistQueueClient(Client):
    """``SQLiteAckQueue``: ``get`` marks a row unack, ``ack`` marks it acked (it stays stored)."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.empty: Any = importlib.import_module("persistqueue").Empty

    def add(self, payload: Any, item_id: str) -> str:
        """``put(body)``; returns the row id the library gives (``item_id`` has no place)."""
        return str(self.queue.put(payload))

    def receive(self, batch: int) -> List[Any]:
        """``get(block=False, raw=True)``: ``{"pqid", "data", "timestamp"}``; [] when empty."""
        single(batch)
        try:
            return [self.queue.get(block=False, raw=True)]
        except self.empty:
            return []

    def delete_one(self, received: Any) -> bool:
        """``ack(id=pqid)``; it returns the id whether or not a row changed."""
        return self.queue.ack(id=received["pqid"]) is not None

    def received_id(self, received: Any) -> str:
        """The row id that ``put`` returned."""
        return str(received["pqid"])

    def stored_ids(self) -> Set[str]:
        """Row ids that are not acked (inited, ready or unack)."""
        return {
            str(row["id"]) for row in self.queue.queue() if int(row["status"]) in _PERSIST_WAITING
        }

    def facts(self) -> Dict[str, Any]:
        """The settings of the library's writing connection."""
        return connection_facts(self.queue._putter, "persist-queue")

    def close(self) -> None:
        """Close both connections."""
        self.queue.close()


class PersistQueueLibrary(Library):
    """``persistqueue.SQLiteAckQueue(folder)``, one thread per process: the defaults.

    ``multithreading=True`` only allows one queue object to be shared between threads; each
    process here has one thread. The library leaves ``synchronous`` at SQLite's default (FULL
    in CPython's builds); ``durable`` is unused.
    """

    queue_name = "queue"

    def open(self, path: str, durable: bool) -> Client:
        """``SQLiteAckQueue(path)``; it keeps ``data.db`` inside the folder ``path``."""
        return PersistQueueClient(self.ack_queue(path, auto_resume=True))

    @staticmethod
    def ack_queue(path: str, auto_resume: bool) -> Any:
        """An ``SQLiteAckQueue`` on the folder ``path``."""
        module: Any = importlib.import_module("persistqueue")
        return module.SQLiteAckQueue(path, auto_resume=auto_resume)

    def remaining_ids(self, path: str) -> Optional[Set[str]]:
        """Read without ``auto_resume``, which would turn in-flight rows back into ready ones."""
        try:
            client = PersistQueueClient(self.ack_queue(path, auto_resume=False))
            ids = client.stored_ids()
            client.close()
        except Exception:
            return None
        return ids

    def copy_queue(self, source: str, target: str) -> None:
        """The whole folder."""
        shutil.copytree(source, target)

    def location(self) -> str:
        """Where ``persistqueue`` came from."""
        return module_folder("persistqueue")


#: The ``--impl`` names this worker knows; ``ours`` first (the default).
LIBRARIES: Dict[str, Callable[[], Library]] = {
    "ours": OursLibrary,
    "litequeue": LiteQueueLibrary,
    "persist-queue": PersistQueueLibrary,
}


if __name__ == "__main__":
    main(sys.argv[1:], LIBRARIES, __file__)
