"""`burncloud log show REQUEST_ID`: the row's bill, line by line, as text."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest

from burncloud.db import Database, open_database
from burncloud.money import parse_usd
from burncloud.services.pricing import Price, Usage, cost
from tests.cli.checks import fails_with_one_line
from tests.services.test_log_bills import SONNET, USAGE, log_row, save_version, usage_columns
from tests.untrusted_text import ESCAPE_ID, OSC8_LINK, commands_in, shown

AT = "2023-11-14T22:13:20Z"  # the rows' created_at


def on_db(db_url: str, act: Callable[[Database], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        db = await open_database(db_url)
        try:
            return await act(db)
        finally:
            await db.close()

    return asyncio.run(run())


@pytest.fixture
def version(db_url: str, bootstrapped: None) -> int:
    return on_db(db_url, lambda db: save_version(db, SONNET))


def test_show_prints_the_lines_the_ratio_the_total_and_the_margin(
    cli, db_url: str, version: int
) -> None:
    paid = cost(USAGE, SONNET, Decimal("0.8"))
    row = usage_columns(USAGE) | {"cost": paid, "upstream_cost": parse_usd("0.01")}
    on_db(db_url, lambda db: log_row(db, "req-1", price_version=version, **row))
    result = cli("log", "show", "req-1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"request req-1: claude-sonnet on channel #1, status 200, at {AT}",
        f"billed at price version {version}:",
        "  100 input tokens x $3/1M = $0.0003",
        "  1,000 cached tokens x $0.3/1M = $0.0003",
        "  1,300 cache-write tokens x $3.75/1M = $0.004875",
        "  1,000 1h cache-write tokens x $6/1M = $0.006",
        "  500 output tokens x $15/1M = $0.0075",
        "  2 tool calls (web_search) x $10/1K = $0.02",
        "subtotal $0.038975",
        "group ratio x0.8 (inferred: the shortest ratio that gives this cost)",
        "total $0.03118",
        "upstream cost $0.01",
        "margin $0.02118 (67.9%)",
    ]


def test_a_total_rounded_once_says_so_and_a_loss_is_a_negative_margin(
    cli, db_url: str, bootstrapped: None
) -> None:
    price = Price("m", input=parse_usd("0.000001"), output=0)  # 1e-12 USD a token
    usage = Usage(prompt_tokens=1_500, completion_tokens=0)  # 1.5 nano-USD
    paid = cost(usage, price, Decimal(1))
    assert paid == 2

    async def seed(db: Database) -> None:
        version = await save_version(db, price)
        await log_row(
            db, "r", price_version=version, prompt_tokens=1_500, cost=paid, upstream_cost=3
        )

    on_db(db_url, seed)
    lines = cli("log", "show", "r").stdout.splitlines()
    assert lines[2:] == [
        "  1,500 input tokens x $0.000001/1M = $0.0000000015",
        "subtotal $0.0000000015",
        "rounded once, half up, to a whole nano-dollar:",
        "total $0.000000002",
        "upstream cost $0.000000003",
        "margin -$0.000000001 (-50.0%)",
    ]


def test_an_estimated_unpriced_row_says_so_and_its_upstream_cost_is_unknown(
    cli, db_url: str, bootstrapped: None
) -> None:
    on_db(db_url, lambda db: log_row(db, "free", estimated=1, prompt_tokens=5, channel_id=None))
    assert cli("log", "show", "free").stdout.splitlines() == [
        f"request free: claude-sonnet on no channel, status 200, at {AT}",
        "usage estimated: the upstream reported none, so the router counted it",
        "not priced: no price version (served free, or logged before versions)",
        "total $0",
        "upstream cost unknown",
        "margin unknown",
    ]


def test_show_json_is_the_admin_apis_bill(cli, db_url: str, version: int) -> None:
    paid = cost(USAGE, SONNET, Decimal(1))
    row = usage_columns(USAGE) | {"cost": paid}
    on_db(db_url, lambda db: log_row(db, "j", price_version=version, **row))
    result = cli("log", "show", "j", "--json")
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert data["cost"] == data["subtotal"] == "0.038975" and data["group_ratio"] == "1"
    assert (data["upstream_cost"], data["margin"]) == (None, None)
    assert [line["kind"] for line in data["lines"]] == [
        "input", "cached", "cache_write", "cache_write_1h", "output", "call"
    ]  # fmt: skip


def test_what_clients_and_upstreams_wrote_shows_as_text(cli, db_url: str, version: int) -> None:
    units = '[{"per":"call","quantity":"1","variant":"\\u001b]0;x\\u0007"}]'
    on_db(
        db_url,
        lambda db: log_row(
            db,
            ESCAPE_ID,
            model=OSC8_LINK,
            price_version=version,
            units=units,
            cost=3_000,
            prompt_tokens=1,
        ),
    )
    result = cli("log", "show", ESCAPE_ID)
    assert result.exit_code == 0, result.output
    assert commands_in(result.stdout) == []
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"request {shown(ESCAPE_ID)}: {shown(OSC8_LINK)} on channel #1")
    assert lines[3] == "  1 tool calls (\\x1b]0;x\\x07): no price, not billed"


def test_an_unknown_request_is_a_one_line_error(cli, bootstrapped: None) -> None:
    fails_with_one_line(cli("log", "show", "nope"), "no logged request with id 'nope'")
