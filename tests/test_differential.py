"""One rule, several statements of it: the same random operations on every local backend.

The in-memory and JSON backends run the queue rules of ``_semantics``; the SQLite backend runs
their SQL twins. Each seed drives all of them through the same few hundred operations (every
call of the contract, a fake clock moving in small steps) and compares, after every step, what
each call returned and every record each backend holds. Receipt handles are random, so they are
compared by the order in which they were handed out. A mismatch is shrunk to the shortest
sequence that still shows it, and printed.
"""

from __future__ import annotations

import json
import random
import tempfile
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import pytest

from pyqueue_client._backends.local_json import JsonFileStore
from pyqueue_client._backends.memory import MemoryStore
from pyqueue_client._backends.sqlite import SqliteStore
from pyqueue_client._semantics import NewMessage
from pyqueue_client._times import format_time

#: Seeds and steps: enough to reach every rule many times, quick enough for every test run.
SEEDS = range(4)
STEPS = 400
_IDS = [f"m{n}" for n in range(8)]
_START = datetime(2026, 1, 22, 12, 0, 0)


class Op(NamedTuple):
    """One call: its name and arguments. Handles are indexes into those handed out so far."""

    name: str
    args: Tuple[Any, ...]


class _Clock:
    def __init__(self) -> None:
        self.now = _START

    def __call__(self) -> datetime:
        return self.now


class _Subject:
    """One backend under test, and the receipt handles it gave, in order."""

    def __init__(self, name: str, store: Any, queue_name: str, dead_name: str) -> None:
        self.name = name
        self.store = store
        self.queue_name = queue_name
        self.queue = store.open_queue(queue_name)
        self.dead_name = dead_name
        self.dead = store.open_queue(dead_name)
        self.clock: _Clock = store._clock
        self.handles: List[str] = []
        self.labels: Dict[str, str] = {}

    def label(self, handle: str) -> str:
        """A handle as the comparison sees it: its place in the order handles were given."""
        if handle not in self.labels:
            self.labels[handle] = f"h{len(self.handles)}"
            self.handles.append(handle)
        return self.labels[handle]

    def handle(self, index: int) -> str:
        """The real handle behind an index (one that was never given out, when none were)."""
        return self.handles[index % len(self.handles)] if self.handles else "receipt_none_1"


def _subjects(folder: Path, stack: ExitStack) -> List[_Subject]:
    """Each backend's store, its queue and a dead-letter queue beside it."""
    subjects = []
    for name in ("memory", "local", "sqlite", "sqlite-no-returning"):
        store: Any
        if name == "memory":
            store = MemoryStore(_Clock())
            names = ("q", "dead")
        elif name == "local":
            store = JsonFileStore(_Clock(), durable=False)
            names = (str(folder / "queue.json"), str(folder / "dead.json"))
        else:
            path = str(folder / f"{name}.db")
            store = SqliteStore(path, _Clock(), False, use_returning=name == "sqlite")
            names = ("q", "dead")
        stack.callback(store.close)
        subjects.append(_Subject(name, store, *names))
    return subjects


def _random_ops(seed: int, steps: int) -> List[Op]:
    rng = random.Random(seed)

    def some_ids() -> List[str]:
        return rng.sample(_IDS, rng.randint(1, 3))

    def some_handles() -> List[int]:
        # mostly the latest handles (negative: counted from the end), sometimes any old one
        return [rng.choice([-1, -2, -3, -4, rng.randint(0, 50)]) for _ in range(rng.randint(1, 3))]

    makers: List[Tuple[int, Callable[[], Op]]] = [
        (6, lambda: Op("add", (some_ids(), rng.choice([0, 0, 0, 3, 30]), rng.randint(0, 99)))),
        (
            6,
            lambda: Op(
                "receive",
                (
                    rng.randint(1, 4),
                    rng.choice([0, 5, 30]),
                    rng.random() < 0.1,
                    rng.random() < 0.2,
                ),
            ),
        ),
        (4, lambda: Op("delete", (some_handles(),))),
        (3, lambda: Op("change", (some_handles(), rng.choice([0, 5, 60])))),
        (4, lambda: Op("advance", (rng.choice([1, 3, 5, 31]),))),
        (1, lambda: Op("remove", (rng.choice(_IDS),))),
        (1, lambda: Op("update", (rng.choice(_IDS), rng.randint(0, 99)))),
        (2, lambda: Op("peek", (rng.choice([None, 1, 3]), rng.randint(0, 3)))),
        (1, lambda: Op("get", (rng.choice(_IDS),))),
        (1, lambda: Op("exists", (some_ids(),))),
        (2, lambda: Op("info", ())),
        (1, lambda: Op("cleanup", ())),
        (1 if rng.random() < 0.3 else 0, lambda: Op("clear", ())),
        (
            1,
            lambda: Op(
                "policy", (rng.choice([None, None, 1, 2, 3]), rng.choice([None, None, 60, 90]))
            ),
        ),
        (1, lambda: Op("redrive", (rng.choice([None, 1, 2]),))),
    ]
    weights = [weight for weight, _ in makers]
    return [rng.choices(makers, weights)[0][1]() for _ in range(steps)]


def _add(subject: _Subject, ids: List[str], delay: int, value: int) -> Any:
    items = [NewMessage(item_id, json.dumps({"v": value})) for item_id in ids]
    return subject.queue.add_messages(items, delay)


def _receive(subject: _Subject, *args: Any) -> Any:
    return [
        ({**d.message, "ReceiptHandle": subject.label(d.message["ReceiptHandle"])}, d[1])
        for d in subject.queue.receive_messages(*args)
    ]


