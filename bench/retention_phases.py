"""The load phases against the timed router: wrk throughout, direct and baseline runs of a
fixed length, and the runs that last as long as a prune (the background pruner started
through the router's ``/bench/prune``, ``burncloud log prune`` as a process beside it), with
the flushes each phase saw and the cores busy meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway import burncloud_command, tail
from load import SCRIPT, WrkResult, parse_wrk, run_wrk, wrk_binary
from processes import Supervisor
from procstat import CpuWindow
from rounds import free_port, say
from upstream import CHAT_PATH, FIXTURES, NO_PROXY, Upstream, post

from burncloud.services.log_retention import DAY

if TYPE_CHECKING:
    from retention_run import Plan, Target

BENCH = Path(__file__).resolve().parent
LEAD = 2.0  # seconds of load before a prune starts, and after it ends
Timing = list[list[float]]


@dataclass(slots=True)
class Phase:
    """One load run: wrk's figures, the flushes in it (``during``: those overlapping the
    prune, all of them without one), the cores used meanwhile, the prune's report."""

    name: str
    wrk: WrkResult
    flushes: Timing
    during: Timing
    cores: dict[str, float]
    prune: dict[str, Any] | None = None


@dataclass(slots=True)
class RouterUnderTest:
    port: int
    child: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, sup: Supervisor, target: Target) -> RouterUnderTest:
        port = free_port()
        log = target.workdir / "router.log"
        command = [sys.executable, str(BENCH / "retention_router.py"), str(port)]
        child = sup.spawn(command, log=log, env=target.env, cwd=target.workdir)
        router = cls(port, child, log)
        deadline = time.monotonic() + 120
        while not router.healthy():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the router did not start:\n{tail(log)}")
            time.sleep(0.2)
        return router

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            with NO_PROXY.open(self.base + "/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def check(self, key: str) -> None:
        status, _, body = post(self.base + CHAT_PATH, (FIXTURES / "chat.json").read_bytes(), key)
        if status != 200 or b'"chat.completion"' not in body:
            raise RuntimeError(f"router check failed: {status} {body[:300]!r}")

    def call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.base + path, method=method)
        with NO_PROXY.open(request, timeout=30) as response:
            return json.loads(response.read())


class OpenWrk:
    """wrk started now and stopped on cue (SIGINT: it stops and prints its summary)."""

    def __init__(self, sup: Supervisor, url: str, key: str, connections: int, out: Path):
        binary = wrk_binary()
        if binary is None:
            raise RuntimeError("wrk not found (apt-get install -y wrk)")
        out.unlink(missing_ok=True)
        self._sup, self._out = sup, out
        command = [
            binary, "-t1", f"-c{connections}", "-d3600s", "--timeout", "5s",
            "-s", str(SCRIPT), url,
        ]  # fmt: skip
        env = {**os.environ, "BENCH_BODY": str(FIXTURES / "chat.json"), "BENCH_KEY": key}
        self._child = sup.spawn(command, log=out, env=env)

    def stop(self) -> WrkResult:
        self._child.send_signal(signal.SIGINT)
        try:
            self._child.wait(timeout=30)
        finally:
            self._sup.stop(self._child, grace=2)
        return parse_wrk(self._out.read_text(errors="replace"))


