"""The queue subcommands of ``pyqueue``: each an ``*_arguments`` function and a run function.

``cli.py`` lists them in its command table. Defaults are the Python API's (``receive --max`` is
``receive_messages``' ``max_messages=10``; a left-out ``--visibility-timeout`` is the queue's
attribute, as ``None`` is in the API). Every command prints data on stdout and reports what went
wrong by raising: a ``PyQueueError`` or :class:`CommandError` (exit 1) or :class:`UsageError`
(exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import (
    Any,
    BinaryIO,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    NoReturn,
    Optional,
    Tuple,
)

from . import _validation as check
from ._cli_common import (
    EXIT_EMPTY,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CommandError,
    UsageError,
    count,
    delay_seconds,
    json_value,
    message_id,
    peek_limit,
    queue_name,
    receive_limit,
    visibility_seconds,
    wait_seconds,
)
from ._cli_output import (
    Progress,
    confirm,
    print_json,
    print_json_lines,
    print_pairs,
    read_lines,
)
from ._cli_queue import QueueSpec, open_queue, open_spec, parse_queue, queue_label, queue_spec
from ._errors import RemoteError, ValidationError
from ._facade import PyQueue, copy_queue
from ._types import MessageBody

__all__ = [
    "attributes",
    "attributes_arguments",
    "clear",
    "copy",
    "copy_arguments",
    "delete",
    "delete_arguments",
    "info",
    "info_arguments",
    "no_arguments",
    "peek",
    "peek_arguments",
    "purge",
    "purge_arguments",
    "receive",
    "receive_arguments",
    "redrive",
    "redrive_arguments",
    "send",
    "send_arguments",
    "visibility",
    "visibility_arguments",
]

#: ``send``: messages per ``add_messages`` call when stdin delivers them faster than they go.
DEFAULT_SEND_BATCH = 1000
#: ``delete``: receipt handles per ``delete_messages`` call.
_DELETE_BATCH = 1000


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For subcommands that take only the shared options."""


def _stdin() -> BinaryIO:
    return sys.stdin.buffer


def _hint_if_terminal(what: str) -> None:
    """Tell a person typing at the terminal what stdin expects (a pipe gets no hint)."""
    if sys.stdin.isatty():
        end = "Ctrl+Z then Enter" if sys.platform == "win32" else "Ctrl+D"
        sys.stderr.write(f"reading {what} from stdin; {end} ends\n")


# -- send ---------------------------------------------------------------------------------------


def send_arguments(parser: argparse.ArgumentParser) -> None:
    """``send [JSON] [--id ID] [--delay S] [--batch N]``."""
    parser.add_argument(
        "message",
        nargs="?",
        type=json_value,
        metavar="JSON",
        help="""one message's body, e.g. '{"task": "email"}'; prints its id """
        "(default: read JSON lines from stdin, one message each, and print how many were sent)",
    )
    parser.add_argument(
        "--id",
        type=message_id,
        help="with JSON: the message id (default: the body's id, else a new UUID)",
    )
    parser.add_argument(
        "--delay",
        type=delay_seconds,
        metavar="S",
        help="hide the new messages for S seconds, 0-900 (default: the queue's delay_seconds "
        "attribute, 0 unless set)",
    )
    parser.add_argument(
        "--batch",
        type=count(100_000),
        default=DEFAULT_SEND_BATCH,
        metavar="N",
        help="stdin: at most N messages per add_messages call (default: %(default)s)",
    )


class _Sender:
    """Adds the JSON lines of stdin in batches and counts them."""

    def __init__(self, queue: PyQueue, batch: int, delay: Optional[float]) -> None:
        self.queue = queue
        self.batch = batch
        self.delay = delay
        self.sent = 0
        self.lines = 0
        self.pending: List[MessageBody] = []
        #: The stdin line of each pending message, to name one the library refuses.
        self.numbers: List[int] = []

    def take(self, lines: List[bytes]) -> None:
        """Parse ``lines`` into messages and send every full batch."""
        for line in lines:
            self.lines += 1
            if not line.strip():
                continue
            try:
                body = json.loads(line)
            except ValueError as exc:
                self._refuse(self.lines, f"not valid JSON ({exc})")
            if type(body) is not dict:
                self._refuse(
                    self.lines, f"a message must be a JSON object, not {type(body).__name__}"
                )
            self.pending.append(body)
            self.numbers.append(self.lines)
            if len(self.pending) >= self.batch:
                self.flush()

    def flush(self) -> None:
        """Send what is pending."""
        if not self.pending:
            return
        try:
            self.queue.add_messages(self.pending, delay_seconds=self.delay)
        except ValidationError as exc:
            if isinstance(exc, RemoteError):
                raise  # the server refused the batch: no one line to blame
            self._refuse_first_invalid(exc)
        self.sent += len(self.pending)
        self.pending = []
        self.numbers = []

    def _refuse_first_invalid(self, error: ValidationError) -> NoReturn:
        """The library refused the batch (a NaN, a bad "id", nesting too deep): send the
        messages before the first it refuses, and name that one's line."""
        index, reason = _first_refused(self.pending, error)
        number = self.numbers[index]
        del self.pending[index:]
        del self.numbers[index:]
        self._refuse(number, reason)

    def _refuse(self, number: int, reason: str) -> NoReturn:
        """Send the messages before line ``number``, then stop with an error naming it."""
        self.flush()
        raise CommandError(
            f"stdin line {number}: {reason}; the {self.sent} message(s) before it were sent"
        )


