"""A request's parameters, sans-IO: path values, query strings and JSON bodies, and HTTP errors.

Each parser returns a checked value or raises :class:`HttpError` with the status and a ``detail``
that names the field, so a handler reads like its endpoint's contract.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from typing import Any, Collection, Dict, Mapping, NamedTuple, NoReturn, Optional
from urllib.parse import unquote_to_bytes

from .._rest import QUEUE_NAME_RULE, is_queue_name

__all__ = [
    "UNREAD_QUERY_PARAM",
    "HttpError",
    "JsonObject",
    "Request",
    "Response",
    "bool_param",
    "echo",
    "error_response",
    "int_param",
    "json_body",
    "json_type",
    "optional_int_param",
    "optional_number_param",
    "options",
    "parse_query",
    "path_value",
    "queue_name",
    "route_query",
    "text_param",
]

#: A JSON object as ``json.loads`` gives it.
JsonObject = Dict[str, Any]

#: A query string with more parameters than this is refused (no endpoint takes more than seven).
MAX_QUERY_FIELDS = 32
#: The one query parameter no route reads and every route lets through. The key travels in the
#: ``X-API-Key`` header only: a key in the query string alone gets 401 (never authenticates),
#: and beside a valid header it changes nothing, as on the existing server, so a client that
#: sends both keeps working.
UNREAD_QUERY_PARAM = "api_key"

_INTEGER = re.compile(r"-?[0-9]{1,15}")
_NUMBER = re.compile(r"-?([0-9]{1,15}(\.[0-9]{0,9})?|\.[0-9]{1,9})")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_JSON_MEDIA_TYPE = "application/json"
# Shown in details instead of very long or binary input.
_ECHO_LIMIT = 60


class HttpError(Exception):
    """An HTTP error answer: ``status``, a ``detail`` for the JSON body, and extra ``headers``."""

    def __init__(
        self, status: int, detail: str, headers: Optional[Mapping[str, str]] = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers: Dict[str, str] = dict(headers or {})


class Request(NamedTuple):
    """A request as the HTTP layer read it: the body is complete and within the size limit."""

    method: str
    #: The request target as sent (path and query), decoded as Latin-1 like the whole head.
    target: str
    headers: Message
    body: bytes


class Response(NamedTuple):
    """An answer: status, a JSON object (None for no body) and extra headers; or, for the
    dashboard's files and ``/metrics``, ``raw`` bytes whose ``Content-Type`` is in ``headers``."""

    status: int
    body: Optional[JsonObject]
    headers: Dict[str, str]
    raw: Optional[bytes] = None


def error_response(error: HttpError) -> Response:
    """The answer for an ``HttpError``: ``{"detail": ...}`` with its headers."""
    return Response(error.status, {"detail": error.detail}, dict(error.headers))


def _invalid(detail: str) -> NoReturn:
    raise HttpError(422, detail)


def echo(value: str) -> str:
    """``value`` quoted for an error detail, shortened when long."""
    if len(value) > _ECHO_LIMIT:
        value = value[:_ECHO_LIMIT] + "..."
    return repr(value)


# -- path values ---------------------------------------------------------------------------------


def path_value(segment: str) -> str:
    """One percent-encoded path segment as text (the request line arrives decoded as Latin-1)."""
    try:
        return unquote_to_bytes(segment.encode("latin-1")).decode("utf-8")
    except UnicodeError:
        raise HttpError(400, "the request path is not valid UTF-8 once percent-decoded") from None


def queue_name(value: str) -> str:
    """A queue name (``_rest.QUEUE_NAME_RULE``), or ``HttpError`` 422."""
    if not is_queue_name(value):
        _invalid(f"queue name must be {QUEUE_NAME_RULE}, not {echo(value)}")
    return value


# -- query strings -------------------------------------------------------------------------------


def parse_query(raw: str) -> Dict[str, str]:
    """``name=value&...`` as a dict (the last value wins); names and values must be UTF-8."""
    fields = [part for part in raw.split("&") if part]
    if len(fields) > MAX_QUERY_FIELDS:
        _invalid(f"query string has more than {MAX_QUERY_FIELDS} parameters")
    query: Dict[str, str] = {}
    for part in fields:
        name, _, value = part.partition("=")
        query[_query_text(name)] = _query_text(value)
    return query


def _query_text(text: str) -> str:
    try:
        return unquote_to_bytes(text.replace("+", " ").encode("latin-1")).decode("utf-8")
    except UnicodeError:
        raise HttpError(422, "query string is not valid UTF-8 once percent-decoded") from None


def route_query(
    raw: str, body: bytes, accepted: Collection[str], takes_body: bool
) -> Dict[str, str]:
    """A request's query string, checked against its route: the parameters it reads are
    ``accepted`` and it reads a body if ``takes_body``; 422 for anything else sent.

    :data:`UNREAD_QUERY_PARAM` is let through and left out.
    """
    query = parse_query(raw)
    query.pop(UNREAD_QUERY_PARAM, None)
    _refuse_unknown(query, accepted)
    if body and not takes_body:
        instead = f"; its parameters go in the query string: {', '.join(sorted(accepted))}"
        _invalid(f"this route takes no request body{instead if accepted else ''}")
    return query


