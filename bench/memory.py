"""The router's memory: with a thousand streams open, and over a long soak.

    python bench/memory.py streams [--streams 1000] [--workers 1] [--server hypercorn]
    python bench/memory.py soak [--seconds 600] [--warmup 60] [--workers 1] [--server ...]

``streams`` puts the router in front of ``slow_upstream.py`` (one chunk a second, 20
chunks) and opens ``--streams`` streams at once through it; it reports each router process's
RSS idle and at its peak while they are open, and that every stream finished and was logged.

``soak`` runs wrk against the router (nginx upstream, non-stream and stream alternating in
30 s windows, 64 connections) for ``--seconds``, samples the router's RSS every 2 s, and
reports RSS after ``--warmup`` seconds, at the end, and the growth between them.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
from gateway import Deployment, seed, start_router
from load import run_wrk
from processes import Supervisor
from procstat import sample_tree
from report import MB
from rounds import free_port, say
from upstream import CHAT_PATH, FIXTURES, Upstream, start_nginx

BENCH = Path(__file__).resolve().parent
SOAK_WINDOW = 30  # seconds per wrk run in a soak, alternating non-stream and stream


class RssSampler(threading.Thread):
    """Samples the RSS of a process tree (total and per process) every ``every`` seconds."""

    def __init__(self, root: int, every: float) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.series: list[tuple[float, int]] = []  # (seconds since start, total RSS)
        self.peak_by_pid: dict[int, int] = {}
        self._halt = threading.Event()
        self._began = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            sample = sample_tree(self.root)
            self.series.append((time.monotonic() - self._began, sample.rss_bytes))
            for pid, rss in sample.rss_by_pid.items():
                self.peak_by_pid[pid] = max(rss, self.peak_by_pid.get(pid, 0))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def open_streams(args: argparse.Namespace, supervisor: Supervisor, workdir: Path) -> None:
    port = free_port()
    slow = supervisor.spawn(
        [sys.executable, str(BENCH / "slow_upstream.py"), "--port", str(port)],
        log=workdir / "slow.log",
    )
    upstream = Upstream(port, slow.pid)
    _wait_for_port(port)
    deployment = seed(workdir / "router", upstream, "-1")
    router, child = start_router(supervisor, deployment, free_port(), args.workers, args.server)
    time.sleep(2.0)
    idle = sample_tree(child.pid)
    say(f"router idle: {_per_process(idle.rss_by_pid)}")
    sampler = RssSampler(child.pid, 0.25)
    sampler.start()
    started = time.monotonic()
    finished = asyncio.run(_streams(router.base + CHAT_PATH, deployment.key, args.streams))
    sampler.stop()
    say(f"{finished} of {args.streams} streams finished in {time.monotonic() - started:.1f} s")
    say(f"router peak with the streams open: {_per_process(sampler.peak_by_pid)}")
    supervisor.stop(child, grace=30)
    say(f"log rows: {_log_rows(deployment)}")


async def _streams(url: str, key: str, count: int) -> int:
    body = (FIXTURES / "chat_stream.json").read_bytes()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> bool:
            async with session.post(url, data=body, headers=headers) as response:
                data = await response.read()
                return response.status == 200 and data.endswith(b"data: [DONE]\n\n")

        results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    return sum(result is True for result in results)


def soak(args: argparse.Namespace, supervisor: Supervisor, workdir: Path) -> None:
    upstream = start_nginx(supervisor, workdir / "nginx", free_port(), 1)
    deployment = seed(workdir / "router", upstream, "1000000")
    router, child = start_router(supervisor, deployment, free_port(), args.workers, args.server)
    sampler = RssSampler(child.pid, 2.0)
    sampler.start()
    deadline = time.monotonic() + args.seconds
    window, requests = 0, 0
    while (left := deadline - time.monotonic()) > 1:
        body = FIXTURES / ("chat_stream.json" if window % 2 else "chat.json")
        result = run_wrk(
            supervisor,
            router.base + CHAT_PATH,
            body,
            deployment.key,
            64,
            min(SOAK_WINDOW, left),
            workdir,
        )
        requests += result.requests
        window += 1
    sampler.stop()
    warm = [rss for at, rss in sampler.series if at <= args.warmup]
    after = [rss for at, rss in sampler.series if at > args.warmup]
    if not warm or not after:
        raise SystemExit("the soak was too short for its warm-up")
    base, end, peak = warm[-1], after[-1], max(after)
    say(f"{requests} requests in {args.seconds:.0f} s ({window} wrk windows)")
    say(
        f"router RSS after {args.warmup:.0f} s warm-up {base / MB:.1f} MB, end {end / MB:.1f} MB,"
        f" peak {peak / MB:.1f} MB: growth {100 * (end - base) / base:+.1f}% (end vs warm-up)"
    )
    supervisor.stop(child, grace=30)
    say(f"log rows: {_log_rows(deployment)}")


def _per_process(rss_by_pid: dict[int, int]) -> str:
    parts = [f"{pid}: {rss / MB:.0f} MB" for pid, rss in sorted(rss_by_pid.items())]
    return ", ".join(parts) + f" (total {sum(rss_by_pid.values()) / MB:.0f} MB)"


def _log_rows(deployment: Deployment) -> dict[int, int]:
    with sqlite3.connect(deployment.database) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM logs GROUP BY status").fetchall()
    return dict(rows)


def _wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the slow upstream did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("streams", "soak"))
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server", default="hypercorn")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="burncloud-memory-"))
    with Supervisor() as supervisor:
        if args.mode == "streams":
            open_streams(args, supervisor, workdir)
        else:
            soak(args, supervisor, workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
