"""/api/alerts: webhooks for budgets, forecasts, channels, errors and the fleet; a URL and a
secret go in, only the URL's origin comes out (a generated secret once, on creation)."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import names, query_int, query_text, read_body, required_text, text
from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.upstream_guard import check_base_url
from burncloud.protocols.shapes import JSON
from burncloud.services.alerts import hooks
from burncloud.services.alerts.history import DEFAULT_LIMIT, DELIVERY_STATUSES, list_deliveries

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

FIELDS = ("url", "events", "format", "secret", "thresholds", "chat_id")
MAX_LOG = 1000


def alerts_blueprint(runtime: Runtime) -> Blueprint:
    """List, add, show, test and delete alerts, and read their delivery log."""
    blueprint = Blueprint("alerts", __name__)
    check_url = partial(check_base_url, allow_private=runtime.settings.allow_private_upstreams)

    @blueprint.get("/alerts")
    async def list_alerts() -> dict[str, Any]:
        return {"data": [hook.to_json() for hook in await hooks.list_hooks(runtime.db)]}

    @blueprint.post("/alerts")
    async def add_alert() -> tuple[dict[str, Any], int]:
        body = await read_body(*FIELDS)
        hook, generated = await hooks.add_hook(
            runtime.db,
            runtime.secret_box,
            url=required_text(body, "url"),
            events=names(body, "events") or [],
            format=text(body, "format") or "json",
            thresholds=_thresholds(body),
            secret=text(body, "secret"),
            chat_id=text(body, "chat_id"),
            check_url=check_url,
        )
        return {**hook.to_json(), **({"secret": generated} if generated else {})}, 201

    @blueprint.get("/alerts/<int:hook_id>")
    async def show_alert(hook_id: int) -> dict[str, Any]:
        return (await hooks.get_hook(runtime.db, hook_id)).to_json()

    @blueprint.delete("/alerts/<int:hook_id>")
    async def delete_alert(hook_id: int) -> dict[str, Any]:
        dropped = await hooks.delete_hook(runtime.db, hook_id)
        return {"id": hook_id, "deleted": True, "pending_dropped": dropped}

    @blueprint.post("/alerts/<int:hook_id>/test")
    async def test_alert(hook_id: int) -> dict[str, Any]:
        await read_body()
        trial = await runtime.alerts.test(hook_id)
        return {
            "event_id": trial.event_id,
            "delivery_id": trial.delivery_id,
            "delivered": trial.outcome.delivered,
            "status": trial.status,
            "http_status": trial.outcome.status,
            "error": trial.outcome.error or None,
        }

    @blueprint.get("/alerts/log")
    async def delivery_log() -> dict[str, Any]:
        status = query_text("status")
        if status is not None and status not in DELIVERY_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        limit = query_int("limit")
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_LOG:
            raise InvalidRequest(f"limit must be from 1 to {MAX_LOG}")
        found = await list_deliveries(
            runtime.db, status=status, hook_id=query_int("alert"), limit=limit
        )
        return {"data": [record.to_json() for record in found]}

    return blueprint


def _thresholds(body: JSON) -> list[int | str] | str | None:
    """``thresholds`` as a list of percents or a comma-separated string; None if absent."""
    value = body.get("thresholds")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(item, int | Decimal | str) and not isinstance(item, bool) for item in value
    ):
        return [str(item) for item in value]
    raise InvalidRequest("thresholds must be a list of percents or a comma-separated string")
