"""/api/channels: upstream accounts; a key goes in, only its hint ever comes out, and a base
URL on a link-local or metadata address is refused (``upstream_guard``)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import (
    decimal_text,
    integer,
    names,
    read_body,
    required_text,
    string_map,
    text,
)
from burncloud.gateway.egress.upstream_guard import check_base_url
from burncloud.services import channels

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

FIELDS = (
    "type", "name", "key", "base_url", "models", "groups", "weight", "priority", "model_map",
    "config", "cost_ratio",
)  # fmt: skip


def channels_blueprint(runtime: Runtime) -> Blueprint:
    """List, add, show, update, enable, disable and delete channels."""
    blueprint = Blueprint("channels", __name__)
    allow = runtime.settings.allow_private_upstreams
    check_url = partial(check_base_url, allow_private=allow)

    @blueprint.get("/channels")
    async def list_channels() -> dict[str, Any]:
        found = await channels.list_channels(runtime.db)
        return {"data": [channel.to_json() for channel in found]}

    @blueprint.post("/channels")
    async def add_channel() -> tuple[dict[str, Any], int]:
        body = await read_body(*FIELDS)
        groups = names(body, "groups")
        channel = await channels.add_channel(
            runtime.db,
            runtime.secret_box,
            type=required_text(body, "type"),
            name=required_text(body, "name"),
            key=required_text(body, "key"),
            models=names(body, "models") or [],
            base_url=text(body, "base_url"),
            groups=["default"] if groups is None else groups,
            weight=integer(body, "weight", 1),
            priority=integer(body, "priority", 0),
            model_map=string_map(body, "model_map"),
            config=string_map(body, "config"),
            cost_ratio=decimal_text(body, "cost_ratio") or "1",
            check_url=check_url,
        )
        return channel.to_json(), 201

    @blueprint.get("/channels/<int:channel_id>")
    async def show_channel(channel_id: int) -> dict[str, Any]:
        return (await channels.get_channel(runtime.db, channel_id)).to_json()

    @blueprint.patch("/channels/<int:channel_id>")
    async def update_channel(channel_id: int) -> dict[str, Any]:
        body = await read_body(*FIELDS)
        channel = await channels.update_channel(
            runtime.db,
            runtime.secret_box,
            channel_id,
            type=text(body, "type"),
            name=text(body, "name"),
            key=text(body, "key"),
            models=names(body, "models"),
            base_url=text(body, "base_url"),
            groups=names(body, "groups"),
            weight=integer(body, "weight"),
            priority=integer(body, "priority"),
            model_map=string_map(body, "model_map"),
            config=string_map(body, "config"),
            cost_ratio=decimal_text(body, "cost_ratio"),
            check_url=check_url,
        )
        return channel.to_json()

    @blueprint.post("/channels/<int:channel_id>/enable")
    async def enable_channel(channel_id: int) -> dict[str, Any]:
        await read_body()
        return (await channels.enable_channel(runtime.db, channel_id)).to_json()

    @blueprint.post("/channels/<int:channel_id>/disable")
    async def disable_channel(channel_id: int) -> dict[str, Any]:
        reason = text(await read_body("reason"), "reason") or ""
        return (await channels.disable_channel(runtime.db, channel_id, reason)).to_json()

    @blueprint.delete("/channels/<int:channel_id>")
    async def delete_channel(channel_id: int) -> dict[str, Any]:
        await channels.delete_channel(runtime.db, channel_id)
        return {"id": channel_id, "deleted": True}

    return blueprint
