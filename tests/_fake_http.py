"""A tiny HTTP server on 127.0.0.1 that answers from a script and records what it was asked:
the fake container-credentials, instance-metadata and SQS endpoints of the tests."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Iterator, List, NamedTuple, Tuple


class Seen(NamedTuple):
    """One request the fake server got."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


#: Answers a request: (status, content type, body).
Responder = Callable[[Seen], Tuple[int, str, bytes]]


class FakeServer(NamedTuple):
    """A running fake server: its URL and the requests it got, in order."""

    url: str
    seen: List[Seen]


@contextmanager
def fake_server(respond: Responder) -> Iterator[FakeServer]:
    """Serve ``respond`` on a free 127.0.0.1 port for the duration of the block."""
    seen: List[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Seen(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            seen.append(request)
            status, content_type, body = respond(request)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read ``seen`` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeServer(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
