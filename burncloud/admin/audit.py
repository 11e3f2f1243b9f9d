"""/api/audit: the trail of configuration changes, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import query_int, query_text
from burncloud.services.audit import (
    DEFAULT_LIMIT,
    AuditFilter,
    list_changes,
    parse_object,
    parse_since,
)
from burncloud.services.clock import now

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def audit_blueprint(runtime: Runtime) -> Blueprint:
    """GET /audit?since=&object=&limit=: ``since`` a window (7d), a date, a time or unix
    seconds; ``object`` a kind (channel) or kind:id (channel:3); ``limit`` 1 to 1000
    (default 100). Answers ``{"data": [entry, ...]}``, each entry with ``id``, ``at``,
    ``actor``, ``object`` {kind, id, name}, ``action`` and ``changes`` {field: {old, new}}."""
    blueprint = Blueprint("audit", __name__)

    @blueprint.get("/audit")
    async def list_audit() -> dict[str, Any]:
        since, given = query_text("since"), query_text("object")
        kind, object_id = parse_object(given) if given is not None else (None, None)
        filters = AuditFilter(
            since=parse_since(since, now()) if since is not None else None,
            kind=kind,
            object_id=object_id,
        )
        limit = query_int("limit")
        entries = await list_changes(runtime.db, filters, DEFAULT_LIMIT if limit is None else limit)
        return {"data": [entry.to_json() for entry in entries]}

    return blueprint
