"""/api/users: users, their role, group, status and rate limits (balances: admin.quota)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import decimal_text, integer, read_body, required_text, text
from burncloud.money import parse_usd
from burncloud.services import invites, users

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

CREATE_FIELDS = ("name", "role", "group", "balance", "invite")
UPDATE_FIELDS = ("name", "role", "group", "rpm", "tpm", "max_concurrency")


def users_blueprint(runtime: Runtime) -> Blueprint:
    """List, add, show, update, enable and disable users (by id or name)."""
    blueprint = Blueprint("users", __name__)

    @blueprint.get("/users")
    async def list_users() -> dict[str, Any]:
        return {"data": [user.to_json() for user in await users.list_users(runtime.db)]}

    @blueprint.post("/users")
    async def add_user() -> tuple[dict[str, Any], int]:
        body = await read_body(*CREATE_FIELDS)
        name = required_text(body, "name")
        role = text(body, "role") or "user"
        group = text(body, "group") or "default"
        balance = parse_usd(decimal_text(body, "balance") or "0", allow_unlimited=True)
        invite = text(body, "invite")
        plan = runtime.settings.default_plan
        if invite is None:
            user = await users.add_user(
                runtime.db, name=name, role=role, group=group, balance=balance, default_plan=plan
            )
        else:
            user = await invites.sign_up(
                runtime.db,
                invite_code=invite,
                name=name,
                role=role,
                group=group,
                balance=balance,
                default_plan=plan,
            )
        return user.to_json(), 201

    @blueprint.get("/users/<user_ref>")
    async def show_user(user_ref: str) -> dict[str, Any]:
        return (await users.resolve_user(runtime.db, user_ref)).to_json()

    @blueprint.patch("/users/<user_ref>")
    async def update_user(user_ref: str) -> dict[str, Any]:
        body = await read_body(*UPDATE_FIELDS)
        user = await users.update_user(
            runtime.db,
            user_ref,
            name=text(body, "name"),
            role=text(body, "role"),
            group=text(body, "group"),
            rpm=integer(body, "rpm"),
            tpm=integer(body, "tpm"),
            max_concurrency=integer(body, "max_concurrency"),
        )
        return user.to_json()

    @blueprint.post("/users/<user_ref>/enable")
    async def enable_user(user_ref: str) -> dict[str, Any]:
        await read_body()
        return (await users.enable_user(runtime.db, user_ref)).to_json()

    @blueprint.post("/users/<user_ref>/disable")
    async def disable_user(user_ref: str) -> dict[str, Any]:
        await read_body()
        return (await users.disable_user(runtime.db, user_ref)).to_json()

    return blueprint
