"""How much of the caller's money one request may hold while it runs.

The reservation covers a generous prompt estimate plus the answer budget, each at the
dearest price its side may bill (a cache write may cost more than input), and the most of
each per-unit kind it may use (a rerank's searches): each answer's limit (the request's
``max_tokens`` or the endpoint default) times the answers generated (``n``, ``best_of``, a
list of prompts). When that is more than the key or account has left, each answer's limit
is cut to what the balance affords and the upstream is asked for no more (``max_tokens``
capped), rather than overspending; 402 only when not even one token per answer is
affordable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from burncloud.errors import InsufficientQuota
from burncloud.gateway.billing.ledger import Ledger
from burncloud.gateway.billing.reservations import Reservation
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.services.budgets import BudgetRule
from burncloud.services.pricing import Price, ceiling_cost


@dataclass(frozen=True, slots=True)
class Budget:
    reservation: Reservation
    max_tokens_cap: int | None  # set when the answer had to be cut to the balance


async def reserve_budget(
    ledger: Ledger, caller: Caller, request: InboundRequest, price: Price, ratio: Decimal
) -> Budget:
    """Reserve the request's estimated cost, capping its answer if the balance is short."""
    prompt, limit, answers = request.prompt_estimate(), request.answer_limit(), request.answers
    units = request.reserved_units()
    windows = await ledger.budgets.windows(caller_budgets(caller, request.model))
    try:
        estimate = ceiling_cost(prompt, limit * answers, price, ratio, units)
        return Budget(await ledger.reserve(caller.token, caller.user, estimate, windows), None)
    except InsufficientQuota:
        if limit <= 1 or not request.endpoint.limit_fields:  # no answer limit to cap
            raise
        affordable = await ledger.affordable(caller.token, caller.user, windows)
        cap = affordable_answer(affordable, prompt, limit * answers, price, ratio) // answers
        if cap < 1:
            raise
    # The balance moved meanwhile (another worker gave a lease back): the whole answer may
    # fit after all, and then it is not capped.
    reservation = await ledger.reserve(
        caller.token, caller.user, ceiling_cost(prompt, cap * answers, price, ratio, units), windows
    )
    return Budget(reservation, None if cap == limit else cap)


def caller_budgets(caller: Caller, model: str | None) -> list[tuple[BudgetRule, int]]:
    """The budgets a request of ``caller`` for ``model`` must fit (``None``: the model is
    not known yet, so only the budgets of every model)."""
    return [
        (rule, subject)
        for rule, subject in caller.budgets
        if (rule.applies_to(model) if model is not None else not rule.model)
    ]


def affordable_answer(
    affordable: int | None, prompt: int, most: int, price: Price, ratio: Decimal
) -> int:
    """The largest answer size in [0, most] whose cost with ``prompt`` fits ``affordable``."""
    if affordable is None:
        return most
    if ceiling_cost(prompt, 0, price, ratio) > affordable:
        return 0
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if ceiling_cost(prompt, middle, price, ratio) <= affordable:
            low = middle
        else:
            high = middle - 1
    return low
