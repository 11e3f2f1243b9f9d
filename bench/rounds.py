"""One worker count's measurement: seed, start the router, warm up, then every scenario in
every round, direct to nginx and through the router alternately (A B A B).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gateway import (
    Deployment,
    Router,
    check_router,
    log_problems,
    log_summary,
    seed,
    start_router,
    tail,
)
from load import WrkResult, run_wrk
from peers import start as start_peer
from processes import Supervisor
from procstat import CpuWindow, PeakRss, command_line, sample_tree
from report import MB, MeasuredRun, Scenario, ScenarioRuns
from upstream import CHAT_PATH, FIXTURES, STREAM_PATH, Upstream


@dataclass(frozen=True, slots=True)
class Plan:
    """What to measure: worker counts, run length, rounds, scenarios, the token quota."""

    workers: tuple[int, ...]
    servers: tuple[str, ...]
    duration: float
    warmup: float
    rounds: int
    scenarios: tuple[Scenario, ...]
    quota: str
    nginx_workers: int
    peers: tuple[str, ...] = ()


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    """Runs every scenario direct and through one router, alternating, for one worker count."""

    def __init__(
        self, supervisor: Supervisor, upstream: Upstream, plan: Plan, workdir: Path
    ) -> None:
        self.supervisor, self.upstream, self.plan, self.workdir = (
            supervisor, upstream, plan, workdir,
        )  # fmt: skip
        self.router_pid = 0

    def run(self, workers: int, server: str) -> dict[str, object]:
        deployment = seed(
            self.workdir / f"{server}-workers-{workers}", self.upstream, self.plan.quota
        )
        router, child = start_router(self.supervisor, deployment, free_port(), workers, server)
        self.router_pid = child.pid
        pids = sample_tree(child.pid).pids
        say(f"router: {workers} worker(s) on {server}, {router.base}, pids {pids}")
        check_router(router, deployment.key)
        time.sleep(1.0)
        idle = sample_tree(child.pid)
        processes = [
            {"pid": pid, "rss_bytes": rss, "command": command_line(pid)}
            for pid, rss in idle.rss_by_pid.items()
        ]
        warm_up = self._warm_up(router, deployment)
        runs = self._rounds(router, child, deployment, workers)
        time.sleep(2.0)
        after = sample_tree(child.pid)
        exit_code = self.supervisor.stop(child, grace=30)
        sent = 2 + warm_up + sum(r.wrk.requests for s in runs.values() for r in s.router)
        return {
            "workers": workers,
            "server": server,
            "router_pids": list(idle.pids),
            "rss_idle_bytes": idle.rss_bytes,
            "rss_after_load_bytes": after.rss_bytes,
            "rss_idle_by_process": processes,
            "router_exit_code": exit_code,
            "router_problem_lines": log_problems(router.log)[:50],
            "requests_completed_by_wrk": sent,
            "logs": log_summary(deployment),
            "scenarios": [runs[s].as_dict(idle.rss_bytes) for s in self.plan.scenarios],
        }

    def run_peer(self, name: str, workers: int) -> dict[str, object]:
        """A peer gateway measured like the router: warm-up, then A B rounds vs direct."""
        workdir = self.workdir / f"{name}-workers-{workers}"
        peer, child = start_peer(
            name, self.supervisor, free_port(), self.upstream, workers, workdir=workdir
        )
        self.router_pid = child.pid  # the CPU windows read the peer's tree instead
        say(f"peer: {name} {peer.version}, {peer.base}, pids {sample_tree(child.pid).pids}")
        time.sleep(1.0)
        idle = sample_tree(child.pid)
        top = max(s.connections for s in self.plan.scenarios)
        for stream in (False, True):
            t = peer.target(stream)
            self._wrk(t.url, t.body, t.key, Scenario(stream, top), self.plan.warmup, t.headers_text)
        runs = {s: ScenarioRuns(s) for s in self.plan.scenarios}
        for number in range(1, self.plan.rounds + 1):
            for scenario in self.plan.scenarios:
                label = f"[{name} {workers}, round {number}/{self.plan.rounds}] {scenario.name}"
                url, body = self._target(scenario, None)
                direct = self._measured(self.upstream.pid, url, body, "", scenario)
                say(f"{label} direct: {_line(direct)}")
                t = peer.target(scenario.stream)
                run = self._measured(child.pid, t.url, t.body, t.key, scenario, t.headers_text)
                say(f"{label} {name}: {_line(run)}")
                if child.poll() is not None:
                    raise RuntimeError(f"{name} exited during the run:\n{tail(peer.log)}")
                runs[scenario].direct.append(direct)
                runs[scenario].router.append(run)
        exit_code = self.supervisor.stop(child, grace=10)
        return {
            "workers": workers,
            "server": f"{name} {peer.version}",
            "peer": name,
            "peer_pids": list(idle.pids),
            "rss_idle_bytes": idle.rss_bytes,
            "peer_exit_code": exit_code,
            "peer_problem_lines": log_problems(peer.log)[:50],
            "scenarios": [runs[s].as_dict(idle.rss_bytes) for s in self.plan.scenarios],
        }

    def _rounds(
        self,
        router: Router,
        child: subprocess.Popen[bytes],
        deployment: Deployment,
        workers: int,
    ) -> dict[Scenario, ScenarioRuns]:
        """Every scenario in every round, direct then through the router (A B A B)."""
        runs = {s: ScenarioRuns(s) for s in self.plan.scenarios}
        for number in range(1, self.plan.rounds + 1):
            for scenario in self.plan.scenarios:
                label = f"[workers {workers}, round {number}/{self.plan.rounds}] {scenario.name}"
                runs[scenario].direct.append(self._direct(scenario, deployment, label))
                runs[scenario].router.append(
                    self._router(scenario, router, child, deployment, label)
                )
        return runs

    def _warm_up(self, router: Router, deployment: Deployment) -> int:
        sent = 0
        for stream in (False, True):
            scenario = Scenario(stream, max(s.connections for s in self.plan.scenarios))
            url, body = self._target(scenario, router)
            sent += self._wrk(url, body, deployment.key, scenario, self.plan.warmup).requests
            url, body = self._target(scenario, None)
            self._wrk(url, body, "", scenario, self.plan.warmup)
        return sent

    def _target(self, scenario: Scenario, router: Router | None) -> tuple[str, Path]:
        body = FIXTURES / ("chat_stream.json" if scenario.stream else "chat.json")
        if router is not None:
            return router.base + CHAT_PATH, body
        return self.upstream.base + (STREAM_PATH if scenario.stream else CHAT_PATH), body

    def _wrk(
        self, url: str, body: Path, key: str, scenario: Scenario, seconds: float, headers: str = ""
    ) -> WrkResult:
        return run_wrk(
            self.supervisor, url, body, key, scenario.connections, seconds, self.workdir, headers
        )

    def _direct(self, scenario: Scenario, deployment: Deployment, label: str) -> MeasuredRun:
        url, body = self._target(scenario, None)
        run = self._measured(self.upstream.pid, url, body, deployment.key, scenario)
        say(f"{label} direct: {_line(run)}")
        return run

    def _router(
        self,
        scenario: Scenario,
        router: Router,
        child: subprocess.Popen[bytes],
        deployment: Deployment,
        label: str,
    ) -> MeasuredRun:
        url, body = self._target(scenario, router)
        run = self._measured(child.pid, url, body, deployment.key, scenario)
        say(f"{label} router: {_line(run)}")
        if child.poll() is not None:
            raise RuntimeError(f"the router exited during the run:\n{tail(router.log)}")
        return run

    def _measured(
        self, pid: int, url: str, body: Path, key: str, scenario: Scenario, headers: str = ""
    ) -> MeasuredRun:
        """A wrk run; CPU and peak RSS of ``pid``'s tree (the router's, a peer's or nginx's)."""
        with CpuWindow((self.upstream.pid, self.router_pid)) as cpu, PeakRss(pid) as peak:
            result = self._wrk(url, body, key, scenario, self.plan.duration, headers)
        return MeasuredRun(result, cpu.spent[pid], peak.peak, cpu.other_cores)


def _line(run: MeasuredRun) -> str:
    w = run.wrk
    return (
        f"{w.rps:,.0f} req/s, p50 {w.p50_ms:.2f} ms, p99 {w.p99_ms:.2f} ms, "
        f"CPU {run.cpu_ms_per_request:.3f} ms/req, peak RSS {run.peak_rss / MB:.0f} MB, "
        f"non-2xx {w.non_2xx}, socket errors {w.socket_errors}, "
        f"other processes {run.other_cores:.2f} cores"
    )
