"""``pyqueue worker package.module:function``: a ``Worker`` on a queue file, from the shell.

It logs one line per outcome at INFO on stderr and exits 0 on a clean stop (the first Ctrl+C or
SIGTERM finishes the running handlers; a second one releases them and returns at once).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._cli_common import count, visibility_seconds, wait_seconds
from ._cli_queue import open_queue
from ._errors import ConfigurationError
from ._logs import logged_to_stderr
from ._worker import Handler, Worker

__all__ = ["HELP", "arguments", "run"]

#: More handler threads than this is a typo, not a plan.
MAX_CONCURRENCY = 256

HELP = "run a handler (package.module:function) on every message until Ctrl+C or SIGTERM"


def arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options, beside the queue options every queue command has."""
    add = parser.add_argument
    add("handler", metavar="MODULE:FUNCTION", help="the handler, e.g. myapp.jobs:handle")
    add(
        "--concurrency",
        type=count(MAX_CONCURRENCY),
        default=4,
        metavar="N",
        help="handler threads (default: %(default)s)",
    )
    add("--burst", action="store_true", help="stop once the queue is empty (default: off)")
    add(
        "--visibility-timeout",
        type=visibility_seconds,
        metavar="S",
        help="seconds a message stays hidden between heartbeats (default: the queue's)",
    )
    add(
        "--wait",
        type=wait_seconds,
        default=20.0,
        metavar="S",
        help="seconds each receive waits for a message (default: %(default)s)",
    )
    add(
        "--retry-delay",
        type=float,
        default=1.0,
        metavar="S",
        help="first retry after a failure, doubled each time (default: %(default)s)",
    )
    add("--log-level", choices=("debug", "info", "warning", "error"), default="info")


def run(args: argparse.Namespace) -> int:
    """Run the worker until it is stopped; 0 on a clean stop."""
    handler = load_handler(args.handler)
    with logged_to_stderr(__package__, args.log_level), open_queue(args) as queue:
        worker = Worker(
            queue,
            handler,
            concurrency=args.concurrency,
            visibility_timeout=args.visibility_timeout,
            wait_time_seconds=args.wait,
            retry_delay=args.retry_delay,
            stop_when_empty=args.burst,
        )
        worker.run()
    return 0


def load_handler(spec: str) -> Handler:
    """The function ``package.module:function`` names (the current folder is importable, as
    for ``python -m``)."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ConfigurationError(f"the handler must be package.module:function, not {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r}: {exc}") from None
    handler = module
    for part in function_name.split("."):
        try:
            handler = getattr(handler, part)
        except AttributeError:
            raise ConfigurationError(f"{module_name!r} has no {function_name!r}") from None
    if not callable(handler):
        raise ConfigurationError(f"{spec!r} is not callable")
    return handler
