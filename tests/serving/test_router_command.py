"""`burncloud router` as operators run it, where it must fail: a busy port, an app that
cannot start, a second Ctrl-C; each is one line on stderr and exit 1."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import IO

import openai
import pytest

from tests.fakes import running_fake_openai
from tests.gateway.router_harness import SECRET, seed
from tests.gateway.router_process import router_process

pytestmark = pytest.mark.slow


def run_router(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BURNCLOUD_SECRET": SECRET, "LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "burncloud", "router", "--host", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_busy_port_is_one_error_line_before_listening(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_router("--port", str(port), "--db", f"sqlite:///{tmp_path}/busy.db")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"error: port {port} on 127.0.0.1 is already in use\n"


def test_an_app_that_cannot_start_ends_the_router_with_its_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_router(
        "--port", str(port), "--workers", "2", "--db", "postgresql://127.0.0.1:1/nothing"
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    *_, last = done.stderr.splitlines()
    assert last.startswith("error: a worker could not start: "), done.stderr
    assert "127.0.0.1:1" in last
    assert "Traceback" not in done.stderr


def test_a_second_ctrl_c_kills_the_workers_and_exits_1(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/interrupt.db"
    with running_fake_openai("sk-canary-upstream", chunk_delay=0.5) as fake:
        _, key = asyncio.run(seed(db_url, fake))
        with (
            tempfile.TemporaryFile() as log,
            router_process(db_url, workers=2, env={"LOG_LEVEL": "info"}, log=log) as (
                base_url,
                router,
            ),
            openai.OpenAI(api_key=key, base_url=base_url, max_retries=0) as client,
        ):
            stream = client.chat.completions.create(
                model="gpt-4", messages=[{"role": "user", "content": "a b c d e f"}], stream=True
            )
            next(iter(stream))  # a stream is open: the first Ctrl-C leaves a worker draining
            router.send_signal(signal.SIGINT)
            wait_for_line(log, "stopping: the workers drain")  # two signals could merge
            router.send_signal(signal.SIGINT)
            code = router.wait(timeout=40)
            stream.close()
            log.seek(0)
            lines = log.read().decode().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1
    assert errors == ["error: interrupted twice: the workers were killed without draining"]


def wait_for_line(log: IO[bytes], text: str, within: float = 10.0) -> None:
    """Poll the router's log until it holds ``text``."""
    deadline = time.monotonic() + within
    while True:
        log.seek(0)
        if text.encode() in log.read():
            return
        assert time.monotonic() < deadline, f"no {text!r} in the router's log"
        time.sleep(0.02)
