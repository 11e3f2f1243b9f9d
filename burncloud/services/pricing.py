"""The one pricing module: what a model costs and what a request's usage costs.

Pure and cheap: the router calls it on every request, so nothing here touches the
database. Prices are integer nano-USD per 1M tokens (``burncloud.money``); costs are
integer nano-USD, computed exactly and rounded once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from burncloud.money import format_usd

TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are quoted per 1M tokens


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price in nano-USD per 1M tokens; ``alias_of`` names the model it follows.

    ``cached`` is the price of cached prompt tokens; None bills them at ``input``.
    """

    model: str
    input: int
    output: int
    cached: int | None = None
    alias_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The price as JSON: USD per 1M tokens as decimal strings, null when unset."""
        return {
            "model": self.model,
            "input": format_usd(self.input),
            "output": format_usd(self.output),
            "cached": None if self.cached is None else format_usd(self.cached),
            "alias": self.alias_of,
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one request used; ``prompt_tokens`` includes ``cached_tokens`` (OpenAI style)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


def cost(usage: Usage, price: Price, ratio: Decimal) -> int:
    """The cost of ``usage`` at ``price`` times the group ``ratio``, in whole nano-USD.

    cost = ((prompt - cached) * input + cached * cached_price + completion * output)
           / 1e6 * ratio
    where cached_price is ``price.cached``, or ``price.input`` when unset. Cached tokens are
    clamped to ``[0, prompt_tokens]``. The sum is exact (integers and the ratio as an exact
    fraction) and rounded once, at the end, to a whole nano-USD, half up (ROUND_HALF_UP:
    37.5 -> 38, 37.4999 -> 37). Example: 1 prompt token at $0.0375 per 1M is 37.5 nano-USD
    and costs 38; gpt-4 at 30 / 60, 100 prompt + 200 completion tokens, ratio 1, costs
    exactly 15_000_000 (0.015 USD).
    """
    cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
    cached_price = price.input if price.cached is None else price.cached
    per_million = (
        (usage.prompt_tokens - cached) * price.input
        + cached * cached_price
        + usage.completion_tokens * price.output
    )
    numerator, denominator = ratio.as_integer_ratio()
    return _round_half_up(per_million * numerator, denominator * TOKENS_PER_PRICE_UNIT)


def _round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to an integer, halves away from zero."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def resolve_price(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price ``model`` bills at, following aliases (a -> b -> c) to a priced model.

    The result keeps the requested model's name and its own ``alias_of`` (the direct
    target) and carries the amounts of the chain's end; the amounts stored on alias
    entries are ignored. None when the model is unknown, or its chain is broken or loops.
    """
    entry = prices.get(model)
    if entry is None:
        return None
    target = entry
    seen = {model}
    while target.alias_of is not None:
        if target.alias_of in seen:
            return None
        seen.add(target.alias_of)
        next_entry = prices.get(target.alias_of)
        if next_entry is None:
            return None
        target = next_entry
    if target is entry:
        return entry
    return replace(target, model=model, alias_of=entry.alias_of)
