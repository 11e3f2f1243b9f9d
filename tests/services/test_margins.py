"""Margins: exact amounts over the requests of known upstream cost, the others counted apart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from burncloud.services.margins import Margin

M = 1_000_000


def test_a_margin_of_known_costs_is_revenue_minus_upstream_cost() -> None:
    margin = Margin(revenue=10 * M, requests=3, upstream_cost=3 * M, unknown=0, unknown_revenue=0)
    assert (margin.upstream, margin.margin, margin.percent) == (3 * M, 7 * M, Decimal("70.0"))
    assert margin.with_unknown("0.003") == "0.003"
    assert margin.to_json() == {
        "revenue": "0.01",
        "upstream_cost": "0.003",
        "upstream_unknown": 0,
        "upstream_unknown_revenue": "0",
        "margin": "0.007",
        "margin_percent": "70.0",
    }


def test_requests_of_unknown_cost_are_left_out_of_the_margin_and_counted() -> None:
    margin = Margin(
        revenue=12 * M, requests=5, upstream_cost=3 * M, unknown=2, unknown_revenue=4 * M
    )
    assert margin.margin == 5 * M  # (12 - 4) - 3: the 4 M paid for unknown costs is no profit
    assert margin.percent == Decimal("62.5")  # of the 8 M the margin is over
    assert margin.with_unknown("0.003") == "0.003 + 2 unknown"
    assert margin.to_json()["upstream_unknown_revenue"] == "0.004"


def test_every_cost_unknown_is_unknown_never_zero() -> None:
    margin = Margin(revenue=0, requests=4, upstream_cost=0, unknown=4, unknown_revenue=0)
    assert margin.all_unknown
    assert (margin.upstream, margin.margin, margin.percent) == (None, None, None)
    assert margin.with_unknown("0") == "unknown"
    json = margin.to_json()
    assert (json["upstream_cost"], json["margin"], json["margin_percent"]) == (None, None, None)


def test_no_requests_is_a_zero_margin_without_a_percentage() -> None:
    margin = Margin(0, 0, 0, 0, 0)
    assert (margin.all_unknown, margin.upstream, margin.margin, margin.percent) == (
        False,
        0,
        0,
        None,
    )


def test_a_known_upstream_cost_of_zero_is_shown_as_zero() -> None:
    margin = Margin(revenue=5 * M, requests=1, upstream_cost=0, unknown=0, unknown_revenue=0)
    assert (margin.upstream, margin.margin, margin.percent) == (0, 5 * M, Decimal("100.0"))


@pytest.mark.parametrize(
    ("revenue", "upstream", "percent"),
    [
        (3, 2, "33.3"),  # 33.33...
        (3, 1, "66.7"),  # 66.66...
        (2000, 1999, "0.1"),  # 0.05 exactly: half away from zero
        (2000, 2001, "-0.1"),  # -0.05 exactly
        (1, 3, "-200.0"),  # an upstream dearer than what callers paid
        (7, 7, "0.0"),
    ],
)
def test_the_percentage_is_rounded_once_to_a_tenth(
    revenue: int, upstream: int, percent: str
) -> None:
    margin = Margin(
        revenue=revenue, requests=1, upstream_cost=upstream, unknown=0, unknown_revenue=0
    )
    assert str(margin.percent) == percent


def test_no_percentage_when_the_requests_of_known_cost_paid_nothing() -> None:
    margin = Margin(revenue=4, requests=2, upstream_cost=3, unknown=1, unknown_revenue=4)
    assert (margin.margin, margin.percent) == (-3, None)
