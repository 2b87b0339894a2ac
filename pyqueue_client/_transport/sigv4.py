"""AWS Signature Version 4, without I/O: canonical request, string to sign, signature.

Every function depends only on its arguments (the time is passed in), so the rules are checked
against the AWS test-suite vectors byte for byte. :class:`SigV4Auth` is the transport's
:class:`~.auth.Authenticator` for AWS services: it takes the current credentials from a provider
(they may be temporary and refreshed) and signs each request just before it is sent.

What is signed: ``host`` (the URL's, port included, as the transport sends it),
``content-type`` and every ``x-amz-*`` header. Other headers (``User-Agent``, ``Accept``) are
left out, as botocore leaves some out, so nothing a proxy may rewrite breaks a signature.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import datetime
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple
from urllib.parse import parse_qsl, quote, urlsplit

from .._times import utc_now

__all__ = [
    "ALGORITHM",
    "Credentials",
    "SigV4Auth",
    "Signature",
    "authorization",
    "canonical_query",
    "canonical_request",
    "payload_hash",
    "sign",
    "signing_key",
    "string_to_sign",
]

ALGORITHM = "AWS4-HMAC-SHA256"
_UNRESERVED = "-_.~"


class Credentials(NamedTuple):
    """An AWS access key, its secret, the session token of temporary credentials, and when
    they expire (naive UTC; None: never). ``repr`` hides the secret and the token."""

    access_key: str
    secret_key: str
    token: Optional[str] = None
    expires: Optional[datetime] = None

    def __repr__(self) -> str:
        token = "None" if self.token is None else "'***'"
        return (
            f"Credentials(access_key={self.access_key!r}, secret_key='***', token={token}, "
            f"expires={self.expires!r})"
        )


class Signature(NamedTuple):
    """The steps of one signature, for tests and debugging: each is what AWS documents."""

    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str


def payload_hash(body: Optional[bytes]) -> str:
    """The hex SHA-256 of the body (of nothing, for a request without one)."""
    return hashlib.sha256(body or b"").hexdigest()


def canonical_query(query: str) -> str:
    """The query string sorted by name then value, each percent-encoded the AWS way."""
    pairs = [
        (quote(name, safe=_UNRESERVED), quote(value, safe=_UNRESERVED))
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


@functools.lru_cache(maxsize=32)
def _url_parts(url: str) -> Tuple[str, str, str]:
    """The URL's host (port included), canonical path and canonical query.

    Cached: a client signs every request to the same few URLs."""
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe="/" + _UNRESERVED)
    return parts.netloc, path, canonical_query(parts.query)


def _header_block(lowered: Iterable[Tuple[str, str]]) -> Tuple[str, str]:
    """The canonical header block and the signed-header list of headers named in lowercase
    already: sorted, values trimmed with inner runs of spaces collapsed."""
    cleaned = sorted((name, " ".join(value.split())) for name, value in lowered)
    block = "".join(f"{name}:{value}\n" for name, value in cleaned)
    return block, ";".join(name for name, _ in cleaned)


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], body_hash: str
) -> Tuple[str, str]:
    """The canonical request of ``method`` ``url`` with ``headers`` (all signed), and its
    signed-header list."""
    _, path, query = _url_parts(url)
    block, signed = _header_block((name.lower(), value) for name, value in headers.items())
    return _canonical_text(method, path, query, block, signed, body_hash), signed


def _canonical_text(
    method: str, path: str, query: str, block: str, signed: str, body_hash: str
) -> str:
    return "\n".join((method.upper(), path, query, block, signed, body_hash))


def _stamp(now: datetime) -> str:
    """The request time as SigV4 writes it; its first 8 characters are the day."""
    return f"{now:%Y%m%dT%H%M%SZ}"


def _scope(day: str, region: str, service: str) -> str:
    return f"{day}/{region}/{service}/aws4_request"


def string_to_sign(canonical: str, now: datetime, region: str, service: str) -> str:
    """What the signing key signs: the algorithm, the time, the scope, the request's hash."""
    stamp = _stamp(now)
    return _text_to_sign(canonical, stamp, _scope(stamp[:8], region, service))


