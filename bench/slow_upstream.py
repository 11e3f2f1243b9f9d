"""A fake OpenAI upstream that keeps streams open: one SSE chunk every ``--every`` seconds.

    python bench/slow_upstream.py --port P [--chunks 20] [--every 1.0]

Serves ``POST /v1/chat/completions`` and ``POST /stream/v1/chat/completions``, always as a
stream of ``--chunks`` content chunks, the usage chunk and ``[DONE]`` (what
``bench/open_streams.py`` needs to hold a thousand streams open through the router).
One asyncio process: thousands of open streams cost it little.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import web

CHUNK = {
    "id": "chatcmpl-slow",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "bench-stream",
    "choices": [{"index": 0, "delta": {"content": "tick "}, "finish_reason": None}],
}
USAGE = {
    "id": "chatcmpl-slow",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "bench-stream",
    "choices": [],
    "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
}


def _event(payload: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def stream(request: web.Request) -> web.StreamResponse:
    await request.read()
    chunks, every = request.app["chunks"], request.app["every"]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for index in range(chunks):
        if index:
            await asyncio.sleep(every)
        await response.write(_event(CHUNK))
    await response.write(_event(USAGE) + b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--every", type=float, default=1.0)
    args = parser.parse_args()
    app = web.Application()
    app["chunks"], app["every"] = args.chunks, args.every
    app.router.add_post("/v1/chat/completions", stream)
    app.router.add_post("/stream/v1/chat/completions", stream)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, backlog=4096)


if __name__ == "__main__":
    main()
