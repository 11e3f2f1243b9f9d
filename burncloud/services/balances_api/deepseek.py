"""DeepSeek: the account's balance in CNY or USD.

Follows DeepSeek's API reference, "Get User Balance"
(https://api-docs.deepseek.com/api/get-user-balance): ``GET https://api.deepseek.com/user/balance``
(at the host's root, not under /v1) with the key as a Bearer token answers
``{"is_available": true, "balance_infos": [{"currency": "CNY", "total_balance": "110.00",
"granted_balance": "10.00", "topped_up_balance": "100.00"}]}``: ``currency`` is CNY or
USD, ``total_balance`` the granted plus the topped-up balance, and ``is_available``
whether the balance can pay for API calls.

An account holds one currency; should the list hold several, the first is the balance and
each is in the details.
"""

from __future__ import annotations

from typing import Any

from burncloud.errors import UpstreamError
from burncloud.services.balances_api.reading import (
    Access,
    Balance,
    Getter,
    amount_at,
    api_root,
    decimal_text,
    read_object,
    send,
)

WHO = "DeepSeek"
PARTS = ("total_balance", "granted_balance", "topped_up_balance")


async def read_deepseek(access: Access, get: Getter) -> Balance:
    """The first currency's ``total_balance``."""
    answer = read_object(await send(get, f"{api_root(access.base_url)}/user/balance", access), WHO)
    infos = answer.get("balance_infos")
    if not isinstance(infos, list) or not infos or not all(isinstance(i, dict) for i in infos):
        raise UpstreamError(f"{WHO} answered without a balance (no 'balance_infos')")
    balances = [_one(info) for info in infos]
    total = amount_at(infos[0], "total_balance", WHO)
    details = {"is_available": answer.get("is_available") is True, "balances": balances}
    return Balance(total, balances[0]["currency"], details)


def _one(info: dict[str, Any]) -> dict[str, str]:
    currency = info.get("currency")
    if not isinstance(currency, str) or not currency:
        raise UpstreamError(f"{WHO} answered a balance without its currency")
    amounts = {part: decimal_text(amount_at(info, part, WHO)) for part in PARTS}
    return {"currency": currency, **amounts}
