"""What the channel that answered charges us: its own cost price at ratio 1, else the list
price times its cost ratio; unknown (None), never a guessed $0, when nothing prices it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from burncloud.gateway.relay.plan import FREE, RoutePlan
from burncloud.gateway.snapshot import Upstream
from burncloud.money import parse_usd
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice, UnitUse, Usage, cost

LIST = Price("gpt-4", input=parse_usd("30"), output=parse_usd("60"), version=4)
USAGE = Usage(prompt_tokens=1_000, completion_tokens=300)
LIST_COST = parse_usd("0.048")  # 1,000 x $30/1M + 300 x $60/1M


def channel(ratio: str = "1", **own: Price) -> Upstream:
    return Upstream(
        id=1,
        type="openai",
        name="c",
        base_url="http://127.0.0.1",
        key="k",
        model_map={},
        config={},
        cost_ratio=Decimal(ratio),
        cost_prices=own,
    )


def plan(price: Price = LIST, group_ratio: str = "1") -> RoutePlan:
    return RoutePlan((), price, Decimal(group_ratio))


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [("1", LIST_COST), ("0.3", parse_usd("0.0144")), ("0", 0), ("1.15", parse_usd("0.0552"))],
)
def test_the_list_price_times_the_channels_cost_ratio(ratio: str, expected: int) -> None:
    assert plan().upstream_cost(USAGE, "gpt-4", channel(ratio)) == expected


def test_the_group_ratio_of_the_caller_never_changes_the_upstream_cost() -> None:
    cheap_group = plan(group_ratio="0.5")
    assert cheap_group.upstream_cost(USAGE, "gpt-4", channel("0.3")) == parse_usd("0.0144")


def test_a_channels_own_cost_price_wins_at_ratio_1() -> None:
    own = Price("gpt-4", input=parse_usd("10"), output=parse_usd("20"))
    upstream = channel("0.3", **{"gpt-4": own})
    assert plan().upstream_cost(USAGE, "gpt-4", upstream) == parse_usd("0.016")
    assert plan().upstream_cost(USAGE, "gpt-4", upstream) == cost(USAGE, own, Decimal(1))


def test_a_cost_price_is_looked_up_by_the_public_model_name() -> None:
    own = Price("alias", input=parse_usd("10"), output=parse_usd("20"))
    upstream = channel("0.5", **{"alias": own})
    assert plan().upstream_cost(USAGE, "gpt-4", upstream) == LIST_COST // 2
    assert plan().upstream_cost(USAGE, "alias", upstream) == parse_usd("0.016")


def test_an_own_cost_price_prices_a_model_served_free() -> None:
    own = Price("gpt-4", input=parse_usd("1"), output=parse_usd("2"))
    assert plan(FREE).upstream_cost(USAGE, "gpt-4", channel(**{"gpt-4": own})) == 1_600_000


@pytest.mark.parametrize(
    "price",
    [
        FREE,
        Price("gpt-4", input=0, output=0, version=2),
        Price("gpt-4", 0, 0, tiers=(Tier(10, Rates(input=0)),), units=(UnitPrice("call", 0),)),
    ],
    ids=["unpriced", "zero", "zero-everywhere"],
)
def test_a_free_or_unpriced_model_has_an_unknown_upstream_cost(price: Price) -> None:
    assert plan(price).upstream_cost(USAGE, "gpt-4", channel()) is None


def test_a_price_that_bills_only_above_a_tier_or_per_unit_is_a_price() -> None:
    tiered = Price("gpt-4", 0, 0, tiers=(Tier(100_000, Rates(input=parse_usd("1"))),))
    assert plan(tiered).upstream_cost(USAGE, "gpt-4", channel()) == 0
    per_call = Price("gpt-4", 0, 0, units=(UnitPrice("call", parse_usd("10"), "web_search"),))
    searched = Usage(10, 10, units=(UnitUse("call", Decimal(3), "web_search"),))
    assert plan(per_call).upstream_cost(searched, "gpt-4", channel("0.5")) == parse_usd("0.015")
    assert plan(per_call).upstream_cost(USAGE, "gpt-4", channel()) == 0


def test_no_channel_means_an_unknown_upstream_cost() -> None:
    assert plan().upstream_cost(USAGE, "gpt-4", None) is None
