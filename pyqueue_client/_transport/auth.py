"""How a request proves who sends it: the authenticator the HTTP transport calls for each request.

The transport builds each request's headers, then hands them to its :class:`Authenticator`, which
adds what the server needs: an API key today (:class:`ApiKeyAuth`), a request signature tomorrow
(AWS SigV4 for Amazon SQS signs the method, URL, headers and body). The transport never knows
which, so a new scheme is one more class here, with no change to the transport.
"""

from __future__ import annotations

from typing import Dict, Optional, Protocol

from .._errors import ConfigurationError
from .._rest import API_KEY_HEADER

__all__ = ["ApiKeyAuth", "Authenticator"]


class Authenticator(Protocol):
    """Adds credentials to each request, just before it is sent."""

    @property
    def sends_secret(self) -> bool:
        """Whether the added headers carry a reusable secret (an API key, not a signature).

        The transport warns when such a secret would cross the network unencrypted.
        """

    def sign(self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes]) -> None:
        """Add this request's credentials to ``headers``.

        ``url`` is the full URL with its query string and ``body`` the exact bytes that will be
        sent (or None). ``headers`` already holds every header but two that the transport adds
        from these afterwards: ``Host`` (the URL's) and ``Content-Length`` (the body's).
        """


class ApiKeyAuth:
    """The PyQueue servers' scheme: the key in the ``X-API-Key`` header; no key, no header.

    The key must fit in an HTTP header (printable ASCII, no surrounding spaces): anything else
    raises ``ConfigurationError`` here, before any request. The key never appears in ``repr``.
    """

    def __init__(self, api_key: Optional[str]) -> None:
        self._api_key = _checked_key(api_key)

    @property
    def sends_secret(self) -> bool:
        """True when there is a key: it travels as it is, so plain http would expose it."""
        return self._api_key is not None

    def sign(self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes]) -> None:
        """Add the API key header (the same for every request)."""
        if self._api_key is not None:
            headers[API_KEY_HEADER] = self._api_key

    def __repr__(self) -> str:
        shown = "None" if self._api_key is None else "'***'"
        return f"ApiKeyAuth(api_key={shown})"


def _checked_key(api_key: object) -> Optional[str]:
    """The API key, or None. It must fit in an HTTP header: visible ASCII and inner spaces."""
    if api_key is None:
        return None
    if (
        not isinstance(api_key, str)
        or not api_key
        or api_key != api_key.strip()
        or not all(" " <= char <= "~" for char in api_key)
    ):
        raise ConfigurationError(
            "api_key must be a non-empty string of printable ASCII characters without "
            "surrounding spaces"
        )
    return api_key
