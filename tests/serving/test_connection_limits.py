"""What one client connection may hold of a router worker, on both servers, against a real
`burncloud router` process with small limits: a head that never ends, a head too large, a
kept-alive connection's next head, and connections past the per-worker cap."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.gateway.router_process import router_process
from tests.serving.raw_http import (
    closed_by_peer,
    connect,
    get,
    read_response,
    send_until_refused,
)
from tests.serving.worker_processes import rss_bytes, worker_pids

pytestmark = pytest.mark.slow

HEADER_TIMEOUT = 1.0
MAX_HEADER_BYTES = 8 * 1024
HUGE = 64 * 1024 * 1024  # far more than the kernel's socket buffers hold
CAP = 3


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def router(request, tmp_path_factory) -> Iterator[tuple[int, subprocess.Popen]]:
    """One worker with a 1 s header timeout and an 8 KiB head limit: (port, process)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('limits')}/limits.db"
    env = {
        "BURNCLOUD_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "BURNCLOUD_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
    }
    with router_process(db_url, server=request.param, env=env) as (base_url, process):
        yield port_of(base_url), process


def port_of(base_url: str) -> int:
    return int(base_url.removesuffix("/v1").rsplit(":", 1)[1])


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: router\r\nX-Slow: "])
def test_a_connection_without_a_whole_head_is_closed_at_the_header_timeout(router, sent) -> None:
    port, _ = router
    with connect(port) as sock:
        sock.sendall(sent)
        assert closed_by_peer(sock)  # within raw_http.TIMEOUT, far below keep-alive's 75 s


def test_a_kept_alive_connection_waits_for_keep_alive_then_times_its_next_head(router) -> None:
    port, _ = router
    with connect(port) as sock:
        sock.sendall(get("/healthz"))
        assert read_response(sock).status == 200
        time.sleep(HEADER_TIMEOUT * 1.5)  # idle between requests: not the head's timer
        sock.sendall(get("/healthz"))
        assert read_response(sock).status == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head started, never finished
        assert closed_by_peer(sock)


def test_a_head_within_the_limit_is_served(router) -> None:
    port, _ = router
    with connect(port) as sock:
        sock.sendall(get("/healthz", b"X-Pad: " + b"a" * (MAX_HEADER_BYTES // 2) + b"\r\n"))
        assert read_response(sock).status == 200


@pytest.mark.parametrize("complete", [False, True])
def test_a_head_over_the_limit_is_answered_431_and_closed(router, complete) -> None:
    port, _ = router
    # Whole, past the limit by more than one of Hypercorn's 64 KiB reads (h11 takes a head
    # that a read completes); unfinished, between our limit and h11's default of 16 KiB.
    pad = b"a" * (MAX_HEADER_BYTES + 65 * 1024)
    head = get("/healthz", b"X-Pad: " + pad + b"\r\n")
    with connect(port) as sock:
        sock.sendall(head if complete else head[: MAX_HEADER_BYTES * 3 // 2])
        assert read_response(sock).status == 431
        assert closed_by_peer(sock)


def test_a_64_mib_header_is_refused_before_the_worker_holds_it(router) -> None:
    port, process = router
    (worker,) = worker_pids(process)
    before = rss_bytes(worker)
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: router\r\nX-Huge: ")
        sent = send_until_refused(sock, b"a" * 65536, HUGE)
        assert read_response(sock).status == 431
    assert sent < HUGE // 4  # refused early: the rest was never taken
    assert rss_bytes(worker) - before < 16 * 1024 * 1024
    with connect(port) as sock:  # and the worker serves on
        sock.sendall(get("/healthz"))
        assert read_response(sock).status == 200


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_a_connection_past_the_cap_gets_503_in_our_error_shape(tmp_path, server) -> None:
    db_url = f"sqlite:///{tmp_path}/cap.db"
    env = {"BURNCLOUD_MAX_CONNECTIONS": str(CAP)}
    with router_process(db_url, server=server, env=env) as (base_url, _), ExitStack() as held:
        port = port_of(base_url)
        for _ in range(CAP - 1):
            kept = held.enter_context(connect(port))
            kept.sendall(get("/healthz"))
            assert read_response(kept).status == 200
        idle = connect(port)  # a connection counts before it sends anything
        with connect(port) as over:
            over.sendall(get("/healthz"))
            refused = read_response(over)
            assert closed_by_peer(over)
        idle.close()
        served = status_once_a_slot_frees(port)
    assert refused.status == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.error() == {
        "message": "the router is at its connection limit; retry shortly",
        "type": "server_error",
        "code": "service_unavailable",
    }
    assert served == 200


def test_a_client_that_closes_its_side_first_frees_its_slot_at_once(tmp_path) -> None:
    """Hypercorn kept such a connection until its idle timer ran out (75 s), holding a slot
    of the cap. (uvicorn closes it at the client's end of stream, without an answer.)"""
    db_url = f"sqlite:///{tmp_path}/half.db"
    with router_process(db_url, env={"BURNCLOUD_MAX_CONNECTIONS": "1"}) as (base_url, _):
        port = port_of(base_url)
        served = [status_once_a_slot_frees(port, half_close=True) for _ in range(CAP)]
    assert served == [200] * CAP


def status_once_a_slot_frees(port: int, half_close: bool = False, within: float = 10.0) -> int:
    """A request's status once the worker has seen the last closed connection go (it may
    take the worker a moment to read the close)."""
    deadline = time.monotonic() + within
    while True:
        with connect(port) as sock:
            sock.sendall(get("/healthz"))
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            status = read_response(sock).status
        if status != 503 or time.monotonic() > deadline:
            return status
        time.sleep(0.05)
