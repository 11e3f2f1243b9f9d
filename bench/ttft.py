"""Time to first token through the router, against the same upstream called directly.

    python bench/ttft.py [--requests 300] [--rounds 3] [--workers 1] [--server hypercorn]

nginx sends a whole recorded stream in one write, so it cannot show when the first chunk
arrives. This puts the router in front of ``slow_upstream.py`` (the first chunk at once,
the next 50 ms later) and times, one request at a time (c=1), from sending the request to
reading the first ``data:`` event: directly and through the router, alternating A B in
``--rounds``. It reports p50 and p99 of each and what the router adds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from gateway import STREAM_MODEL, seed, start_router
from processes import Supervisor
from rounds import free_port, say
from upstream import STREAM_PATH, Upstream

BENCH = Path(__file__).resolve().parent
BODY = (
    b'{"model":"' + STREAM_MODEL.encode() + b'","stream":true,'
    b'"messages":[{"role":"user","content":"hi"}],"max_tokens":20}'
)


async def first_event_times(url: str, key: str, count: int) -> list[float]:
    """Seconds from sending each request to reading its first event (one at a time)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            started = time.perf_counter()
            async with session.post(url, data=BODY, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
                await response.content.readuntil(b"\n\n")
                times.append(time.perf_counter() - started)
                await response.read()
    return times


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server", default="hypercorn")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="burncloud-ttft-") as tmp, Supervisor() as sup:
        workdir = Path(tmp)
        port = free_port()
        slow = sup.spawn(
            [
                *(sys.executable, str(BENCH / "slow_upstream.py"), "--port", str(port)),
                *("--chunks", "2", "--every", "0.05"),
            ],
            log=workdir / "slow.log",
        )
        upstream = Upstream(port, slow.pid)
        time.sleep(1.0)
        deployment = seed(workdir / "router", upstream, "-1")
        router, _ = start_router(sup, deployment, free_port(), args.workers, args.server)
        direct_url = upstream.base + STREAM_PATH
        routed_url = router.base + "/v1/chat/completions"
        asyncio.run(first_event_times(routed_url, deployment.key, 50))  # warm up both
        asyncio.run(first_event_times(direct_url, deployment.key, 50))
        direct: list[float] = []
        routed: list[float] = []
        for _ in range(args.rounds):
            direct += asyncio.run(first_event_times(direct_url, deployment.key, args.requests))
            routed += asyncio.run(first_event_times(routed_url, deployment.key, args.requests))
        for name, values in (("direct", direct), ("router", routed)):
            say(f"{name}: TTFT p50 {_ms(values, 0.5):.2f} ms, p99 {_ms(values, 0.99):.2f} ms")
        say(
            f"added by the router ({args.server}, {args.workers} worker): "
            f"p50 +{_ms(routed, 0.5) - _ms(direct, 0.5):.2f} ms, "
            f"p99 +{_ms(routed, 0.99) - _ms(direct, 0.99):.2f} ms; "
            f"median of means {statistics.mean(routed) * 1000:.2f} vs "
            f"{statistics.mean(direct) * 1000:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
