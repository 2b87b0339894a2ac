"""``GET /openapi.json``: an OpenAPI 3.1 document of every route, made from the route table.

Paths, methods, path parameters, who may call (public, any key, or a queue permission) and each
operation's summary come from the routes themselves (``_routes``, built from ``_rest.ENDPOINTS``,
and their handlers' docstrings), so a route cannot be missing from the document. What a handler
reads beyond its path (query parameters, a JSON body) is listed here per endpoint, and nowhere
else: the route table takes it from here, and the server refuses (422) any other query parameter
and a body sent to a route that reads none, so what the document says is what the server checks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from .. import __version__
from .._rest import API_KEY_HEADER, PAGE_SIZE, RECEIVE_ATTEMPT_PARAM
from ._params import UNREAD_QUERY_PARAM

if TYPE_CHECKING:
    from ._routes import Route

__all__ = ["BODIES", "QUERY_PARAMETERS", "document"]

_JsonObject = Dict[str, Any]
_OPENAPI_VERSION = "3.1.0"
_SCHEME = "ApiKey"

_INTEGER = {"type": "integer"}
_NUMBER = {"type": "number", "minimum": 0}
_BOOLEAN = {"type": "boolean"}
_TEXT = {"type": "string"}
_OBJECT = {"type": "object"}
_TEXTS = {"type": "array", "items": _TEXT}

#: The query parameters each endpoint reads, by endpoint name: (name, schema, description).
QUERY_PARAMETERS: Mapping[str, Tuple[Tuple[str, Mapping[str, Any], str], ...]] = {
    "list_queues": (
        ("limit", {**_INTEGER, "minimum": 1}, "a page of at most this many queues"),
        ("next", _TEXT, "the page after this queue (the previous page's next)"),
    ),
    "peek": (
        ("limit", {**_INTEGER, "minimum": 1, "maximum": PAGE_SIZE}, "messages in the page (10)"),
        ("offset", {**_INTEGER, "minimum": 0}, "position of the first message (0)"),
        ("max_messages", _INTEGER, "the original client's name for limit"),
    ),
    "receive": (
        ("max_messages", {**_INTEGER, "minimum": 1, "maximum": PAGE_SIZE}, "at most (10)"),
        ("visibility_timeout", _NUMBER, "seconds hidden (the queue's attribute)"),
        ("wait_time_seconds", _NUMBER, "long poll: seconds to wait for a message"),
        ("delete_after_receive", _BOOLEAN, "delete what is delivered (at-most-once)"),
        ("only_new", _BOOLEAN, "only messages never received"),
        ("consumer_id", _TEXT, "accepted for compatibility, not used"),
        (RECEIVE_ATTEMPT_PARAM, _TEXT, "a repeat with this id answers as the first did"),
    ),
    "redrive": (("max_messages", {**_INTEGER, "minimum": 0}, "at most (all)"),),
}

_MESSAGE: _JsonObject = {
    "type": "object",
    "properties": {"id": _TEXT, "message_body": {"type": ["object", "string"]}},
    "required": ["message_body"],
}
_HANDLES: _JsonObject = {
    "type": "object",
    "properties": {"receipt_handles": _TEXTS},
    "required": ["receipt_handles"],
}

#: The JSON body each endpoint reads, by endpoint name: (schema, required).
BODIES: Mapping[str, Tuple[Mapping[str, Any], bool]] = {
    "add": (
        {**_MESSAGE, "properties": {**_MESSAGE["properties"], "delay_seconds": _NUMBER}},
        True,
    ),
    "add_batch": (
        {
            "type": "object",
            "properties": {
                "messages": {"type": "array", "items": _MESSAGE},
                "delay_seconds": _NUMBER,
            },
            "required": ["messages"],
        },
        True,
    ),
    "receive": (
        {"type": "object", "description": "the query parameters, as JSON values"},
        False,
    ),
    "check_existence": (
        {
            "type": "object",
            "properties": {"message_ids": _TEXTS},
            "required": ["message_ids"],
        },
        True,
    ),
    "update": (_MESSAGE, True),
    "delete_batch": (_HANDLES, True),
    "change_visibility": (
        {
            **_HANDLES,
            "properties": {**_HANDLES["properties"], "visibility_timeout": _NUMBER},
            "required": ["receipt_handles", "visibility_timeout"],
        },
        True,
    ),
    "set_attributes": (_OBJECT, True),
    "put_attributes": (_OBJECT, True),
}

_ERROR = {
    "description": "an error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": _TEXT},
                "required": ["detail"],
            }
        }
    },
}
_SUMMARY_PREFIX = re.compile(r"^``[A-Z]+``(?: \(or ``[A-Z]+``\))? ``[^`]*``: |^``[A-Z]+ [^`]*``: ")


def document(routes: Mapping[str, Route], public: str, any_key: str) -> _JsonObject:
    """The OpenAPI document of ``routes`` (by endpoint name); ``public`` and ``any_key`` are the
    route table's names for routes anyone or any valid key may call."""
    paths: Dict[str, Dict[str, Any]] = {}
    for name, route in routes.items():
        template = "/" + "/".join(route.pattern)
        operation = _operation(name, route, public, any_key)
        paths.setdefault(template, {})[route.method.lower()] = operation
    return {
        "openapi": _OPENAPI_VERSION,
        "info": {
            "title": "PyQueue server",
            "version": __version__,
            "description": (
                "Message queues with Amazon-SQS semantics over HTTP (pyqueue serve). A query "
                "parameter a route does not list, or a body sent to a route without one, is "
                f"refused with 422. The key travels in the {API_KEY_HEADER} header only: an "
                f"`{UNREAD_QUERY_PARAM}` query parameter is never read (alone, it gets 401) and "
                "is let through on every route, as the existing PyQueue server lets it through."
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {_SCHEME: {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}}
        },
        "security": [{_SCHEME: []}],
    }


def _operation(name: str, route: Route, public: str, any_key: str) -> _JsonObject:
    summary, description = _texts(route)
    operation: _JsonObject = {"operationId": name, "summary": summary}
    if description:
        operation["description"] = description
    parameters = _path_parameters(route) + _query_parameters(name)
    if parameters:
        operation["parameters"] = parameters
    if name in BODIES:
        schema, required = BODIES[name]
        operation["requestBody"] = {
            "required": required,
            "content": {"application/json": {"schema": dict(schema)}},
        }
    operation["responses"] = _responses(route, public)
    if route.access == public:
        operation["security"] = []
    elif route.access != any_key:
        operation["x-permission"] = route.access
    return operation


def _texts(route: Route) -> Tuple[str, Optional[str]]:
    """The handler's docstring as a summary (its first sentence, without the route) and the
    rest of it."""
    doc = " ".join((route.handler.__doc__ or "").split())
    # reStructuredText literals become CommonMark code spans, as OpenAPI texts are.
    doc = _SUMMARY_PREFIX.sub("", doc).replace("``", "`")
    summary, _, rest = doc.partition(". ")
    return summary.rstrip("."), rest or None


def _path_parameters(route: Route) -> List[_JsonObject]:
    return [
        {"name": segment[1:-1], "in": "path", "required": True, "schema": dict(_TEXT)}
        for segment in route.pattern
        if segment.startswith("{")
    ]


def _query_parameters(name: str) -> List[_JsonObject]:
    return [
        {"name": key, "in": "query", "required": False, "schema": dict(schema), "description": text}
        for key, schema, text in QUERY_PARAMETERS.get(name, ())
    ]


def _responses(route: Route, public: str) -> _JsonObject:
    answers: _JsonObject = {
        "200": {
            "description": "success",
            "content": {"application/json": {"schema": dict(_OBJECT)}},
        }
    }
    if route.access != public:
        answers["401"] = {**_ERROR, "description": "a missing or unknown API key"}
        answers["403"] = {**_ERROR, "description": "the key lacks the permission"}
    if any(segment in ("{id}", "{handle}") for segment in route.pattern):
        answers["404"] = {**_ERROR, "description": "no such message"}
    answers["422"] = {**_ERROR, "description": "an invalid parameter or body"}
    return answers