def _refuse_unknown(given: Collection[str], accepted: Collection[str]) -> None:
    """422 naming each of ``given`` outside ``accepted`` and listing those ``accepted``."""
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        names = ", ".join(echo(name) for name in unknown)
        takes = ", ".join(sorted(accepted)) if accepted else "no query parameters"
        plural = "s" if len(unknown) > 1 else ""
        _invalid(f"unknown parameter{plural} {names}: this route takes {takes}")


def int_param(
    query: Mapping[str, str], name: str, default: int, low: int, high: Optional[int] = None
) -> int:
    """An integer query parameter within ``low..high`` (no upper bound when None)."""
    text = _numeral(query, name, _INTEGER, "an integer")
    if text is None:
        return default
    value = int(text)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        _invalid(f"{name} must be {bounds}, not {value}")
    return value


def optional_int_param(
    query: Mapping[str, str], name: str, low: int, high: Optional[int] = None
) -> Optional[int]:
    """As :func:`int_param`, None when absent."""
    return None if name not in query else int_param(query, name, low, low, high)


def optional_number_param(
    query: Mapping[str, str], name: str, low: float, high: float
) -> Optional[float]:
    """A decimal query parameter within ``low..high`` (never NaN or infinite); None when absent
    (the queue's attribute applies)."""
    text = _numeral(query, name, _NUMBER, "a number")
    if text is None:
        return None
    value = float(text)
    if not low <= value <= high:
        _invalid(f"{name} must be between {low:g} and {high:g}, not {text}")
    return value


def _numeral(
    query: Mapping[str, str], name: str, pattern: re.Pattern[str], kind: str
) -> Optional[str]:
    """A parameter's text, None when absent; present, it must be ``kind`` spelled by ``pattern``."""
    text = query.get(name)
    if text is not None and not pattern.fullmatch(text):
        _invalid(f"{name} must be {kind}, not {echo(text)}")
    return text


def bool_param(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean query parameter: true/false, 1/0, yes/no, on/off (any case)."""
    text = query.get(name)
    if text is None:
        return default
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    _invalid(f"{name} must be true or false, not {echo(text)}")


def text_param(query: Mapping[str, str], name: str, max_length: int) -> Optional[str]:
    """An optional text query parameter: 1 to ``max_length`` characters when given."""
    text = query.get(name)
    if text is not None and not 1 <= len(text) <= max_length:
        _invalid(f"{name} must be 1 to {max_length} characters long")
    return text


def options(
    query: Mapping[str, str],
    body: bytes,
    content_type: Optional[str],
    accepted: Collection[str],
) -> Dict[str, str]:
    """A route's options, from its query string and from a JSON object body, as query texts.

    Nothing is ignored silently: a name outside ``accepted`` is a 422, and so is a name given in
    both places with different values. In the body, booleans, numbers and strings are taken (a
    null is as if absent).
    """
    found = dict(query)
    if body:
        for name, value in json_body(body, content_type).items():
            if value is None:
                continue
            text = _option_text(name, value)
            if found.get(name, text) != text:
                _invalid(f"{name} is given twice, {echo(found[name])} and {echo(text)}")
            found[name] = text
    _refuse_unknown(found, accepted)
    return found


def _option_text(name: str, value: object) -> str:
    """A body option's value as the query string would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.9f}".rstrip("0").rstrip(".")
    if isinstance(value, str):
        return value
    _invalid(f"{name} must be a boolean, a number or a string, not {json_type(value)}")


# -- request bodies ------------------------------------------------------------------------------


def json_body(body: bytes, content_type: Optional[str]) -> JsonObject:
    """The request body as a JSON object; 415 for another media type, 422 for bad content."""
    if not body:
        _invalid("request body is missing: send a JSON object")
    _check_media_type(content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        _invalid("request body is not valid UTF-8")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        _invalid("request body is nested too deeply")
    except ValueError as exc:
        _invalid(f"request body is not valid JSON: {_json_problem(exc)}")
    if not isinstance(value, dict):
        _invalid(f"request body must be a JSON object, not {json_type(value)}")
    return value


def _check_media_type(content_type: Optional[str]) -> None:
    media_type, _, parameters = (content_type or "").partition(";")
    if media_type.strip().lower() != _JSON_MEDIA_TYPE:
        raise HttpError(
            415, f"Content-Type must be {_JSON_MEDIA_TYPE}, not {echo(content_type or '')}"
        )
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise HttpError(415, "request bodies must be encoded as UTF-8")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _json_problem(exc: ValueError) -> str:
    # JSONDecodeError says what and where without quoting the document.
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for error details ("an array", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
