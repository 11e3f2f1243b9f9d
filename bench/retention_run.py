"""One engine's retention measurement: build the history, take the stats, start the timed
router and run the phases (``retention_phases``), then check what the prunes must not
have changed.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import retention_history as hist
import retention_stats
from processes import Supervisor
from retention_phases import Phase, Phases, RouterUnderTest
from rounds import say
from upstream import CHAT_PATH, Upstream

from burncloud.db import open_database
from burncloud.services.log_retention import DAY, count_older

MODEL = "bench-chat"
HISTORY_CHANNELS = 4


@dataclass(frozen=True, slots=True)
class Plan:
    rows: int
    duration: float
    connections: int
    retention_days: int
    cli_older_than_days: int
    auto_vacuum: str
    prune_timeout: float


@dataclass(frozen=True, slots=True)
class Target:
    """The database under test and the environment every process gets for it."""

    engine: str
    url: str
    workdir: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.url, "BURNCLOUD_LOG_RETENTION_DAYS": "0"}
        if self.engine == "postgresql":  # SQLite keeps its key file beside the database
            env["BURNCLOUD_SECRET"] = self.secret
        env.pop("BURNCLOUD_STATE_FILE", None)  # one worker: no shared state file
        return env

    def cli(self, *args: str) -> str:
        return retention_stats.cli(self.env, self.workdir, *args)


@dataclass(slots=True)
class EngineRun:
    engine: str
    facts: dict[str, Any] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    stats_problems: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


def run_engine(sup: Supervisor, upstream: Upstream, target: Target, plan: Plan) -> EngineRun:
    run = EngineRun(target.engine)
    key, bench_keys = build(target, upstream, plan, run.facts)
    before = retention_stats.snapshot(target.env, target.workdir)
    run.facts["history_requests_7d"] = retention_stats.history_requests(
        before, "7d/model", bench_keys["model"]
    )
    router = RouterUnderTest.start(sup, target)
    try:
        router.check(key)
        phases = Phases(sup, upstream, target, plan, router, key)
        run.phases = phases.all()
    finally:
        run.checks["router_exit_code"] = sup.stop(router.child, grace=30)
        run.checks["router_problem_lines"] = problems(router.log)
    run.checks.update(
        asyncio.run(final_counts(target, run.facts["bench_token_id"], phases.cli_cutoff))
    )
    after = retention_stats.snapshot(target.env, target.workdir)
    run.stats_problems = retention_stats.compare(before, after, bench_keys)
    return run


def build(
    target: Target, upstream: Upstream, plan: Plan, facts: dict[str, Any]
) -> tuple[str, dict[str, set[str]]]:
    """Seed the bench's channel, user and token and the history's owners, load the rows and
    their rollup; the bench's key and the stats keys of its own traffic."""
    started = time.monotonic()
    if target.engine == "sqlite" and plan.auto_vacuum != "incremental":  # an older file
        make_sqlite_file(target.workdir / "burncloud.db", plan.auto_vacuum)
    base = upstream.base + CHAT_PATH.removesuffix("/chat/completions")
    target.cli("price", "set", MODEL, "--input", "2.5", "--output", "10")
    target.cli(
        "channel", "add", "--type", "openai-compatible", "--name", "bench",
        "--key", "sk-upstream-bench", "--models", MODEL, "--base-url", base,
    )  # fmt: skip
    for n in range(HISTORY_CHANNELS):
        models = ",".join(
            hist.history_model(m) for m in range(hist.MODELS) if m % HISTORY_CHANNELS == n
        )
        target.cli(
            "channel", "add", "--type", "openai-compatible", "--name", f"hist-channel-{n}",
            "--key", "sk-upstream-hist", "--models", models, "--base-url", base,
        )  # fmt: skip
    target.cli("user", "add", "bench", "--balance", "1000000")
    token = json.loads(
        target.cli("token", "create", "--name", "bench", "--user", "bench",
                   "--quota", "1000000", "--json")
    )  # fmt: skip
    ids = asyncio.run(load_history(target, plan, facts))
    facts["build_seconds"] = round(time.monotonic() - started, 1)
    bench_keys = {
        "model": {MODEL},
        "channel": {str(ids["channel"])},
        "token": {str(token["id"])},
        "user": {str(ids["user"])},
    }
    facts["bench_token_id"] = int(token["id"])
    return token["key"], bench_keys