def _first_refused(bodies: List[MessageBody], error: ValidationError) -> Tuple[int, str]:
    """The position of the first body the library refuses, and why (``error`` was raised for
    the whole batch, so there is one)."""
    for index, body in enumerate(bodies):
        try:
            check.body_json(body)
            check.body_id(body)
        except ValidationError as exc:
            return index, str(exc)
    raise error  # pragma: no cover - the batch was refused for one of its bodies


def _stdin_size() -> Optional[int]:
    """The size of stdin when it is a regular file (``< file``), for a progress bar."""
    try:
        size = os.fstat(sys.stdin.fileno()).st_size
    except (OSError, ValueError):
        return None
    return size or None


def send(args: argparse.Namespace) -> int:
    """Add one message (JSON argument) or every JSON line of stdin, in batches."""
    spec = queue_spec(args)
    if args.message is None and args.id is not None:
        raise UsageError('--id goes with a JSON argument; a JSON line carries its id as "id"')
    with open_spec(spec, args) as queue:
        if args.message is not None:
            print(queue.add_message(args.message, args.id, delay_seconds=args.delay))
            return EXIT_OK
        sender = _Sender(queue, args.batch, args.delay)
        progress = Progress("sent")
        size = _stdin_size() if progress.enabled else None
        consumed = 0
        _hint_if_terminal("JSON lines (one message each)")
        try:
            for batch in read_lines(_stdin()):
                sender.take(batch.lines)
                sender.flush()
                consumed += batch.size
                progress.update(sender.sent, consumed / size if size else None)
        except KeyboardInterrupt:
            progress.finish()
            sys.stderr.write(f"interrupted: {sender.sent} message(s) sent\n")
            return EXIT_INTERRUPTED
        progress.finish()
        print(f"sent {sender.sent} message(s) to {queue_label(spec, queue)}")
    return EXIT_OK


# -- receive, delete, visibility -------------------------------------------------------------


def receive_arguments(parser: argparse.ArgumentParser) -> None:
    """``receive [--max N] [--visibility-timeout S] [--wait S] [--only-new] [--delete]
    [--json]``."""
    add = parser.add_argument
    add(
        "--max",
        type=receive_limit,
        default=10,
        metavar="N",
        help="at most N messages, 1-100 (default: %(default)s)",
    )
    add(
        "--visibility-timeout",
        type=visibility_seconds,
        metavar="S",
        help="seconds they stay hidden from other consumers, 0-43200 (default: the queue's "
        "visibility_timeout attribute, 30 unless set)",
    )
    add(
        "--wait",
        type=wait_seconds,
        metavar="S",
        help="when none is visible, wait up to S seconds (0-20) for one, and exit with 3 if none "
        "comes (default: the queue's wait_time_seconds attribute, 0 unless set)",
    )
    add(
        "--only-new",
        action="store_true",
        help="only messages never received before (default: off)",
    )
    add(
        "--delete",
        action="store_true",
        help="delete them as they are received, at most once (default: off; delete each with "
        "pyqueue delete once it is done)",
    )
    add(
        "--json",
        action="store_true",
        help="one JSON object per line, for pyqueue delete or jq (default: an indented JSON array)",
    )


def receive(args: argparse.Namespace) -> int:
    """Receive messages SQS-style and print them."""
    with open_queue(args) as queue:
        received = queue.receive_messages(
            args.max,
            args.visibility_timeout,
            args.delete,
            args.only_new,
            wait_time_seconds=args.wait,
        )
    if args.json:
        print_json_lines(received)
    else:
        print_json(received)
    return EXIT_EMPTY if args.wait is not None and not received else EXIT_OK


def delete_arguments(parser: argparse.ArgumentParser) -> None:
    """``delete [HANDLE ...]``."""
    parser.add_argument(
        "handles",
        nargs="*",
        metavar="HANDLE",
        help="receipt handles to delete (default: read them from stdin, one per line, or the "
        "JSON lines of pyqueue receive --json)",
    )


