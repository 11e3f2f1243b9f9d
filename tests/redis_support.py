"""Redis for the tests: the machine's server under a key prefix of the test's own, or a
private ``redis-server`` that a test may kill.

The shared server is ``BURNCLOUD_TEST_REDIS`` (default ``redis://127.0.0.1:6379/0``). Where
it is unreachable Redis tests skip, except where one is promised
(``BURNCLOUD_REQUIRE_REDIS=1``, set by .ci/run): there they fail, so CI never passes by
skipping the fleet tests.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

REDIS_URL = os.environ.get("BURNCLOUD_TEST_REDIS", "redis://127.0.0.1:6379/0")
_reason: list[str | None] = []


def redis_unreachable() -> str | None:
    if not _reason:
        try:
            redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
            _reason.append(None)
        except (redis.RedisError, OSError) as exc:
            _reason.append(f"Redis at {REDIS_URL} is unreachable: {exc}")
    return _reason[0]


def require_redis() -> None:
    """Skip without a Redis server, fail where one is promised."""
    reason = redis_unreachable()
    if reason is None:
        return
    if os.environ.get("BURNCLOUD_REQUIRE_REDIS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the shared server; its keys are deleted after."""
    require_redis()
    prefix = f"bctest:{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def redis_time(url: str = REDIS_URL) -> float:
    """The server's own clock (``TIME``) in seconds: what its scripts date rate limits by."""
    client = redis.Redis.from_url(url)
    try:
        seconds, microseconds = client.time()
    finally:
        client.close()
    return seconds + microseconds / 1_000_000


@dataclass(slots=True)
class PrivateRedis:
    """A redis-server of the test's own, to stop, freeze and restart."""

    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def freeze(self) -> None:
        """Stop answering while keeping every connection open (SIGSTOP); returns once the
        kernel shows the process stopped."""
        self.process.send_signal(signal.SIGSTOP)
        stat = Path(f"/proc/{self.process.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not stop")
            time.sleep(0.001)

    def restart(self) -> None:
        self.process = _start_server(self.port, self.workdir)


@contextmanager
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("BURNCLOUD_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    server = PrivateRedis(port, _start_server(port, workdir), workdir)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.kill()


def _start_server(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(workdir)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port, socket_timeout=0.5).ping()
            return process
        except (redis.RedisError, OSError):
            time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
