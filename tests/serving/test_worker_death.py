"""Fault: one of two workers is killed (SIGKILL, as the OOM killer or a crash in a C
extension would) while streams are open on both.

The guarantee, on either server: the other worker's streams finish whole and are billed,
the router answers at once, the supervisor logs the death and starts a worker that serves,
the dead worker's in-flight gauge is dropped, and the router still stops cleanly (exit 0).
The killed worker's open streams are cut, never look complete, and are not billed: as in
test_sigkill_restart, their reservations stay in its lease until that expires.

The kernel hands each new connection to either worker; /proc tells which one took it
(``serving_worker``), and streams are opened until both workers hold some.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO

import httpx
import orjson
import pytest

from burncloud.money import parse_usd
from tests.fakes import running_fake_openai
from tests.faults.books import price, read_books
from tests.faults.harness import MODEL
from tests.gateway.router_harness import seed
from tests.gateway.router_process import router_process
from tests.serving.worker_processes import serving_worker, wait_for_workers, worker_pids

pytestmark = [pytest.mark.faults, pytest.mark.slow]

QUOTA = "10"
EACH = 2  # streams on each worker at least
WORDS = 150  # a 153-piece answer: about 6 s at CHUNK_DELAY, open well past the kill
CHUNK_DELAY = 0.04
REPLY = ["Hello!", " You", " said:", *[" word"] * WORDS]
STARTUP = 60.0  # seconds a worker may take to start on a loaded machine
PROMPT = " ".join(["word"] * WORDS)
IN_FLIGHT = re.compile(rb"^burncloud_in_flight_requests (\S+)$", re.MULTILINE)


@dataclass(slots=True)
class Stream:
    """One chat stream, read to its end by ``task``."""

    request_id: str
    pieces: list[str] = field(default_factory=list)
    client_port: int = 0
    done: bool = False  # its [DONE] arrived
    task: asyncio.Task[BaseException | None] | None = None

    @property
    def error(self) -> BaseException | None:
        assert self.task is not None
        return self.task.result()


class Router:
    """The router under test, seen by a client and from /proc."""

    def __init__(self, base_url: str, key: str, process: subprocess.Popen, log: IO[bytes]):
        self.base = base_url.removesuffix("/v1")
        self.port = int(self.base.rsplit(":", 1)[1])
        self.key = key
        self.process = process
        self.log = log

    async def wait_serving(self, worker: int) -> None:
        """Until the supervisor says ``worker`` has started its app."""
        deadline = time.monotonic() + STARTUP
        while f"worker {worker} is serving".encode() not in self.logged():
            assert time.monotonic() < deadline, f"worker {worker} did not start"
            await asyncio.sleep(0.05)

    def logged(self) -> bytes:
        self.log.seek(0)
        return self.log.read()

    async def read_stream(self, http: httpx.AsyncClient, stream: Stream) -> BaseException | None:
        body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
        headers = {"Authorization": f"Bearer {self.key}", "x-request-id": stream.request_id}
        url = f"{self.base}/v1/chat/completions"
        try:
            async with http.stream("POST", url, json=body, headers=headers) as response:
                stream.client_port = client_port(response)
                async for line in response.aiter_lines():
                    read_event(line, stream)
        except httpx.HTTPError as exc:
            return exc
        return None

    async def in_flight(self) -> float:
        """burncloud_in_flight_requests, summed over the live workers."""
        async with httpx.AsyncClient(timeout=10) as http:
            (value,) = IN_FLIGHT.findall((await http.get(f"{self.base}/metrics")).content)
        return float(value)


def client_port(response: httpx.Response) -> int:
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


def read_event(line: str, stream: Stream) -> None:
    if line == "data: [DONE]":
        stream.done = True
    elif line.startswith("data: "):
        for choice in orjson.loads(line.removeprefix("data: "))["choices"]:
            if choice["delta"].get("content"):
                stream.pieces.append(choice["delta"]["content"])


async def open_streams(
    router: Router, http: httpx.AsyncClient, workers: set[int]
) -> dict[int, list[Stream]]:
    """Open streams, four at a time, until every worker serves EACH; by worker."""
    by_worker: dict[int, list[Stream]] = {pid: [] for pid in workers}
    deadline = time.monotonic() + 30
    while min(len(streams) for streams in by_worker.values()) < EACH:
        assert time.monotonic() < deadline, {pid: len(s) for pid, s in by_worker.items()}
        batch = [Stream(f"s{sum(map(len, by_worker.values())) + n}") for n in range(4)]
        for stream in batch:
            stream.task = asyncio.create_task(router.read_stream(http, stream))
        while not all(stream.pieces for stream in batch):
            assert time.monotonic() < deadline, [s.pieces for s in batch]
            await asyncio.sleep(0.01)
        for stream in batch:
            pid = serving_worker(router.port, stream.client_port, workers)
            assert pid is not None, stream
            by_worker[pid].append(stream)
    return by_worker


async def served_by(router: Router, worker: int, others: set[int]) -> httpx.Response:
    """A chat answer from ``worker``: a /healthz on a new connection until ``worker``
    takes one, then the chat request on that kept-alive connection."""
    deadline = time.monotonic() + 30
    headers = {"Authorization": f"Bearer {router.key}", "x-request-id": "after"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    while True:
        async with httpx.AsyncClient(timeout=30) as http:
            probe = await http.get(f"{router.base}/healthz")
            taken_by = serving_worker(router.port, client_port(probe), {worker, *others})
            if taken_by == worker:
                return await http.post(
                    f"{router.base}/v1/chat/completions", json=body, headers=headers
                )
        assert time.monotonic() < deadline, f"worker {worker} took no connection"


@dataclass(frozen=True, slots=True)
class Outcome:
    survivors: list[Stream]
    victims: list[Stream]  # open when their worker was killed
    killed: int
    replacement_answer: httpx.Response


async def kill_a_worker_mid_stream(router: Router) -> Outcome:
    workers = await asyncio.to_thread(wait_for_workers, router.process, 2)
    for worker in workers:
        await router.wait_serving(worker)
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        by_worker = await open_streams(router, http, workers)
        victim, survivor = sorted(workers)
        victims = [stream for stream in by_worker[victim] if not stream.done]
        os.kill(victim, signal.SIGKILL)
        async with httpx.AsyncClient(timeout=2.0) as health:
            assert (await health.get(f"{router.base}/healthz")).status_code == 200
        await asyncio.gather(*(s.task for streams in by_worker.values() for s in streams))
    # The dead worker's in-flight requests no longer count (mark_process_dead).
    deadline = time.monotonic() + 10
    while await router.in_flight() != 0:
        assert time.monotonic() < deadline, "the dead worker's in-flight gauge was kept"
        await asyncio.sleep(0.05)
    await asyncio.to_thread(wait_for_workers, router.process, 2, {victim})
    (replacement,) = worker_pids(router.process) - {survivor}
    await router.wait_serving(replacement)
    answer = await served_by(router, replacement, {survivor})
    return Outcome(by_worker[survivor], victims, victim, answer)


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_a_killed_worker_is_replaced_and_the_other_finishes_its_streams(tmp_path, server) -> None:
    db_url = f"sqlite:///{tmp_path}/kill.db"
    env = {"LOG_LEVEL": "info"}  # the supervisor says when a worker serves
    with running_fake_openai("sk-canary-upstream", chunk_delay=CHUNK_DELAY) as fake:
        token_id, key = asyncio.run(seed(db_url, fake, quota=QUOTA))
        with (
            tempfile.TemporaryFile() as log,
            router_process(db_url, workers=2, server=server, env=env, log=log) as (url, process),
        ):
            outcome = asyncio.run(kill_a_worker_mid_stream(Router(url, key, process, log)))
            process.send_signal(signal.SIGTERM)
            stopped = process.wait(timeout=40)
            log.seek(0)
            logged = log.read().decode()
    assert stopped == 0, logged
    assert f"worker {outcome.killed} was killed by SIGKILL; starting another" in logged
    assert outcome.victims  # the kill cut some streams
    for stream in outcome.survivors:
        assert (stream.error, stream.pieces, stream.done) == (None, REPLY, True), stream
    for stream in outcome.victims:
        assert isinstance(stream.error, httpx.HTTPError), stream
        assert not stream.done and stream.pieces != REPLY
    answer = outcome.replacement_answer
    assert answer.json()["choices"][0]["message"]["content"] == "Hello! You said: hi"
    books = asyncio.run(read_books(db_url, token_id))
    books.assert_balanced(parse_usd(QUOTA))
    billed = {row["request_id"]: row for row in books.rows}
    assert not billed.keys() & {s.request_id for s in outcome.victims}
    assert {s.request_id for s in outcome.survivors} | {"after"} <= billed.keys()
    for stream in outcome.survivors:
        row = billed[stream.request_id]
        assert (row["status"], row["estimated"], row["completion_tokens"]) == (200, 0, len(REPLY))
        assert row["cost"] == price(row["prompt_tokens"], row["completion_tokens"])


def test_a_single_killed_worker_is_replaced_while_the_port_keeps_connections(tmp_path) -> None:
    """One worker runs supervised too: its death is a restart, not the router's end, and a
    request sent meanwhile waits in the socket's backlog instead of being refused."""
    db_url = f"sqlite:///{tmp_path}/single.db"
    with router_process(db_url, workers=1) as (base_url, router):
        (worker,) = worker_pids(router)
        os.kill(worker, signal.SIGKILL)
        with httpx.Client(timeout=STARTUP) as http:
            health = http.get(f"{base_url.removesuffix('/v1')}/healthz")
        (replacement,) = worker_pids(router)
        assert router.poll() is None
    assert health.status_code == 200
    assert replacement != worker
