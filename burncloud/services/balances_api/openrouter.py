"""OpenRouter: the account's credits, or else the key's own credit limit (USD).

Follows OpenRouter's API reference, "Get remaining credits"
(https://openrouter.ai/docs/api/api-reference/credits/get-credits): ``GET {base}/credits``
answers ``{"data": {"total_credits": 100.5, "total_usage": 25.75}}`` and needs a
management key (401 for a wrong key, 403 for another kind of key); and "Get current API
key" (https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key): ``GET
{base}/key`` answers ``{"data": {"limit": 100, "limit_remaining": 74.5, "usage": 25.5,
"limit_reset": "monthly", ...}}`` with ``limit`` null for a key without a limit. The base
URL is the channel's (``https://openrouter.ai/api/v1``).

A channel holds an inference key, which the credits endpoint refuses with 403: the
balance is then what the key may still spend (``limit_remaining``), when it has a limit.
"""

from __future__ import annotations

from typing import Any

from burncloud.errors import UpstreamError
from burncloud.services.balances_api.reading import (
    Access,
    Balance,
    Getter,
    amount_at,
    decimal_text,
    object_at,
    read_object,
    send,
)

WHO = "OpenRouter"
CURRENCY = "USD"
NO_LIMIT = (
    "OpenRouter shows the account's credits only to a management key, and this key has no"
    " credit limit of its own: give the key a limit on openrouter.ai to watch it"
)


async def read_openrouter(access: Access, get: Getter) -> Balance:
    """Credits purchased less credits used; the key's remaining limit for an inference key."""
    base = access.base_url.rstrip("/")
    reply = await send(get, f"{base}/credits", access)
    if reply.status == 403:
        return _key_limit(read_object(await send(get, f"{base}/key", access), WHO))
    data = object_at(read_object(reply, WHO), "data", WHO)
    total, used = amount_at(data, "total_credits", WHO), amount_at(data, "total_usage", WHO)
    details = {"source": "credits", "total_credits": decimal_text(total)}
    return Balance(total - used, CURRENCY, {**details, "total_usage": decimal_text(used)})


def _key_limit(answer: dict[str, Any]) -> Balance:
    data = object_at(answer, "data", WHO)
    if data.get("limit") is None:
        raise UpstreamError(NO_LIMIT)
    remaining = amount_at(data, "limit_remaining", WHO)
    details: dict[str, Any] = {
        "source": "key",
        "limit": decimal_text(amount_at(data, "limit", WHO)),
        "usage": decimal_text(amount_at(data, "usage", WHO)),
    }
    if isinstance(data.get("limit_reset"), str):
        details["limit_reset"] = data["limit_reset"]
    return Balance(remaining, CURRENCY, details)
