"""Which upstream balance API a channel has: set by the operator, or known from its host.

The providers with a balance or credits endpoint, by the name ``channel update
--balance-api`` takes; a channel whose base URL is one of their public hosts needs no
setting (a proxy or a loopback fake does).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from burncloud.errors import InvalidRequest

OPENROUTER = "openrouter"
DEEPSEEK = "deepseek"
SILICONFLOW = "siliconflow"
MOONSHOT = "moonshot"
OPENAI_BILLING = "openai-billing"  # the /dashboard/billing endpoints of OpenAI-style resellers
BALANCE_APIS = (OPENROUTER, DEEPSEEK, SILICONFLOW, MOONSHOT, OPENAI_BILLING)

_HOSTS = {
    "openrouter.ai": OPENROUTER,
    "api.deepseek.com": DEEPSEEK,
    "api.siliconflow.cn": SILICONFLOW,
    "api.siliconflow.com": SILICONFLOW,
    "api.moonshot.cn": MOONSHOT,
    "api.moonshot.ai": MOONSHOT,
}


def check_balance_api(name: str) -> str:
    """``name`` when it is a known balance API; InvalidRequest listing them otherwise."""
    if name not in BALANCE_APIS:
        raise InvalidRequest(f"unknown balance API {name!r}: use one of {', '.join(BALANCE_APIS)}")
    return name


def balance_api_of(configured: str | None, base_url: str) -> str | None:
    """The channel's balance API: the one set, else the one its host is known for, else None."""
    if configured:
        return configured
    host = (urlsplit(base_url).hostname or "").lower()
    return _HOSTS.get(host)