def make_sqlite_file(path: Path, auto_vacuum: str) -> None:
    """An empty database with ``auto_vacuum`` set (it must be before the first table)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA auto_vacuum = {auto_vacuum}")
        conn.execute("CREATE TABLE bench_first (x)")  # writes the header with the mode
        conn.execute("DROP TABLE bench_first")
    finally:
        conn.close()


async def load_history(target: Target, plan: Plan, facts: dict[str, Any]) -> dict[str, int]:
    """The history's owners, rows and rollup; the bench channel's and user's ids."""
    db = await open_database(target.url)
    try:
        rows = await db.fetch_all("SELECT id, name FROM channels ORDER BY id")
        channels = {row["name"]: int(row["id"]) for row in rows}
        user = int(await db.fetch_value("SELECT id FROM users WHERE name = 'bench'"))
        await hist.seed_owners(db)
        now = int(time.time())
        history = hist.plan_history(
            plan.rows,
            now,
            tuple(channels[f"hist-channel-{n}"] for n in range(HISTORY_CHANNELS)),
        )
        say(f"[{target.engine}] loading {plan.rows:,} log rows over {hist.DAYS} days")
        loaded = time.monotonic()
        if target.engine == "sqlite":
            await asyncio.to_thread(hist.load_sqlite, str(db.url.sqlite_path), history)
        else:
            schema = target.url.rsplit("search_path=", 1)[1]
            await hist.load_postgres(target.url.split("?", 1)[0], schema, history)
        facts["load_seconds"] = round(time.monotonic() - loaded, 1)
        await hist.add_rollup(db, now)
        await hist.check_rollup(db, now)
        if target.engine == "postgresql":
            await db.execute("ANALYZE")  # what autovacuum would have done by now
        facts.update(await table_facts(db, target.engine))
        for days in (plan.retention_days, plan.cli_older_than_days):
            facts[f"older_than_{days}d"] = await count_older(db, now - days * DAY)
        return {"channel": channels["bench"], "user": user}
    finally:
        await db.close()


async def table_facts(db: Any, engine: str) -> dict[str, Any]:
    facts: dict[str, Any] = {"log_rows": int(await db.fetch_value("SELECT COUNT(*) FROM logs"))}
    for table in ("log_hours", "log_minutes"):
        facts[f"{table}_rows"] = int(await db.fetch_value(f"SELECT COUNT(*) FROM {table}"))
    if engine == "sqlite":
        pages = int(await db.fetch_value("PRAGMA page_count"))
        facts["file_mb"] = round(pages * int(await db.fetch_value("PRAGMA page_size")) / 2**20)
        facts["auto_vacuum"] = int(await db.fetch_value("PRAGMA auto_vacuum"))
    else:
        size = await db.fetch_value("SELECT pg_total_relation_size('logs')")
        facts["logs_mb"] = round(int(size) / 2**20)
    return facts


async def final_counts(target: Target, token: int, cutoff: int | None) -> dict[str, Any]:
    """After the router stopped: rows left, rows left past the CLI prune's cutoff, and
    whether the bench token's ``used`` equals its logged costs."""
    db = await open_database(target.url)
    try:
        checks = await table_facts(db, target.engine)
        if cutoff is not None:
            checks["left_past_cli_cutoff"] = await count_older(db, cutoff)
        used = await db.fetch_value("SELECT used FROM tokens WHERE id = :t", {"t": token})
        logged = await db.fetch_value(
            "SELECT COALESCE(SUM(cost), 0) FROM logs WHERE token_id = :t", {"t": token}
        )
        checks["bench_used_matches_logs"] = int(used) == int(logged)
        return checks
    finally:
        await db.close()


def problems(log: Path) -> list[str]:
    markers = ("ERROR", "CRITICAL", "Traceback")
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if any(m in line for m in markers)][:20]
