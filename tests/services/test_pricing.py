from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

from burncloud.money import UNITS_PER_USD, format_usd, parse_usd
from burncloud.services.pricing import (
    Price,
    Rates,
    Tier,
    UnitPrice,
    UnitUse,
    Usage,
    bill_lines,
    ceiling_cost,
    cost,
    resolve_price,
)

ONE = Decimal(1)


GPT4 = Price(model="gpt-4", input=parse_usd("30"), output=parse_usd("60"))


def test_seed_example_costs_exactly_0_015_usd() -> None:
    units = cost(Usage(prompt_tokens=100, completion_tokens=200), GPT4, ONE)
    assert units == 15_000_000
    assert format_usd(units) == "0.015"


def test_cached_tokens_are_billed_at_the_cached_price() -> None:
    price = Price(model="m", input=parse_usd("10"), output=parse_usd("20"), cached=parse_usd("1"))
    usage = Usage(prompt_tokens=1000, completion_tokens=0, cached_tokens=400)
    # 600 fresh tokens at $10/1M + 400 cached at $1/1M = $0.006 + $0.0004
    assert cost(usage, price, ONE) == parse_usd("0.0064")


def test_cached_tokens_are_billed_at_the_input_price_without_a_cached_price() -> None:
    price = Price(model="m", input=parse_usd("10"), output=parse_usd("20"))
    usage = Usage(prompt_tokens=1000, completion_tokens=0, cached_tokens=400)
    assert cost(usage, price, ONE) == parse_usd("0.01")


def test_cached_tokens_beyond_the_prompt_are_clamped() -> None:
    price = Price(model="m", input=parse_usd("10"), output=parse_usd("20"), cached=parse_usd("1"))
    usage = Usage(prompt_tokens=100, completion_tokens=0, cached_tokens=500)
    assert cost(usage, price, ONE) == parse_usd("0.0001")  # 100 tokens at the cached price


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [("0.8", "0.012"), ("1.5", "0.0225"), ("0", "0"), ("2", "0.03")],
)
def test_group_ratio_multiplies_the_cost(ratio: str, expected: str) -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=200)
    assert cost(usage, GPT4, Decimal(ratio)) == parse_usd(expected)


def test_half_a_nano_usd_rounds_up() -> None:
    price = Price(model="m", input=parse_usd("0.0375"), output=0)
    # 1 token at $0.0375 per 1M is 37.5 nano-USD: ROUND_HALF_UP gives 38.
    assert cost(Usage(prompt_tokens=1, completion_tokens=0), price, ONE) == 38


def test_less_than_half_a_nano_usd_rounds_down() -> None:
    price = Price(model="m", input=parse_usd("0.037499999"), output=0)
    assert cost(Usage(prompt_tokens=1, completion_tokens=0), price, ONE) == 37


def test_cost_is_rounded_once_not_per_part() -> None:
    price = Price(model="m", input=parse_usd("0.0005"), output=parse_usd("0.0005"))
    # 0.5 + 0.5 nano-USD: rounding each part would give 2; the exact sum is 1.
    assert cost(Usage(prompt_tokens=1, completion_tokens=1), price, ONE) == 1


def test_ratio_is_applied_exactly_before_rounding() -> None:
    price = Price(model="m", input=parse_usd("0.0375"), output=0)
    # 37.5 * 1.5 = 56.25 -> 56 (rounding 37.5 first would give 38 * 1.5 = 57)
    assert cost(Usage(prompt_tokens=1, completion_tokens=0), price, Decimal("1.5")) == 56


def test_large_usage_and_long_ratio_stay_exact() -> None:
    price = Price(model="m", input=parse_usd("1000.000000001"), output=parse_usd("3000"))
    usage = Usage(prompt_tokens=123_456_789_012, completion_tokens=98_765_432_109)
    ratio = Decimal("0.3333333333333333333333333333")
    with localcontext(prec=200):
        exact = (
            (Decimal(123_456_789_012) * Decimal("1000.000000001") + Decimal(98_765_432_109) * 3000)
            * ratio
            * UNITS_PER_USD
            / 1_000_000
        )
        expected = int(exact.quantize(ONE, rounding=ROUND_HALF_UP))
    assert cost(usage, price, ratio) == expected


