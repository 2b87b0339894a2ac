"""The command line's input and output: JSON, tables, a progress line, questions, stdin batches.

Data goes to stdout, everything meant for the person at the terminal (progress, questions, hints)
to stderr, and only when stderr is a terminal, so pipes and files get data alone.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from typing import (
    IO,
    Any,
    BinaryIO,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Union,
)

__all__ = [
    "Progress",
    "confirm",
    "print_json",
    "print_json_lines",
    "print_pairs",
    "read_chunks",
    "read_lines",
    "table_lines",
]

#: Bytes asked for per read of stdin.
_CHUNK = 64 * 1024
#: Seconds between redraws of a progress line.
_REDRAW = 0.1
#: Characters of a progress bar.
_BAR = 24


def print_json(value: object) -> None:
    """``value`` as indented JSON (ASCII-only, so it prints on any console encoding)."""
    print(json.dumps(value, indent=2))


def print_json_lines(values: Sequence[object]) -> None:
    """One compact JSON document per line: what ``pyqueue delete`` (or ``jq``) reads."""
    out = sys.stdout
    for value in values:
        out.write(json.dumps(value, separators=(",", ":")) + "\n")


def table_lines(header: Sequence[str], rows: Sequence[Sequence[object]]) -> List[str]:
    """A plain-text table: the first column left-aligned, the others (numbers) right-aligned."""
    cells = [list(header)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = []
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join([first, *rest]).rstrip())
    return lines


def print_pairs(pairs: Mapping[str, Any]) -> None:
    """A two-column table of names and values (None prints as ``-``)."""
    width = max((len(name) for name in pairs), default=0)
    for name, value in pairs.items():
        print(f"{name.ljust(width)}  {'-' if value is None else value}")


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """One progress line on stderr, redrawn at most every 0.1 s; silent unless stderr is a
    terminal. ``update(done, fraction)`` shows a bar when the fraction done is known."""

    def __init__(self, verb: str, stream: Optional[IO[str]] = None) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._verb = verb
        self.enabled = _is_terminal(self._stream)
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def update(self, done: int, fraction: Optional[float] = None, *, force: bool = False) -> None:
        """Show ``done`` items (and ``fraction`` of the work, 0 to 1, if known)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn < _REDRAW:
            return
        self._drawn = now
        elapsed = max(now - self._started, 1e-9)
        text = f"{self._verb} {done:,} ({done / elapsed:,.0f}/s)"
        if fraction is not None:
            filled = int(_BAR * min(max(fraction, 0.0), 1.0))
            text = f"[{'#' * filled}{'.' * (_BAR - filled)}] {fraction:4.0%}  {text}"
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def finish(self) -> None:
        """Erase the line, so the final count prints on a clean line."""
        if self.enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


def confirm(question: str) -> bool:
    """Ask ``question`` on the terminal; only an answer starting with y or Y is a yes."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower().startswith("y")


def _read_into(stream: BinaryIO, chunks: queue.Queue[Union[bytes, BaseException]]) -> None:
    try:
        read = getattr(stream, "read1", stream.read)
        while True:
            chunk: bytes = read(_CHUNK)
            chunks.put(chunk)
            if not chunk:
                return
    except BaseException as exc:  # handed to the reading thread, which raises it
        chunks.put(exc)


def read_chunks(stream: BinaryIO, poll: float = 0.5) -> Iterator[List[bytes]]:
    """The bytes of ``stream`` as they arrive, in lists of chunks: each list is everything that
    had arrived when the caller asked, so a slow writer's lines are not held back waiting for a
    full batch, and a fast writer's pile up into big batches while the caller is busy.

    A thread reads (so a blocking read never stops the caller); ``poll`` bounds each wait, so
    Ctrl+C is seen on every platform.
    """
    chunks: queue.Queue[Union[bytes, BaseException]] = queue.Queue()
    reader = threading.Thread(target=_read_into, args=(stream, chunks), daemon=True)
    reader.start()
    while True:
        try:
            first = chunks.get(timeout=poll)
        except queue.Empty:
            continue
        arrived = [first]
        while arrived[-1] and not isinstance(arrived[-1], BaseException):
            try:
                arrived.append(chunks.get_nowait())
            except queue.Empty:
                break
        last = arrived[-1]
        data = [chunk for chunk in arrived if isinstance(chunk, bytes) and chunk]
        if data:
            yield data
        if isinstance(last, BaseException):
            raise last
        if not last:
            return


class LineBatch(NamedTuple):
    """Whole lines that arrived together (without their line ends), and their size in bytes."""

    lines: List[bytes]
    size: int


def read_lines(stream: BinaryIO) -> Iterator[LineBatch]:
    """The lines of ``stream`` in batches, as :func:`read_chunks` delivers them; a last line
    without a line end counts too."""
    partial = b""
    for chunks in read_chunks(stream):
        data = partial + b"".join(chunks)
        lines = data.split(b"\n")
        partial = lines.pop()
        if lines:
            yield LineBatch(lines, len(data) - len(partial))
    if partial:
        yield LineBatch([partial], len(partial))
