"""Cross-origin requests from browsers: refused unless origins are configured.

With no origins configured the server sends no CORS headers at all, so browsers keep other sites'
pages from calling it. Configured origins are matched exactly and echoed back (or ``*`` when any
origin is allowed); credentials are never allowed (API keys travel in a header, not in cookies).
"""

from __future__ import annotations

from email.message import Message
from typing import Dict, Optional, Sequence

from .._rest import API_KEY_HEADER
from ._params import Response

__all__ = ["Cors"]

_METHODS = "GET, POST, PUT, DELETE"
_HEADERS = f"{API_KEY_HEADER}, Content-Type"
_MAX_AGE = "600"


class Cors:
    """The allowed origins and the headers they get."""

    def __init__(self, origins: Sequence[str]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(origins)

    def allows(self, origin: Optional[str]) -> bool:
        """Whether a page from ``origin`` may call this server."""
        return origin is not None and (self._any or origin in self._origins)

    def headers(self, origin: Optional[str]) -> Dict[str, str]:
        """The CORS headers for an answer to a request from ``origin``."""
        if not self._origins:
            return {}
        if self._any:
            return {"Access-Control-Allow-Origin": "*"}
        # Caches must keep answers for different origins apart.
        headers = {"Vary": "Origin"}
        if self.allows(origin):
            headers["Access-Control-Allow-Origin"] = str(origin)
        return headers

    def preflight(self, method: str, headers: Message) -> Optional[Response]:
        """The answer to a browser's preflight ``OPTIONS`` from an allowed origin, else None."""
        origin = headers.get("Origin")
        if method != "OPTIONS" or not headers.get("Access-Control-Request-Method"):
            return None
        if not self.allows(origin):
            return None
        allow = {
            "Access-Control-Allow-Methods": _METHODS,
            "Access-Control-Allow-Headers": _HEADERS,
            "Access-Control-Max-Age": _MAX_AGE,
        }
        return Response(204, None, allow)
