"""A log row's usage columns and its units JSON, both ways."""

from __future__ import annotations

from decimal import Decimal

import pytest

from burncloud.services.logged_usage import decode_units, encode_units, usage_of_row
from burncloud.services.pricing import Price, UnitPrice, UnitUse, Usage, cost

UNITS = (
    UnitUse("call", Decimal(3), "web_search"),
    UnitUse("minute", Decimal("12.5")),
    UnitUse("image", Decimal(1), "1024x1024/standard"),
)


def test_units_are_compact_json_and_read_back_exactly() -> None:
    text = encode_units(UNITS)
    assert text == (
        '[{"per":"call","quantity":"3","variant":"web_search"},'
        '{"per":"minute","quantity":"12.5","variant":""},'
        '{"per":"image","quantity":"1","variant":"1024x1024/standard"}]'
    )
    assert decode_units(text) == UNITS


def test_no_units_are_an_empty_column() -> None:
    assert encode_units(()) == ""
    assert decode_units("") == ()


def test_a_quantity_never_takes_an_exponent() -> None:
    assert '"quantity":"1000"' in encode_units((UnitUse("search", Decimal("1E+3")),))


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '[{"per":"parsec","quantity":"1","variant":""}]',
        '[{"per":"call","quantity":"lots","variant":""}]',
        '[{"per":"call","quantity":"NaN","variant":""}]',
        '[{"per":"call","quantity":1,"variant":""}]',
        '[{"per":"call","quantity":"1","variant":7}]',
        "[1]",
    ],
)
def test_a_malformed_units_column_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode_units(text)


def test_a_row_reproduces_the_usage_and_its_cost() -> None:
    usage = Usage(
        prompt_tokens=3_400,
        completion_tokens=500,
        cached_tokens=1_000,
        cache_write_tokens=2_300,
        cache_write_1h_tokens=1_000,
        reasoning_tokens=40,
        units=UNITS[:1],
    )
    row = {
        "prompt_tokens": 3_400,
        "completion_tokens": 500,
        "cached_tokens": 1_000,
        "cache_write_tokens": 2_300,
        "cache_write_1h_tokens": 1_000,
        "reasoning_tokens": 40,
        "audio_input_tokens": 0,
        "audio_output_tokens": 0,
        "image_input_tokens": 0,
        "image_output_tokens": None,  # a NULL reads as 0
        "units": encode_units(usage.units),
    }
    assert usage_of_row(row) == usage
    price = Price(
        "m",
        input=3_000,
        output=15_000,
        cached=300,
        cache_write=3_750,
        cache_write_1h=6_000,
        units=(UnitPrice("call", 10_000_000, "web_search"),),
    )
    assert cost(usage_of_row(row), price, Decimal(1)) == cost(usage, price, Decimal(1))
