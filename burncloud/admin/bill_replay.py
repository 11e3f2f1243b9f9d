"""/api/bill-replay: what the logged requests would have cost at other prices.

The same replay as `burncloud bill replay` (``services.bill_replay``): the body is the
price file (a catalog in JSON, YAML with ``?format=yaml``, or LiteLLM's file with
``?format=litellm``), ``?since=UNIX`` (default: 30 days ago) and ``?by=model|user``.
Nothing is written; a POST only because the file is the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import query_int, query_text
from burncloud.admin.price_catalog import body_text
from burncloud.errors import InvalidRequest
from burncloud.services.bill_replay import REPLAY_BY, replay_bills
from burncloud.services.clock import now
from burncloud.services.price_sync import wanted_catalog

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

DEFAULT_WINDOW = 30 * 24 * 3600


def bill_replay_blueprint(runtime: Runtime) -> Blueprint:
    blueprint = Blueprint("bill_replay", __name__)

    @blueprint.post("/bill-replay")
    async def replay() -> dict[str, Any]:
        by = query_text("by") or "model"
        if by not in REPLAY_BY:
            raise InvalidRequest(f"query parameter by must be one of {', '.join(REPLAY_BY)}")
        since = query_int("since")
        wanted, _ = wanted_catalog(await body_text(), query_text("format") or "json")
        start = now() - DEFAULT_WINDOW if since is None else since
        return (await replay_bills(runtime.db, wanted.prices, start, by)).to_json()

    return blueprint