def _handle_of(line: bytes, number: int) -> str:
    """A receipt handle from a line: the line itself, or a JSON object's ``ReceiptHandle``."""
    text = line.strip()
    if not text.startswith(b"{"):
        return text.decode("utf-8", "replace")
    try:
        handle = json.loads(text).get("ReceiptHandle")
    except (ValueError, AttributeError) as exc:
        raise CommandError(f"stdin line {number}: not valid JSON ({exc})") from None
    if not isinstance(handle, str):
        raise CommandError(f"stdin line {number}: a JSON line needs a ReceiptHandle string")
    return handle


def _stdin_handles() -> Iterator[List[str]]:
    number = 0
    _hint_if_terminal("receipt handles (one per line)")
    for batch in read_lines(_stdin()):
        handles = []
        for line in batch.lines:
            number += 1
            if line.strip():
                handles.append(_handle_of(line, number))
        if handles:
            yield handles


def _in_batches(handles: List[str]) -> Iterator[List[str]]:
    for start in range(0, len(handles), _DELETE_BATCH):
        yield handles[start : start + _DELETE_BATCH]


def delete(args: argparse.Namespace) -> int:
    """Delete messages by receipt handle (arguments, else stdin), in batches."""
    spec = queue_spec(args)
    batches = _in_batches(args.handles) if args.handles else _stdin_handles()
    deleted = 0
    failed: Dict[str, int] = {}
    with open_spec(spec, args) as queue:
        for handles in batches:
            for chunk in _in_batches(handles):
                result = queue.delete_messages(chunk)
                deleted += len(result["Successful"])
                for failure in result["Failed"]:
                    failed[failure["reason"]] = failed.get(failure["reason"], 0) + 1
    print(f"deleted {deleted} message(s)")
    if failed:
        reasons = ", ".join(f"{number} {reason}" for reason, number in sorted(failed.items()))
        raise CommandError(
            f"{sum(failed.values())} receipt handle(s) deleted nothing ({reasons}): a handle is "
            "stale once its message is received again or deleted"
        )
    return EXIT_OK


def visibility_arguments(parser: argparse.ArgumentParser) -> None:
    """``visibility HANDLE SECONDS``."""
    parser.add_argument("handle", metavar="HANDLE", help="the receipt handle of the message")
    parser.add_argument(
        "seconds",
        type=visibility_seconds,
        metavar="SECONDS",
        help="hide the message this long from now, 0-43200 (0: visible at once)",
    )


def visibility(args: argparse.Namespace) -> int:
    """Change how long a received message stays hidden."""
    with open_queue(args) as queue:
        changed = queue.change_message_visibility(args.handle, args.seconds)
    if not changed:
        raise CommandError(
            "the receipt handle is stale or unknown: its message was received again, deleted, "
            "or never existed"
        )
    print(f"hidden for {args.seconds:g} s" if args.seconds else "visible again")
    return EXIT_OK


# -- attributes, redrive, purge ----------------------------------------------------------------

#: How ``attributes --set NAME=VALUE`` reads each attribute's value.
_ATTRIBUTE_KINDS: Mapping[str, Callable[[str], object]] = {
    "visibility_timeout": float,
    "delay_seconds": float,
    "wait_time_seconds": float,
    "retention_seconds": float,
    "max_receive_count": int,
    "dead_letter_queue": str,
}
_CLEAR_WORDS = ("none", "null")


def _attribute_change(text: str) -> Tuple[str, object]:
    """The argument type of ``--set``: ``NAME=VALUE``, checked as the API checks it."""
    written, equals, raw = text.partition("=")
    name = written.strip().replace("-", "_")
    kind = _ATTRIBUTE_KINDS.get(name)
    if not equals or kind is None:
        raise argparse.ArgumentTypeError(
            f"write NAME=VALUE with NAME one of {', '.join(_ATTRIBUTE_KINDS)}, not {text!r}"
        )
    value: object = None
    if raw.strip().lower() not in _CLEAR_WORDS:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: not a number: {raw!r}") from None
    try:
        checked = check.attribute_changes({name: value})
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, checked[name]


def attributes_arguments(parser: argparse.ArgumentParser) -> None:
    """``attributes [--set NAME=VALUE ...] [--json]``."""
    parser.add_argument(
        "--set",
        type=_attribute_change,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change an attribute (repeatable): visibility_timeout, delay_seconds, "
        "wait_time_seconds, retention_seconds, max_receive_count or dead_letter_queue; the "
        "value none clears the last three (default: change nothing, show them)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (default: a table)")


def attributes(args: argparse.Namespace) -> int:
    """Show the queue's attributes, after changing those given with ``--set``."""
    changes: Dict[str, Any] = dict(args.set)
    with open_queue(args) as queue:
        current = queue.set_queue_attributes(**changes) if changes else queue.get_queue_attributes()
    _print_mapping(current, args.json)
    return EXIT_OK


