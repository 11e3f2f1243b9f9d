"""Requests only a raw socket sends: bodies over the limit (answered 413 before they are
read whole) and malformed Host headers (answered 400, never a 500)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from burncloud.gateway import asgi
from burncloud.gateway.asgi import host_guard
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import logged_rows, running_router
from tests.security.raw_http import BodyCounter, exchange, port_of, read_response
from tests.security.test_bad_input import CODES, DOORS, error_code

LIMIT = 4096
DISCARD_BUDGET = 1024 * 1024  # what asgi.discard_body drains at most before answering
OFFERED = 64 * 1024 * 1024  # what the chunked client would send if it were let


@pytest.fixture
async def upstream():
    async with FakeOpenAI("sk-canary-upstream-key") as fake:
        yield fake


def _head(path: str, key: str, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {key}"]
    lines += ["Content-Type: application/json", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _check_413(status: int, body: bytes, shape: str) -> None:
    assert status == 413, body
    assert error_code(413, body, shape) == CODES[shape][413]


async def _chunked_upload(port: int, head: bytes) -> tuple[int, bytes, int]:
    """Send ``head`` and then chunks without end; the status and body answered, and how
    much of OFFERED was written before the answer came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    written = 0

    async def upload() -> None:
        nonlocal written
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
        writer.write(head)
        with contextlib.suppress(ConnectionError):
            while written < OFFERED:
                writer.write(chunk)
                await writer.drain()  # blocks once the router stops reading
                written += 65536

    sender = asyncio.create_task(upload())
    try:
        response = await read_response(reader)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return response.status, response.body, written


@pytest.mark.parametrize("name", DOORS)
async def test_an_oversized_body_is_413_before_it_is_read(tmp_path, upstream, name: str) -> None:
    door = DOORS[name]
    counter = BodyCounter()
    async with running_router(
        tmp_path, upstream, max_body_bytes=LIMIT, wrap=counter.wrap
    ) as router:
        port = port_of(router.base_url)
        # A declared length over the limit: answered at once, not one body byte read.
        head = _head(door.path, router.key, f"Content-Length: {OFFERED}")
        declared = await exchange(port, head)
        _check_413(declared.status, declared.body, door.shape)
        assert counter.received == 0
        # A chunked body that would never end: answered once it passes the limit, having
        # read at most the limit plus the drain budget.
        head = _head(door.path, router.key, "Transfer-Encoding: chunked")
        status, body, written = await _chunked_upload(port, head)
        _check_413(status, body, door.shape)
        assert counter.received <= LIMIT + DISCARD_BUDGET + 65536
        assert written < OFFERED
    assert upstream.request_count == 0
    rows = await logged_rows(router.db_url)
    assert all((row["status"], row["cost"], row["model"]) == (413, 0, "") for row in rows)


HOSTS = {
    b"..": 400,  # an empty IDNA label: werkzeug's routing raises BadHost
    b"a" * 64 + b".example": 400,  # a label over 63 characters
    b"a b": 200,  # odd, but routable: served as usual
    b"[::1": 200,
    b"evil.example:99999": 200,
}


@pytest.mark.parametrize("path", ["/healthz", "/v1/models", "/api/tokens", "/openapi.json"])
async def test_a_malformed_host_header_is_400_not_500(tmp_path, upstream, path: str) -> None:
    async with running_router(tmp_path, upstream, wrap=host_guard) as router:
        port = port_of(router.base_url)
        key = router.admin_key if path.startswith("/api/") else router.key
        for host, status in HOSTS.items():
            request = (
                f"GET {path} HTTP/1.1\r\nAuthorization: Bearer {key}\r\n".encode()
                + b"Host: "
                + host
                + b"\r\nConnection: close\r\n\r\n"
            )
            response = await exchange(port, request)
            assert response.status == status, (host, response)
            if status == 400:
                error = response.json()["error"]
                assert (error["code"], error["message"]) == (
                    "invalid_request",
                    "malformed Host header",
                )
        # Refused by the HTTP parser itself, before any app code runs: still no 5xx.
        for head in (b"GET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n"):
            assert (await exchange(port, head.replace(b"/", path.encode(), 1))).status == 400


async def test_the_relay_ignores_the_host_header(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:  # the guard is the control app's
        body = DOORS["chat"].json()
        request = _head(
            "/v1/chat/completions", router.key, "Host: ..", f"Content-Length: {len(body)}"
        ).replace(b"Host: 127.0.0.1\r\n", b"")
        response = await exchange(port_of(router.base_url), request + body)
    assert response.status == 200
    assert upstream.request_count == 1


async def test_a_body_that_trickles_in_is_refused_408_not_waited_for(
    tmp_path, upstream, monkeypatch
) -> None:
    """A slowloris client (it declares a body and sends part of it) holds nothing for long."""
    monkeypatch.setattr(asgi, "BODY_SECONDS", 0.3)
    async with running_router(tmp_path, upstream) as router:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(router.base_url))
        try:
            writer.write(_head("/v1/chat/completions", router.key, "Content-Length: 100"))
            writer.write(b'{"model": "gpt-4",')  # and then nothing more
            await writer.drain()
            async with asyncio.timeout(5):
                response = await read_response(reader)
        finally:
            writer.close()
    assert response.status == 408
    assert response.json()["error"]["code"] == "request_timeout"
    assert upstream.request_count == 0
    rows = await logged_rows(router.db_url)
    assert [row["status"] for row in rows] == [408]
