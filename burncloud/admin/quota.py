"""Token quotas and user balances: read, add to (or take from) and set, in USD."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import read_body, required_decimal
from burncloud.money import parse_signed_usd, parse_usd
from burncloud.services import quota

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def quota_blueprint(runtime: Runtime) -> Blueprint:
    """/tokens/{id}/quota and /users/{ref}/balance: GET, PUT (set) and POST .../add."""
    blueprint = Blueprint("quota", __name__)

    @blueprint.get("/tokens/<int:token_id>/quota")
    async def show_token_quota(token_id: int) -> dict[str, Any]:
        return (await quota.get_token_quota(runtime.db, token_id)).to_json()

    @blueprint.post("/tokens/<int:token_id>/quota/add")
    async def add_token_quota(token_id: int) -> dict[str, Any]:
        units = parse_signed_usd(await _amount())
        return (await quota.add_token_quota(runtime.db, token_id, units)).to_json()

    @blueprint.put("/tokens/<int:token_id>/quota")
    async def set_token_quota(token_id: int) -> dict[str, Any]:
        units = parse_usd(await _amount(), allow_unlimited=True)
        return (await quota.set_token_quota(runtime.db, token_id, units)).to_json()

    @blueprint.get("/users/<user_ref>/balance")
    async def show_user_balance(user_ref: str) -> dict[str, Any]:
        return (await quota.get_user_balance(runtime.db, user_ref)).to_json()

    @blueprint.post("/users/<user_ref>/balance/add")
    async def add_user_balance(user_ref: str) -> dict[str, Any]:
        units = parse_signed_usd(await _amount())
        return (await quota.add_user_balance(runtime.db, user_ref, units)).to_json()

    @blueprint.put("/users/<user_ref>/balance")
    async def set_user_balance(user_ref: str) -> dict[str, Any]:
        units = parse_usd(await _amount(), allow_unlimited=True)
        return (await quota.set_user_balance(runtime.db, user_ref, units)).to_json()

    return blueprint


async def _amount() -> str:
    """The body's ``amount``: USD as a decimal string (or number)."""
    return required_decimal(await read_body("amount"), "amount")
