"""The ``pyqueue`` command line, also run as ``python -m pyqueue_client``.

Each subcommand is one row of ``_COMMANDS``: its help line, a function that declares its arguments
and a function that runs it. ``main`` only parses and dispatches, so a new subcommand (``serve``,
say) is one more row and two small functions.

Exit codes: 0 success, 1 the demo found a problem, 2 a usage error or a library error
(``PyQueueError``, printed as one line on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Dict, NamedTuple, Optional, Sequence, cast

from . import __version__
from ._demo import DemoConfig, run_demo
from ._errors import PyQueueError
from ._facade import PyQueue, copy_queue
from ._types import FileQueueType

__all__ = ["main"]

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

# Upper bounds that keep a typo from starting thousands of processes.
_MAX_MESSAGES = 1_000_000
_MAX_PROCESSES = 64
_FILE_TYPES = ("local", "sqlite")


# -- argument types ----------------------------------------------------------------------------


def _json_value(text: str) -> object:
    """An argument parsed as JSON (the library then checks that it is an object)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None


def _count(high: int) -> Callable[[str], int]:
    """An argument type: a whole number from 1 to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between 1 and {high}, not {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    """An argument type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


# -- subcommands -------------------------------------------------------------------------------


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    # One option per DemoConfig field, named after it (crash_timeout: --crash-timeout), so that
    # _demo hands the parsed options straight to DemoConfig.
    defaults = DemoConfig()
    options = [
        ("messages", "N", _count(_MAX_MESSAGES), "messages to send"),
        ("producers", "P", _count(_MAX_PROCESSES), "producer processes"),
        ("consumers", "C", _count(_MAX_PROCESSES), "consumer processes"),
        ("batch", "B", _count(100), "messages per add or receive call"),
        (
            "crash_timeout",
            "S",
            _seconds,
            "visibility timeout of the consumer that crashes: when its message comes back",
        ),
        ("timeout", "S", _seconds, "fail if the demo takes longer"),
    ]
    for name, metavar, kind, text in options:
        default = getattr(defaults, name)
        flag = "--" + name.replace("_", "-")
        parser.add_argument(
            flag, type=kind, default=default, metavar=metavar, help=f"{text} (default: {default})"
        )


def _demo(args: argparse.Namespace) -> int:
    return run_demo(DemoConfig(**{name: getattr(args, name) for name in DemoConfig._fields}))


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "message", type=_json_value, metavar="JSON", help="""the body, e.g. '{"task": "email"}'"""
    )
    parser.add_argument("--id", help="the message id (default: the body's id, else a new UUID)")


def _send(args: argparse.Namespace) -> int:
    with _queue(args) as queue:
        print(queue.add_message(args.message, args.id))
    return 0


def _receive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max", type=int, default=1, metavar="N", help="at most N (1-100)")
    parser.add_argument(
        "--visibility-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds the messages stay hidden from other consumers (default: %(default)s)",
    )
    parser.add_argument("--delete", action="store_true", help="delete them as they are received")


def _receive(args: argparse.Namespace) -> int:
    with _queue(args) as queue:
        _print_json(queue.receive_messages(args.max, args.visibility_timeout, args.delete))
    return 0


def _peek_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max", type=int, metavar="N", help="at most N (default: all)")


def _peek(args: argparse.Namespace) -> int:
    with _queue(args) as queue:
        _print_json(queue.get_messages(args.max))
    return 0


def _info(args: argparse.Namespace) -> int:
    with _queue(args) as queue:
        _print_json(queue.get_queue_info())
    return 0


def _clear(args: argparse.Namespace) -> int:
    with _queue(args) as queue:
        queue.clear_queue()
        print(f"cleared {queue.queue_file}")
    return 0


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """For subcommands that take only the shared options."""


def _queue(args: argparse.Namespace) -> PyQueue:
    # None lets PyQueue read QUEUE_FILE_PATH now, as the library does.
    queue_type = cast(FileQueueType, args.queue_type)  # argparse checked the choices
    return PyQueue(args.queue_file, queue_type=queue_type, queue_name=args.queue_name)


def _copy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to-file", required=True, metavar="PATH", help="the target file")
    parser.add_argument(
        "--to-type", choices=_FILE_TYPES, default="sqlite", help="the target's type (sqlite)"
    )
    parser.add_argument("--to-name", default="default", metavar="NAME", help="the target queue")


