"""``GET /openapi.json``: a valid OpenAPI 3.1 document with every route of the server.

Validated by a real OpenAPI validator (``openapi-spec-validator``, a test-only dependency of the
dev extra), fetched from a running server without a key.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import unquote

import pytest

from pyqueue_client._rest import ENDPOINTS
from pyqueue_client.server import _openapi as openapi
from pyqueue_client.server import _params
from pyqueue_client.server._params import parse_query
from pyqueue_client.server._routes import ANY_KEY, PUBLIC, ROUTES, ROUTES_BY_NAME, match

from ._server_support import ADMIN_KEY, PlainClient, config, running


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
    # A dev-extra tool: the matrix venvs, which hold pytest only, skip this check.
    validator = pytest.importorskip("openapi_spec_validator")
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


def test_the_receive_options_are_the_routes(spec: Dict[str, Any]) -> None:
    receive = spec["paths"]["/api/v1/queues/{queue}/messages/receive"]["post"]
    documented = {p["name"] for p in receive["parameters"] if p["in"] == "query"}
    assert documented == ROUTES_BY_NAME["receive"].query
    assert receive["requestBody"]["required"] is False


def test_the_tables_name_only_real_endpoints() -> None:
    assert set(openapi.QUERY_PARAMETERS) <= set(ENDPOINTS)
    assert set(openapi.BODIES) <= set(ENDPOINTS)


# -- the REST reference: one curl example per route, run as written ------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rest.md"


def _curl(line: str) -> Tuple[str, str, Optional[str]]:
    """Method, path with query, and body of one ``curl`` line of the reference."""
    words = shlex.split(line.split(" # ", maxsplit=1)[0])
    method, body = "GET", None
    for flag, value in zip(words, words[1:]):
        if flag == "-X":
            method = value
        elif flag == "-d":
            body = value
    if body is not None and method == "GET":
        method = "POST"
    return method, words[-1].replace("$URL", ""), body


class _Recording(Dict[str, str]):
    """A request's query that remembers which parameters its handler looked for."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: Set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def test_the_rest_reference_shows_every_route_and_its_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [line for line in DOCS.read_text("utf-8").splitlines() if line.startswith("curl ")]
    shown = set()
    handle = ""
    queries: List[_Recording] = []

    def recorded(raw: str) -> Dict[str, str]:
        queries.append(_Recording(parse_query(raw)))
        return queries[-1]

    # Every query parameter a handler looks for must be in the document.
    monkeypatch.setattr(_params, "parse_query", recorded)
    read: Dict[str, Set[str]] = {}
    with running(config(tmp_path)) as server, PlainClient(server.url, key=ADMIN_KEY) as client:
        for line in lines:
            method, target, body = _curl(line.replace("$HANDLE", handle))
            raw = None if body is None else json.loads(body)
            reply = client.call(method, target, raw)
            assert reply.status == 200, (line, reply.json)
            for message in (reply.json or {}).get("messages", []) if "receive" in target else []:
                handle = message["ReceiptHandle"]
            path = target.partition("?")[0]
            segments = [unquote(part) for part in path.split("/")[1:] if path != "/"]
            route, _ = match(method, segments)
            shown.add((route.method, route.pattern))
            name = next(n for n, r in ROUTES_BY_NAME.items() if r == route)
            read.setdefault(name, set()).update(queries[-1].read)
    assert handle
    assert shown == {(route.method, route.pattern) for route in ROUTES}
    for name, names in read.items():
        documented = {parameter[0] for parameter in openapi.QUERY_PARAMETERS.get(name, ())}
        assert names <= documented, name
