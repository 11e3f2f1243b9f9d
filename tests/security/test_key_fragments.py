"""No 12 consecutive characters of a channel key leave burncloud, wherever an upstream's
error puts the key and wherever burncloud cuts the message.

An upstream that quotes the key it was sent answers every request with an error whose
message holds the key (or a 12..20-character piece of it, or its base64) at a position the
request names, around each place burncloud shortens error text: the route trace (300
characters), the old cut of upstream messages (500) and the public cut (600). It answers
whole (an HTTP 400) or mid-stream (an error event after a first content chunk), in OpenAI's
format to an ``openai`` channel (relayed as it comes) and in Anthropic's to an
``anthropic`` one (converted), through the OpenAI and the Anthropic doors. Every response,
log row (``GET /api/logs`` and the table, route trace included), ``route explain`` and
``channel test`` output is then searched for any 12-character window of the key's forms.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from aiohttp import web
from typer.testing import CliRunner

from burncloud.cli.app import app as cli_app
from burncloud.db import open_database
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import SECRET, RunningRouter, running_router, wait_for_reload
from tests.key_fragments import fragments_in
from tests.security.test_secrets import add_channels, canary

KINDS = ("openai", "anthropic")
TRACE_CUT, OLD_CUT, PUBLIC_CUT = 300, 500, 600
POSITIONS = [
    *range(TRACE_CUT - 40, TRACE_CUT, 3),
    *range(OLD_CUT - 20, OLD_CUT + 6),
    *range(PUBLIC_CUT - 40, PUBLIC_CUT, 3),
]
FRAGMENT_LENGTHS = range(12, 21)
_ORDER = re.compile(rb"mode=(\w+) pos=(\d+) len=(\d+) enc=(\w+)")


class KeyQuoter:
    """Fails every request quoting the key it was sent as the request's text asks:
    ``mode=whole|stream pos=N len=L enc=raw|b64|basic`` (``len`` > 0: only a piece of the
    key that long). A request without such text (a channel test) gets the key whole at 270.
    """

    def __init__(self) -> None:
        self.base_url = ""
        self.requests = 0
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        key = request.headers.get("x-api-key") or request.headers["authorization"][7:]
        found = _ORDER.search(await request.read())
        mode, pos, length, enc = found.groups() if found else (b"whole", b"270", b"0", b"raw")
        message = _message(key, int(pos), int(length), enc.decode())
        anthropic = request.path.endswith("/v1/messages")
        if mode == b"whole":
            error = {"type": "invalid_request_error", "message": message, "code": "bad_key"}
            return web.json_response({"type": "error", "error": error}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in _anthropic_events(message) if anthropic else _openai_events(message):
            await response.write(event)
        return response

    @asynccontextmanager
    async def running(self) -> AsyncIterator[KeyQuoter]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        try:
            yield self
        finally:
            await self._runner.cleanup()


def _message(key: str, pos: int, length: int, enc: str) -> str:
    quoted = key
    if length:
        start = length % 5  # pieces from the head (the canary prefix) and from inside
        quoted = key[start : start + length]
    elif enc == "b64":
        quoted = base64.b64encode(key.encode()).decode()
    elif enc == "basic":
        quoted = "Basic " + base64.b64encode(f"user:{key}".encode()).decode()
    return ("x" * pos + quoted + "y" * 800)[:800]


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def _openai_events(message: str) -> Iterator[bytes]:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    yield _sse({**chunk, "choices": [{"index": 0, "delta": {"content": "hi"}}]})
    yield _sse({"error": {"message": message, "type": "invalid_request_error", "code": None}})


def _anthropic_events(message: str) -> Iterator[bytes]:
    usage = {"input_tokens": 3, "output_tokens": 1}
    started = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m"}
    started |= {"content": [], "stop_reason": None, "usage": usage}
    yield _sse({"type": "message_start", "message": started}, "message_start")
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}
    yield _sse({**block, "content_block": {"type": "text", "text": ""}}, "content_block_start")
    delta = {"type": "content_block_delta", "index": 0}
    yield _sse({**delta, "delta": {"type": "text_delta", "text": "hi"}}, "content_block_delta")
    error = {"type": "invalid_request_error", "message": message}
    yield _sse({"type": "error", "error": error}, "error")


def _orders() -> list[str]:
    """Every request's text: each position, whole and mid-stream, then pieces, encodings."""
    orders = [f"mode={m} pos={p} len=0 enc=raw" for p in POSITIONS for m in ("whole", "stream")]
    for mode in ("whole", "stream"):
        orders += [f"mode={mode} pos=40 len={n} enc=raw" for n in FRAGMENT_LENGTHS]
        orders += [
            f"mode={mode} pos={p} len=0 enc={e}" for p in (40, 490) for e in ("b64", "basic")
        ]
    return orders


