"""/api/price-catalog: every price as one catalog (export), and syncing with one (import).

The same catalog and rules as `burncloud price export` and `price import`
(``services.price_catalog``, ``services.price_sync``). It has a path of its own: under
/api/prices/ a model may be called "export".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint, request
from werkzeug.exceptions import RequestEntityTooLarge

from burncloud.admin.params import query_text
from burncloud.errors import InvalidRequest, RequestTooLarge
from burncloud.services.price_catalog import catalog_data
from burncloud.services.price_sync import read_catalog, sync_prices, wanted_catalog
from burncloud.services.tokens import split_list

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def price_catalog_blueprint(runtime: Runtime) -> Blueprint:
    """GET the catalog (JSON, as `price export --format json`); POST one to import it."""
    blueprint = Blueprint("price_catalog", __name__)

    @blueprint.get("/price-catalog")
    async def export_catalog() -> dict[str, Any]:
        catalog, _ = await read_catalog(runtime.db)
        return catalog_data(catalog)

    @blueprint.post("/price-catalog")
    async def import_catalog() -> dict[str, Any]:
        """The body is the file: a catalog in JSON (or YAML with ``?format=yaml``), or
        LiteLLM's price file with ``?format=litellm`` (``&only=a,b`` selects models).
        ``?dry_run=true`` answers the diff and applies nothing; ``?prune=true`` also
        deletes the stored prices the file does not name. Answers the diff, whether it
        was applied, and for LiteLLM's file what it could not take."""
        wanted, litellm = wanted_catalog(
            await body_text(), query_text("format") or "json", split_list(query_text("only") or "")
        )
        dry_run = _flag("dry_run")
        diff = await sync_prices(runtime.db, wanted, prune=_flag("prune"), dry_run=dry_run)
        answer = {**diff.to_json(), "applied": bool(diff.changes) and not dry_run}
        if litellm is not None:
            answer["litellm"] = litellm.to_json()
        return answer

    return blueprint


async def body_text() -> str:
    """The request body as text (the file being imported), or the error why not."""
    try:
        data = await request.get_data()
    except RequestEntityTooLarge:
        raise RequestTooLarge("the request body is too large") from None
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not UTF-8 text") from None


def _flag(name: str) -> bool:
    value = query_text(name)
    if value is None:
        return False
    if value.lower() not in _FLAGS:
        raise InvalidRequest(f"query parameter {name} must be true or false")
    return _FLAGS[value.lower()]
