"""Benchmark burncloud's router against the same fake upstream reached directly.

    python bench/run.py [--workers 1,2] [--server hypercorn,uvicorn] [--duration 15]
                        [--connections 16,64] [--rounds 3] [--quick] [--quota USD|-1]
                        [--nginx-workers 1] [--keep]

Run it with the interpreter burncloud is installed in (e.g. /work/venv/bin/python). It
starts nginx as a fake OpenAI upstream and the router in front of it (fresh SQLite
database seeded through the CLI), alternates wrk runs direct / router for every scenario
and round, and prints the medians as one table (bench/README.md explains the columns); the
full data goes to bench/results/<timestamp>.json. Every process it starts is stopped on
exit, Ctrl-C or failure. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load import wrk_binary
from peers import NAMES, installed
from processes import Supervisor
from report import MB, Scenario, format_table, save
from rounds import Bench, Plan, free_port, say
from upstream import nginx_binary, start_nginx


def parse_args(argv: list[str] | None) -> tuple[Plan, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1", help="router worker counts, e.g. 1,2")
    parser.add_argument(
        "--server", default="hypercorn", help="router servers, e.g. hypercorn,uvicorn"
    )
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 15)")
    parser.add_argument("--connections", default="16,64", help="load connection counts")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s, 1 round")
    parser.add_argument("--quota", default="1000000", help="USD of token quota and balance")
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, db)")
    parser.add_argument(
        "--peers", default="", help="also measure peers: portkey,litellm (bench/setup_peers.py)"
    )
    args = parser.parse_args(argv)
    duration = args.duration or (3.0 if args.quick else 15.0)
    connections = sorted({int(c) for c in args.connections.split(",") if c.strip()})
    scenarios = [Scenario(stream, c) for stream in (False, True) for c in (1, *connections)]
    peers = tuple(p.strip() for p in args.peers.split(",") if p.strip())
    if unknown := [p for p in peers if p not in NAMES]:
        parser.error(f"unknown peers {unknown}; known: {', '.join(NAMES)}")
    if missing := [p for p in peers if not installed()[p]]:
        parser.error(f"peers not installed: {missing}; run python bench/setup_peers.py")
    plan = Plan(
        workers=tuple(int(w) for w in args.workers.split(",")),
        servers=tuple(s.strip() for s in args.server.split(",") if s.strip()),
        duration=duration,
        warmup=1.0 if args.quick else 3.0,
        rounds=args.rounds or (1 if args.quick else 3),
        scenarios=tuple(dict.fromkeys(scenarios)),
        quota=args.quota,
        nginx_workers=args.nginx_workers,
        peers=peers,
    )
    return plan, args.keep


def ensure_tools() -> None:
    """nginx and wrk, installed from Debian packages when missing and we may."""
    if nginx_binary() and wrk_binary():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError("nginx and wrk are needed: apt-get install -y nginx-light wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "nginx-light", "wrk"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


def machine() -> dict[str, object]:
    versions = {}
    for name, command in (("nginx", [nginx_binary() or "nginx", "-v"]), ("wrk", ["wrk", "-v"])):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        versions[name] = (done.stdout + done.stderr).strip().splitlines()[0]
    return {
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--", "burncloud")),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        **versions,
    }


def _git(*args: str) -> str:
    """A read-only git query about the checkout the bench lives in ('' without git)."""
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=10
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    plan, keep = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGHUP, _stop_on_sigterm)
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="burncloud-bench-"))
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result: dict[str, object] = {"started": started, "plan": _plan_dict(plan), "machine": machine()}
    try:
        with Supervisor() as supervisor:
            upstream = start_nginx(supervisor, workdir / "nginx", free_port(), plan.nginx_workers)
            say(f"fake upstream: nginx on {upstream.base}")
            bench = Bench(supervisor, upstream, plan, workdir)
            configs = [
                bench.run(workers, server) for server in plan.servers for workers in plan.workers
            ]
            configs += [
                bench.run_peer(name, workers)
                for name in plan.peers
                for workers in (plan.workers if name == "litellm" else (1,))
            ]
    finally:
        if keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["configs"] = configs
    print(format_table(configs))
    _print_checks([c for c in configs if "peer" not in c])
    say(f"results: {save(result)}")
    return 0


def _plan_dict(plan: Plan) -> dict[str, object]:
    return {
        "workers": list(plan.workers),
        "servers": list(plan.servers),
        "duration_s": plan.duration,
        "warmup_s": plan.warmup,
        "rounds": plan.rounds,
        "scenarios": [s.name for s in plan.scenarios],
        "quota_usd": plan.quota,
        "nginx_workers": plan.nginx_workers,
        "peers": list(plan.peers),
        "wrk_threads": 1,
    }


def _print_checks(configs: list[dict[str, object]]) -> None:
    for config in configs:
        logs = config["logs"]
        print(
            f"workers {config['workers']} on {config['server']}:"
            f" wrk completed {config['requests_completed_by_wrk']}"
            f" router requests, {logs['rows']} log rows {logs['by_status']},"  # type: ignore[index]
            f" tokens.used == sum(logs.cost): {logs['used_matches_logs']},"  # type: ignore[index]
            f" RSS after load {config['rss_after_load_bytes'] / MB:.0f} MB,"  # type: ignore[operator]
            f" router exit {config['router_exit_code']},"
            f" router error lines {len(config['router_problem_lines'])},"  # type: ignore[arg-type]
            f" other processes busy: median {_noise(config):.2f} cores"
        )


def _noise(config: dict[str, object]) -> float:
    values = [s["summary"]["other_cores_median"] for s in config["scenarios"]]  # type: ignore[attr-defined]
    return sorted(values)[len(values) // 2] if values else 0.0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted: every process the bench started has been stopped")
        sys.exit(130)
    except RuntimeError as exc:
        say(f"bench failed: {exc}")
        sys.exit(1)