def test_price_json_has_money_as_decimal_strings() -> None:
    price = Price(
        model="m",
        input=parse_usd("30"),
        output=parse_usd("0.5"),
        cache_write=parse_usd("37.5"),
        request=parse_usd("0.01"),
        tiers=(Tier(200_000, Rates(input=parse_usd("60"))),),
        units=(UnitPrice("image", parse_usd("0.04"), "1024x1024/standard"),),
        version=3,
    )
    assert price.to_json() == {
        "model": "m",
        "input": "30",
        "output": "0.5",
        "cached": None,
        "cache_write": "37.5",
        "cache_write_1h": None,
        "audio_input": None,
        "audio_output": None,
        "image_input": None,
        "image_output": None,
        "request": "0.01",
        "tiers": [{"above": 200_000, "input": "60"}],
        "units": [{"per": "image", "variant": "1024x1024/standard", "usd": "0.04"}],
        "alias": None,
        "version": 3,
    }


def table(*prices: Price) -> dict[str, Price]:
    return {price.model: price for price in prices}


def alias(model: str, target: str) -> Price:
    return Price(model=model, input=0, output=0, alias_of=target)


def test_a_priced_model_resolves_to_itself() -> None:
    assert resolve_price("gpt-4", table(GPT4)) is GPT4


def test_an_alias_resolves_to_its_targets_amounts() -> None:
    resolved = resolve_price("gpt-4-turbo", table(GPT4, alias("gpt-4-turbo", "gpt-4")))
    assert resolved == Price(
        model="gpt-4-turbo", input=GPT4.input, output=GPT4.output, alias_of="gpt-4"
    )


def test_an_alias_chain_resolves_to_its_end() -> None:
    prices = table(GPT4, alias("b", "gpt-4"), alias("a", "b"))
    resolved = resolve_price("a", prices)
    assert resolved is not None
    assert (resolved.model, resolved.input, resolved.output) == ("a", GPT4.input, GPT4.output)
    assert resolved.alias_of == "b"


def test_an_unknown_model_has_no_price() -> None:
    assert resolve_price("nope", table(GPT4)) is None


def test_an_alias_to_a_missing_model_has_no_price() -> None:
    assert resolve_price("a", table(alias("a", "gone"))) is None


def test_an_alias_cycle_has_no_price_and_terminates() -> None:
    prices = table(alias("a", "b"), alias("b", "c"), alias("c", "a"))
    assert resolve_price("a", prices) is None


# Context tiers: a tier applies when the prompt has more than ``above`` tokens.
TIERED = Price(
    model="gemini-2.5-pro",
    input=parse_usd("1.25"),
    output=parse_usd("10"),
    cached=parse_usd("0.31"),
    tiers=(Tier(200_000, Rates(input=parse_usd("2.5"), output=parse_usd("15"))),),
)


def test_a_prompt_at_the_threshold_bills_at_the_base_prices() -> None:
    usage = Usage(prompt_tokens=200_000, completion_tokens=1_000)
    # 200,000 x $1.25/1M + 1,000 x $10/1M = $0.25 + $0.01
    assert cost(usage, TIERED, ONE) == parse_usd("0.26")


def test_a_prompt_one_token_over_the_threshold_bills_at_the_tier() -> None:
    usage = Usage(prompt_tokens=200_001, completion_tokens=1_000)
    # 200,001 x $2.5/1M + 1,000 x $15/1M = $0.5000025 + $0.015
    assert cost(usage, TIERED, ONE) == parse_usd("0.5150025")


def test_a_tier_keeps_the_base_price_of_a_kind_it_does_not_name() -> None:
    usage = Usage(prompt_tokens=300_000, completion_tokens=0, cached_tokens=100_000)
    # 200,000 fresh x $2.5/1M + 100,000 cached x $0.31/1M (the base cached price)
    assert cost(usage, TIERED, ONE) == parse_usd("0.5") + parse_usd("0.031")


def test_an_unnamed_kind_in_a_tier_falls_back_to_the_tiers_input_price() -> None:
    price = Price(
        model="m",
        input=parse_usd("1"),
        output=parse_usd("2"),
        tiers=(Tier(10, Rates(input=parse_usd("4"))),),
    )
    usage = Usage(prompt_tokens=20, completion_tokens=0, cache_write_tokens=20)
    assert price.rates_for(20)["cache_write"] == parse_usd("4")
    assert cost(usage, price, ONE) == parse_usd("0.00008")  # 20 tokens x $4/1M


