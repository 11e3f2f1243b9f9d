"""Load generation with wrk (one thread), parsed from the JSON line ``wrk/chat.lua`` prints."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from processes import Supervisor

BENCH = Path(__file__).resolve().parent
SCRIPT = BENCH / "wrk" / "chat.lua"
MARKER = "BENCH_JSON "


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: completed requests, their rate, latency percentiles (ms) and errors."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    supervisor: Supervisor,
    url: str,
    body: Path,
    key: str,
    connections: int,
    duration: float,
    workdir: Path,
    headers: str = "",
) -> WrkResult:
    """POST ``body`` to ``url`` for ``duration`` seconds over ``connections`` connections
    (``headers``: extra request headers, one ``Name: value`` per line).
    """
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError("wrk not found (apt-get install -y wrk)")
    seconds = max(1, round(duration))
    command = [
        binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(SCRIPT), url,
    ]  # fmt: skip
    output = workdir / "wrk.out"
    output.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_KEY": key, "BENCH_HEADERS": headers}
    child = supervisor.spawn(command, log=output, env=env)
    try:
        child.wait(timeout=seconds + 30)
    finally:
        supervisor.stop(child, grace=2)
    return parse_wrk(output.read_text(errors="replace"))


def parse_wrk(text: str) -> WrkResult:
    """The WrkResult from wrk's output (RuntimeError with the output if it has none)."""
    lines = [line for line in text.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise RuntimeError(f"wrk printed no summary:\n{text}")
    data = json.loads(lines[-1].removeprefix(MARKER))
    errors, latency = data["errors"], data["latency_us"]
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        requests=data["requests"],
        seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        non_2xx=errors["status"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    )