def _text_to_sign(canonical: str, stamp: str, scope: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return "\n".join((ALGORITHM, stamp, scope, digest))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode("utf-8"), "sha256")


def signing_key(secret_key: str, now: datetime, region: str, service: str) -> bytes:
    """The day's key for ``region`` and ``service``, derived from the secret."""
    return _day_key(secret_key, _stamp(now)[:8], region, service)


def _day_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def authorization(access_key: str, scope: str, signed_headers: str, signature: str) -> str:
    """The ``Authorization`` header's value."""
    return (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Optional[bytes],
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> Signature:
    """Sign a request whose signed headers are exactly ``headers`` (``host`` and
    ``x-amz-date`` included; ``x-amz-security-token`` too for temporary credentials)."""
    canonical, signed = canonical_request(method, url, headers, payload_hash(body))
    to_sign = string_to_sign(canonical, now, region, service)
    key = signing_key(credentials.secret_key, now, region, service)
    scope = _scope(_stamp(now)[:8], region, service)
    return _signature(canonical, to_sign, signed, scope, key, credentials.access_key)


def _signature(
    canonical: str, to_sign: str, signed: str, scope: str, key: bytes, access_key: str
) -> Signature:
    """The signature of a canonical request's ``to_sign``, with the day's ``key`` for
    ``scope``."""
    signature = hmac.digest(key, to_sign.encode("utf-8"), "sha256").hex()
    header = authorization(access_key, scope, signed, signature)
    return Signature(canonical, to_sign, signature, header)


class SigV4Auth:
    """Signs each request for ``service`` in ``region`` with the credentials ``credentials()``
    returns at that moment (a provider that refreshes temporary ones).

    ``repr`` shows neither credentials nor signatures; nothing here logs.
    """

    def __init__(
        self,
        credentials: Callable[[], Credentials],
        region: str,
        service: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._clock = clock
        #: (secret, day, scope, signing key) of the last request
        self._key: Optional[Tuple[str, str, str, bytes]] = None

    @property
    def sends_secret(self) -> bool:
        """False: a signature is good for one request only, the secret never travels."""
        return False

    def sign(self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes]) -> None:
        """Add ``X-Amz-Date``, the session token if any, and ``Authorization``."""
        credentials = self._credentials()
        stamp = _stamp(self._clock())
        headers["X-Amz-Date"] = stamp
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        host, path, query = _url_parts(url)
        block, signed = _header_block(_signed_headers(host, headers).items())
        canonical = _canonical_text(method, path, query, block, signed, payload_hash(body))
        scope, key = self._day_key(credentials.secret_key, stamp[:8])
        to_sign = _text_to_sign(canonical, stamp, scope)
        result = _signature(canonical, to_sign, signed, scope, key, credentials.access_key)
        headers["Authorization"] = result.authorization

    def _day_key(self, secret_key: str, day: str) -> Tuple[str, bytes]:
        """The scope and signing key of ``day``: derived once a day (and per secret, since
        refreshed credentials bring a new one), not four HMACs for every request."""
        cached = self._key
        if cached is None or cached[0] != secret_key or cached[1] != day:
            scope = _scope(day, self._region, self._service)
            key = _day_key(secret_key, day, self._region, self._service)
            cached = self._key = (secret_key, day, scope, key)
        return cached[2], cached[3]

    def __repr__(self) -> str:
        return f"SigV4Auth(region={self._region!r}, service={self._service!r})"


def _signed_headers(host: str, headers: Mapping[str, str]) -> Dict[str, str]:
    """The headers to sign, named in lowercase: the ``Host`` the transport will send,
    ``Content-Type``, and every ``X-Amz-*`` header."""
    chosen: List[Tuple[str, str]] = [("host", host)]
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "content-type" or lowered.startswith("x-amz-"):
            chosen.append((lowered, value))
    return dict(chosen)
