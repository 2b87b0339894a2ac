"""AWS credentials, region and endpoint, found where AWS users keep them, in botocore's order.

Credentials: the arguments; the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``); the profile (``profile=``, else ``AWS_PROFILE``, else ``default``) in the
shared ``credentials`` file, then in the ``config`` file; container credentials
(``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` or ``..._FULL_URI``, with the token of
``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` or ``AWS_CONTAINER_AUTHORIZATION_TOKEN``); EC2
instance metadata (IMDSv2: a session token first; ``AWS_EC2_METADATA_DISABLED=true`` skips it,
``AWS_EC2_METADATA_SERVICE_ENDPOINT`` moves it). Temporary credentials from the last two are
fetched again five minutes before they expire. Nothing found: a ``ConfigurationError`` that says
where it looked. Secrets never appear in an error message, a ``repr`` or a log line.

Region: the argument, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile's ``region``, then a
hint (the region in a queue URL's host). Endpoint: ``AWS_ENDPOINT_URL_<SERVICE>``, then
``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._times import parse_time, utc_now
from .sigv4 import Credentials

__all__ = [
    "CONTAINER_HOST",
    "IMDS_ENDPOINT",
    "CredentialProvider",
    "SharedConfig",
    "find_credentials",
    "find_endpoint",
    "find_region",
]

_log = logging.getLogger(__name__)

#: Where ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` points (ECS).
CONTAINER_HOST = "http://169.254.170.2"
#: The EC2 instance metadata service.
IMDS_ENDPOINT = "http://169.254.169.254"
#: Seconds to wait for a metadata service: on a laptop there is none, and the wait is paid once.
_METADATA_TIMEOUT = 1.0
#: Temporary credentials are fetched again when they have less than this left.
_REFRESH_MARGIN = timedelta(minutes=5)
#: Hosts a plain-http ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` may name besides loopback (ECS, EKS).
_CONTAINER_HOSTS = frozenset({"169.254.170.2", "169.254.170.23", "fd00:ec2::23"})


class _Unavailable(Exception):
    """A source that has nothing to give, and why (for the final error message)."""


class SharedConfig:
    """The shared ``credentials`` and ``config`` files, and the profile in use.

    The files are ``AWS_SHARED_CREDENTIALS_FILE`` and ``AWS_CONFIG_FILE``, else ``~/.aws/...``.
    A profile named explicitly (argument or ``AWS_PROFILE``) must exist in one of them.
    """

    def __init__(self, profile: Optional[str], environ: Mapping[str, str]) -> None:
        named = profile or environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
        self.profile = named or "default"
        home = os.path.expanduser("~")
        self.credentials_file = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(
            home, ".aws", "credentials"
        )
        self.config_file = environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")
        self.credentials_section = _section(self.credentials_file, self.profile)
        config_name = "default" if self.profile == "default" else f"profile {self.profile}"
        self.config_section = _section(self.config_file, config_name)
        if named and self.credentials_section is None and self.config_section is None:
            raise ConfigurationError(
                f"AWS profile {self.profile!r} is in neither {self.credentials_file} nor "
                f"{self.config_file}"
            )

    def value(self, key: str) -> Optional[str]:
        """The profile's ``key`` from the config file."""
        return (self.config_section or {}).get(key) or None


def _section(path: str, name: str) -> Optional[Dict[str, str]]:
    """Section ``name`` of the INI file at ``path``; None when the file or section is missing."""
    if not os.path.exists(path):
        return None
    import configparser  # noqa: PLC0415 - only where there are files: it slows every start

    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as file:
            parser.read_file(file)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigurationError(f"cannot read the AWS file {path}: {exc}") from None
    if not parser.has_section(name):
        return None
    return {key: value.strip() for key, value in parser.items(name)}


def _keys_from(values: Mapping[str, str], names: Tuple[str, str, str]) -> Optional[Credentials]:
    """Static credentials from ``values`` under the three ``names``, or None if the key or
    secret is missing."""
    access_key, secret_key = values.get(names[0]), values.get(names[1])
    if not access_key or not secret_key:
        return None
    return Credentials(access_key, secret_key, values.get(names[2]) or None)


class CredentialProvider:
    """The current credentials: fixed ones, or temporary ones fetched again before they expire.

    Called for each request; thread-safe. A failed refresh keeps credentials that are still
    valid and raises only once they have expired.
    """

    def __init__(
        self,
        first: Credentials,
        source: str,
        fetch: Optional[Callable[[], Credentials]] = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._current = first
        self.source = source
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self) -> Credentials:
        current = self._current
        if self._fetch is None or current.expires is None:
            return current
        now = self._clock()
        if current.expires - now > _REFRESH_MARGIN:
            return current
        with self._lock:
            if self._current is current:
                self._refresh(now)
            return self._current

    def _refresh(self, now: datetime) -> None:
        assert self._fetch is not None
        try:
            self._current = self._fetch()
            _log.debug("refreshed AWS credentials from %s", self.source)
        except (_Unavailable, ConfigurationError) as exc:
            expires = self._current.expires
            if expires is not None and expires <= now:
                raise ConfigurationError(
                    f"the AWS credentials from {self.source} expired and could not be "
                    f"refreshed: {exc}"
                ) from None
            _log.debug("could not refresh AWS credentials yet: %s", exc)

    def __repr__(self) -> str:
        return f"CredentialProvider(source={self.source!r})"


