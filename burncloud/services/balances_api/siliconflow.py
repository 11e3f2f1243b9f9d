"""SiliconFlow: the account's total balance (CNY on siliconflow.cn, USD on siliconflow.com).

Follows SiliconFlow's API reference, "Get user info"
(https://docs.siliconflow.cn/cn/api-reference/userinfo/get-user-info): ``GET
https://api.siliconflow.cn/v1/user/info`` with the key as a Bearer token answers
``{"code": 20000, "message": "OK", "status": true, "data": {"id": "userid", "name":
"username", ..., "balance": "0.88", "status": "normal", "chargeBalance": "88.00",
"totalBalance": "88.88"}}``: ``totalBalance`` is the granted ``balance`` plus the topped-up
``chargeBalance``. The international site (api.siliconflow.com) answers the same in USD.
A host that is neither (a proxy) is taken for the Chinese site unless the channel says
otherwise (``--config balance_currency=USD``).
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

WHO = "SiliconFlow"
OK_CODE = 20000


async def read_siliconflow(access: Access, get: Getter) -> Balance:
    """``data.totalBalance``, with the granted and topped-up parts in the details."""
    url = f"{api_root(access.base_url)}/v1/user/info"
    answer = read_object(await send(get, url, access), WHO)
    if answer.get("code") != OK_CODE or answer.get("status") is False:
        raise UpstreamError(f"{WHO} answered code {answer.get('code')!r}: {answer.get('message')}")
    data = object_at(answer, "data", WHO)
    details = {
        "balance": decimal_text(amount_at(data, "balance", WHO)),
        "chargeBalance": decimal_text(amount_at(data, "chargeBalance", WHO)),
    }
    if isinstance(data.get("status"), str):
        details["status"] = data["status"]
    return Balance(amount_at(data, "totalBalance", WHO), _currency(access), details)


def _currency(access: Access) -> str:
    if access.currency:
        return access.currency
    return "USD" if host_of(access.base_url).endswith("siliconflow.com") else "CNY"
