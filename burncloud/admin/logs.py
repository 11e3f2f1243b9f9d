"""/api/logs: request logs, filtered and paginated (newest first unless asked otherwise), and
one request's bill."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import query_int, query_text
from burncloud.services.log_bills import logged_bill
from burncloud.services.logs import DEFAULT_LIMIT, LogFilter, query_logs

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def logs_blueprint(runtime: Runtime) -> Blueprint:
    """GET /logs with filters, limit, cursor or offset, sort and order; ``next`` pages on.

    Filters: since, until (unix seconds), model, token_id, user_id, channel_id, status,
    request_id. Answers ``{"data": [...], "next": cursor or null}``.
    """
    blueprint = Blueprint("logs", __name__)

    @blueprint.get("/logs")
    async def list_logs() -> dict[str, Any]:
        limit, offset = query_int("limit"), query_int("offset")
        page = await query_logs(
            runtime.db,
            _filters(),
            limit=DEFAULT_LIMIT if limit is None else limit,
            cursor=query_text("cursor"),
            offset=offset or 0,
            sort=query_text("sort") or "created_at",
            order=query_text("order") or "desc",
        )
        return page.to_json()

    @blueprint.get("/logs/<path:request_id>")
    async def show_log(request_id: str) -> dict[str, Any]:
        """The bill of the request logged as ``request_id`` (its x-request-id): usage by
        kind, units, price version, lines, group ratio, cost, upstream cost and margin."""
        return (await logged_bill(runtime.db, request_id)).to_json()

    return blueprint


def _filters() -> LogFilter:
    return LogFilter(
        since=query_int("since"),
        until=query_int("until"),
        model=query_text("model"),
        token_id=query_int("token_id"),
        user_id=query_int("user_id"),
        channel_id=query_int("channel_id"),
        status=query_int("status"),
        request_id=query_text("request_id"),
    )
