"""A price's stored definition: every part survives the round trip, and the checks."""

from __future__ import annotations

import json

import pytest

from burncloud.errors import InvalidRequest
from burncloud.services.price_definitions import check_price, from_definition, to_definition
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice

FULL = Price(
    model="claude-sonnet",
    input=3_000,
    output=15_000,
    cached=300,
    cache_write=3_750,
    cache_write_1h=6_000,
    audio_input=1,
    audio_output=2,
    image_input=3,
    image_output=4,
    request=5,
    tiers=(Tier(200_000, Rates(input=6_000, output=22_500)),),
    units=(
        UnitPrice("image", 40_000_000, "1024x1024/standard"),
        UnitPrice("call", 10_000_000, "web_search"),
    ),
    version=7,
)


def test_every_part_of_a_price_survives_the_round_trip() -> None:
    assert from_definition("claude-sonnet", to_definition(FULL), 7) == FULL


def test_unset_kinds_are_absent_and_the_json_is_canonical() -> None:
    text = to_definition(Price("m", 1, 2))
    assert json.loads(text) == {"input": 1, "output": 2}
    assert text == to_definition(from_definition("m", text))


def test_tiers_read_back_in_threshold_order() -> None:
    text = json.dumps(
        {"input": 1, "output": 2, "tiers": [{"above": 500, "input": 3}, {"above": 100, "input": 2}]}
    )
    assert [tier.above for tier in from_definition("m", text).tiers] == [100, 500]


@pytest.mark.parametrize(
    "text",
    [
        "[1]",
        '{"output": 2}',
        '{"input": 1.5, "output": 2}',
        '{"input": 1, "output": 2, "tiers": [{"above": "x"}]}',
    ],
)
def test_a_definition_that_is_not_a_price_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        from_definition("m", text)


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (Price("m", -1, 2), "input price must not be negative"),
        (Price("m", 1, 2, tiers=(Tier(10, Rates()),)), "names no price"),
        (
            Price("m", 1, 2, tiers=(Tier(10, Rates(input=1)), Tier(10, Rates(output=1)))),
            "same threshold",
        ),
        (Price("m", 1, 2, units=(UnitPrice("liter", 1),)), "unknown unit 'liter'"),
        (Price("m", 1, 2, units=(UnitPrice("search", 1), UnitPrice("search", 2))), "priced twice"),
    ],
)
def test_check_price_refuses_what_no_bill_could_use(price: Price, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_price(price)


def test_check_price_accepts_a_full_price() -> None:
    check_price(FULL)