def _by_handle(subject: _Subject, indexes: List[int], *timeout: int) -> Any:
    handles = [subject.handle(index) for index in indexes]
    if timeout:
        result = subject.queue.change_visibility(handles, *timeout)
    else:
        result = subject.queue.delete_messages(handles)
    return (
        [subject.label(h) for h in result["Successful"]],
        [(subject.label(f["ReceiptHandle"]), f["reason"]) for f in result["Failed"]],
    )


def _advance(subject: _Subject, seconds: int) -> None:
    subject.clock.now += timedelta(seconds=seconds)


def _counts(subject: _Subject) -> List[int]:
    info = subject.queue.get_queue_info()
    keys = ("message_count", "visible_messages", "invisible_messages", "never_received")
    return [info[key] for key in (*keys, "total_receives")]


def _policy(subject: _Subject, max_receive_count: Any, retention: Any) -> Any:
    changes = {
        "max_receive_count": max_receive_count,
        "dead_letter_queue": subject.dead_name if max_receive_count else None,
        "retention_seconds": retention,
    }
    attributes = subject.store.set_attributes(subject.queue_name, changes)
    return {key: value for key, value in attributes.items() if key != "dead_letter_queue"}


_CALLS: Dict[str, Callable[..., Any]] = {
    "policy": _policy,
    "redrive": lambda s, limit: s.dead.redrive_messages(limit),
    "add": _add,
    "receive": _receive,
    "delete": _by_handle,
    "change": _by_handle,
    "advance": _advance,
    "info": _counts,
    "update": lambda s, item_id, value: s.queue.update_message(item_id, {"updated": value}),
    "remove": lambda s, item_id: s.queue.remove_message(item_id),
    "peek": lambda s, *args: _normal_views(s, s.queue.get_messages(*args)),
    "get": lambda s, item_id: _normal_views(s, [s.queue.get_message(item_id)]),
    "exists": lambda s, ids: s.queue.check_existence(ids),
    "cleanup": lambda s: s.queue.cleanup_expired_messages(),
    "clear": lambda s: s.queue.clear_queue(),
}


def _apply(subject: _Subject, op: Op) -> Any:
    """Run ``op`` on one backend; the result with handles replaced by their labels."""
    return _CALLS[op.name](subject, *op.args)


def _normal_views(subject: _Subject, views: Sequence[Optional[Dict[str, Any]]]) -> List[Any]:
    """Views as the rules define them: an expired hiding time is the same as none (the SQL
    clears them when a receive starts, the Python rules when asked to)."""
    now = format_time(subject.clock.now)
    normal: List[Any] = []
    for view in views:
        if view is None:
            normal.append(None)
            continue
        until = view.get("invisible_until")
        copy = {**view, "invisible_until": until if until and until > now else None}
        if copy.get("current_receipt_handle") is not None:
            copy["current_receipt_handle"] = subject.label(copy["current_receipt_handle"])
        normal.append(copy)
    return normal


def _first_difference(ops: Sequence[Op]) -> Optional[str]:
    """Replay ``ops`` on fresh backends; a description of the first disagreement, or None."""
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        subjects = _subjects(Path(folder), stack)
        for step, op in enumerate(ops):
            seen = []
            for subject in subjects:
                result = _apply(subject, op)
                records = _normal_views(subject, subject.queue.export_records())
                dead = _normal_views(subject, subject.dead.export_records())
                for record in dead:
                    record["source_queue"] = "q" if record.get("source_queue") else None
                seen.append((subject.name, result, records, dead))
            reference = seen[0]
            for other in seen[1:]:
                if other[1:] != reference[1:]:
                    return (
                        f"step {step} {op}:\n  {reference[0]}: {reference[1:]}\n"
                        f"  {other[0]}: {other[1:]}"
                    )
    return None


def _shrink(ops: List[Op]) -> List[Op]:
    """Drop operations one at a time while the backends still disagree."""
    index = len(ops) - 1
    while index >= 0:
        fewer = ops[:index] + ops[index + 1 :]
        if _first_difference(fewer) is not None:
            ops = fewer
        index -= 1
    return ops


@pytest.mark.parametrize("seed", SEEDS)
def test_every_backend_follows_the_same_rules(seed: int) -> None:
    ops = _random_ops(seed, STEPS)
    difference = _first_difference(ops)
    if difference is not None:
        step = int(difference.split()[1])
        shortest = _shrink(ops[: step + 1])
        listing = "\n".join(f"  {op}" for op in shortest)
        pytest.fail(
            f"backends disagree; shortest sequence ({len(shortest)} steps):\n{listing}\n"
            f"{_first_difference(shortest)}"
        )


def test_a_disagreement_is_found_and_shrunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: a backend that breaks one rule is caught, with a short sequence."""
    from pyqueue_client._backends import sqlite

    real = sqlite.SqliteQueue.remove_message

    def off_by_one(self: sqlite.SqliteQueue, item_id: str) -> bool:
        return real(self, item_id) if item_id != "m3" else False

    monkeypatch.setattr(sqlite.SqliteQueue, "remove_message", off_by_one)
    ops = [Op("add", (["m1"], 0, 1)), Op("info", ()), Op("add", (["m3"], 0, 2))]
    ops += [Op("remove", ("m3",)), Op("advance", (1,))]
    difference = _first_difference(ops)
    assert difference is not None
    assert difference.startswith("step 3 ")
    assert _shrink(ops) == [Op("add", (["m3"], 0, 2)), Op("remove", ("m3",))]