def test_the_highest_tier_the_prompt_is_above_applies() -> None:
    price = Price(
        model="m",
        input=parse_usd("1"),
        output=parse_usd("1"),
        tiers=(
            Tier(1_000, Rates(input=parse_usd("3"))),
            Tier(100, Rates(input=parse_usd("2"))),
        ),
    )
    assert [price.rates_for(n)["input"] for n in (100, 101, 1_000, 1_001)] == [
        parse_usd("1"),
        parse_usd("2"),
        parse_usd("2"),
        parse_usd("3"),
    ]


# Fallbacks: a kind without its own price bills at the input (or output) price.


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        ("cached", "input"),
        ("cache_write", "input"),
        ("cache_write_1h", "input"),
        ("audio_input", "input"),
        ("image_input", "input"),
        ("audio_output", "output"),
        ("image_output", "output"),
    ],
)
def test_a_kind_without_a_price_bills_at_its_sides_price(kind: str, base: str) -> None:
    rates = Price(model="m", input=parse_usd("3"), output=parse_usd("15")).rates_for(0)
    assert rates[kind] == rates[base]


def test_unpriced_kinds_are_those_left_to_fall_back() -> None:
    price = Price(model="m", input=1, output=2, cached=1, cache_write=3, audio_output=4)
    assert price.unpriced_kinds() == [
        "cache_write_1h",
        "audio_input",
        "image_input",
        "image_output",
    ]


def test_anthropic_cache_writes_bill_5m_and_1h_separately() -> None:
    price = Price(
        model="claude-sonnet-4-5",
        input=parse_usd("3"),
        output=parse_usd("15"),
        cached=parse_usd("0.3"),
        cache_write=parse_usd("3.75"),
        cache_write_1h=parse_usd("6"),
    )
    usage = Usage(
        prompt_tokens=10_000,
        completion_tokens=500,
        cached_tokens=2_000,
        cache_write_tokens=3_000,
        cache_write_1h_tokens=1_000,
    )
    # 5,000 fresh x 3 + 2,000 read x 0.3 + 2,000 5m writes x 3.75 + 1,000 1h writes x 6
    # + 500 out x 15, per 1M: 0.015 + 0.0006 + 0.0075 + 0.006 + 0.0075
    assert cost(usage, price, ONE) == parse_usd("0.0366")


# The partition of tokens by kind.


def test_token_kinds_partition_the_prompt_and_the_completion() -> None:
    usage = Usage(
        prompt_tokens=1_000,
        completion_tokens=300,
        cached_tokens=100,
        cache_write_tokens=200,
        cache_write_1h_tokens=50,
        audio_input_tokens=40,
        image_input_tokens=30,
        audio_output_tokens=20,
        image_output_tokens=10,
        reasoning_tokens=100,
    )
    counts = dict(usage.token_counts())
    assert counts == {
        "input": 630,
        "cached": 100,
        "cache_write": 150,
        "cache_write_1h": 50,
        "audio_input": 40,
        "image_input": 30,
        "output": 270,  # reasoning tokens are output tokens
        "audio_output": 20,
        "image_output": 10,
    }
    prompt_side = ("input", "cached", "cache_write", "cache_write_1h", "audio_input", "image_input")
    assert sum(counts[kind] for kind in prompt_side) == 1_000
    assert sum(counts[kind] for kind in ("output", "audio_output", "image_output")) == 300


def test_parts_larger_than_what_is_left_are_clamped_and_never_bill_twice() -> None:
    usage = Usage(
        prompt_tokens=100,
        completion_tokens=10,
        cached_tokens=80,
        cache_write_tokens=50,  # only 20 left after the cached ones
        cache_write_1h_tokens=70,  # more than the writes
        audio_output_tokens=30,  # more than the completion
        image_output_tokens=5,
    )
    counts = dict(usage.token_counts())
    assert (counts["input"], counts["cached"]) == (0, 80)
    assert (counts["cache_write"], counts["cache_write_1h"]) == (0, 20)
    assert (counts["output"], counts["audio_output"], counts["image_output"]) == (0, 10, 0)
    assert sum(counts.values()) == 110


def test_negative_counts_bill_nothing() -> None:
    for usage in (
        Usage(prompt_tokens=10, completion_tokens=-5, cached_tokens=-3),
        Usage(prompt_tokens=10, completion_tokens=-5, cached_tokens=-3, cache_write_tokens=-1),
    ):
        assert {kind: n for kind, n in usage.token_counts() if n} == {"input": 10}


# Per-request and per-unit prices.

