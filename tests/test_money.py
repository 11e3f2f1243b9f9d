from __future__ import annotations

from decimal import Decimal

import pytest

from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED, format_usd, parse_signed_usd, parse_usd


@pytest.mark.parametrize(
    ("text", "units"),
    [("0.015", 15_000_000), ("30", 30_000_000_000), ("0.000000001", 1), ("1e-3", 1_000_000)],
)
def test_parse_usd_is_exact(text: str, units: int) -> None:
    assert parse_usd(text) == units


@pytest.mark.parametrize(
    ("units", "text"), [(15_000_000, "0.015"), (30_000_000_000, "30"), (0, "0"), (1, "0.000000001")]
)
def test_format_usd_is_a_plain_decimal_string(units: int, text: str) -> None:
    assert format_usd(units) == text


def test_round_trip_never_goes_through_float() -> None:
    assert format_usd(parse_usd("0.1")) == "0.1"
    assert Decimal(format_usd(parse_usd("0.1"))) + Decimal(format_usd(parse_usd("0.2"))) == Decimal(
        "0.3"
    )


def test_unlimited_only_where_allowed() -> None:
    assert parse_usd("-1", allow_unlimited=True) == UNLIMITED
    assert format_usd(UNLIMITED) == "-1"
    with pytest.raises(InvalidRequest):
        parse_usd("-1")


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "0.0000000001", ""])
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_usd(text)


def test_signed_amounts_for_adjustments() -> None:
    assert parse_signed_usd("-0.5") == -500_000_000


@pytest.mark.parametrize("text", ["1e30", "1000000001", "-1e30"])
def test_amounts_beyond_a_billion_usd_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest, match="too large"):
        parse_signed_usd(text)
