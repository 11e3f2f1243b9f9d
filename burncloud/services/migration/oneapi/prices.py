"""List prices from the peer's ratio tables, converted exactly.

A model ratio r means $0.002 per 1K input tokens times r: input = 2r USD per 1M tokens.
Output is input times the completion ratio (the ``CompletionRatio`` option, else the
peer's own rule: ``ratios``); cached input is input times New API's ``CacheRatio``
where it names the model (else cached tokens bill at the input price, as at the peer). New
API's ``ModelPrice`` p is a flat $p per request, which wins over a ratio as it does there;
it becomes a price that names ``request`` and input and output 0 (the catalog needs both
named). Amounts are nano-USD; one that is not whole is rounded half-even and the report line
says from what. Every price is one report line, so the operator can check it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from burncloud.money import format_usd
from burncloud.services.migration.oneapi.findings import Findings, fraction_text
from burncloud.services.migration.oneapi.money import Converted, to_nano
from burncloud.services.migration.oneapi.options import PeerOptions
from burncloud.services.migration.oneapi.ratios import (
    BUILT_IN,
    LOCKED,
    OPTION,
    CompletionRatio,
    completion_ratio,
)
from burncloud.services.pricing import Price, Rates

DOLLARS_PER_MILLION = 2  # ratio 1 = $0.002 per 1K tokens
_PER_CHANNEL_TYPE = re.compile(r"\(\d+\)$")  # One API's "model(33)": one channel type's ratio


def convert_prices(options: PeerOptions, flavor: str, found: Findings) -> dict[str, Price]:
    """The list price of every model the peer's ratio and price tables name."""
    ratios, fixed = options.model_ratio, options.model_price
    if ratios is None:
        found.note(
            "ModelRatio is not set at the peer: it bills with its built-in ratio table,"
            " which is not imported (set those prices with `burncloud price`)"
        )
    if flavor == "newapi" and options.cache_ratio is None:
        found.note("CacheRatio is not set at the peer: cached tokens bill at the input price")
    prices: dict[str, Price] = {}
    for model, amount in sorted((fixed or {}).items()):
        if _importable(model, "ModelPrice", found):
            prices[model] = _per_request(model, amount, (ratios or {}).get(model), found)
    for model, ratio in sorted((ratios or {}).items()):
        if model not in prices and _importable(model, "ModelRatio", found):
            prices[model] = _per_token(model, ratio, options, flavor, found)
    return prices


def _importable(model: str, table: str, found: Findings) -> bool:
    if _PER_CHANNEL_TYPE.search(model):
        found.skip("price", model, f"{table}: a ratio for one channel type only (no equivalent)")
        return False
    if "*" in model:
        found.skip("price", model, f"{table}: a wildcard name (burncloud prices exact names)")
        return False
    if not model.strip() or model != model.strip():
        found.skip("price", repr(model), f"{table}: not a model name")
        return False
    return True


def _per_request(model: str, usd: Decimal, ratio: Decimal | None, found: Findings) -> Price:
    request = to_nano(Fraction(usd))
    said = f"${format_usd(request.nano)} per request (ModelPrice {usd}){_rounded(request)}"
    if ratio is not None:
        said += f"; its ModelRatio {ratio} is ignored, as at the peer"
    found.map("price", model, said)
    return Price.named(model, Rates(input=0, output=0, request=request.nano))


def _per_token(
    model: str, ratio: Decimal, options: PeerOptions, flavor: str, found: Findings
) -> Price:
    per_million = Fraction(ratio) * DOLLARS_PER_MILLION
    completion = completion_ratio(flavor, model, options.completion_ratio)
    cache = (options.cache_ratio or {}).get(model)
    input_ = to_nano(per_million)
    output = to_nano(per_million * completion.ratio)
    cached = None if cache is None else to_nano(per_million * Fraction(cache))
    said = [
        f"input ${format_usd(input_.nano)}{_rounded(input_)} (ModelRatio {ratio})",
        f"output ${format_usd(output.nano)}{_rounded(output)} ({_output_source(completion)})",
    ]
    if cached is not None:
        said.append(f"cached ${format_usd(cached.nano)}{_rounded(cached)} (CacheRatio {cache})")
    found.map("price", model, ", ".join(said) + " per 1M tokens")
    rates = Rates(
        input=input_.nano, output=output.nano, cached=None if cached is None else cached.nano
    )
    return Price.named(model, rates)


def _output_source(completion: CompletionRatio) -> str:
    ratio = fraction_text(completion.ratio)
    if completion.source == OPTION:
        return f"x{ratio}: CompletionRatio"
    if completion.source == BUILT_IN:
        return f"x{ratio}: the peer's built-in completion ratio for this model"
    if completion.source == LOCKED:
        return f"x{ratio}: New API's built-in ratio, which overrides its CompletionRatio"
    return "x1: no completion ratio names this model"


def _rounded(amount: Converted) -> str:
    if amount.exact:
        return ""
    return f" (rounded half-even from {fraction_text(amount.value)} nano-USD)"
