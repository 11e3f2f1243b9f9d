"""/api/redemptions: one-time codes that add balance to a user; shown once, on creation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import (
    integer,
    query_text,
    read_body,
    ref,
    required_decimal,
    required_text,
)
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd, parse_usd
from burncloud.services import redemptions
from burncloud.services.users import resolve_user

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def redemptions_blueprint(runtime: Runtime) -> Blueprint:
    """List codes (?status=unused|used), create codes, and spend one for a user."""
    blueprint = Blueprint("redemptions", __name__)

    @blueprint.get("/redemptions")
    async def list_codes() -> dict[str, Any]:
        found = await redemptions.list_redemptions(runtime.db, query_text("status"))
        return {"data": [code.to_json() for code in found]}

    @blueprint.post("/redemptions")
    async def create_codes() -> tuple[dict[str, Any], int]:
        body = await read_body("quota", "count")
        units = parse_usd(required_decimal(body, "quota"))
        count = integer(body, "count")
        codes = await redemptions.create_codes(runtime.db, units, 1 if count is None else count)
        return {"quota": format_usd(units), "codes": codes}, 201

    @blueprint.post("/redemptions/use")
    async def use_code() -> dict[str, Any]:
        body = await read_body("code", "user")
        user_ref = ref(body, "user")
        if user_ref is None:
            raise InvalidRequest("user is required")
        credited = await redemptions.redeem(runtime.db, required_text(body, "code"), user_ref)
        user = await resolve_user(runtime.db, user_ref)
        return {
            "user": user.name,
            "credited": format_usd(credited),
            "balance": format_usd(user.balance),
        }

    return blueprint
