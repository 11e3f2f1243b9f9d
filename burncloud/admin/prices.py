"""/api/prices: model prices in USD per 1M tokens, and aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import decimal_text, read_body, text
from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services import prices
from burncloud.services.pricing import Price

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime
    from burncloud.protocols.shapes import JSON

AMOUNTS = ("input", "output", "cached")


def prices_blueprint(runtime: Runtime) -> Blueprint:
    """List prices; get, set (amounts or an alias) and delete one model's price."""
    blueprint = Blueprint("prices", __name__)

    @blueprint.get("/prices")
    async def list_prices() -> dict[str, Any]:
        return {"data": [price.to_json() for price in await prices.list_prices(runtime.db)]}

    @blueprint.get("/prices/<path:model>")
    async def show_price(model: str) -> dict[str, Any]:
        return (await prices.get_price(runtime.db, model)).to_json()

    @blueprint.put("/prices/<path:model>")
    async def set_price(model: str) -> dict[str, Any]:
        body = await read_body(*AMOUNTS, "alias")
        alias = text(body, "alias")
        async with runtime.db.transaction() as tx:
            if alias is not None:
                _refuse_amounts_with_alias(body)
                price: Price = await prices.set_alias(tx, model, alias)
            else:
                price = await prices.set_price(tx, model, *_amounts(body))
        return price.to_json()

    @blueprint.delete("/prices/<path:model>")
    async def delete_price(model: str) -> dict[str, Any]:
        async with runtime.db.transaction() as tx:
            await prices.delete_price(tx, model)
        return {"model": model, "deleted": True}

    return blueprint


def _refuse_amounts_with_alias(body: JSON) -> None:
    if any(name in body for name in AMOUNTS):
        raise InvalidRequest("alias cannot be combined with input, output or cached")


def _amounts(body: JSON) -> tuple[int, int, int | None]:
    """input, output and cached (optional) in nano-USD per 1M tokens."""
    if "input" not in body or "output" not in body:
        raise InvalidRequest("a price needs input and output (or alias)")
    cached = _usd(body, "cached")
    return _usd(body, "input") or 0, _usd(body, "output") or 0, cached


def _usd(body: JSON, name: str) -> int | None:
    """A USD-per-1M field as nano-USD, naming the field in any error."""
    amount = decimal_text(body, name)
    if amount is None:
        return None
    try:
        return parse_usd(amount)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{name}: {exc.message}") from None
