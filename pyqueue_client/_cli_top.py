"""``pyqueue top``: a live table of every queue in a store or on a server, until Ctrl+C.

On a terminal each refresh redraws the screen; into a pipe or a file, each refresh is printed
after the last, separated by a blank line (``--count`` bounds how many).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Mapping

from ._cli_common import EXIT_OK, count, positive_seconds
from ._cli_output import table_lines
from ._cli_queue import open_spec, queue_label, queue_spec
from ._errors import PyQueueError
from ._facade import PyQueue, store_queues

__all__ = ["top", "top_arguments"]

_HOME_AND_CLEAR = "\x1b[H\x1b[2J"
_HIDE_CURSOR = "\x1b[?25l"
_SHOW_CURSOR = "\x1b[?25h"
_HEADER = ("QUEUE", "TOTAL", "VISIBLE", "IN FLIGHT", "DELAYED", "NEVER RECEIVED", "RECEIVES")


def top_arguments(parser: argparse.ArgumentParser) -> None:
    """``top [--interval S] [--count N]``."""
    default_interval = 2.0
    parser.add_argument(
        "--interval",
        type=positive_seconds,
        default=default_interval,
        metavar="S",
        help=f"seconds between refreshes (default: {default_interval:g})",
    )
    parser.add_argument(
        "--count",
        type=count(10**9),
        metavar="N",
        help="stop after N refreshes (default: refresh until Ctrl+C)",
    )


def _rows(queues: Mapping[str, PyQueue]) -> List[List[object]]:
    rows: List[List[object]] = []
    for name, queue in queues.items():
        info = queue.get_queue_info()
        delayed = info["delayed_messages"]
        rows.append(
            [
                name,
                info["message_count"],
                info["visible_messages"],
                info["invisible_messages"] - delayed,
                delayed,
                info["never_received"],
                info["total_receives"],
            ]
        )
    return rows


def frame(queue: PyQueue, title: str) -> List[str]:
    """The lines of one refresh: a title line and the table of every queue of the store."""
    queues = store_queues(queue)
    lines = [f"{title}  {time.strftime('%H:%M:%S')}  {len(queues)} queue(s)", ""]
    if queues:
        lines += table_lines(_HEADER, _rows(queues))
    else:
        lines.append("(no queues yet)")
    return lines


def top(args: argparse.Namespace) -> int:
    """Refresh the table every ``--interval`` seconds until Ctrl+C (or ``--count`` refreshes)."""
    spec = queue_spec(args)
    out = sys.stdout
    on_screen = out.isatty()
    with open_spec(spec, args) as queue:
        title = f"pyqueue top: {queue_label(spec, queue)}, every {args.interval:g} s"
        if on_screen:
            title += ", Ctrl+C quits"
        lines = frame(queue, title)  # a first failure (no server, bad key) ends the command
        shown = 0
        if on_screen:
            out.write(_HIDE_CURSOR)
        try:
            while True:
                prefix = _HOME_AND_CLEAR if on_screen else ("\n" if shown else "")
                out.write(prefix + "\n".join(lines) + "\n")
                out.flush()
                shown += 1
                if args.count is not None and shown >= args.count:
                    break
                time.sleep(args.interval)
                try:
                    lines = frame(queue, title)
                except PyQueueError as exc:
                    # Later failures (a server restarting) are shown, and the next refresh retries.
                    lines = [title, "", f"error: {exc}"]
        except KeyboardInterrupt:
            pass
        finally:
            if on_screen:
                out.write(_SHOW_CURSOR)
                out.flush()
    return EXIT_OK
