from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

from burncloud.money import UNITS_PER_USD, format_usd, parse_usd
from burncloud.services.pricing import Price, Usage, cost, resolve_price

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
    price = Price(model="m", input=parse_usd("30"), output=parse_usd("0.5"), cached=None)
    assert price.to_json() == {
        "model": "m",
        "input": "30",
        "output": "0.5",
        "cached": None,
        "alias": None,
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
