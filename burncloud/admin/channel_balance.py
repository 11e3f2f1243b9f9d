"""/api/channels/.../balance: upstream balances as last checked, and a check made now.

A check goes through the router's balance refresher (``runtime.balances``): over the
router's own upstream transport, behind the address guard, with the router's default
alert threshold; a failed check is not an error of this API: it answers 200 with the
stored outcome, whose ``error`` says why (the CLI's exit code is for scripts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import read_body
from burncloud.services.channels import Channel, get_channel, list_channels
from burncloud.services.upstream_balance import (
    StoredBalance,
    api_of,
    stored_balance,
    stored_balances,
)

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def channel_balance_blueprint(runtime: Runtime) -> Blueprint:
    """Read every channel's balance or one's, and check one now."""
    blueprint = Blueprint("channel_balance", __name__)

    @blueprint.get("/channels/balances")
    async def list_balances() -> dict[str, Any]:
        stored = await stored_balances(runtime.db)
        found = await list_channels(runtime.db)
        shown = [channel for channel in found if channel.id in stored or api_of(channel)]
        return {"data": [balance_json(channel, stored.get(channel.id)) for channel in shown]}

    @blueprint.get("/channels/<int:channel_id>/balance")
    async def show_balance(channel_id: int) -> dict[str, Any]:
        channel = await get_channel(runtime.db, channel_id)
        return balance_json(channel, await stored_balance(runtime.db, channel_id))

    @blueprint.post("/channels/<int:channel_id>/balance")
    async def check_balance(channel_id: int) -> dict[str, Any]:
        await read_body()
        stored = await runtime.balances.check_now(channel_id)
        return balance_json(await get_channel(runtime.db, channel_id), stored)

    return blueprint


def balance_json(channel: Channel, stored: StoredBalance | None) -> dict[str, Any]:
    """A channel's balance as the API shows it: its last check (``amount`` null and
    ``checked_at`` null before the first), the balance API it has (null: none)."""
    if stored is None:
        return {
            "channel_id": channel.id,
            "name": channel.name,
            "api": api_of(channel),
            "amount": None,
            "currency": "",
            "details": {},
            "error": "",
            "checked_at": None,
            "alerted_below": False,
        }
    return {**stored.to_json(), "name": channel.name}
