"""No redirect before authentication: werkzeug would answer a doubled slash or a missing
trailing one with a 308 to the Host the client sent (an open redirect, and an answer given
before any key was checked). Every such path is served as written or is a 404 in the error
shape."""

from __future__ import annotations

import pytest

from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import running_router
from tests.security.raw_http import exchange, port_of

EVIL_HOST = "evil.example"
DOUBLED = ["/api//tokens", "//healthz", "//api/tokens", "/api/tokens//1", "//v1/models"]


@pytest.fixture
async def upstream():
    async with FakeOpenAI("sk-canary-upstream-key") as fake:
        yield fake


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {EVIL_HOST}\r\nConnection: close\r\n\r\n".encode()


async def test_doubled_slashes_are_404_in_the_error_shape_never_a_redirect(
    tmp_path, upstream
) -> None:
    async with running_router(tmp_path, upstream) as router:
        port = port_of(router.base_url)
        for path in DOUBLED:
            response = await exchange(port, _get(path))
            assert response.status == 404, (path, response)
            assert b"location" not in response.headers, (path, response.headers)
            assert EVIL_HOST.encode() not in response.body
            assert set(response.json()["error"]) == {"message", "type", "code"}, path


async def test_a_trailing_slash_is_served_as_the_path_without_it(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        port = port_of(router.base_url)
        health = await exchange(port, _get("/healthz/"))
        assert health.status == 200 and health.json()["status"] == "ok"
        tokens = await exchange(port, _get("/api/tokens/"))  # authentication, not a redirect
        assert tokens.status == 401 and b"location" not in tokens.headers, tokens
