"""Moonshot (Kimi): the account's available balance (CNY on moonshot.cn, USD on moonshot.ai).

Follows Moonshot's API reference, "查询余额" / "Check Balance"
(https://platform.moonshot.cn/docs/api/balance): ``GET
https://api.moonshot.cn/v1/users/me/balance`` with the key as a Bearer token answers
``{"code": 0, "data": {"available_balance": 49.58894, "voucher_balance": 46.58893,
"cash_balance": 3.00001}, "scode": "0x0", "status": true}``: ``available_balance`` is cash
plus vouchers and API calls stop at 0 or below; ``cash_balance`` may be negative (owed).
The answer names no currency: the Chinese platform's docs give yuan, the international
one's (api.moonshot.ai) US dollars. A host that is neither (a proxy) is taken for the
Chinese platform unless the channel says otherwise (``--config balance_currency=USD``).
"""

from __future__ import annotations

from burncloud.errors import UpstreamError
from burncloud.services.balances_api.reading import (
    Access,
    Balance,
    Getter,
    amount_at,
    api_root,
    decimal_text,
    host_of,
    object_at,
    read_object,
    send,
)

WHO = "Moonshot"


async def read_moonshot(access: Access, get: Getter) -> Balance:
    """``data.available_balance``, with the voucher and cash parts in the details."""
    url = f"{api_root(access.base_url)}/v1/users/me/balance"
    answer = read_object(await send(get, url, access), WHO)
    if answer.get("code") != 0 or answer.get("status") is False:
        raise UpstreamError(f"{WHO} answered code {answer.get('code')!r} ({answer.get('scode')})")
    data = object_at(answer, "data", WHO)
    details = {
        "voucher_balance": decimal_text(amount_at(data, "voucher_balance", WHO)),
        "cash_balance": decimal_text(amount_at(data, "cash_balance", WHO)),
    }
    return Balance(amount_at(data, "available_balance", WHO), _currency(access), details)


def _currency(access: Access) -> str:
    if access.currency:
        return access.currency
    return "USD" if host_of(access.base_url).endswith("moonshot.ai") else "CNY"
