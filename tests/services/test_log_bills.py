"""A logged request's bill: lines at its price version summing to the cost, the inferred
group ratio, the upstream cost and the margin."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from burncloud.db import Database
from burncloud.errors import NotFound
from burncloud.money import parse_usd
from burncloud.services.log_bills import exact_usd, infer_ratio, logged_bill
from burncloud.services.price_definitions import to_definition
from burncloud.services.pricing import Price, UnitPrice, UnitUse, Usage, cost

SONNET = Price(
    "claude-sonnet",
    input=parse_usd("3"),
    output=parse_usd("15"),
    cached=parse_usd("0.30"),
    cache_write=parse_usd("3.75"),
    cache_write_1h=parse_usd("6"),
    units=(UnitPrice("call", parse_usd("10"), "web_search"),),
)
# 100 uncached input tokens, 1,000 read from cache, 1,300 written for 5 minutes and 1,000
# for an hour; 500 out; 2 web searches.
USAGE = Usage(
    prompt_tokens=3_400,
    completion_tokens=500,
    cached_tokens=1_000,
    cache_write_tokens=2_300,
    cache_write_1h_tokens=1_000,
    reasoning_tokens=20,
    units=(UnitUse("call", Decimal(2), "web_search"),),
)
# Anthropic's formula: tokens x price per 1M, each kind at its own price; $10 per 1,000 searches
SUBTOTAL_USD = (
    (Decimal(100) * 3 + Decimal(1_000) * Decimal("0.30") + Decimal(1_300) * Decimal("3.75")) / 10**6
    + (Decimal(1_000) * 6 + Decimal(500) * 15) / 10**6
    + Decimal(2) * 10 / 1_000
)


async def save_version(db: Database, price: Price) -> int:
    async with db.transaction() as tx:
        return int(
            await tx.fetch_value(
                "INSERT INTO price_versions (model, channel_id, definition, created_at)"
                " VALUES (:model, NULL, :definition, 0) RETURNING id",
                {"model": price.model, "definition": to_definition(price)},
            )
        )


async def log_row(db: Database, request_id: str, **values: Any) -> None:
    row = {
        "created_at": 1_700_000_000,
        "request_id": request_id,
        "channel_id": 1,
        "model": "claude-sonnet",
        "endpoint": "chat/completions",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cached_tokens": 0,
        "cost": 0,
        "latency_ms": 10,
        "status": 200,
        "stream": 0,
        "estimated": 0,
        "error": "",
        **values,
    }
    columns = ", ".join(row)
    params = ", ".join(f":{name}" for name in row)
    async with db.transaction() as tx:
        await tx.execute(f"INSERT INTO logs ({columns}) VALUES ({params})", row)


def usage_columns(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "units": '[{"per":"call","quantity":"2","variant":"web_search"}]',
    }


async def test_the_lines_are_the_provider_formula_and_sum_to_the_cost(db: Database) -> None:
    version = await save_version(db, SONNET)
    paid = cost(USAGE, SONNET, Decimal("0.8"))
    assert paid == parse_usd(SUBTOTAL_USD * Decimal("0.8"))  # 0.8 x $0.038975, exact
    await log_row(
        db, "req-1", cost=paid, upstream_cost=parse_usd("0.01"), price_version=version,
        **usage_columns(USAGE),
    )  # fmt: skip
    bill = await logged_bill(db, "req-1")
    assert [line.describe() for line in bill.lines] == [
        "100 input tokens x $3/1M = $0.0003",
        "1,000 cached tokens x $0.3/1M = $0.0003",
        "1,300 cache-write tokens x $3.75/1M = $0.004875",
        "1,000 1h cache-write tokens x $6/1M = $0.006",
        "500 output tokens x $15/1M = $0.0075",
        "2 tool calls (web_search) x $10/1K = $0.02",
    ]
    assert bill.subtotal == parse_usd(SUBTOTAL_USD)
    assert bill.ratio == Decimal("0.8")
    assert bill.margin == paid - parse_usd("0.01")
    data = bill.to_json()
    assert [line["usd"] for line in data["lines"]] == [
        "0.0003", "0.0003", "0.004875", "0.006", "0.0075", "0.02"
    ]  # fmt: skip
    assert sum(Decimal(line["usd"]) for line in data["lines"]) == SUBTOTAL_USD
    assert (data["subtotal"], data["group_ratio"], data["cost"]) == ("0.038975", "0.8", "0.03118")
    assert (data["upstream_cost"], data["margin"], data["margin_share"]) == (
        "0.01",
        "0.02118",
        "67.9%",
    )
    assert data["usage"]["cache_write_1h_tokens"] == 1_000 and data["price_version"] == version
    assert data["units"] == [{"per": "call", "quantity": "2", "variant": "web_search"}]


async def test_a_stored_group_ratio_is_shown_as_billed_not_inferred(db: Database) -> None:
    """The stored ratio wins even where a shorter ratio would give the same cost."""
    version = await save_version(db, SONNET)
    paid = cost(USAGE, SONNET, Decimal("0.80000001"))
    assert infer_ratio(Fraction(parse_usd(SUBTOTAL_USD)), paid) == Decimal("0.8")  # ambiguous
    await log_row(
        db, "req-1", cost=paid, price_version=version, group_ratio="0.80000001",
        **usage_columns(USAGE),
    )  # fmt: skip
    bill = await logged_bill(db, "req-1")
    assert bill.ratio == Decimal("0.80000001") and not bill.ratio_inferred
    data = bill.to_json()
    assert (data["group_ratio"], data["group_ratio_inferred"]) == ("0.80000001", False)


async def test_a_row_without_a_price_version_was_not_priced(db: Database) -> None:
    await log_row(db, "free-1", prompt_tokens=10, completion_tokens=5)
    bill = await logged_bill(db, "free-1")
    assert (bill.priced, bill.lines, bill.ratio, bill.margin) == (False, (), None, None)
    data = bill.to_json()
    assert (data["lines"], data["subtotal"], data["upstream_cost"], data["margin"]) == (
        [],
        None,
        None,
        None,
    )


async def test_the_latest_row_of_a_reused_id_is_shown_and_an_unknown_id_is_not_found(
    db: Database,
) -> None:
    await log_row(db, "again", cost=1)
    await log_row(db, "again", cost=2)
    assert (await logged_bill(db, "again")).entry.cost == 2
    with pytest.raises(NotFound, match="no logged request with id 'nope'"):
        await logged_bill(db, "nope")


async def test_a_later_price_change_does_not_rewrite_the_bill(db: Database) -> None:
    old = await save_version(db, SONNET)
    await save_version(db, Price("claude-sonnet", input=parse_usd("99"), output=parse_usd("99")))
    paid = cost(USAGE, SONNET, Decimal(1))
    await log_row(db, "r", cost=paid, price_version=old, **usage_columns(USAGE))
    bill = await logged_bill(db, "r")
    assert bill.subtotal == paid and bill.ratio == 1


@pytest.mark.parametrize(
    ("subtotal", "paid", "ratio"),
    [
        (Fraction(15_000_000), 15_000_000, Decimal(1)),
        (Fraction(75, 2), 38, Decimal(1)),  # 37.5 rounds half up to 38 at ratio 1
        (Fraction(38_975_000), 31_180_000, Decimal("0.8")),
        (Fraction(12_345, 1_000), 19, Decimal("1.5")),  # 18.5175 -> 19
        (Fraction(10), 25, Decimal("2.5")),
        (Fraction(10), 0, Decimal(0)),  # a free group
        (Fraction(3, 10), 0, Decimal(1)),  # a fraction of a nano-USD rounds to 0 at 1
        (Fraction(0), 0, Decimal(1)),
        (Fraction(0), 5, None),  # nothing to bill cannot explain a cost
    ],
)
def test_the_ratio_is_the_shortest_that_gives_the_cost(
    subtotal: Fraction, paid: int, ratio: Decimal | None
) -> None:
    found = infer_ratio(subtotal, paid)
    assert found == ratio
    if found is not None and subtotal:
        assert cost_at(subtotal, found) == paid


def cost_at(subtotal: Fraction, ratio: Decimal) -> int:
    exact = subtotal * Fraction(ratio)
    whole = exact.numerator // exact.denominator
    return whole + (1 if 2 * (exact - whole) >= 1 else 0)


def test_the_inferred_ratio_reproduces_every_cost_of_a_sample() -> None:
    for numerator in range(1, 400, 7):
        subtotal = Fraction(numerator * 1_234_567, 1_000)
        for ratio in (Decimal("0.3"), Decimal("0.85"), Decimal("1.25"), Decimal(3)):
            paid = cost_at(subtotal, ratio)
            found = infer_ratio(subtotal, paid)
            assert found is not None and cost_at(subtotal, found) == paid


@pytest.mark.parametrize(
    ("nano", "text", "exact"),
    [
        (Fraction(3_750), "0.00000375", True),
        (Fraction(15, 4), "0.00000000375", True),
        (Fraction(0), "0", True),
        (Fraction(1, 3), "0.000000000333333", False),
        (Fraction(2, 3), "0.000000000666667", False),
    ],
)
def test_line_amounts_are_exact_usd_where_a_decimal_can_be(
    nano: Fraction, text: str, exact: bool
) -> None:
    assert exact_usd(nano) == (text, exact)
