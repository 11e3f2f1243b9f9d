"""/api/plans: plans (budgets, models, rate limits and a group for many users), who is
on which, and the plan new users get."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import integer, names, read_body, ref, required_text, text
from burncloud.errors import InvalidRequest
from burncloud.services import plans
from burncloud.services.budgets import BudgetSpec
from burncloud.services.plans import PlanChanges

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

CREATE_FIELDS = ("name", "budgets", "models", "rpm", "tpm", "group")
UPDATE_FIELDS = ("name", "budgets", "remove_budgets", "models", "rpm", "tpm", "group")


def plans_blueprint(runtime: Runtime) -> Blueprint:
    """List, create, show, update and delete plans; assign users; the default plan."""
    blueprint = Blueprint("plans", __name__)

    @blueprint.get("/plans")
    async def list_plans() -> dict[str, Any]:
        found = await plans.list_plans(runtime.db)
        return {"data": [{**plan.to_json(), "users": count} for plan, count in found]}

    @blueprint.post("/plans")
    async def create_plan() -> tuple[dict[str, Any], int]:
        body = await read_body(*CREATE_FIELDS)
        async with runtime.db.transaction() as tx:
            plan = await plans.create_plan(
                tx,
                required_text(body, "name"),
                budgets=_specs(body, "budgets"),
                models=names(body, "models") or (),
                rpm=integer(body, "rpm"),
                tpm=integer(body, "tpm"),
                group=text(body, "group"),
            )
        return plan.to_json(), 201

    @blueprint.get("/plans/<plan_ref>")
    async def show_plan(plan_ref: str) -> dict[str, Any]:
        return (await plans.get_plan(runtime.db, plan_ref)).to_json()

    @blueprint.patch("/plans/<plan_ref>")
    async def update_plan(plan_ref: str) -> dict[str, Any]:
        body = await read_body(*UPDATE_FIELDS)
        changes = PlanChanges(
            name=text(body, "name"),
            models=names(body, "models"),
            rpm=integer(body, "rpm"),
            tpm=integer(body, "tpm"),
            group=text(body, "group"),
            budgets=tuple(_specs(body, "budgets")),
            drop_budgets=tuple(
                BudgetSpec.removal(item) for item in names(body, "remove_budgets") or ()
            ),
        )
        if changes == PlanChanges():
            raise InvalidRequest("nothing to update: give at least one field to change")
        async with runtime.db.transaction() as tx:
            plan = await plans.update_plan(tx, plan_ref, changes)
        return plan.to_json()

    @blueprint.delete("/plans/<plan_ref>")
    async def delete_plan(plan_ref: str) -> dict[str, Any]:
        async with runtime.db.transaction() as tx:
            moved = await plans.delete_plan(tx, plan_ref)
        return {"plan": plan_ref, "deleted": True, "users_moved_off": moved}

    @blueprint.put("/users/<user_ref>/plan")
    async def assign_plan(user_ref: str) -> dict[str, Any]:
        body = await read_body("plan")
        async with runtime.db.transaction() as tx:
            plan = await plans.assign_plan(tx, user_ref, ref(body, "plan"))
        return {"user": user_ref, "plan": plan.name if plan is not None else None}

    @blueprint.get("/default-plan")
    async def show_default_plan() -> dict[str, Any]:
        plan = await plans.default_plan(runtime.db, runtime.settings.default_plan)
        return {"plan": plan.name if plan is not None else None}

    @blueprint.put("/default-plan")
    async def set_default_plan() -> dict[str, Any]:
        body = await read_body("plan")
        async with runtime.db.transaction() as tx:
            plan = await plans.set_default_plan(tx, ref(body, "plan"))
        return {"plan": plan.name if plan is not None else None}

    return blueprint


def _specs(body: dict[str, Any], name: str) -> list[BudgetSpec]:
    """Budgets as ["20/month", "gpt-4o=5/day"]."""
    return [BudgetSpec.parse(item) for item in names(body, name) or ()]
