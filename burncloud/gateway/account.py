"""Read-only endpoints: the caller's models and balance (OpenAI-style), liveness, and the
public OpenAPI document of the whole router."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from quart import Blueprint, Response, request

from burncloud.gateway.auth import Caller, authenticate, extract_key
from burncloud.gateway.openapi import openapi_document
from burncloud.money import UNITS_PER_USD, UNLIMITED

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

UNLIMITED_USD = 100_000_000.0  # what OpenAI-style dashboards show for "no limit"


def account_blueprint(runtime: Runtime) -> Blueprint:
    """/v1/models, /v1/dashboard/billing/subscription, /v1/dashboard/billing/usage,
    /healthz and /openapi.json."""
    blueprint = Blueprint("account", __name__)
    document = orjson.dumps(openapi_document())

    def caller() -> Caller:
        key = extract_key(dict(request.scope["headers"]))
        return authenticate(runtime.snapshot(), key, request.remote_addr)

    @blueprint.get("/v1/models")
    async def models() -> dict:
        who = caller()
        snapshot = runtime.snapshot()
        names = snapshot.models_for(who.group)
        if who.token.models:
            names = [name for name in names if name in who.token.models]
        return {"object": "list", "data": [_model(name) for name in names]}

    @blueprint.get("/v1/dashboard/billing/subscription")
    async def subscription() -> dict:
        limit = _remaining_usd(caller())
        return {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": limit,
            "hard_limit_usd": limit,
            "system_hard_limit_usd": limit,
            "access_until": 0,
        }

    @blueprint.get("/v1/dashboard/billing/usage")
    async def usage() -> dict:
        who = caller()
        # total_usage is in US cents, as OpenAI's endpoint reports it.
        return {"object": "list", "total_usage": who.token.used * 100 / UNITS_PER_USD}

    @blueprint.get("/healthz")
    async def healthz() -> Response:
        """Liveness, and the configuration version this worker serves (all routers of a
        database should show the same one within a couple of seconds of a change)."""
        version = runtime.snapshot().version
        return Response(
            f'{{"status":"ok","config_version":{version}}}', content_type="application/json"
        )

    @blueprint.get("/openapi.json")
    async def openapi() -> Response:
        """The OpenAPI 3.1 document; public, like the API reference it is."""
        return Response(document, content_type="application/json")

    return blueprint


def _model(name: str) -> dict:
    return {"id": name, "object": "model", "created": int(time.time()), "owned_by": "burncloud"}


def _remaining_usd(who: Caller) -> float:
    """What the key can still spend: the smaller of its quota and its user's balance."""
    sides = [v for v in (who.token.quota, who.user.balance) if v != UNLIMITED]
    if not sides:
        return UNLIMITED_USD
    return min(sides) / UNITS_PER_USD
