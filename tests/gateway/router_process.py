"""`burncloud router` as a real subprocess, for multi-worker and signal tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import httpx

from tests.gateway.router_harness import SECRET, free_port


@contextmanager
def router_process(
    db_url: str,
    workers: int = 1,
    grace: float = 30.0,
    server: str = "hypercorn",
    env: Mapping[str, str] | None = None,
    log: IO[bytes] | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the router CLI; yield (SDK base URL, process); stop it with SIGTERM.

    ``env`` adds to the environment; give a PostgreSQL router its own
    ``BURNCLOUD_STATE_FILE`` there (by default it lies next to the SQLite database).
    ``log`` receives the router's stderr (a temporary file by default)."""
    port = free_port()
    env = {
        **os.environ,
        "BURNCLOUD_SECRET": SECRET,
        "LOG_LEVEL": "warning",
        # The workers' shared state next to the test database, not in /dev/shm for good.
        "BURNCLOUD_STATE_FILE": f"{db_url.removeprefix('sqlite:///')}.state",
        **(env or {}),
    }
    if log is not None:
        yield from _run(db_url, port, env, log, workers, grace, server)
        return
    with tempfile.TemporaryFile() as own_log:
        yield from _run(db_url, port, env, own_log, workers, grace, server)


def _run(
    db_url: str,
    port: int,
    env: dict[str, str],
    log: IO[bytes],
    workers: int,
    grace: float,
    server: str = "hypercorn",
) -> Iterator[tuple[str, subprocess.Popen]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "burncloud",
            "router",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--grace",
            str(grace),
            "--db",
            db_url,
            "--server",
            server,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        _wait_healthy(port, process, log)
        yield f"http://127.0.0.1:{port}/v1", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(port: int, process: subprocess.Popen, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"router exited early: {log.read().decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError("router did not become healthy")
