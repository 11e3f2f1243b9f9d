"""/api/prices: model prices (USD per 1M tokens, per request, per unit), aliases, context
tiers and unit prices, the same operations as `burncloud price`.

``?channel_id=ID`` on any of them works on that channel's own cost price instead of the
list price. Tiers and units live under their own prefixes (/price-tiers/MODEL,
/price-units/MODEL) because a model name may hold slashes ("openai/gpt-4o"): a suffix
after it could be part of a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from quart import Blueprint

from burncloud.admin.params import (
    decimal_text,
    integer,
    query_int,
    query_text,
    read_body,
    required_decimal,
    required_text,
    text,
)
from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services import price_edits, prices
from burncloud.services.price_coverage import channel_incomplete_kinds, incomplete_kinds
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime
    from burncloud.protocols.shapes import JSON

KINDS = (
    "input", "output", "cached", "cache_write", "cache_write_1h", "request", "audio_input",
    "audio_output", "image_input", "image_output",
)  # fmt: skip
UNIT_FIELDS = ("per", "size", "quality", "tool")
T = TypeVar("T")


def prices_blueprint(runtime: Runtime) -> Blueprint:
    """List prices; get, set (amounts or an alias) and delete one model's price; set and
    delete its tiers and unit prices."""
    blueprint = Blueprint("prices", __name__)

    @blueprint.get("/prices")
    async def list_prices() -> dict[str, Any]:
        channel_id = query_int("channel_id")
        if channel_id is None:
            found = await prices.list_prices(runtime.db)
            gaps = await incomplete_kinds(runtime.db, found)
        else:
            found = await prices.list_channel_prices(runtime.db, channel_id)
            gaps = await channel_incomplete_kinds(runtime.db, channel_id, found)
        return {"data": [{**price.to_json(), "incomplete": gaps[price.model]} for price in found]}

    @blueprint.get("/prices/<path:model>")
    async def show_price(model: str) -> dict[str, Any]:
        return (await prices.get_price(runtime.db, model, query_int("channel_id"))).to_json()

    @blueprint.put("/prices/<path:model>")
    async def set_price(model: str) -> dict[str, Any]:
        body = await read_body(*KINDS, "alias")
        alias, channel_id = text(body, "alias"), query_int("channel_id")
        async with runtime.db.transaction() as tx:
            if alias is not None:
                _refuse_with_alias(body, channel_id)
                price: Price = await prices.set_alias(tx, model, alias)
            else:
                rates = _rates(body, required=True)
                price = await price_edits.set_rates(tx, model, rates, channel_id)
        return price.to_json()

    @blueprint.delete("/prices/<path:model>")
    async def delete_price(model: str) -> dict[str, Any]:
        channel_id = query_int("channel_id")
        async with runtime.db.transaction() as tx:
            await prices.delete_price(tx, model, channel_id)
        deleted: dict[str, Any] = {"model": model, "deleted": True}
        return deleted if channel_id is None else {**deleted, "channel_id": channel_id}

    _add_part_routes(blueprint, runtime)
    return blueprint


def _add_part_routes(blueprint: Blueprint, runtime: Runtime) -> None:
    """Set and delete a model's context tiers and unit prices."""

    @blueprint.put("/price-tiers/<path:model>")
    async def set_tier(model: str) -> dict[str, Any]:
        body = await read_body("above", *KINDS)
        tier = Tier(_required(integer(body, "above"), "above"), _rates(body, required=False))
        async with runtime.db.transaction() as tx:
            price = await price_edits.set_tier(tx, model, tier, query_int("channel_id"))
        return price.to_json()

    @blueprint.delete("/price-tiers/<path:model>")
    async def delete_tier(model: str) -> dict[str, Any]:
        above = _required(query_int("above"), "query parameter above")
        async with runtime.db.transaction() as tx:
            price = await price_edits.delete_tier(tx, model, above, query_int("channel_id"))
        return price.to_json()

    @blueprint.put("/price-units/<path:model>")
    async def set_unit(model: str) -> dict[str, Any]:
        body = await read_body(*UNIT_FIELDS, "usd")
        per = required_text(body, "per")
        variant = price_edits.unit_variant(
            per, text(body, "size"), text(body, "quality"), text(body, "tool")
        )
        unit = UnitPrice(per, _usd("usd", required_decimal(body, "usd")), variant)
        async with runtime.db.transaction() as tx:
            price = await price_edits.set_unit(tx, model, unit, query_int("channel_id"))
        return price.to_json()

    @blueprint.delete("/price-units/<path:model>")
    async def delete_unit(model: str) -> dict[str, Any]:
        per = _required(query_text("per"), "query parameter per")
        variant = price_edits.unit_variant(
            per, query_text("size"), query_text("quality"), query_text("tool")
        )
        async with runtime.db.transaction() as tx:
            channel_id = query_int("channel_id")
            price = await price_edits.delete_unit(tx, model, per, variant, channel_id)
        return price.to_json()


def _required(value: T | None, name: str) -> T:
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


def _refuse_with_alias(body: JSON, channel_id: int | None) -> None:
    if channel_id is not None:
        raise InvalidRequest("a channel's cost price cannot be an alias")
    if any(name in body for name in KINDS):
        raise InvalidRequest("alias cannot be combined with prices")


def _rates(body: JSON, *, required: bool) -> Rates:
    """The body's prices in nano-USD (per 1M tokens; ``request`` per request)."""
    if required and ("input" not in body or "output" not in body):
        raise InvalidRequest("a price needs input and output (or alias)")
    given = {kind: decimal_text(body, kind) for kind in KINDS}
    return Rates(
        **{kind: _usd(kind, amount) for kind, amount in given.items() if amount is not None}
    )


def _usd(name: str, amount: str) -> int:
    """A USD field as nano-USD, naming the field in any error."""
    try:
        return parse_usd(amount)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{name}: {exc.message}") from None