class Phases:
    """The load phases against one router, in order."""

    def __init__(
        self,
        sup: Supervisor,
        upstream: Upstream,
        target: Target,
        plan: Plan,
        router: RouterUnderTest,
        key: str,
    ) -> None:
        self.sup, self.upstream, self.target, self.plan = sup, upstream, target, plan
        self.router, self.key = router, key
        self.phases: list[Phase] = []
        self.cli_cutoff: int | None = None  # the CLI prune's: rows older must all be gone
        self._cli: subprocess.Popen[bytes] | None = None
        self._cli_started = 0.0
        roots = [upstream.pid, router.child.pid]
        if target.engine == "postgresql" and (pg := postmaster_pid()) is not None:
            roots.append(pg)
        self.roots = tuple(roots)

    def all(self) -> list[Phase]:
        """Every phase in order; the warm-up is not kept."""
        self.fixed("warm-up", self.router.base, 3.0)
        self.fixed("direct", self.upstream.base, self.plan.duration)
        self.fixed("baseline", self.router.base, self.plan.duration)
        self.pruning("background pruner", self.start_background, self.background_done)
        self.fixed("direct", self.upstream.base, self.plan.duration)
        self.fixed("baseline", self.router.base, self.plan.duration)
        self.pruning("burncloud log prune", self.start_cli, self.cli_done)
        return [p for p in self.phases if p.name != "warm-up"]

    def fixed(self, name: str, base: str, seconds: float) -> None:
        self.flushes()
        began = time.monotonic()
        with CpuWindow(self.roots) as cpu:
            result = run_wrk(
                self.sup, base + CHAT_PATH, FIXTURES / "chat.json", self.key,
                self.plan.connections, seconds, self.target.workdir,
            )  # fmt: skip
        cores = self.cores(cpu, time.monotonic() - began)
        flushes = self.flushes()
        self.record(Phase(name, result, flushes, flushes, cores))

    def pruning(
        self,
        name: str,
        start: Callable[[], None],
        done: Callable[[], dict[str, Any] | None],
    ) -> None:
        self.flushes()
        out = self.target.workdir / "wrk-open.out"
        began = time.monotonic()
        with CpuWindow(self.roots) as cpu:
            wrk = OpenWrk(self.sup, self.router.base + CHAT_PATH, self.key,
                          self.plan.connections, out)  # fmt: skip
            time.sleep(LEAD)
            start()
            deadline = time.monotonic() + self.plan.prune_timeout
            while (report := done()) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not finish in {self.plan.prune_timeout} s")
                time.sleep(0.25)
            time.sleep(LEAD)
            result = wrk.stop()
        cores = self.cores(cpu, time.monotonic() - began)
        flushes = self.flushes()
        begun, ended = report["started"], report["finished"]
        during = [f for f in flushes if f[0] <= ended and f[0] + f[1] >= begun]
        self.record(Phase(name, result, flushes, during, cores, report))

    def start_background(self) -> None:
        self.router.call("POST", f"/bench/prune?days={self.plan.retention_days}")

    def background_done(self) -> dict[str, Any] | None:
        report: dict[str, Any] = self.router.call("GET", "/bench/prune")
        if report.get("error"):
            raise RuntimeError(f"the background pruner failed: {report['error']}")
        return report if report.get("finished") is not None else None

    def start_cli(self) -> None:
        days = self.plan.cli_older_than_days
        self.cli_cutoff = int(time.time()) - days * DAY
        self._cli_started = time.monotonic()
        self._cli = self.sup.spawn(
            [*burncloud_command(), "log", "prune", "--older-than", f"{days}d"],
            log=self.target.workdir / "prune.out",
            env=self.target.env,
            cwd=self.target.workdir,
        )

    def cli_done(self) -> dict[str, Any] | None:
        assert self._cli is not None
        if self._cli.poll() is None:
            return None
        output = (self.target.workdir / "prune.out").read_text(errors="replace").strip()
        if self._cli.returncode != 0:
            raise RuntimeError(f"burncloud log prune failed: {output}")
        return {"started": self._cli_started, "finished": time.monotonic(), "output": output}

    def flushes(self) -> Timing:
        taken: Timing = self.router.call("GET", "/bench/flushes")
        return taken

    def cores(self, cpu: CpuWindow, seconds: float) -> dict[str, float]:
        """Average cores busy: outside the bench (noise), and per process tree."""
        seconds = max(seconds, 1e-9)
        cores = {"other": round(cpu.other_cores, 2)}
        names = ("nginx", "router", "postgres")
        for name, root in zip(names, self.roots, strict=False):
            cores[name] = round(cpu.spent[root] / seconds, 2)
        return cores

    def record(self, phase: Phase) -> None:
        if phase.wrk.non_2xx or phase.wrk.socket_errors:
            say(f"  warning: {phase.wrk.non_2xx} non-2xx, {phase.wrk.socket_errors} errors")
        if phase.name != "warm-up" and phase.name != "direct" and not phase.flushes:
            raise RuntimeError(
                "no log writer flush was observed under load: LogWriter._write_batch is no"
                " longer what the writer calls (bench/retention_router.py times it)"
            )
        w = phase.wrk
        say(
            f"[{self.target.engine}] {phase.name}: {w.rps:,.0f} req/s, p99 {w.p99_ms:.1f} ms,"
            f" {len(phase.during)} flushes, cores {phase.cores}"
        )
        self.phases.append(phase)


def postmaster_pid() -> int | None:
    """The PostgreSQL server's main process (its backends are its children), if local."""
    proc = Path("/proc")
    names: dict[int, tuple[str, int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            names[int(entry.name)] = (name, parent)
    for pid, (name, parent) in names.items():
        if name == "postgres" and names.get(parent, ("", 0))[0] != "postgres":
            return pid
    return None
