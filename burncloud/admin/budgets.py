"""/api/tokens/<id>/budgets and /api/users/<ref>/budgets: budgets per window besides the
quota; reading one lists every budget the token's or user's requests count against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import query_text, read_body, required_decimal, required_text, text
from burncloud.errors import NotFound
from burncloud.money import parse_usd
from burncloud.services import budgets, plans
from burncloud.services.budgets import TOKEN, USER, BudgetUse
from burncloud.services.clock import now
from burncloud.services.tokens import get_token
from burncloud.services.users import resolve_user

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

FIELDS = ("amount", "period", "model")


def budgets_blueprint(runtime: Runtime) -> Blueprint:
    """List, set and remove the budgets of tokens and users."""
    blueprint = Blueprint("budgets", __name__)

    async def uses(pairs: list[tuple[budgets.BudgetRule, int]]) -> dict[str, Any]:
        found: list[BudgetUse] = await budgets.current_windows(
            runtime.db, pairs, now(), runtime.settings.timezone
        )
        return {"data": [use.to_json() for use in found]}

    async def set_one(scope: str, scope_id: int) -> dict[str, Any]:
        body = await read_body(*FIELDS)
        async with runtime.db.transaction() as tx:
            rule = await budgets.set_budget(
                tx,
                scope,
                scope_id,
                parse_usd(required_decimal(body, "amount")),
                required_text(body, "period"),
                text(body, "model") or "",
            )
        return rule.to_json()

    async def remove_one(scope: str, scope_id: int, period: str) -> dict[str, Any]:
        model = query_text("model") or ""
        async with runtime.db.transaction() as tx:
            removed = await budgets.remove_budget(tx, scope, scope_id, period, model)
        if not removed:
            raise NotFound(f"no {period} budget{f' for {model}' if model else ''} to remove")
        return {"period": period, "model": model or None, "deleted": True}

    @blueprint.get("/tokens/<int:token_id>/budgets")
    async def token_budgets(token_id: int) -> dict[str, Any]:
        token = await get_token(runtime.db, token_id)
        plan = await plans.plan_of_user(runtime.db, token.user_id)
        return await uses(
            await budgets.budgets_of_token(
                runtime.db, token.id, token.user_id, plan.id if plan else None
            )
        )

    @blueprint.put("/tokens/<int:token_id>/budgets")
    async def set_token_budget(token_id: int) -> dict[str, Any]:
        return await set_one(TOKEN, token_id)

    @blueprint.delete("/tokens/<int:token_id>/budgets/<period>")
    async def remove_token_budget(token_id: int, period: str) -> dict[str, Any]:
        return await remove_one(TOKEN, token_id, period)

    @blueprint.get("/users/<user_ref>/budgets")
    async def user_budgets(user_ref: str) -> dict[str, Any]:
        user = await resolve_user(runtime.db, user_ref)
        plan = await plans.plan_of_user(runtime.db, user.id)
        return await uses(
            await budgets.budgets_of_user(runtime.db, user.id, plan.id if plan else None)
        )

    @blueprint.put("/users/<user_ref>/budgets")
    async def set_user_budget(user_ref: str) -> dict[str, Any]:
        return await set_one(USER, (await resolve_user(runtime.db, user_ref)).id)

    @blueprint.delete("/users/<user_ref>/budgets/<period>")
    async def remove_user_budget(user_ref: str, period: str) -> dict[str, Any]:
        return await remove_one(USER, (await resolve_user(runtime.db, user_ref)).id, period)

    return blueprint
