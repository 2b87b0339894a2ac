"""The local JSON suite's worker: one workload, run in a child process by either library.

Both the library in this checkout and the original ``pyqueue-client==1.2.1`` are imported as
``pyqueue_client``, so the interpreter (and ``PYTHONPATH``) that runs this file decides which one
is measured. The workloads themselves are in ``_phases.py``; this file only says how to talk to a
local ``PyQueue``. Standard library only and Python 3.8 syntax, so the original's venv can run it
unchanged. Differences between the two APIs are bridged by feature detection, never by branching
on the library's name (except for the ``durable`` option, which only ours accepts):

* a received message's delete token is ``ReceiptHandle`` when present, else ``id`` (the original
  returns stored messages and deletes by id);
* a batch delete uses ``delete_messages`` when the queue has it, else one ``delete_message`` per
  message;
* a fill uses ``add_messages`` when the queue has it, else one ``add_message`` per message.

Usage (``run.py`` builds these command lines)::

    _workload.py enqueue|drain1|drain10 --dir D --n N [--durable 0|1] [--template F] [--budget S]
    _workload.py concurrency --dir D --n N [--durable 0|1] [--batch B] [--budget S]
    _workload.py producer|consumer ...   (children of ``concurrency``; not for direct use)
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Dict, List, Sequence, Set

from _phases import VISIBILITY_TIMEOUT, Client, Library, Message, main


class LocalQueueClient(Client):
    """A local ``PyQueue`` of whichever ``pyqueue_client`` this interpreter imports.

    The queue is typed as ``Any`` on purpose: the two libraries' signatures differ, and this
    module must not depend on either one's type information.
    """

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.batch_delete = hasattr(queue, "delete_messages")

    def add(self, payload: Any, item_id: str) -> str:
        """``add_message`` with the worker's id (the original's ``add_message`` returns None)."""
        self.queue.add_message(payload, item_id=item_id)
        return item_id

    def receive(self, batch: int) -> List[Any]:
        """``receive_messages`` of up to ``batch``, with the benchmark's visibility timeout."""
        messages: List[Any] = self.queue.receive_messages(
            max_messages=batch, visibility_timeout=VISIBILITY_TIMEOUT
        )
        return messages

    def delete_one(self, received: Any) -> bool:
        """Delete one received message; True unless the library said False."""
        return self.queue.delete_message(delete_token(received)) is not False

    def delete_batch(self, received: Sequence[Any]) -> List[str]:
        """Ours: one ``delete_messages`` call, success per handle. The original has no batch
        delete and its ``delete_message`` returns nothing: one call per message, success unless
        it raised.
        """
        if not self.batch_delete:
            return super().delete_batch(received)
        by_handle = {delete_token(message): message_id(message) for message in received}
        result = self.queue.delete_messages(list(by_handle))
        return [by_handle[handle] for handle in result["Successful"]]

    def received_id(self, received: Any) -> str:
        """The id of a received (``Id``) or stored (``id``) message."""
        return message_id(received)

    def fill(self, payloads: Sequence[Any], ids: Sequence[str]) -> None:
        """One ``add_messages`` call when the library has it."""
        if hasattr(self.queue, "add_messages"):
            self.queue.add_messages(list(payloads), list(ids))
            return
        super().fill(payloads, ids)

    def stored_ids(self) -> Set[str]:
        """The ids ``get_messages`` lists."""
        return {message_id(message) for message in self.queue.get_messages()}

    def close(self) -> None:
        """Ours releases its lock file; the original has nothing to close."""
        close = getattr(self.queue, "close", None)
        if close is not None:
            close()


class LocalQueueLibrary(Library):
    """``PyQueue(queue_type="local")``: ours (``impl="ours"``, with ``durable``) or the original."""

    queue_name = "queue.json"

    def __init__(self, impl: str) -> None:
        self.impl = impl

    def open(self, path: str, durable: bool) -> Client:
        """A local queue on ``path``; only ours accepts ``durable``."""
        module: Any = importlib.import_module("pyqueue_client")
        if self.impl == "ours":
            queue = module.PyQueue(queue_file=path, queue_type="local", durable=durable)
        else:
            queue = module.PyQueue(queue_file=path, queue_type="local")
        return LocalQueueClient(queue)

    def location(self) -> str:
        """The folder of the ``pyqueue_client`` package this interpreter imported."""
        module: Any = importlib.import_module("pyqueue_client")
        return os.path.dirname(os.path.abspath(str(module.__file__)))


def delete_token(message: Message) -> str:
    """What to pass to ``delete_message``: the receipt handle, or the original's message id."""
    token = message.get("ReceiptHandle", message.get("id"))
    if not isinstance(token, str):
        raise RuntimeError(f"received message has neither ReceiptHandle nor id: {message!r}")
    return token


def message_id(message: Message) -> str:
    """The id of a received (``Id``) or stored (``id``) message."""
    value = message.get("Id", message.get("id"))
    return str(value)


#: The ``--impl`` names this worker knows.
LIBRARIES: Dict[str, Callable[[], Library]] = {
    "ours": lambda: LocalQueueLibrary("ours"),
    "original": lambda: LocalQueueLibrary("original"),
}


if __name__ == "__main__":
    main(sys.argv[1:], LIBRARIES, __file__)
