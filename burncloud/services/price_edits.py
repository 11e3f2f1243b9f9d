"""Changing one part of a stored price: its base rates, one context tier, one unit price.

Each edit reads the model's current definition (its list price, or a channel's cost
price), changes that part and saves the whole as a new version (``prices.store_price``).
The config version is bumped before the read, so on PostgreSQL two edits of one price
take turns instead of one losing the other's change (SQLite writers always take turns).
"""

from __future__ import annotations

from dataclasses import replace

from burncloud.db.base import Executor
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services.prices import check_model, store_price, stored_price
from burncloud.services.pricing import UNIT_BLOCKS, Price, Rates, Tier, UnitPrice
from burncloud.services.settings import bump_config_version


async def set_rates(tx: Executor, model: str, rates: Rates, channel_id: int | None = None) -> Price:
    """Set ``model``'s base prices to ``rates`` (kinds it leaves unnamed fall back), keeping
    the tiers and units of a priced model; an alias becomes a priced model."""
    if rates.input is None or rates.output is None:
        raise InvalidRequest("a price needs its input and output prices")
    await bump_config_version(tx)
    current = await stored_price(tx, check_model(model), channel_id)
    kept = current if current is not None and current.alias_of is None else None
    price = Price.named(model, rates, kept.tiers if kept else (), kept.units if kept else ())
    return await store_price(tx, price, channel_id)


async def set_tier(tx: Executor, model: str, tier: Tier, channel_id: int | None = None) -> Price:
    """Add the tier above ``tier.above`` prompt tokens, or replace the one there."""
    current = await _editable(tx, model, channel_id)
    tiers = [kept for kept in current.tiers if kept.above != tier.above] + [tier]
    tiers.sort(key=lambda t: t.above)
    return await store_price(tx, replace(current, tiers=tuple(tiers)), channel_id)


async def delete_tier(tx: Executor, model: str, above: int, channel_id: int | None = None) -> Price:
    """Remove the tier above ``above`` prompt tokens; NotFound if there is none."""
    current = await _editable(tx, model, channel_id)
    tiers = tuple(tier for tier in current.tiers if tier.above != above)
    if len(tiers) == len(current.tiers):
        raise NotFound(f"{current.model} has no tier above {above} tokens")
    return await store_price(tx, replace(current, tiers=tiers), channel_id)


async def set_unit(
    tx: Executor, model: str, unit: UnitPrice, channel_id: int | None = None
) -> Price:
    """Add the price of a unit (per and variant), or replace it."""
    current = await _editable(tx, model, channel_id)
    units = [kept for kept in current.units if not _same_unit(kept, unit.per, unit.variant)]
    units.append(unit)
    units.sort(key=lambda u: (u.per, u.variant))
    return await store_price(tx, replace(current, units=tuple(units)), channel_id)


async def delete_unit(
    tx: Executor, model: str, per: str, variant: str = "", channel_id: int | None = None
) -> Price:
    """Remove the price of a unit; NotFound if there is none."""
    current = await _editable(tx, model, channel_id)
    units = tuple(unit for unit in current.units if not _same_unit(unit, per, variant))
    if len(units) == len(current.units):
        what = f"{per} ({variant})" if variant else per
        raise NotFound(f"{current.model} has no price per {what}")
    return await store_price(tx, replace(current, units=units), channel_id)


def unit_variant(
    per: str, size: str | None = None, quality: str | None = None, tool: str | None = None
) -> str:
    """The variant a unit price is keyed by: "SIZE/QUALITY" for an image, the tool's kind
    for a call, "" otherwise; InvalidRequest when a part is missing or does not belong."""
    if per not in UNIT_BLOCKS:
        raise InvalidRequest(f"unknown unit {per!r}: one of {', '.join(UNIT_BLOCKS)}")
    given = {"size": size, "quality": quality, "tool": tool}
    needed = {"image": ("size", "quality"), "call": ("tool",)}.get(per, ())
    for name, value in given.items():
        if name in needed and value is None:
            raise InvalidRequest(f"a price per {per} needs its {name}")
        if name not in needed and value is not None:
            raise InvalidRequest(f"a price per {per} takes no {name}")
    return "/".join(_part(name, given[name]) for name in needed)


def _part(name: str, value: str | None) -> str:
    text = (value or "").strip()
    if not text or "/" in text or any(ch.isspace() for ch in text):
        raise InvalidRequest(f"invalid {name} {value!r}: one word, no '/'")
    return text


def _same_unit(unit: UnitPrice, per: str, variant: str) -> bool:
    return unit.per == per and unit.variant == variant


async def _editable(tx: Executor, model: str, channel_id: int | None) -> Price:
    """The stored price a tier or unit edit changes: it must exist and not be an alias."""
    await bump_config_version(tx)
    current = await stored_price(tx, check_model(model), channel_id)
    if current is None:
        where = "" if channel_id is None else f" on channel {channel_id}"
        raise NotFound(
            f"no price for model {model!r}{where}: set its input and output prices first"
        )
    if current.alias_of is not None:
        raise InvalidRequest(
            f"{model!r} is an alias of {current.alias_of!r}: give it a price of its own first"
        )
    return current
