"""/api/channels/<id>/capabilities and /probe: what a channel supports, per model, as the
operator sets it and the probe measures it (``services.capabilities``).

``PUT`` replaces the operator's entries with ``{"capabilities": {"vision": false,
"gpt-4o:context": 128000, "tools": "true"}}`` (labels as ``--capability`` names them; an
empty object removes them all); the probe's entries stay. ``POST .../probe`` (``{"model":
M}`` optional) runs the probe now and answers its findings.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import read_body, text
from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.upstream_guard import check_base_url
from burncloud.services.capabilities import (
    OPERATOR,
    CapabilityRow,
    CapabilitySpec,
    capability_rows,
    parse_spec,
    resolve,
    set_capabilities,
    value_text,
)
from burncloud.services.channels import get_channel

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def channel_capabilities_blueprint(runtime: Runtime) -> Blueprint:
    """Show and set a channel's capabilities, and probe them."""
    blueprint = Blueprint("channel_capabilities", __name__)
    check_url = partial(check_base_url, allow_private=runtime.settings.allow_private_upstreams)

    @blueprint.get("/channels/<int:channel_id>/capabilities")
    async def show_capabilities(channel_id: int) -> dict[str, Any]:
        await get_channel(runtime.db, channel_id)  # 404 for an unknown channel
        return capabilities_json(channel_id, await capability_rows(runtime.db, channel_id))

    @blueprint.put("/channels/<int:channel_id>/capabilities")
    async def set_channel_capabilities(channel_id: int) -> dict[str, Any]:
        specs = operator_specs(await read_body("capabilities"))
        rows = await set_capabilities(runtime.db, channel_id, specs, OPERATOR, replace=True)
        return capabilities_json(channel_id, rows)

    @blueprint.post("/channels/<int:channel_id>/probe")
    async def probe(channel_id: int) -> dict[str, Any]:
        model = text(await read_body("model"), "model")
        # Imported here: the router's request path never needs httpx.
        import httpx

        from burncloud.services.capability_probe import probe_channel

        async with httpx.AsyncClient() as client:
            report = await probe_channel(
                runtime.db,
                runtime.secret_box,
                channel_id,
                model,
                client=client,
                check_url=check_url,
            )
        return report.to_json()

    return blueprint


def operator_specs(body: dict[str, Any]) -> list[CapabilitySpec]:
    """The specs of a PUT body's ``capabilities`` object (label -> true, false, a token
    count, or a string as ``--capability`` takes it)."""
    given = body.get("capabilities", {})
    if not isinstance(given, dict):
        raise InvalidRequest("capabilities must be an object of label -> value")
    specs = []
    for label, value in given.items():
        if not isinstance(value, bool | int | str):
            raise InvalidRequest(f"capability {label!r} must be true, false, a number or a string")
        shown = value if isinstance(value, str) else value_text(value)
        specs.append(parse_spec(f"{label}={shown}"))
    return specs


def capabilities_json(channel_id: int, rows: list[CapabilityRow]) -> dict[str, Any]:
    """The stored entries and what routing makes of them (every model's, and each model's
    with entries of its own)."""
    resolved = resolve(rows)
    return {
        "channel_id": channel_id,
        "entries": [row.to_json() for row in rows],
        "every_model": dict(resolved.every),
        "models": {model: dict(found) for model, found in resolved.models.items()},
    }
