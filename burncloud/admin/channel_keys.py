"""/api/channels/<id>/keys: a channel's upstream keys; keys go in, only their hints come out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import integer, names, read_body, required_text, text
from burncloud.errors import InvalidRequest
from burncloud.services import channel_keys

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def channel_keys_blueprint(runtime: Runtime) -> Blueprint:
    """List, add, change (status, weight) and remove a channel's keys."""
    blueprint = Blueprint("channel_keys", __name__)

    @blueprint.get("/channels/<int:channel_id>/keys")
    async def list_keys(channel_id: int) -> dict[str, Any]:
        found = await channel_keys.list_keys(runtime.db, channel_id)
        return {"data": [key.to_json() for key in found]}

    @blueprint.post("/channels/<int:channel_id>/keys")
    async def add_keys(channel_id: int) -> tuple[dict[str, Any], int]:
        body = await read_body("keys", "weight")
        keys = names(body, "keys")
        if not keys:
            raise InvalidRequest("give 'keys': a list of upstream keys")
        added = await channel_keys.add_keys(
            runtime.db, runtime.secret_box, channel_id, keys, integer(body, "weight", 1)
        )
        return {"data": [key.to_json() for key in added]}, 201

    @blueprint.patch("/channels/<int:channel_id>/keys/<int:key_id>")
    async def change_key(channel_id: int, key_id: int) -> dict[str, Any]:
        body = await read_body("status", "reason", "weight")
        status, weight = text(body, "status"), integer(body, "weight")
        if status is None and weight is None:
            raise InvalidRequest("nothing to change: give 'status' or 'weight'")
        key = None
        if weight is not None:
            key = await channel_keys.set_key_weight(runtime.db, channel_id, key_id, weight)
        if status is not None:
            reason = text(body, "reason") or ""
            key = await channel_keys.set_key_status(
                runtime.db, channel_id, key_id, required_text(body, "status"), reason
            )
        assert key is not None
        return key.to_json()

    @blueprint.delete("/channels/<int:channel_id>/keys/<int:key_id>")
    async def remove_key(channel_id: int, key_id: int) -> dict[str, Any]:
        await channel_keys.remove_key(runtime.db, channel_id, key_id)
        return {"id": key_id, "deleted": True}

    return blueprint
