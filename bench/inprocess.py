"""CPU per request of one worker's ASGI app alone: no server, no load generator.

    python bench/inprocess.py [--requests 3000] [--concurrency 1,16] [--rounds 3]
    python bench/inprocess.py --count-calls [--requests 500]

Run it with the interpreter burncloud is installed in. It starts nginx as the fake
upstream and seeds a fresh SQLite database as ``bench/run.py`` does, then calls the
router's ASGI app directly from this process (lifespan included) with chat and stream
requests, and prints the process CPU time per request (every thread: the event loop, the
SQLite thread, the log writer). Without an HTTP server and wrk sharing the cores, the
figure moves far less than ``run.py``'s on a busy machine: use it to compare two checkouts
of the code (run each in turn, a few times), ``run.py`` for the whole router.

On a machine too noisy for even that, ``--count-calls`` prints the Python function calls
(and calls into C) per request on the event loop's thread instead: a deterministic figure
to compare two checkouts with, ``PYTHONPATH=<other checkout>`` selecting the code measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway import _body, seed
from processes import Supervisor
from rounds import free_port
from upstream import start_nginx

Message = dict[str, Any]


class Lifespan:
    """Drives an ASGI app's lifespan protocol: startup on enter, shutdown on exit."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self._app(scope, self._inbox.get, self._outbox.put))
        await self._exchange("startup")

    async def __aexit__(self, *exc: object) -> None:
        await self._exchange("shutdown")
        assert self._task is not None
        await self._task

    async def _exchange(self, phase: str) -> None:
        await self._inbox.put({"type": f"lifespan.{phase}"})
        answer = await self._outbox.get()
        if answer["type"] != f"lifespan.{phase}.complete":
            raise RuntimeError(f"lifespan {phase} failed: {answer}")


async def call(app: Any, key: str, body: bytes) -> int:
    """One POST /v1/chat/completions through the app; its status (the body is drained)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", b"Bearer " + key.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    sent = False
    status = 0
    never = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(app: Any, key: str, body: bytes, requests: int, concurrency: int) -> float:
    """Process CPU seconds per request over ``requests`` calls, ``concurrency`` at a time."""
    for _ in range(50):  # warm up: connections, caches
        await call(app, key, body)
    gate = asyncio.Semaphore(concurrency)

    async def one() -> int:
        async with gate:
            return await call(app, key, body)

    started = time.process_time()
    statuses = await asyncio.gather(*(one() for _ in range(requests)))
    spent = time.process_time() - started
    if any(status != 200 for status in statuses):
        raise RuntimeError(f"non-200 answers: {sorted(set(statuses))}")
    return spent / requests


async def count_calls(app: Any, key: str, body: bytes, requests: int) -> tuple[float, float]:
    """Python calls and C calls per request, one request at a time, after a warm-up."""
    for _ in range(50):
        await call(app, key, body)
    counts = {"call": 0, "c_call": 0}

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        if event in counts:
            counts[event] += 1

    sys.setprofile(profile)
    try:
        for _ in range(requests):
            await call(app, key, body)
    finally:
        sys.setprofile(None)
    return counts["call"] / requests, counts["c_call"] / requests


async def run(deployment_env: dict[str, str], key: str, args: argparse.Namespace) -> None:
    os.environ.update(deployment_env)
    from burncloud.server import create_app

    app = create_app()
    bodies = {"chat": _body("chat.json"), "stream": _body("chat_stream.json")}
    results: dict[tuple[str, int], list[float]] = {}
    if args.count_calls:
        async with Lifespan(app):
            for name, body in bodies.items():
                python, native = await count_calls(app, key, body, args.requests)
                print(f"{name:6} {python:8.1f} Python calls, {native:8.1f} C calls per request")
        return
    async with Lifespan(app):
        for _ in range(args.rounds):
            for name, body in bodies.items():
                for concurrency in args.concurrency:
                    per_request = await measure(app, key, body, args.requests, concurrency)
                    results.setdefault((name, concurrency), []).append(per_request)
    for (name, concurrency), figures in results.items():
        median = statistics.median(figures) * 1e6
        runs = ", ".join(f"{f * 1e6:.0f}" for f in figures)
        print(f"{name:6} c={concurrency:<3} CPU {median:7.1f} us/request (runs: {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count-calls", action="store_true", help="count calls, not CPU")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="burncloud-inprocess-") as tmp, Supervisor() as sup:
        workdir = Path(tmp)
        upstream = start_nginx(sup, workdir / "nginx", free_port(), 1)
        deployment = seed(workdir, upstream, "1000000")
        env = {**deployment.env, "BURNCLOUD_LOG_LEVEL": "warning"}
        env.pop("BURNCLOUD_STATE_FILE")  # the supervisor creates it; one worker needs none
        asyncio.run(run(env, deployment.key, args))


if __name__ == "__main__":
    main()
