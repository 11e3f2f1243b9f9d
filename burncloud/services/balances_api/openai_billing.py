"""OpenAI-style resellers (One API, New API and their kin): the ``/dashboard/billing`` pair.

Follows the endpoints One API serves and itself reads from other resellers
(songquanpeng/one-api ``controller/billing.go`` and ``controller/channel-billing.go``; New
API's ``controller/billing.go`` answers alike), in the shape of OpenAI's retired billing
API: ``GET {root}/v1/dashboard/billing/subscription`` answers ``{"object":
"billing_subscription", "has_payment_method": true, "soft_limit_usd": 50, "hard_limit_usd":
50, "system_hard_limit_usd": 50, "access_until": 0}``, ``hard_limit_usd`` being the key's
(or its user's) whole quota in USD, used and unused; ``GET
{root}/v1/dashboard/billing/usage?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD`` answers
``{"object": "list", "total_usage": 1234}``, what was used in cents of a dollar. The
balance is ``hard_limit_usd - total_usage / 100``, as One API computes it. The dates are
One API's: from the first of the month (100 days back without a payment method) to
today; One API and New API answer the whole usage whatever they are. An unlimited key
shows a hard limit of 100,000,000 dollars: there is no balance to watch. Errors come as
OpenAI's ``{"error": {"message": ..., "type": ...}}``: 401 for a wrong key, and a 200 with
that body for an internal failure.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

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

WHO = "the reseller"
UNLIMITED = Decimal(100_000_000)  # what One API and New API show for an unlimited key
NO_PAYMENT_LOOKBACK = timedelta(days=100)
CENTS = Decimal(100)


async def read_openai_billing(access: Access, get: Getter) -> Balance:
    """The hard limit less the usage, in USD."""
    root = f"{api_root(access.base_url)}/v1/dashboard/billing"
    subscription = read_object(await send(get, f"{root}/subscription", access), WHO)
    limit = amount_at(subscription, "hard_limit_usd", WHO)
    if limit >= UNLIMITED:
        raise UpstreamError(
            f"{WHO} reports an unlimited key (hard_limit_usd {decimal_text(limit)}):"
            " there is no balance to watch"
        )
    start, end = _dates(access, subscription.get("has_payment_method") is not False)
    usage_url = f"{root}/usage?start_date={start}&end_date={end}"
    used = amount_at(read_object(await send(get, usage_url, access), WHO), "total_usage", WHO)
    spent = (used / CENTS).normalize()
    details = {"hard_limit_usd": decimal_text(limit), "total_usage_usd": decimal_text(spent)}
    return Balance(limit - spent, "USD", details)


def _dates(access: Access, has_payment_method: bool) -> tuple[str, str]:
    """The usage window One API asks for."""
    today = access.today
    start = today.replace(day=1) if has_payment_method else today - NO_PAYMENT_LOOKBACK
    return start.isoformat(), today.isoformat()
