"""/api/tokens: client API keys; a new key is returned once, on creation, never again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint

from burncloud.admin.params import (
    decimal_text,
    integer,
    names,
    query_text,
    read_body,
    ref,
    required_text,
    text,
)
from burncloud.money import UNLIMITED, parse_usd
from burncloud.services import tokens

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

CREATE_FIELDS = ("name", "user", "quota", "expires", "models", "ips")
UPDATE_FIELDS = ("name", "quota", "expires", "models", "ips", "rpm", "tpm", "max_concurrency")


def tokens_blueprint(runtime: Runtime) -> Blueprint:
    """List, create, show, update, revoke and delete tokens."""
    blueprint = Blueprint("tokens", __name__)

    @blueprint.get("/tokens")
    async def list_tokens() -> dict[str, Any]:
        found = await tokens.list_tokens(runtime.db, query_text("user"))
        return {"data": [token.to_json() for token in found]}

    @blueprint.post("/tokens")
    async def create_token() -> tuple[dict[str, Any], int]:
        body = await read_body(*CREATE_FIELDS)
        quota = _quota_units(decimal_text(body, "quota"))
        token, key = await tokens.create_token(
            runtime.db,
            required_text(body, "name"),
            user_ref=ref(body, "user"),
            quota_units=UNLIMITED if quota is None else quota,
            expires_at=ref(body, "expires"),
            models=names(body, "models") or (),
            ips=names(body, "ips") or (),
        )
        return {**token.to_json(), "key": key, "key_hint": token.key_hint}, 201

    @blueprint.get("/tokens/<int:token_id>")
    async def show_token(token_id: int) -> dict[str, Any]:
        return (await tokens.get_token(runtime.db, token_id)).to_json()

    @blueprint.patch("/tokens/<int:token_id>")
    async def update_token(token_id: int) -> dict[str, Any]:
        body = await read_body(*UPDATE_FIELDS)
        token = await tokens.update_token(
            runtime.db,
            token_id,
            name=text(body, "name"),
            quota_units=_quota_units(decimal_text(body, "quota")),
            expires_at=ref(body, "expires"),
            models=names(body, "models"),
            ips=names(body, "ips"),
            rpm=integer(body, "rpm"),
            tpm=integer(body, "tpm"),
            max_concurrency=integer(body, "max_concurrency"),
        )
        return token.to_json()

    @blueprint.post("/tokens/<int:token_id>/revoke")
    async def revoke_token(token_id: int) -> dict[str, Any]:
        await read_body()
        return (await tokens.revoke_token(runtime.db, token_id)).to_json()

    @blueprint.delete("/tokens/<int:token_id>")
    async def delete_token(token_id: int) -> dict[str, Any]:
        await tokens.delete_token(runtime.db, token_id)
        return {"id": token_id, "deleted": True}

    return blueprint


def _quota_units(amount: str | None) -> int | None:
    """A quota in USD (or -1, unlimited) as nano-USD; None when not given."""
    return None if amount is None else parse_usd(amount, allow_unlimited=True)
