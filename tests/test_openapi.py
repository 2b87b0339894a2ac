"""``GET /openapi.json``: a valid OpenAPI 3.1 document with every route of the server.

Validated by a real OpenAPI validator (``openapi-spec-validator``, a test-only dependency of the
dev extra), fetched from a running server without a key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from pyqueue_client._rest import ENDPOINTS
from pyqueue_client.server import _openapi as openapi
from pyqueue_client.server._handlers import _RECEIVE_OPTIONS
from pyqueue_client.server._routes import ANY_KEY, PUBLIC, ROUTES, ROUTES_BY_NAME

from ._server_support import PlainClient, config, running

validator = pytest.importorskip("openapi_spec_validator")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """The document as a running server answers it, to a caller without a key."""
    folder: Path = tmp_path_factory.mktemp("openapi")
    with running(config(folder)) as server, PlainClient(server.url, key=None) as anonymous:
        reply = anonymous.call("GET", "/openapi.json")
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("application/json")
        yield reply.json


def test_the_document_is_valid_openapi_3_1(spec: Dict[str, Any]) -> None:
    validator.validate(spec)
    assert spec["openapi"].startswith("3.1.")
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }


def test_every_route_is_in_it_with_who_may_call_it(spec: Dict[str, Any]) -> None:
    assert len(ROUTES) == len(ENDPOINTS)
    operations = 0
    for name, route in ROUTES_BY_NAME.items():
        operation = spec["paths"]["/" + "/".join(route.pattern)][route.method.lower()]
        operations += 1
        assert operation["operationId"] == name
        assert operation["summary"]
        assert "``" not in operation["summary"]
        if route.access == PUBLIC:
            assert operation["security"] == []
        elif route.access == ANY_KEY:
            assert "x-permission" not in operation
        else:
            assert operation["x-permission"] == route.access
        named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert named == {s[1:-1] for s in route.pattern if s.startswith("{")}
    assert operations == sum(len(methods) for methods in spec["paths"].values())
    assert spec["paths"]["/openapi.json"]["get"]["security"] == []


def test_the_receive_options_are_the_handlers(spec: Dict[str, Any]) -> None:
    receive = spec["paths"]["/api/v1/queues/{queue}/messages/receive"]["post"]
    documented = {p["name"] for p in receive["parameters"] if p["in"] == "query"}
    assert documented == set(_RECEIVE_OPTIONS)
    assert receive["requestBody"]["required"] is False


def test_the_tables_name_only_real_endpoints() -> None:
    assert set(openapi.QUERY_PARAMETERS) <= set(ENDPOINTS)
    assert set(openapi.BODIES) <= set(ENDPOINTS)
