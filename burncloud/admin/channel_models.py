"""/api/channels/<id>/models: a channel's models and whether each is priced, what its
upstream offers (``?fetch=1``), and a sync (``POST .../models/sync`` with ``add_only`` and
``dry_run``), as `burncloud channel models` does them.

The upstream is asked over httpx (loaded on the first such call only), each URL through
the address guard under the router's BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS. A model without a
price is listed as such: the relay serves it only once it is priced.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import query_text, read_body
from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.upstream_guard import check_base_url
from burncloud.protocols.shapes import JSON
from burncloud.services.channels import get_channel
from burncloud.services.model_listing import fetch_upstream_models, httpx_getter
from burncloud.services.model_sync import channel_models, offered_models, sync_channel_models

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

_TRUE, _FALSE = frozenset({"1", "true", "yes"}), frozenset({"0", "false", "no"})


def channel_models_blueprint(runtime: Runtime) -> Blueprint:
    """List a channel's models, fetch what its upstream offers, sync them."""
    blueprint = Blueprint("channel_models", __name__)
    check_url = partial(check_base_url, allow_private=runtime.settings.allow_private_upstreams)

    @blueprint.get("/channels/<int:channel_id>/models")
    async def list_models(channel_id: int) -> dict[str, Any]:
        if not _flag("fetch"):
            found = await channel_models(runtime.db, channel_id)
            return {"channel_id": channel_id, "models": [model.to_json() for model in found]}
        channel = await get_channel(runtime.db, channel_id)
        async with httpx_getter(check_url) as getter:
            upstream = await fetch_upstream_models(
                runtime.db, runtime.secret_box, channel_id, getter
            )
        offered = await offered_models(runtime.db, channel, upstream)
        return {**upstream.to_json(), "models": [model.to_json() for model in offered]}

    @blueprint.post("/channels/<int:channel_id>/models/sync")
    async def sync_models(channel_id: int) -> dict[str, Any]:
        body = await read_body("add_only", "dry_run")
        add_only, dry_run = _boolean(body, "add_only"), _boolean(body, "dry_run")
        await get_channel(runtime.db, channel_id)
        async with httpx_getter(check_url) as getter:
            result = await sync_channel_models(
                runtime.db,
                runtime.secret_box,
                channel_id,
                getter,
                add_only=add_only,
                dry_run=dry_run,
            )
        return result.to_json()

    return blueprint


def _flag(name: str) -> bool:
    """A yes/no query parameter (1/true/yes, 0/false/no); absent is no."""
    value = (query_text(name) or "0").lower()
    if value not in _TRUE | _FALSE:
        raise InvalidRequest(f"query parameter {name} must be 1 or 0")
    return value in _TRUE


def _boolean(body: JSON, name: str) -> bool:
    """A JSON boolean field; absent is false."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false")
    return value
