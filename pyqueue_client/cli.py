"""The ``pyqueue`` command line, also run as ``python -m pyqueue_client``.

Each subcommand is one row of ``_COMMANDS``: its help line, a function that declares its arguments,
a function that runs it, and whether it takes the queue options (``--queue`` and the older
``--queue-file``, ``--queue-type``, ``--queue-name``; see ``_cli_queue``). ``main`` only parses,
dispatches and turns failures into exit codes, so a new subcommand is one more row and two small
functions in a module of its own (the queue commands live in ``_cli_commands``, ``top`` in
``_cli_top``). A command on a queue opens it with ``_cli_queue.open_queue(args)``.

Exit codes a script can rely on: 0 done, 1 an error (one line on stderr, no traceback unless
``--debug``), 2 a usage error, 3 ``receive --wait`` received nothing, 130 interrupted, 141 the
reader of stdout went away (``pyqueue peek | head -1``; nothing is printed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, Dict, NamedTuple, NoReturn, Optional, Sequence

from . import __version__, _cli_worker
from . import _cli_commands as commands
from ._cli_common import (
    EXIT_BROKEN_PIPE,
    EXIT_EMPTY,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    UsageError,
)
from ._cli_common import count as _count
from ._cli_common import positive_seconds as _seconds
from ._cli_queue import API_KEY_ENV, add_queue_options
from ._cli_top import top, top_arguments
from ._demo import DemoConfig, run_demo
from ._errors import AuthenticationError, PermissionDeniedError, PyQueueError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_EMPTY",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

# Upper bounds that keep a typo from starting thousands of processes.
_MAX_MESSAGES = 1_000_000
_MAX_PROCESSES = 64


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
        "--data",
        default=defaults.data_dir,
        metavar="DIR",
        help="folder of queues.db (default: %(default)s)",
    )
    add("--api-keys", metavar="FILE", help="API key file (default: print a random admin key)")
    add("--no-auth", action="store_true", help="no API keys at all, loopback only (default: off)")
    add("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (default: HTTP)")
    add("--tls-key", metavar="FILE", help="--tls-cert's PEM private key (default: none)")
    add(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from ORIGIN call the server, e.g. https://app.example.com"
        " (repeatable; '*' for any; default: none)",
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
        "--head-timeout",
        type=_seconds,
        default=defaults.head_timeout,
        metavar="S",
        help="seconds a client has to send a whole request head; a body gets as long again "
        "plus 1 s per 4 KiB (default: %(default)s)",
    )
    add(
        "--max-connections",
        type=_count(100_000),
        default=defaults.max_connections,
        metavar="N",
        help="open connections beyond this get 503 (default: %(default)s)",
    )
    add(
        "--max-queues",
        type=_count(10_000_000),
        default=defaults.max_queues,
        metavar="N",
        help="requests that would make more queues get 422 (default: %(default)s)",
    )
    add(
        "--no-fsync",
        action="store_true",
        help="faster writes that a power cut may lose (default: off)",
    )
    add(
        "--metrics-public",
        action="store_true",
        help="serve /metrics without an API key (default: off)",
    )
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
        head_timeout=args.head_timeout,
        max_queues=args.max_queues,
        durable=not args.no_fsync,
        metrics_public=args.metrics_public,
    )
    return serve(config, log_level=args.log_level)


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
    "send": _Command(
        "add a message (JSON argument, prints its id) or every JSON line of stdin, in batches",
        commands.send_arguments,
        commands.send,
        True,
    ),
    "receive": _Command(
        "receive messages SQS-style; prints them as JSON",
        commands.receive_arguments,
        commands.receive,
        True,
    ),
    "delete": _Command(
        "delete received messages by receipt handle (arguments, or stdin)",
        commands.delete_arguments,
        commands.delete,
        True,
    ),
    "visibility": _Command(
        "hide a received message for SECONDS more (0: visible again)",
        commands.visibility_arguments,
        commands.visibility,
        True,
    ),
    "attributes": _Command(
        "show the queue's attributes, or change them with --set",
        commands.attributes_arguments,
        commands.attributes,
        True,
    ),
    "redrive": _Command(
        "on a dead-letter queue: move messages back to the queues they came from",
        commands.redrive_arguments,
        commands.redrive,
        True,
    ),
    "purge": _Command(
        "remove every message (asks first; --yes in scripts)",
        commands.purge_arguments,
        commands.purge,
        True,
    ),
    "info": _Command("print the queue's statistics", commands.info_arguments, commands.info, True),
    "peek": _Command(
        "show messages without receiving them", commands.peek_arguments, commands.peek, True
    ),
    "clear": _Command(
        "remove every message without asking (older form of purge --yes)",
        commands.no_arguments,
        commands.clear,
        True,
    ),
    "copy": _Command(
        "copy every message (ids and tracking fields kept) into another queue, e.g. JSON to SQLite",
        commands.copy_arguments,
        commands.copy,
        True,
    ),
    "top": _Command(
        "a live table of every queue of the store or server, until Ctrl+C",
        top_arguments,
        top,
        True,
    ),
    "serve": _Command(
        "run the PyQueue HTTP server (REST API over SQLite queues) until Ctrl+C or SIGTERM",
        _serve_arguments,
        _serve,
        on_queue_file=False,
    ),
    "worker": _Command(_cli_worker.HELP, _cli_worker.arguments, _cli_worker.run, True),
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where to read more."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` on stderr and exit with 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _program_name() -> str:
    """``pyqueue``, or ``python -m pyqueue_client`` when run that way."""
    # The main module's spec names the module ``-m`` ran (argv[0] is only a path).
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    started_with_m = getattr(main_spec, "name", None) == f"{__package__}.__main__"
    return "python -m pyqueue_client" if started_with_m else "pyqueue"


def _add_debug(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="on an error, show the traceback; log the library's debug lines (default: off)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand in ``_COMMANDS``."""
    parser = _Parser(
        prog=_program_name(),
        description="Message queues with Amazon-SQS semantics, on the standard library alone.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_debug(parser, False)
    # The subcommands accept --debug too; SUPPRESS keeps theirs from hiding the main parser's.
    common = _Parser(prog=parser.prog, add_help=False)
    _add_debug(common, argparse.SUPPRESS)
    queue_options = _Parser(prog=parser.prog, add_help=False)
    add_queue_options(queue_options)
    commands_ = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in _COMMANDS.items():
        parents = [common, queue_options] if command.on_queue_file else [common]
        sub = commands_.add_parser(
            name, help=command.help, description=command.help, parents=parents
        )
        command.arguments(sub)
        sub.set_defaults(run=command.run, command_prog=sub.prog)
    return parser


def _fail(prog: str, message: str, code: int) -> int:
    sys.stderr.write(f"{prog}: error: {message}\n")
    return code


def _message(exc: BaseException) -> str:
    """What went wrong, in the command line's words where the library names an argument."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, AuthenticationError) and not isinstance(exc, PermissionDeniedError):
        text = text.rstrip(".") + f" (with --api-key or ${API_KEY_ENV})"
    return text


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at the null device, so the flush at exit cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # stdout is no file (a test's capture): nothing will flush it at exit


def _run(args: argparse.Namespace) -> int:
    run: Callable[[argparse.Namespace], int] = args.run
    code = run(args)
    sys.stdout.flush()  # a closed pipe shows here, inside main, not at exit
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    A usage error found while parsing exits through ``SystemExit(2)``, as argparse does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    prog: str = args.command_prog
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(levelname)s: %(message)s")
    try:
        return _run(args)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return EXIT_INTERRUPTED
    except UsageError as exc:
        return _fail(prog, f"{exc} (see {prog} --help)", EXIT_USAGE)
    except (PyQueueError, CommandError, OSError) as exc:
        if args.debug:
            raise
        return _fail(prog, _message(exc), EXIT_ERROR)
    except Exception as exc:
        if args.debug:
            raise
        detail = f"{type(exc).__name__}: {exc}"
        return _fail(prog, f"unexpected {detail} (run with --debug for the traceback)", EXIT_ERROR)
