"""The OpenAPI document: valid 3.1, served publicly, and naming exactly the routes the app
serves (read from the app itself, so a new route without a schema fails here)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import schemathesis

from burncloud.config import Settings
from burncloud.gateway.doors.gemini import PREFIXES as GEMINI_PREFIXES
from burncloud.gateway.doors.openapi import openapi_document
from burncloud.server import RELAY_ROUTES, STORED_RESPONSE_ROUTES, BurncloudApp, create_app

# Quart's default static route (burncloud has no static folder: always 404) and the admin
# catch-all that answers unknown /api/ paths with a 404, for admins only.
NOT_ROUTES = {"static", "admin.unknown"}
GEMINI_CALLS = ("generateContent", "streamGenerateContent")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[BurncloudApp]:
    yield create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db", secret="s"))


def served(app: BurncloudApp) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app answers."""
    routes = {*RELAY_ROUTES, *app._front_doors, *STORED_RESPONSE_ROUTES}
    routes |= {
        ("POST", f"{prefix}{{model}}:{call}") for prefix in GEMINI_PREFIXES for call in GEMINI_CALLS
    }
    for rule in app.control.url_map.iter_rules():
        if rule.endpoint in NOT_ROUTES:
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)  # <int:id> -> {id}
        routes |= {(m, path) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    return routes


def documented() -> set[tuple[str, str]]:
    paths = openapi_document()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_every_served_route_is_documented_and_nothing_else(app: BurncloudApp) -> None:
    routes = served(app)
    assert routes - documented() == set(), (
        "served but missing from burncloud/gateway/doors/openapi.py"
    )
    assert documented() - routes == set(), "documented but not served"
    assert len(routes) > 45  # the app really was read


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI meta-schema
    refs = re.findall(r'"#/components/schemas/([^"]+)"', orjson.dumps(document).decode())
    assert set(refs) <= set(document["components"]["schemas"])


def test_each_operation_names_the_key_it_needs() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            schemes = {name for option in operation["security"] for name in option}
            if path.startswith("/api/"):
                assert schemes == {"adminKey"}, (method, path)
            elif path in ("/healthz", "/openapi.json"):
                assert schemes == set(), (method, path)
            elif path == "/metrics":
                assert {} in operation["security"] and schemes == {"metricsToken"}
            else:
                assert "apiKey" in schemes, (method, path)
            assert {"4XX", "5XX"} <= set(operation["responses"]), (method, path)


async def test_the_document_is_served_without_a_key(app: BurncloudApp) -> None:
    response = await app.control.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert orjson.loads(await response.get_data()) == openapi_document()
