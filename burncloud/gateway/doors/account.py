"""Read-only endpoints: the caller's models and balance (OpenAI-style), liveness, and the
public OpenAPI document of the whole router."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from quart import Blueprint, Response, request

from burncloud.errors import ModelNotFound, StorageUnavailable
from burncloud.gateway.doors.openapi import openapi_document
from burncloud.gateway.relay.auth import Caller, authenticate, extract_key
from burncloud.money import UNITS_PER_USD, UNLIMITED
from burncloud.protocols.shapes import JSON
from burncloud.services.balances import Holding, read_holdings
from burncloud.services.leases import TOKEN, USER

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

UNLIMITED_USD = 100_000_000.0  # what OpenAI-style dashboards show for "no limit"


def account_blueprint(runtime: Runtime) -> Blueprint:
    """/v1/models, /v1/models/{model}, /v1/dashboard/billing/subscription,
    /v1/dashboard/billing/usage, /healthz and /openapi.json."""
    blueprint = Blueprint("account", __name__)
    document = orjson.dumps(openapi_document())

    def caller() -> Caller:
        key = extract_key(dict(request.scope["headers"]))
        return authenticate(runtime.snapshot(), key, request.remote_addr)

    _add_model_routes(blueprint, runtime, caller)

    async def holdings(who: Caller) -> tuple[Holding | None, Holding | None]:
        """The key's and its user's money as the database has it now (the snapshot's
        copy is from the last reload and leaves out what routers hold)."""
        token = await read_holdings(runtime.db, TOKEN, who.token.id)
        user = await read_holdings(runtime.db, USER, who.user.id)
        return token.get(who.token.id), user.get(who.user.id)

    @blueprint.get("/v1/dashboard/billing/subscription")
    async def subscription() -> JSON:
        limit = _remaining_usd(*await holdings(caller()))
        return {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": limit,
            "hard_limit_usd": limit,
            "system_hard_limit_usd": limit,
            "access_until": 0,
        }

    @blueprint.get("/v1/dashboard/billing/usage")
    async def usage() -> JSON:
        who = caller()
        token, _ = await holdings(who)
        used = who.token.used if token is None else token.used
        # total_usage is in US cents, as OpenAI's endpoint reports it.
        return {"object": "list", "total_usage": used * 100 / UNITS_PER_USD}

    @blueprint.get("/healthz")
    async def healthz() -> Response:
        """Readiness, and the configuration version this worker serves (all routers of a
        database should show the same one within a couple of seconds of a change); 503 in
        the error shape while the database takes no log rows (they are kept and retried)."""
        problem = runtime.storage_problem
        if problem is not None:
            raise StorageUnavailable(f"not ready: {problem}; log rows are kept and retried")
        version = runtime.snapshot().version
        return Response(
            f'{{"status":"ok","config_version":{version}}}', content_type="application/json"
        )

    @blueprint.get("/openapi.json")
    async def openapi() -> Response:
        """The OpenAPI 3.1 document; public, like the API reference it is."""
        return Response(document, content_type="application/json")

    return blueprint


def _add_model_routes(blueprint: Blueprint, runtime: Runtime, caller: Callable[[], Caller]) -> None:
    """/v1/models and /v1/models/{model}: the models the caller's key may use, which are
    its group's, narrowed by the key's own list when it has one."""

    def usable_models() -> list[str]:
        who = caller()
        names = runtime.snapshot().models_for(who.group)
        if who.token.models:
            names = [name for name in names if name in who.token.models]
        return names

    @blueprint.get("/v1/models")
    async def models() -> JSON:
        return {"object": "list", "data": [_model(name) for name in usable_models()]}

    @blueprint.get("/v1/models/<path:model>")
    async def one_model(model: str) -> JSON:
        """One model (ids may hold slashes) if the key may use it, else 404 as OpenAI says
        (without the id: the answer is the same whether another user has the model)."""
        if model not in usable_models():
            raise ModelNotFound("The model does not exist or you do not have access to it.")
        return _model(model)


def _model(name: str) -> JSON:
    return {"id": name, "object": "model", "created": int(time.time()), "owned_by": "burncloud"}


def _remaining_usd(token: Holding | None, user: Holding | None) -> float:
    """What the key can still spend: the smaller of its quota and its user's balance, each
    with what routers hold for it (``balances``); a side that is gone has nothing left."""
    sides = [0 if side is None else side.spendable for side in (token, user)]
    limited = [value for value in sides if value != UNLIMITED]
    if not limited:
        return UNLIMITED_USD
    return min(limited) / UNITS_PER_USD
