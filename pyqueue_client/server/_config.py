"""``ServerConfig``: every setting of ``pyqueue serve``, and the checks that make it safe to run."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Optional, Tuple

from .._errors import ConfigurationError
from .._rest import is_loopback
from .._times import Clock

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_QUEUES", "ServerConfig", "checked"]

#: Request bodies above this many bytes are refused with 413 (256 KiB, as in SQS).
DEFAULT_MAX_BODY_BYTES = 256 * 1024
#: The most queues one server holds unless configured otherwise.
DEFAULT_MAX_QUEUES = 1000

# An origin as browsers send it: scheme, host and an optional port, nothing else.
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


@dataclass(frozen=True)
class ServerConfig:
    """Settings for :class:`~pyqueue_client.server.QueueServer` and :func:`serve`.

    - ``host``, ``port``: where to listen; port 0 picks a free port (see ``QueueServer.url``).
    - ``data_dir``: the folder holding ``queues.db``, created if missing.
    - ``api_keys_file``: a JSON file of API keys in the existing PyQueue server's format. Without
      one, the keys are in ``data_dir``'s ``api_keys.json`` (mode 0600), which the first start
      makes with a random admin key (printed once), unless ``no_auth`` (loopback hosts only).
    - ``tls_cert``, ``tls_key``: PEM files; both or neither.
    - ``cors_origins``: origins allowed to call from a browser (``"*"`` for any); none by default.
    - ``max_body_bytes``: larger request bodies get 413 without being read.
    - ``socket_timeout``: seconds a client may stay silent mid-request or idle between requests.
    - ``head_timeout``: seconds a client has to send a whole request head (line and headers),
      counted from its first byte, or from the connection's opening for its first request. A
      client that takes longer is dropped, however often it sends a little. A body then has
      ``head_timeout`` plus one second per 4 KiB it announces (408 when later).
    - ``max_connections``: open connections beyond this are answered 503 and closed. A
      long-polling receive holds its connection (and its thread) while it waits, so this also
      bounds how many consumers can wait at once. When every slot is taken, a new connection
      pushes out the oldest one that has not yet sent a whole request and never sent a valid
      key, so idle and slow connections cannot shut real clients out.
    - ``max_queues``: the most queues the server holds; a request that would make one more is
      refused with 422 (queues that already exist keep working).
    - ``shutdown_timeout``: seconds a graceful stop waits for requests in flight.
    - ``storage_workers``: SQLite connections the request threads share (storage calls at once).
    - ``durable``, ``lock_timeout``: passed to the SQLite backend.
    - ``metrics_public``: ``GET /metrics`` without an API key (for a Prometheus on a trusted
      network); otherwise any valid key may read it.
    - ``clock``: a naive-UTC clock for tests; the real time by default.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "pyqueue-data"
    api_keys_file: Optional[str] = None
    no_auth: bool = False
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    cors_origins: Tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    socket_timeout: float = 30.0
    head_timeout: float = 10.0
    max_connections: int = 256
    max_queues: int = DEFAULT_MAX_QUEUES
    shutdown_timeout: float = 10.0
    storage_workers: int = 8
    durable: bool = True
    lock_timeout: float = 10.0
    metrics_public: bool = False
    clock: Optional[Clock] = field(default=None, compare=False)


def checked(config: ServerConfig) -> ServerConfig:
    """Return ``config`` unchanged if it can run safely; else raise ``ConfigurationError``."""
    _check_listen(config)
    _check_auth(config)
    _check_tls(config)
    for origin in config.cors_origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ConfigurationError(
                f"CORS origin {origin!r} is not an origin: give scheme and host, "
                "e.g. 'https://app.example.com', or '*' for any"
            )
    _positive_whole(config.max_body_bytes, "max_body_bytes")
    _positive_whole(config.max_connections, "max_connections")
    _positive_whole(config.storage_workers, "storage_workers")
    _positive_whole(config.max_queues, "max_queues")
    for name in ("socket_timeout", "head_timeout", "shutdown_timeout", "lock_timeout"):
        value = getattr(config, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}")
    return config


def _check_listen(config: ServerConfig) -> None:
    if not isinstance(config.port, int) or not 0 <= config.port <= 65535:
        raise ConfigurationError(f"port must be between 0 and 65535, not {config.port!r}")
    if not config.host:
        raise ConfigurationError("host must not be empty; use 0.0.0.0 for every IPv4 address")


def _check_auth(config: ServerConfig) -> None:
    if config.no_auth and config.api_keys_file:
        raise ConfigurationError("choose either an API key file or no authentication, not both")
    if config.no_auth and not is_loopback(config.host):
        # Anyone who can reach the port could read and delete every message.
        raise ConfigurationError(
            f"refusing to run without authentication on {config.host!r}: "
            "no_auth is only allowed on a loopback address such as 127.0.0.1"
        )


def _check_tls(config: ServerConfig) -> None:
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ConfigurationError("TLS needs both a certificate file and a key file")


def _positive_whole(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1, not {value!r}")