def find_credentials(
    access_key: Optional[str],
    secret_key: Optional[str],
    session_token: Optional[str],
    shared: SharedConfig,
    environ: Mapping[str, str],
) -> CredentialProvider:
    """The first source in botocore's order that has credentials, or a ``ConfigurationError``
    listing every place looked."""
    if access_key or secret_key:
        if not (access_key and secret_key):
            raise ConfigurationError(
                "aws_access_key_id and aws_secret_access_key must be given together"
            )
        return CredentialProvider(Credentials(access_key, secret_key, session_token), "arguments")
    looked: List[str] = ["the arguments aws_access_key_id and aws_secret_access_key"]
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    found = _keys_from(environ, names)
    if found is not None:
        return CredentialProvider(found, "the environment")
    looked.append("the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    file_names = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
    for path, section in (
        (shared.credentials_file, shared.credentials_section),
        (shared.config_file, shared.config_section),
    ):
        found = _keys_from(section or {}, file_names)
        if found is not None:
            return CredentialProvider(found, f"profile {shared.profile!r} in {path}")
        looked.append(f"profile {shared.profile!r} in {path}")
    fetchers: List[Tuple[str, Callable[[], Credentials]]] = [
        ("container credentials", functools.partial(_container_credentials, environ)),
        ("EC2 instance metadata", functools.partial(_imds_credentials, environ)),
    ]
    for source, fetch in fetchers:
        try:
            return CredentialProvider(fetch(), source, fetch)
        except _Unavailable as exc:
            looked.append(f"{source} ({exc})")
    raise ConfigurationError("no AWS credentials found; looked in: " + "; ".join(looked))


def find_region(
    explicit: Optional[str], shared: SharedConfig, environ: Mapping[str, str], hint: Optional[str]
) -> str:
    """The region to sign for, or a ``ConfigurationError`` naming where it looked."""
    region = (
        explicit
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or shared.value("region")
        or hint
    )
    if not region:
        raise ConfigurationError(
            "no AWS region: pass region=..., set AWS_REGION or AWS_DEFAULT_REGION, or set "
            f"region in profile {shared.profile!r} of {shared.config_file}"
        )
    return region


def find_endpoint(service: str, environ: Mapping[str, str]) -> Optional[str]:
    """The endpoint the environment sets for ``service`` (or for every service), if any."""
    return environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or environ.get("AWS_ENDPOINT_URL")


# -- temporary credentials over HTTP --------------------------------------------------------------


def _request(
    method: str, url: str, headers: Mapping[str, str], timeout: float = _METADATA_TIMEOUT
) -> bytes:
    """The body of a 200 answer to a request to a metadata service, or ``_Unavailable``.

    Straight over ``http.client``: a metadata service is never reached through a proxy.
    """
    parts = urlsplit(url)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.netloc, timeout=timeout
        )
    else:
        connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, path or "/", headers=dict(headers))
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise _Unavailable(f"no answer from {parts.netloc}: {type(exc).__name__}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise _Unavailable(f"{parts.netloc} answered HTTP {response.status}")
    return body


def _temporary(body: bytes, where: str) -> Credentials:
    """Credentials from a metadata service's JSON document."""
    try:
        document = json.loads(body)
        expires = document.get("Expiration")
        return Credentials(
            str(document["AccessKeyId"]),
            str(document["SecretAccessKey"]),
            document.get("Token") or None,
            parse_time(str(expires)) if expires else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _Unavailable(f"{where} sent no readable credentials") from None


def _container_credentials(environ: Mapping[str, str]) -> Credentials:
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if relative:
        url = CONTAINER_HOST + relative
    elif full:
        url = _checked_container_url(full)
    else:
        raise _Unavailable("neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor ..._FULL_URI is set")
    headers: Dict[str, str] = {"Accept": "application/json"}
    token = _container_token(environ)
    if token:
        headers["Authorization"] = token
    return _temporary(_request("GET", url, headers), "the container credentials endpoint")


def _checked_container_url(url: str) -> str:
    """A full container-credentials URL: https, or http to this machine or the ECS/EKS hosts."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" or host in _CONTAINER_HOSTS or host == "localhost":
        return url
    import ipaddress  # noqa: PLC0415 - rarely needed, and slow to import

    try:
        if parts.scheme == "http" and ipaddress.ip_address(host).is_loopback:
            return url
    except ValueError:
        pass
    raise ConfigurationError(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to this machine or the "
        f"ECS/EKS credential hosts, not {parts.scheme}://{host}"
    )


def _container_token(environ: Mapping[str, str]) -> Optional[str]:
    path = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as file:
                return file.read().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {path}: {exc.strerror}"
            ) from None
    return environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") or None


def _imds_credentials(environ: Mapping[str, str]) -> Credentials:
    if environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        raise _Unavailable("AWS_EC2_METADATA_DISABLED is true")
    base = (environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_ENDPOINT).rstrip("/")
    token = _request(
        "PUT", base + "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}
    ).decode("ascii", "replace")
    headers = {"X-aws-ec2-metadata-token": token}
    roles_url = base + "/latest/meta-data/iam/security-credentials/"
    roles = _request("GET", roles_url, headers).decode("utf-8", "replace").split()
    if not roles:
        raise _Unavailable("the instance has no IAM role")
    return _temporary(_request("GET", roles_url + roles[0], headers), "instance metadata")
