"""`burncloud stats` revenue, upstream cost and margin against the log rows, on SQLite and
PostgreSQL: the rows go through the log writer as the router writes them, each priced
with ``services.pricing.cost`` at the caller's group ratio (revenue) and at its channel's
cost ratio (upstream cost), and the figures must equal the rows' sums exactly."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from burncloud.cli.app import app
from burncloud.db import Database, open_database
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.money import parse_signed_usd, parse_usd
from burncloud.services.groups import set_group
from burncloud.services.pricing import Price, Usage, cost
from burncloud.services.tokens import insert_token
from burncloud.services.users import create_user
from tests.gateway.quota_db import BACKENDS, _drop_schema, _new_schema, require_postgres
from tests.services.test_stats import NOW, NoLedger, add_channel

USD = 10**9
# Claude Sonnet's list price: $3 in, $15 out, $0.30 cache reads, $3.75 cache writes (5 min)
SONNET = Price(
    "claude-sonnet", input=3 * USD, output=15 * USD, cached=3 * USD // 10, cache_write=3_750_000_000
)
RATIOS = {"reseller": Decimal("0.3"), "direct": Decimal("1.0")}
GROUPS = {"default": Decimal(1), "vip": Decimal("0.8")}


@pytest.fixture(params=BACKENDS)
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh migrated database, SQLite or PostgreSQL."""
    if request.param == "sqlite":
        address = f"sqlite:///{tmp_path}/margin.db"
    else:
        await require_postgres()
        address = await _new_schema()
    db = await open_database(address)
    await db.close()
    try:
        yield address
    finally:
        if request.param == "postgresql":
            await _drop_schema(address)


def stats_json(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setattr("burncloud.cli.stats.now", lambda: NOW)
    secret = None if url.startswith("sqlite") else "test-secret"
    result = CliRunner().invoke(
        app,
        ["stats", *args, "--json"],
        env={"DATABASE_URL": url, "BURNCLOUD_SECRET": secret},
    )
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


async def serve_100_requests(db: Database) -> dict[str, int]:
    """Two callers (groups default and vip) send 100 requests over the last 20 hours to
    two channels, the reseller at 0.3 of the list price and the direct one at 1.0."""
    async with db.transaction() as tx:
        await set_group(tx, "vip", GROUPS["vip"])
        callers = []
        for name, group in (("alice", "default"), ("bob", "vip")):
            user = await create_user(tx, name=name, group=group, balance=-1)
            token, _ = await insert_token(tx, name=f"{name}-key", user_id=user.id)
            callers.append((token.id, user.id, GROUPS[group]))
    channels = {name: await add_channel(db, name, "enabled") for name in RATIOS}
    for name, ratio in RATIOS.items():
        await db.execute(
            "UPDATE channels SET cost_ratio = :r WHERE id = :id",
            {"r": str(ratio), "id": channels[name]},
        )
    rng = random.Random(16)
    writer = LogWriter(db, NoLedger())
    for i in range(100):
        channel = rng.choice(list(RATIOS))
        token_id, user_id, group_ratio = rng.choice(callers)
        usage = Usage(
            prompt_tokens=rng.randint(1, 40_000),
            completion_tokens=rng.randint(1, 4_000),
            cached_tokens=rng.randint(0, 1),
            cache_write_tokens=rng.choice((0, 0, 777)),
        )
        writer.submit(
            LogRecord(
                created_at=NOW - (0 if i % 10 == 0 else rng.randrange(20 * 3600)),
                request_id=f"req-{i}",
                user_id=user_id,
                token_id=token_id,
                channel_id=channels[channel],
                model=SONNET.model,
                endpoint="chat/completions",
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cost=cost(usage, SONNET, group_ratio),
                upstream_cost=cost(usage, SONNET, RATIOS[channel]),
                latency_ms=rng.randint(100, 5000),
                ttft_ms=None,
                status=200,
                stream=False,
                estimated=False,
                settlement=None,
            )
        )
        if i % 30 == 29:
            await writer.flush()
    await writer.flush()
    return channels


async def logged_sums(db: Database) -> dict[str, tuple[int, int]]:
    """Each channel's (revenue, upstream cost) added up from its log rows, by id as text."""
    rows = await db.fetch_all(
        "SELECT channel_id, SUM(cost) AS cost, SUM(upstream_cost) AS upstream FROM logs"
        " GROUP BY channel_id"
    )
    return {str(row["channel_id"]): (int(row["cost"]), int(row["upstream"])) for row in rows}


async def write_and_sum(url: str) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    db = await open_database(url)
    try:
        channels = await serve_100_requests(db)
        return channels, await logged_sums(db)
    finally:
        await db.close()


def test_stats_by_channel_revenue_upstream_cost_and_margin_are_the_logs_sums(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels, sums = asyncio.run(write_and_sum(url))
    found = stats_json(url, monkeypatch, "--by", "channel")
    rows = {row["key"]: row for row in found["rows"]}
    assert set(rows) == {str(cid) for cid in channels.values()} == set(sums)
    assert sum(row["requests"] for row in rows.values()) == 100
    for key, (revenue, upstream) in sums.items():
        row = rows[key]
        assert parse_usd(row["revenue"]) == parse_usd(row["cost"]) == revenue
        assert parse_usd(row["upstream_cost"]) == upstream
        assert parse_signed_usd(row["margin"]) == revenue - upstream
        assert (row["upstream_unknown"], row["upstream_unknown_revenue"]) == (0, "0")
        percent = Decimal(row["margin_percent"])
        assert abs(percent - Decimal(100 * (revenue - upstream)) / revenue) <= Decimal("0.05")
    reseller, direct = (sums[str(channels[name])] for name in ("reseller", "direct"))
    assert reseller[1] < reseller[0] / 2  # 0.3 of the list price, against 0.8 or 1 of it
    assert direct[1] >= direct[0]  # the list price, against callers paying 0.8 or 1 of it
    totals = found["totals"]
    revenue, upstream = (sum(values) for values in zip(*sums.values(), strict=True))
    assert (parse_usd(totals["revenue"]), parse_usd(totals["upstream_cost"])) == (revenue, upstream)
    assert parse_signed_usd(totals["margin"]) == revenue - upstream
