"""Log retention under load: the log writer's flushes while old rows are pruned.

    python bench/retention.py [--rows 2000000] [--engines sqlite,postgresql]
                              [--duration 15] [--connections 16] [--auto-vacuum incremental]

Run it with the interpreter burncloud is installed in; it needs nginx and wrk (as
``run.py``). For each engine it builds a database
of ``--rows`` log rows spread over 120 days up to now, with their rollup
(``retention_history``), starts the router in front of nginx with every log writer flush
timed (``retention_router``), and, with wrk loading it throughout, runs: direct to nginx,
the router alone (baseline), the router while its background pruner deletes the rows past
``--retention-days``, direct again, baseline again, the router while ``burncloud log prune
--older-than <--cli-older-than>d`` runs beside it. It prints the flush durations (p50, p99,
max) in each phase, the router's throughput and latency against direct, the prunes, and
whether ``burncloud stats`` (7 and 150 days, by model, channel, token and user) reads the
same before and after; everything goes to bench/results/retention-<timestamp>.json. Exit
code 1 when a check fails. PostgreSQL runs when it answers at $BURNCLOUD_TEST_POSTGRES, in
a schema of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from processes import Supervisor
from report import RESULTS
from retention_phases import Phase
from retention_run import EngineRun, Plan, Target, run_engine
from rounds import free_port, say
from stats_timing import drop_schema, postgres_schema
from upstream import Upstream, start_nginx


def parse_args(argv: list[str] | None) -> tuple[Plan, list[str], bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="history log rows")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per fixed run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--retention-days", type=int, default=90, help="background pruner's")
    parser.add_argument("--cli-older-than", type=int, default=60, help="days, log prune's")
    parser.add_argument(
        "--auto-vacuum", default="incremental", choices=("none", "incremental"),
        help="SQLite: the database's auto_vacuum mode (burncloud makes new files incremental;"
        " none: a database made before it did)",
    )  # fmt: skip
    parser.add_argument("--prune-timeout", type=float, default=600.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := set(engines) - {"sqlite", "postgresql"}:
        parser.error(f"unknown engines {sorted(unknown)}")
    plan = Plan(
        rows=args.rows,
        duration=args.duration,
        connections=args.connections,
        retention_days=args.retention_days,
        cli_older_than_days=args.cli_older_than,
        auto_vacuum=args.auto_vacuum,
        prune_timeout=args.prune_timeout,
    )
    return plan, engines, args.keep


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` % of them at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] if ordered else math.nan


def flush_summary(flushes: list[list[float]]) -> dict[str, Any]:
    """Flush durations, and the part of them waiting to begin the transaction, in ms."""
    seconds = [f[1] * 1000 for f in flushes]
    waits = [f[3] * 1000 for f in flushes]
    turns = [f[4] * 1000 for f in flushes]
    written = [f[2] for f in flushes if f[2] >= 0]
    return {
        "flushes": len(flushes),
        "failed": sum(1 for f in flushes if f[2] < 0),
        "rows_per_flush": round(sum(written) / len(written), 1) if written else 0,
        "p50_ms": round(percentile(seconds, 50), 2),
        "p99_ms": round(percentile(seconds, 99), 2),
        "max_ms": round(max(seconds, default=math.nan), 2),
        "wait_p50_ms": round(percentile(waits, 50), 2),
        "wait_p99_ms": round(percentile(waits, 99), 2),
        "wait_max_ms": round(max(waits, default=math.nan), 2),
        "turn_wait_p99_ms": round(percentile(turns, 99), 2),
        "turn_wait_max_ms": round(max(turns, default=math.nan), 2),
    }


def prune_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    if report is None:
        return None
    summary: dict[str, Any] = {
        "seconds": round(report["finished"] - report["started"], 2),
        **{k: report[k] for k in ("rows", "bytes_freed", "output") if k in report},
    }
    if batches := report.get("batches"):
        held = [b[2] * 1000 for b in batches]
        summary["batches"] = len(batches)
        summary["batch_hold_ms"] = {
            "p50": round(percentile(held, 50), 2),
            "p99": round(percentile(held, 99), 2),
            "max": round(max(held), 2),
        }
    if vacuums := report.get("vacuums"):
        summary["incremental_vacuum_ms"] = round(sum(v[1] for v in vacuums) * 1000, 1)
    return summary


def phase_row(phase: Phase, direct: Phase | None) -> dict[str, Any]:
    w = phase.wrk
    row: dict[str, Any] = {
        "phase": phase.name,
        "req_s": round(w.rps),
        "p50_ms": round(w.p50_ms, 2),
        "p99_ms": round(w.p99_ms, 2),
        "non_2xx_err": f"{w.non_2xx}/{w.socket_errors}",
        "cores": phase.cores,
    }
    if direct is not None and phase.name != "direct":
        row["ratio_req_s"] = round(w.rps / direct.wrk.rps, 3)
        row["ratio_p50"] = round(w.p50_ms / direct.wrk.p50_ms, 1)
        row["ratio_p99"] = round(w.p99_ms / direct.wrk.p99_ms, 1)
        row["added_p50_ms"] = round(w.p50_ms - direct.wrk.p50_ms, 2)
    if phase.name != "direct":
        row["flush"] = flush_summary(phase.during)
        row["raw_flushes"] = phase.flushes  # [start, s, rows, s to begin, s in the turn]
    if (prune := prune_summary(phase.prune)) is not None:
        row["prune"] = prune
        row["raw_prune"] = phase.prune
    return row


def summarize(run: EngineRun) -> dict[str, Any]:
    rows, direct = [], None
    for phase in run.phases:
        if phase.name == "direct":
            direct = phase
        rows.append(phase_row(phase, direct))
    baseline = [f for p in run.phases if p.name == "baseline" for f in p.during]
    return {
        "engine": run.engine,
        "facts": run.facts,
        "phases": rows,
        "baseline_flush": flush_summary(baseline),
        "stats_agree": not run.stats_problems,
        "stats_problems": run.stats_problems,
        "checks": run.checks,
    }


def print_summary(summary: dict[str, Any]) -> None:
    f = summary["facts"]
    print(
        f"\n{summary['engine']}: {f['log_rows']:,} log rows over 120 days"
        f" ({f.get('file_mb', f.get('logs_mb'))} MB), {f['log_hours_rows']:,} hour and"
        f" {f['log_minutes_rows']:,} minute rollup rows, built in {f['build_seconds']} s; "
        + ", ".join(
            f"{v:,} older than {k.removeprefix('older_than_')}"
            for k, v in f.items()
            if k.startswith("older_than_")
        )
    )
    head = f"  {'phase':<20} {'req/s':>7} {'ratio':>6} {'p50 ms':>7} {'x':>5} {'p99 ms':>7}"
    head += f" {'flushes':>7} {'rows/fl':>7} {'fl p50':>7} {'fl p99':>7} {'fl max':>7}"
    print(head + f" {'wait p99':>8} {'wait max':>8} {'turn max':>8}  other cores")
    for row in summary["phases"]:
        fl = row.get("flush", {})
        line = f"  {row['phase']:<20} {row['req_s']:>7,} {row.get('ratio_req_s', ''):>6}"
        line += f" {row['p50_ms']:>7.2f} {row.get('ratio_p50', ''):>5} {row['p99_ms']:>7.2f}"
        if fl:
            line += f" {fl['flushes']:>7} {fl['rows_per_flush']:>7} {fl['p50_ms']:>7.2f}"
            line += f" {fl['p99_ms']:>7.2f} {fl['max_ms']:>7.2f}"
            line += f" {fl['wait_p99_ms']:>8.2f} {fl['wait_max_ms']:>8.2f}"
            line += f" {fl['turn_wait_max_ms']:>8.2f}"
        else:
            line += " " * 67
        print(f"{line}  {row['cores']['other']:.2f}")
        if prune := row.get("prune"):
            print(f"  {'':<20} prune: {json.dumps(prune)}")
    b = summary["baseline_flush"]
    print(
        f"  baselines together: {b['flushes']} flushes, p50 {b['p50_ms']} ms,"
        f" p99 {b['p99_ms']} ms, max {b['max_ms']} ms (waiting to begin: p99"
        f" {b['wait_p99_ms']} ms, max {b['wait_max_ms']} ms)"
    )
    agree = "agree" if summary["stats_agree"] else f"DIFFER: {summary['stats_problems']}"
    print(f"  stats before/after (7d and 150d, by model/channel/token/user): {agree}")
    print(f"  checks: {json.dumps(summary['checks'])}")


def main(argv: list[str] | None = None) -> int:
    plan, engines, keep = parse_args(argv)
    started = time.time()
    summaries = []
    tmp = tempfile.mkdtemp(prefix="burncloud-retention-")
    try:
        with Supervisor() as sup:
            upstream = start_nginx(sup, Path(tmp) / "nginx", free_port(), 1)
            for engine in engines:
                summary = measure(sup, upstream, engine, Path(tmp) / engine, plan)
                if summary is not None:
                    print_summary(summary)
                    summaries.append(summary)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    path = save(plan, summaries, started)
    say(f"\nresults: {path}" + (f"; kept {tmp}" if keep else ""))
    return 0 if all(passed(s) for s in summaries) else 1


def passed(summary: dict[str, Any]) -> bool:
    """Stats agree, the prunes left nothing past their cutoff, billing stayed exact, and
    the router stopped cleanly."""
    checks = summary["checks"]
    return bool(
        summary["stats_agree"]
        and checks.get("left_past_cli_cutoff") == 0
        and checks.get("bench_used_matches_logs")
        and checks.get("router_exit_code") == 0
    )


def measure(
    sup: Supervisor, upstream: Upstream, engine: str, workdir: Path, plan: Plan
) -> dict[str, Any] | None:
    workdir.mkdir(parents=True)
    if engine == "sqlite":
        target = Target(engine, f"sqlite:///{workdir / 'burncloud.db'}", workdir)
        return summarize(run_engine(sup, upstream, target, plan))
    url = asyncio.run(postgres_schema())
    if url is None:
        return None
    try:
        return summarize(run_engine(sup, upstream, Target(engine, url, workdir), plan))
    finally:
        asyncio.run(drop_schema(url))


def save(plan: Plan, summaries: list[dict[str, Any]], started: float) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    path = RESULTS / f"retention-{stamp}.json"
    data = {
        "command": " ".join([sys.executable, *sys.argv]),
        "plan": asdict(plan),
        "seconds": round(time.time() - started),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_after": os.getloadavg(),
        "engines": summaries,
    }
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
