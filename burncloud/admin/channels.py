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
    query_text,
    read_body,
    required_text,
    string_map,
    text,
)
from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.upstream_guard import check_base_url
from burncloud.services import channels

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

FIELDS = (
    "type", "name", "key", "keys", "base_url", "models", "groups", "weight", "priority",
    "model_map", "config", "cost_ratio", "key_selection", "tags", "rpm", "tpm",
    "max_concurrency", "auto_sync", "balance_api", "balance_every", "balance_alert_below",
    "overrides",
)  # fmt: skip


def _keys(body: dict[str, Any]) -> list[str] | None:
    """The keys given: ``key`` (one) and ``keys`` (a list); None when neither is."""
    one, many = text(body, "key"), body.get("keys")
    if many is not None and (
        not isinstance(many, list) or not all(isinstance(key, str) for key in many)
    ):
        raise InvalidRequest("keys must be a list of strings")
    if one is None and many is None:
        return None
    return ([one] if one is not None else []) + (many or [])


def _object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A JSON object field (the whole overrides: set_headers, set_params, drop_params)."""
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be a JSON object")
    return value


def _options(body: dict[str, Any]) -> dict[str, Any]:
    """The other channel fields given, as ``update_channel`` keywords."""
    found = {
        "key_selection": text(body, "key_selection"),
        "tags": names(body, "tags"),
        "rpm": integer(body, "rpm"),
        "tpm": integer(body, "tpm"),
        "max_concurrency": integer(body, "max_concurrency"),
        "auto_sync": integer(body, "auto_sync"),
        "balance_api": text(body, "balance_api"),
        "balance_every": integer(body, "balance_every"),
        "balance_alert_below": decimal_text(body, "balance_alert_below"),
        "overrides": _object(body, "overrides"),
    }
    return {name: value for name, value in found.items() if value is not None}


def channels_blueprint(runtime: Runtime) -> Blueprint:
    """List, add, show, update, enable, disable and delete channels."""
    blueprint = Blueprint("channels", __name__)
    allow = runtime.settings.allow_private_upstreams
    check_url = partial(check_base_url, allow_private=allow)

    @blueprint.get("/channels")
    async def list_channels() -> dict[str, Any]:
        tag = query_text("tag")
        if tag is None:
            found = await channels.list_channels(runtime.db)
        else:
            found = await channels.tagged_channels(runtime.db, tag)
        return {"data": [channel.to_json() for channel in found]}

    @blueprint.post("/channels/tagged/<tag>/enable")
    async def enable_tagged(tag: str) -> dict[str, Any]:
        await read_body()
        changed = await channels.set_status_by_tag(runtime.db, tag, "enabled")
        return {"data": [channel.to_json() for channel in changed]}

    @blueprint.post("/channels/tagged/<tag>/disable")
    async def disable_tagged(tag: str) -> dict[str, Any]:
        reason = text(await read_body("reason"), "reason") or ""
        changed = await channels.set_status_by_tag(runtime.db, tag, "disabled", reason)
        return {"data": [channel.to_json() for channel in changed]}

    @blueprint.post("/channels")
    async def add_channel() -> tuple[dict[str, Any], int]:
        body = await read_body(*FIELDS)
        groups = names(body, "groups")
        keys = _keys(body)
        if not keys:
            raise InvalidRequest("a channel needs a key: give 'key' or 'keys'")
        channel = await channels.add_channel(
            runtime.db,
            runtime.secret_box,
            type=required_text(body, "type"),
            name=required_text(body, "name"),
            key=keys,
            models=names(body, "models") or [],
            base_url=text(body, "base_url"),
            groups=["default"] if groups is None else groups,
            weight=integer(body, "weight", 1),
            priority=integer(body, "priority", 0),
            model_map=string_map(body, "model_map"),
            config=string_map(body, "config"),
            cost_ratio=decimal_text(body, "cost_ratio") or "1",
            check_url=check_url,
            **_options(body),
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
            key=_keys(body),
            models=names(body, "models"),
            base_url=text(body, "base_url"),
            groups=names(body, "groups"),
            weight=integer(body, "weight"),
            priority=integer(body, "priority"),
            model_map=string_map(body, "model_map"),
            config=string_map(body, "config"),
            cost_ratio=decimal_text(body, "cost_ratio"),
            check_url=check_url,
            **_options(body),
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
