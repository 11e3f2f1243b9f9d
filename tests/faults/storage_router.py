"""`burncloud router` as a subprocess for the storage fault tests: optionally with the
storage switch in its processes (``tests.faults.storage_switch``), optionally inside a
command prefix (a mount namespace), with its stderr kept in a file the test reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.gateway.router_harness import SECRET, free_port

REPO = Path(__file__).resolve().parents[2]
SWITCH_SITE = Path(__file__).resolve().parent / "switch_site"
STOP_TIMEOUT = 40.0


@dataclass(slots=True)
class RouterRun:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def healthz(self) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)

    def read_only(self, on: bool) -> None:
        """Flip the storage switch (a router launched with ``switch=True``)."""
        flag = self.log.with_suffix(".read-only")
        if on:
            flag.touch()
        else:
            flag.unlink()

    def stop(self) -> int:
        """SIGTERM, then its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)


def launch(
    db_url: str,
    log: Path,
    *,
    switch: bool = False,
    grace: float = 1.0,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    stderr: int | None = None,
) -> RouterRun:
    """Start the router (stderr to ``log``, or to the ``stderr`` descriptor given)."""
    port = free_port()
    argv = [*prefix, sys.executable, "-m", "burncloud", "router", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers), "--grace", str(grace)]
    argv += ["--db", db_url]
    full_env = {
        **os.environ,
        "BURNCLOUD_SECRET": SECRET,
        "LOG_LEVEL": "warning",
        "BURNCLOUD_STATE_FILE": f"{db_url.removeprefix('sqlite:///')}.state",
        **(env or {}),
    }
    if switch:
        full_env["PYTHONPATH"] = f"{SWITCH_SITE}{os.pathsep}{REPO}"
        full_env["BURNCLOUD_TEST_READ_ONLY_FLAG"] = str(log.with_suffix(".read-only"))
    full_env = {name: value for name, value in full_env.items() if value}  # "" unsets
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv,
            env=full_env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=out if stderr is None else stderr,
            preexec_fn=lambda: os.umask(0o022),  # the usual umask: modes must not rely on it
        )
    return RouterRun(process, port, log)


def wait_until(check, within: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + within
    while True:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {within} s")
        time.sleep(0.05)


@contextmanager
def running(run: RouterRun) -> Iterator[RouterRun]:
    """Wait until ``run`` is healthy; stop it on the way out."""
    try:
        wait_until(lambda: _healthy(run), what="healthy router")
        yield run
    finally:
        if run.process.poll() is None:
            run.stop()


def _healthy(run: RouterRun) -> bool:
    if run.process.poll() is not None:
        raise RuntimeError(f"router exited {run.process.returncode}: {run.stderr()}")
    return run.healthz().status_code == 200