UNITS = Price(
    model="m",
    input=0,
    output=0,
    request=parse_usd("0.001"),
    units=(
        UnitPrice("image", parse_usd("0.04"), "1024x1024/standard"),
        UnitPrice("minute", parse_usd("0.006")),
        UnitPrice("characters", parse_usd("15")),
        UnitPrice("search", parse_usd("2")),
        UnitPrice("call", parse_usd("10"), "web_search"),
    ),
)


@pytest.mark.parametrize(
    ("use", "expected"),
    [
        (UnitUse("image", Decimal(2), "1024x1024/standard"), "0.08"),
        (UnitUse("minute", Decimal(90)), "0.009"),  # 90 seconds at $0.006 a minute
        (UnitUse("characters", Decimal(1_000)), "0.015"),  # $15 per 1M characters
        (UnitUse("search", Decimal(3)), "0.006"),  # $2 per 1,000 searches
        (UnitUse("call", Decimal(1), "web_search"), "0.01"),  # $10 per 1,000 calls
    ],
)
def test_each_unit_bills_per_its_block(use: UnitUse, expected: str) -> None:
    usage = Usage(prompt_tokens=0, completion_tokens=0, units=(use,))
    assert cost(usage, UNITS, ONE) == parse_usd(expected) + parse_usd("0.001")


def test_a_unit_without_a_price_bills_nothing_and_says_so() -> None:
    use = UnitUse("image", Decimal(1), "1792x1024/hd")
    usage = Usage(prompt_tokens=0, completion_tokens=0, units=(use,))
    assert cost(usage, UNITS, ONE) == parse_usd("0.001")  # the request price only
    line = bill_lines(usage, UNITS)[-1]
    assert (line.rate, line.amount) == (None, 0)
    assert line.describe() == "1 images (1792x1024/hd): no price, not billed"


def test_fractional_unit_amounts_are_rounded_once_with_the_ratio() -> None:
    price = Price(model="m", input=0, output=0, units=(UnitPrice("minute", 1),))
    usage = Usage(prompt_tokens=0, completion_tokens=0, units=(UnitUse("minute", Decimal(45)),))
    # 45 seconds at 1 nano-USD a minute is 0.75 nano-USD: x2 is 1.5 -> 2 (once), not 1 x 2
    assert cost(usage, price, Decimal(2)) == 2


def test_bill_lines_add_up_to_the_cost() -> None:
    usage = Usage(
        prompt_tokens=1_000,
        completion_tokens=10,
        cache_write_tokens=1_000,
        units=(UnitUse("call", Decimal(3), "web_search"),),
    )
    price = Price(
        model="m",
        input=parse_usd("3"),
        output=parse_usd("15"),
        cache_write=parse_usd("3.75"),
        request=parse_usd("0.002"),
        units=(UnitPrice("call", parse_usd("10"), "web_search"),),
    )
    lines = bill_lines(usage, price)
    assert [line.kind for line in lines] == ["cache_write", "output", "request", "call"]
    assert lines[0].describe() == "1,000 cache-write tokens x $3.75/1M = $0.00375"
    assert sum(line.amount for line in lines) == cost(usage, price, ONE)


# Reservations.


def test_the_ceiling_covers_every_prompt_token_at_the_dearest_input_side_price() -> None:
    price = Price(
        model="m",
        input=parse_usd("3"),
        output=parse_usd("15"),
        cache_write_1h=parse_usd("6"),
        audio_output=parse_usd("80"),
        request=parse_usd("0.01"),
    )
    # 1,000 prompt tokens x $6/1M + 100 answer tokens x $80/1M + $0.01
    assert ceiling_cost(1_000, 100, price, ONE) == parse_usd("0.024")
    worst = Usage(
        prompt_tokens=1_000,
        completion_tokens=100,
        cache_write_tokens=1_000,
        cache_write_1h_tokens=1_000,
        audio_output_tokens=100,
    )
    assert cost(worst, price, ONE) == ceiling_cost(1_000, 100, price, ONE)


def test_the_ceiling_uses_the_tier_the_prompt_falls_in_and_the_ratio() -> None:
    assert ceiling_cost(200_000, 0, TIERED, Decimal("0.5")) == parse_usd("0.125")
    assert ceiling_cost(200_001, 0, TIERED, Decimal("0.5")) == parse_usd("0.25000125")


def test_an_alias_bills_at_its_targets_version() -> None:
    target = Price(model="c", input=1, output=2, version=9)
    resolved = resolve_price("a", table(target, alias("a", "c")))
    assert resolved is not None and (resolved.version, resolved.alias_of) == (9, "c")
