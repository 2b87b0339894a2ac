"""``pyqueue serve``: the PyQueue REST API over the library's SQLite backend, standard library only.

>>> from pyqueue_client.server import QueueServer, ServerConfig
>>> with QueueServer(ServerConfig(port=0, data_dir="queues")) as server:  # doctest: +SKIP
...     print(server.url, server.generated_key)  # serving until the block ends

It answers both this library's ``remote`` backend and the original ``pyqueue-client`` 1.2.1 (the
endpoints and shapes are in the project's PROTOCOL notes). Secure by default: API keys (a random
admin key when no key file is given), constant-time key checks, per-queue permissions, validated
queue names, a body size limit, socket timeouts, no CORS unless configured, and errors that never
show paths or tracebacks.
"""

from ._config import DEFAULT_MAX_BODY_BYTES, ServerConfig
from ._server import QueueServer, serve

__all__ = ["DEFAULT_MAX_BODY_BYTES", "QueueServer", "ServerConfig", "serve"]