def _copy(args: argparse.Namespace) -> int:
    target_type = cast(FileQueueType, args.to_type)
    with _queue(args) as source, PyQueue(
        args.to_file, queue_type=target_type, queue_name=args.to_name
    ) as target:
        copied = copy_queue(source, target)
        print(f"copied {copied} message(s) from {source.queue_file} to {target.queue_file}")
    return 0


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    # The server's modules (http.server, ssl) load only for this command.
    from .server import ServerConfig  # noqa: PLC0415

    defaults = ServerConfig()

    def port(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or int(text) > 65535:
            raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, not {text!r}")
        return int(text)

    add = parser.add_argument
    add("--host", default=defaults.host, help="address to listen on (default: %(default)s)")
    add(
        "--port",
        type=port,
        default=defaults.port,
        help="0 picks a free port (default: %(default)s)",
    )
    add(
        "--data", default=defaults.data_dir, metavar="DIR", help="folder of queues.db (%(default)s)"
    )
    add("--api-keys", metavar="FILE", help="API key file (default: print a random admin key)")
    add("--no-auth", action="store_true", help="no API keys at all (loopback addresses only)")
    add("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (with --tls-key)")
    add("--tls-key", metavar="FILE", help="the certificate's PEM private key")
    add(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from ORIGIN call the server, e.g. https://app.example.com"
        " (repeatable; '*' for any)",
    )
    add(
        "--max-body-bytes",
        type=_count(64 * 1024 * 1024),
        default=defaults.max_body_bytes,
        metavar="N",
        help="larger request bodies get 413 (default: %(default)s)",
    )
    add(
        "--socket-timeout",
        type=_seconds,
        default=defaults.socket_timeout,
        metavar="S",
        help="seconds a client may stay silent (default: %(default)s)",
    )
    add(
        "--max-connections",
        type=_count(100_000),
        default=defaults.max_connections,
        metavar="N",
        help="open connections beyond this get 503 (default: %(default)s)",
    )
    add("--no-fsync", action="store_true", help="faster writes that a power cut may lose")
    add(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="what the server logs to stderr (default: %(default)s)",
    )


def _serve(args: argparse.Namespace) -> int:
    from .server import ServerConfig, serve  # noqa: PLC0415 (see _serve_arguments)

    config = ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data,
        api_keys_file=args.api_keys,
        no_auth=args.no_auth,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        cors_origins=tuple(args.cors_origin),
        max_body_bytes=args.max_body_bytes,
        socket_timeout=args.socket_timeout,
        max_connections=args.max_connections,
        durable=not args.no_fsync,
    )
    return serve(config, log_level=args.log_level)


def _print_json(value: object) -> None:
    # ASCII-only JSON prints on any console encoding and still round-trips every character.
    print(json.dumps(value, indent=2))


# -- the table and the entry point -------------------------------------------------------------


class _Command(NamedTuple):
    """One subcommand: its help line, its arguments, what it runs, and whether it opens a queue."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    on_queue_file: bool


_COMMANDS: Dict[str, _Command] = {
    # Imported when run (as the server is): _cli_keys holds the whole command.
    "keys": _Command(
        "create, list and revoke the API keys of pyqueue serve (its data folder's api_keys.json)",
        lambda parser: __import__("_cli_keys", globals(), None, ["*"], 1).arguments(parser),
        lambda args: __import__("_cli_keys", globals(), None, ["*"], 1).run(args),
        on_queue_file=False,
    ),
    "demo": _Command(
        "producers and consumers in separate processes, with a crash and a redelivery",
        _demo_arguments,
        _demo,
        on_queue_file=False,
    ),
    "send": _Command("add a message; prints its id", _send_arguments, _send, True),
    "receive": _Command(
        "receive messages SQS-style; prints them as JSON", _receive_arguments, _receive, True
    ),
    "peek": _Command("show messages without receiving them", _peek_arguments, _peek, True),
    "info": _Command("print the queue's statistics as JSON", _no_arguments, _info, True),
    "clear": _Command("remove every message", _no_arguments, _clear, True),
    "copy": _Command(
        "copy every message (ids and tracking fields kept) into another queue, e.g. JSON to SQLite",
        _copy_arguments,
        _copy,
        True,
    ),
    "serve": _Command(
        "run the PyQueue HTTP server (REST API over SQLite queues) until Ctrl+C or SIGTERM",
        _serve_arguments,
        _serve,
        on_queue_file=False,
    ),
}


def _program_name() -> str:
    """``pyqueue``, or ``python -m pyqueue_client`` when run that way."""
    # The main module's spec names the module ``-m`` ran (argv[0] is only a path).
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    started_with_m = getattr(main_spec, "name", None) == f"{__package__}.__main__"
    return "python -m pyqueue_client" if started_with_m else "pyqueue"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand in ``_COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog=_program_name(),
        description="Message queues with Amazon-SQS semantics, on the standard library alone.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    queue_file = argparse.ArgumentParser(prog=parser.prog, add_help=False)
    queue_file.add_argument(
        "--queue-file",
        metavar="PATH",
        help="the queue file (default: $QUEUE_FILE_PATH, else queue.json or queue.db)",
    )
    queue_file.add_argument(
        "--queue-type", choices=_FILE_TYPES, default="local", help="the file's kind (local)"
    )
    queue_file.add_argument(
        "--queue-name", default="default", metavar="NAME", help="sqlite: the queue (default)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in _COMMANDS.items():
        parents = [queue_file] if command.on_queue_file else []
        sub = commands.add_parser(
            name, help=command.help, description=command.help, parents=parents
        )
        command.arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except PyQueueError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
