"""A price's whole definition as the JSON a ``price_versions`` row stores.

One object of integer nano-USD amounts: each token kind the price names (per 1M tokens),
``request`` (flat, per request), ``tiers`` (``{"above": N, <kind>: amount, ...}``) and
``units`` (``{"per", "variant", "amount"}``). Kinds left to fall back are absent, not
null. Rows are never updated, so a log row's ``price_version`` explains its bill for ever;
the format only grows (a reader ignores what it does not know, a missing key is unset).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from burncloud.db.base import Executor
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services.pricing import UNIT_BLOCKS, Price, Rates, Tier, UnitPrice


def to_definition(price: Price) -> str:
    """The stored JSON of ``price`` (model, alias and version are columns, not in it)."""
    definition: dict[str, Any] = dict(price.rates.named())
    if price.tiers:
        definition["tiers"] = [{"above": tier.above, **tier.rates.named()} for tier in price.tiers]
    if price.units:
        definition["units"] = [
            {"per": unit.per, "variant": unit.variant, "amount": unit.amount}
            for unit in price.units
        ]
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def from_definition(model: str, text: str, version: int | None = None) -> Price:
    """The ``Price`` a stored definition describes; ValueError if it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a price definition is a JSON object")
    rates = _rates(data)
    if rates.input is None or rates.output is None:
        raise ValueError("a price definition names its input and output prices")
    tiers = tuple(_tier(item) for item in data.get("tiers", ()))
    units = tuple(_unit(item) for item in data.get("units", ()))
    return Price.named(model, rates, tiers, units, version)


async def price_at_version(db: Executor, version_id: int) -> Price:
    """The price stored as ``version_id`` (what a log row was billed at); NotFound if none."""
    row = await db.fetch_one(
        "SELECT model, definition FROM price_versions WHERE id = :id", {"id": version_id}
    )
    if row is None:
        raise NotFound(f"no price version {version_id}")
    return from_definition(row["model"], row["definition"], version_id)


def check_price(price: Price) -> None:
    """Refuse (InvalidRequest) a price no bill could use: negative amounts, a tier that
    names nothing or repeats a threshold, an unknown unit or a repeated one."""
    for kind, amount in price.rates.named().items():
        _non_negative(kind, amount)
    thresholds = [tier.above for tier in price.tiers]
    if len(set(thresholds)) != len(thresholds):
        raise InvalidRequest("two tiers of one price have the same threshold")
    for tier in price.tiers:
        if tier.above < 0:
            raise InvalidRequest("a tier's threshold must not be negative")
        if not tier.rates.named():
            raise InvalidRequest(f"the tier above {tier.above} tokens names no price")
        for kind, amount in tier.rates.named().items():
            _non_negative(f"tier {tier.above} {kind}", amount)
    seen: set[tuple[str, str]] = set()
    for unit in price.units:
        if unit.per not in UNIT_BLOCKS:
            known = ", ".join(UNIT_BLOCKS)
            raise InvalidRequest(f"unknown unit {unit.per!r}: one of {known}")
        if (unit.per, unit.variant) in seen:
            raise InvalidRequest(f"the unit {unit.per} {unit.variant} is priced twice")
        seen.add((unit.per, unit.variant))
        _non_negative(f"{unit.per} price", unit.amount)


def _rates(data: dict[str, Any]) -> Rates:
    kinds = (f.name for f in fields(Rates))
    return Rates(**{kind: _amount(data[kind]) for kind in kinds if kind in data})


def _tier(item: Any) -> Tier:
    if not isinstance(item, dict) or not isinstance(item.get("above"), int):
        raise ValueError("a tier is an object with an integer 'above'")
    return Tier(item["above"], _rates(item))


def _unit(item: Any) -> UnitPrice:
    if not isinstance(item, dict) or not isinstance(item.get("per"), str):
        raise ValueError("a unit price is an object with 'per'")
    return UnitPrice(item["per"], _amount(item.get("amount")), str(item.get("variant", "")))


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a price amount is an integer of nano-USD, not {value!r}")
    return value


def _non_negative(what: str, amount: int) -> None:
    if amount < 0:
        raise InvalidRequest(f"{what} price must not be negative")