def _print_mapping(values: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(values)
    else:
        print_pairs(values)


def redrive_arguments(parser: argparse.ArgumentParser) -> None:
    """``redrive [--max N]``."""
    parser.add_argument(
        "--max",
        type=peek_limit,
        metavar="N",
        help="move at most N messages (default: all of them)",
    )


def redrive(args: argparse.Namespace) -> int:
    """On a dead-letter queue: move messages back to the queues they came from."""
    with open_queue(args) as queue:
        moved = queue.redrive_messages(args.max)
    print(f"moved {moved} message(s) back to their queues")
    return EXIT_OK


def purge_arguments(parser: argparse.ArgumentParser) -> None:
    """``purge [--yes]``."""
    parser.add_argument(
        "--yes",
        action="store_true",
        help="do not ask first; needed when stdin is not a terminal (default: ask)",
    )


def purge(args: argparse.Namespace) -> int:
    """Remove every message, after asking on a terminal."""
    spec = queue_spec(args)
    if not args.yes and not sys.stdin.isatty():
        raise UsageError("purge removes every message: add --yes to confirm it in a script")
    with open_spec(spec, args) as queue:
        label = queue_label(spec, queue)
        if not args.yes and not confirm(f"Remove every message from {label}?"):
            sys.stderr.write("nothing removed\n")
            return EXIT_ERROR
        queue.clear_queue()
    print(f"purged {label}")
    return EXIT_OK


# -- info, peek, clear, copy -------------------------------------------------------------------


def info_arguments(parser: argparse.ArgumentParser) -> None:
    """``info [--json]``."""
    parser.add_argument("--json", action="store_true", help="print JSON (default: a table)")


def info(args: argparse.Namespace) -> int:
    """Print the queue's statistics."""
    with open_queue(args) as queue:
        statistics = queue.get_queue_info()
    _print_mapping(statistics, args.json)
    return EXIT_OK


def peek_arguments(parser: argparse.ArgumentParser) -> None:
    """``peek [--max N]``."""
    parser.add_argument(
        "--max", type=peek_limit, metavar="N", help="at most N messages (default: all)"
    )


def peek(args: argparse.Namespace) -> int:
    """Print messages as JSON without receiving them."""
    with open_queue(args) as queue:
        print_json(queue.get_messages(args.max))
    return EXIT_OK


def clear(args: argparse.Namespace) -> int:
    """Remove every message without asking (the older form of ``purge --yes``)."""
    spec = queue_spec(args)
    with open_spec(spec, args) as queue:
        queue.clear_queue()
        print(f"cleared {queue_label(spec, queue)}")
    return EXIT_OK


def copy_arguments(parser: argparse.ArgumentParser) -> None:
    """``copy --to QUEUE`` (or the older ``--to-file PATH [--to-type T] [--to-name NAME]``)."""
    add = parser.add_argument
    add(
        "--to",
        type=parse_queue,
        metavar="QUEUE",
        help="the target queue, written as for --queue, e.g. sqlite:queue.db#emails "
        "(no default: give --to or --to-file)",
    )
    add("--to-file", metavar="PATH", help="older form: the target file (no default)")
    add(
        "--to-type",
        choices=("local", "sqlite"),
        default="sqlite",
        help="older form: the target file's kind (default: %(default)s)",
    )
    add(
        "--to-name",
        type=queue_name,
        default="default",
        metavar="NAME",
        help="older form: the target queue in a sqlite file (default: %(default)s)",
    )


def _target_spec(args: argparse.Namespace) -> QueueSpec:
    if args.to is not None:
        if args.to_file is not None:
            raise UsageError("--to names the target already; leave out --to-file")
        target: QueueSpec = args.to
        return target
    if args.to_file is None:
        raise UsageError("name the target with --to QUEUE (or --to-file PATH)")
    settings = {"queue_file": args.to_file, "queue_type": args.to_type, "queue_name": args.to_name}
    return QueueSpec(args.to_file, settings)


def copy(args: argparse.Namespace) -> int:
    """Copy every message, ids and tracking fields kept, into another queue."""
    spec = queue_spec(args)
    target_spec = _target_spec(args)
    progress = Progress("copied")

    def report(done: int, total: int) -> None:
        progress.update(done, done / total, force=done == total)

    either = spec.takes_api_key or target_spec.takes_api_key
    with open_spec(spec, args, key_used_elsewhere=either) as source, open_spec(
        target_spec, args, key_used_elsewhere=either
    ) as target:
        copied = copy_queue(source, target, progress=report if progress.enabled else None)
        progress.finish()
        print(
            f"copied {copied} message(s) from {queue_label(spec, source)} "
            f"to {queue_label(target_spec, target)}"
        )
    return EXIT_OK
