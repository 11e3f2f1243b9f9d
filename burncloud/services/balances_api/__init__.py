"""Reading an upstream account's balance, one module per balance API.

Each reader turns one provider's documented balance endpoint into a ``Balance`` (its
module docstring cites the documentation it follows): OpenRouter's credits, DeepSeek's
user balance, SiliconFlow's user info, Moonshot's balance and the ``/dashboard/billing``
pair of OpenAI-style resellers. Readers send through a ``Getter`` the caller gives and
never touch the database; ``services.upstream_balance`` stores what they read. May
import: ``errors``, ``services.balance_apis``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from burncloud.services.balance_apis import (
    DEEPSEEK,
    MOONSHOT,
    OPENAI_BILLING,
    OPENROUTER,
    SILICONFLOW,
    check_balance_api,
)
from burncloud.services.balances_api.deepseek import read_deepseek
from burncloud.services.balances_api.moonshot import read_moonshot
from burncloud.services.balances_api.openai_billing import read_openai_billing
from burncloud.services.balances_api.openrouter import read_openrouter
from burncloud.services.balances_api.reading import Access, Balance, Getter, Reply
from burncloud.services.balances_api.siliconflow import read_siliconflow

Reader = Callable[[Access, Getter], Awaitable[Balance]]
READERS: dict[str, Reader] = {
    OPENROUTER: read_openrouter,
    DEEPSEEK: read_deepseek,
    SILICONFLOW: read_siliconflow,
    MOONSHOT: read_moonshot,
    OPENAI_BILLING: read_openai_billing,
}

__all__ = ["READERS", "Access", "Balance", "Getter", "Reader", "Reply", "read_balance"]


async def read_balance(api: str, access: Access, get: Getter) -> Balance:
    """The balance through balance API ``api``; UpstreamError (one line) when it cannot be
    read, InvalidRequest for an unknown API."""
    return await READERS[check_balance_api(api)](access, get)