async def _ask(http: httpx.AsyncClient, door: str, model: str, order: str) -> httpx.Response:
    stream = "mode=stream" in order
    body = {"model": model, "messages": [{"role": "user", "content": order}], "stream": stream}
    if door == "anthropic":
        return await http.post("/v1/messages", json={**body, "max_tokens": 8})
    return await http.post("/v1/chat/completions", json=body)


async def _drive(router: RunningRouter) -> list[httpx.Response]:
    """Every order to both channels through the OpenAI door, some through Anthropic's; the
    last one carries a request id for ``route explain``."""
    root = router.base_url.removesuffix("/v1")
    auth = {"Authorization": f"Bearer {router.key}"}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=root, headers=auth, timeout=20) as http:

        async def one(door: str, model: str, order: str) -> httpx.Response:
            async with gate:
                return await _ask(http, door, model, order)

        jobs = [one("openai", kind, order) for kind in KINDS for order in _orders()]
        jobs += [one("anthropic", kind, order) for kind in KINDS for order in _orders()[::7]]
        replies = list(await asyncio.gather(*jobs))
        order = f"mode=whole pos={TRACE_CUT - 20} len=0 enc=raw"
        body = {"model": "openai", "messages": [{"role": "user", "content": order}]}
        headers = {"x-request-id": "explain-me"}
        replies.append(await http.post("/v1/chat/completions", json=body, headers=headers))
    return replies


async def _logged(router: RunningRouter) -> tuple[list[str], httpx.Response]:
    """Every log row's error and route trace, once all are written; ``GET /api/logs``."""
    db = await open_database(router.db_url)
    try:
        for _ in range(200):
            rows = await db.fetch_all("SELECT error, route FROM logs WHERE status <> 200")
            if len(rows) >= 4 * len(POSITIONS):
                break
            await asyncio.sleep(0.05)
    finally:
        await db.close()
    root = router.base_url.removesuffix("/v1")
    auth = {"Authorization": f"Bearer {router.admin_key}"}
    async with httpx.AsyncClient(base_url=root, headers=auth, timeout=20) as http:
        api = await http.get("/api/logs", params={"limit": 1000})
    return [f"{row['error']}\n{row['route']}" for row in rows], api


def _cli(db_url: str, channel_ids: list[int]) -> list[str]:
    runner = CliRunner()
    env = {"DATABASE_URL": db_url, "BURNCLOUD_SECRET": SECRET}
    commands = [["channel", "test", str(i), "--json"] for i in channel_ids]
    commands.append(["route", "explain", "explain-me", "--json"])
    return [(r := runner.invoke(cli_app, c, env=env)).stdout + r.stderr for c in commands]


def _seen(response: httpx.Response) -> tuple[str, str]:
    """Where a reply came from (door, channel, the request's text) and all a client saw."""
    asked = orjson.loads(response.request.content)
    where = f"{response.request.url.path} {asked['model']} {asked['messages'][0]['content']}"
    return where, f"{response.status_code}\n{response.headers}\n{response.text}"


async def test_no_twelve_characters_of_a_key_leave_in_errors_whole_or_mid_stream(tmp_path) -> None:
    async with (
        KeyQuoter().running() as quoter,
        FakeOpenAI(canary("unused")) as unused,
        running_router(tmp_path, unused, allow_free_models=True, failover_attempts=1) as router,
    ):
        routes = {kind: (kind, quoter.base_url, None) for kind in KINDS}
        keys = await add_channels(router.db_url, routes)  # channels 2 (openai), 3 (anthropic)
        await wait_for_reload(router)
        replies = await _drive(router)
        logged, api = await _logged(router)
        outputs = await asyncio.to_thread(_cli, router.db_url, [2, 3])
    assert quoter.requests >= len(replies)  # each one reached the upstream
    failed = [r for r in replies if r.status_code != 200]
    assert len(failed) > len(POSITIONS) and api.status_code == 200
    streamed = [r for r in replies if r.status_code == 200]
    assert all('"error"' in r.text for r in streamed) and len(streamed) > len(POSITIONS)
    assert '"ok": false' in outputs[0] and '"attempts"' in outputs[-1]
    texts = [*map(_seen, replies), *(("log row", row) for row in logged)]
    texts += [("GET /api/logs", api.text), *(("cli", output) for output in outputs)]
    leaks = [
        (where, found[0])
        for key in keys
        for where, text in texts
        if (found := fragments_in(text, key))
    ]
    assert leaks == []
