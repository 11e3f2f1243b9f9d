"""/api/groups: user groups and the ratio that scales their costs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import read_body, required_decimal
from burncloud.services import groups
from burncloud.services.groups import Group

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def groups_blueprint(runtime: Runtime) -> Blueprint:
    """List groups; show, set (create or change the ratio) and delete one."""
    blueprint = Blueprint("groups", __name__)

    @blueprint.get("/groups")
    async def list_groups() -> dict[str, Any]:
        return {"data": [group.to_json() for group in await groups.list_groups(runtime.db)]}

    @blueprint.get("/groups/<name>")
    async def show_group(name: str) -> dict[str, Any]:
        return Group(name, await groups.get_ratio(runtime.db, name)).to_json()

    @blueprint.put("/groups/<name>")
    async def set_group(name: str) -> dict[str, Any]:
        ratio = required_decimal(await read_body("ratio"), "ratio")
        async with runtime.db.transaction() as tx:
            group = await groups.set_group(tx, name, ratio)
        return group.to_json()

    @blueprint.delete("/groups/<name>")
    async def delete_group(name: str) -> dict[str, Any]:
        async with runtime.db.transaction() as tx:
            await groups.delete_group(tx, name)
        return {"name": name, "deleted": True}

    return blueprint
