"""The one pricing module: what a model costs and what a request's usage costs.

Pure and cheap: the router calls it on every request, so nothing here touches the
database. Amounts are integer nano-USD (``burncloud.money``): token prices per 1M tokens,
unit prices per the unit's block (``UNIT_BLOCKS``), a flat price per request. A cost is
the exact sum of its bill's lines, times the group ratio, rounded once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from burncloud.money import format_usd

TOKENS_PER_PRICE_UNIT = 1_000_000  # token prices are quoted per 1M tokens

# Token kinds a price may name, and the price a kind without its own bills at.
TOKEN_KINDS = (
    "input",
    "output",
    "cached",
    "cache_write",
    "cache_write_1h",
    "audio_input",
    "audio_output",
    "image_input",
    "image_output",
)
FALLBACK = {
    "cached": "input",
    "cache_write": "input",
    "cache_write_1h": "input",
    "audio_input": "input",
    "image_input": "input",
    "audio_output": "output",
    "image_output": "output",
}
INPUT_SIDE = ("input", "cached", "cache_write", "cache_write_1h", "audio_input", "image_input")
OUTPUT_SIDE = ("output", "audio_output", "image_output")

# Per-unit prices: how many units one price buys, and what a quantity counts.
UNIT_BLOCKS = {
    "image": 1,  # per image, by size and quality ("1024x1024/standard")
    "minute": 60,  # per minute of audio; the quantity is in seconds
    "characters": 1_000_000,  # per 1M characters
    "search": 1_000,  # per 1,000 searches or rerank queries
    "call": 1_000,  # per 1,000 tool calls, by tool kind ("web_search")
}


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices of each token kind (nano-USD per 1M) and per request; None where unnamed."""

    input: int | None = None
    output: int | None = None
    cached: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None
    audio_input: int | None = None
    audio_output: int | None = None
    image_input: int | None = None
    image_output: int | None = None
    request: int | None = None

    def named(self) -> dict[str, int]:
        """The prices this names, by kind."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}

    def over(self, base: Rates) -> Rates:
        """These prices, and ``base``'s where these name none."""
        return replace(base, **self.named())


@dataclass(frozen=True, slots=True)
class Tier:
    """Prices that replace the base ones they name when the prompt has more than ``above``
    tokens (cached and cache-written tokens included)."""

    above: int
    rates: Rates


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """nano-USD per block of ``per`` units (``UNIT_BLOCKS``); ``variant`` is an image's
    "SIZE/QUALITY" or a tool call's kind, "" for the other units."""

    per: str
    amount: int
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price; ``alias_of`` names the model it follows.

    Token prices are nano-USD per 1M tokens; a kind left None bills at the input price
    (input-side kinds) or the output price (``FALLBACK``). ``request`` is a flat price per
    request. ``version`` identifies the stored price a log row was billed at.
    """

    model: str
    input: int
    output: int
    cached: int | None = None
    alias_of: str | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None
    audio_input: int | None = None
    audio_output: int | None = None
    image_input: int | None = None
    image_output: int | None = None
    request: int | None = None
    tiers: tuple[Tier, ...] = ()  # sorted by ``above``
    units: tuple[UnitPrice, ...] = ()
    version: int | None = None
    # Each tier's effective price of every kind, worked out once (a price is built when
    # the configuration loads and then used by every request).
    _tables: tuple[tuple[int, Mapping[str, int]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        base = self.rates
        tables = [(-1, _effective(base))]
        tables += [(tier.above, _effective(tier.rates.over(base))) for tier in self.tiers]
        object.__setattr__(self, "_tables", tuple(sorted(tables, key=lambda t: t[0])))

    @classmethod
    def named(
        cls,
        model: str,
        rates: Rates,
        tiers: tuple[Tier, ...] = (),
        units: tuple[UnitPrice, ...] = (),
        version: int | None = None,
    ) -> Price:
        """The price of ``model`` naming ``rates`` as its base prices (input and output 0
        where ``rates`` leaves them unnamed), with ``tiers`` in order of threshold."""
        return cls(
            model=model,
            input=rates.input or 0,
            output=rates.output or 0,
            cached=rates.cached,
            cache_write=rates.cache_write,
            cache_write_1h=rates.cache_write_1h,
            audio_input=rates.audio_input,
            audio_output=rates.audio_output,
            image_input=rates.image_input,
            image_output=rates.image_output,
            request=rates.request,
            tiers=tuple(sorted(tiers, key=lambda tier: tier.above)),
            units=units,
            version=version,
        )

    @property
    def rates(self) -> Rates:
        """The base prices (below every tier)."""
        return Rates(**{f.name: getattr(self, f.name) for f in fields(Rates)})

    def rates_for(self, prompt_tokens: int) -> Mapping[str, int]:
        """The price of every kind (and ``request``, 0 if none) for a request with
        ``prompt_tokens``: the highest tier it is above replaces the base prices that tier
        names; kinds still unnamed bill at the input or output price."""
        chosen = self._tables[0][1]
        for above, table in self._tables:
            if prompt_tokens > above:
                chosen = table
        return chosen

    def unit_price(self, per: str, variant: str = "") -> UnitPrice | None:
        """The price of ``per`` units of ``variant``; a price with no variant covers every
        variant without its own (LiteLLM's per-image prices are for any size)."""
        any_variant = None
        for unit in self.units:
            if unit.per == per:
                if unit.variant == variant:
                    return unit
                if not unit.variant:
                    any_variant = unit
        return any_variant

    def unpriced_kinds(self) -> list[str]:
        """Token kinds that bill at the input or output price for want of their own."""
        own = self.rates.named()
        return [kind for kind in FALLBACK if kind not in own]

    def to_json(self) -> dict[str, Any]:
        """The price as JSON: USD as decimal strings, null when unset."""
        return {
            "model": self.model,
            **{kind: _usd(getattr(self, kind)) for kind in TOKEN_KINDS},
            "request": _usd(self.request),
            "tiers": [
                {"above": tier.above, **{k: format_usd(v) for k, v in tier.rates.named().items()}}
                for tier in self.tiers
            ],
            "units": [
                {"per": unit.per, "variant": unit.variant, "usd": format_usd(unit.amount)}
                for unit in self.units
            ],
            "alias": self.alias_of,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class UnitUse:
    """A quantity of a per-unit kind one request used (seconds for ``minute``)."""

    per: str
    quantity: Decimal
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """What one request used, in the terms a price bills (OpenAI's convention).

    ``prompt_tokens`` includes the cached, cache-written, audio and image input tokens;
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` kept an hour.
    ``completion_tokens`` includes the reasoning, audio and image output tokens.
    """

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    audio_input_tokens: int = 0
    image_input_tokens: int = 0
    audio_output_tokens: int = 0
    image_output_tokens: int = 0
    reasoning_tokens: int = 0
    units: tuple[UnitUse, ...] = ()

    def token_counts(self) -> tuple[tuple[str, int], ...]:
        """Tokens by the kind each bills as (kinds of none may be left out). The kinds
        partition the prompt and the completion, each taking at most what is left, so odd
        figures never bill twice."""
        if not (
            self.cache_write_tokens
            or self.audio_input_tokens
            or self.image_input_tokens
            or self.audio_output_tokens
            or self.image_output_tokens
        ):  # most requests: input, cached and output only
            prompt = self.prompt_tokens if self.prompt_tokens > 0 else 0
            cached = _part(self.cached_tokens, prompt)
            out = self.completion_tokens if self.completion_tokens > 0 else 0
            return (("input", prompt - cached), ("cached", cached), ("output", out))
        left = max(self.prompt_tokens, 0)
        cached = _part(self.cached_tokens, left)
        left -= cached
        writes = _part(self.cache_write_tokens, left)
        left -= writes
        one_hour = _part(self.cache_write_1h_tokens, writes)
        audio_in = _part(self.audio_input_tokens, left)
        left -= audio_in
        image_in = _part(self.image_input_tokens, left)
        out = max(self.completion_tokens, 0)
        audio_out = _part(self.audio_output_tokens, out)
        image_out = _part(self.image_output_tokens, out - audio_out)
        return (
            ("input", left - image_in),
            ("cached", cached),
            ("cache_write", writes - one_hour),
            ("cache_write_1h", one_hour),
            ("audio_input", audio_in),
            ("image_input", image_in),
            ("output", out - audio_out - image_out),
            ("audio_output", audio_out),
            ("image_output", image_out),
        )


def _part(tokens: int, most: int) -> int:
    """``tokens`` of a part, at least 0 and at most ``most`` (what is left)."""
    return tokens if 0 <= tokens <= most else (0 if tokens < 0 else most)


@dataclass(frozen=True, slots=True)
class BillLine:
    """One line of a bill: ``quantity`` of ``kind`` at ``rate`` nano-USD per ``block``.

    ``amount`` is exact (nano-USD, before the group ratio); ``rate`` None means the kind
    has no price here and bills nothing."""

    kind: str
    variant: str
    quantity: Decimal
    rate: int | None
    block: int
    amount: Fraction

    def describe(self) -> str:
        """One line of ``log show``: "1,000 cache-write tokens x $3.75/1M = $0.00375"
        (the amount before the group ratio)."""
        what = f"{_quantity(self.quantity)} {LABELS[self.kind]}"
        if self.variant:
            what += f" ({self.variant})"
        if self.rate is None:
            return f"{what}: no price, not billed"
        per = {1: "", 60: "/min", 1_000: "/1K", 1_000_000: "/1M"}[self.block]
        return f"{what} x ${format_usd(self.rate)}{per} = ${_exact_usd(self.amount)}"


LABELS = {
    "input": "input tokens",
    "output": "output tokens",
    "cached": "cached tokens",
    "cache_write": "cache-write tokens",
    "cache_write_1h": "1h cache-write tokens",
    "audio_input": "audio input tokens",
    "audio_output": "audio output tokens",
    "image_input": "image input tokens",
    "image_output": "image output tokens",
    "request": "request",
    "image": "images",
    "minute": "seconds of audio",
    "characters": "characters",
    "search": "searches",
    "call": "tool calls",
}


def bill_lines(usage: Usage, price: Price) -> list[BillLine]:
    """Every priced quantity of ``usage`` at ``price``, one line each (no zero lines);
    their amounts add up to ``cost`` before the ratio and its rounding."""
    rates = price.rates_for(usage.prompt_tokens)
    lines = [
        BillLine(kind, "", Decimal(tokens), rates[kind], TOKENS_PER_PRICE_UNIT, amount)
        for kind, tokens, amount in _token_amounts(usage, rates)
    ]
    if rates["request"]:
        request = rates["request"]
        lines.append(BillLine("request", "", Decimal(1), request, 1, Fraction(request)))
    return lines + list(_unit_lines(usage, price))


def cost(usage: Usage, price: Price, ratio: Decimal) -> int:
    """The cost of ``usage`` at ``price`` times the group ``ratio``, in whole nano-USD.

    cost = (sum over kinds of tokens(kind) * price(kind) / 1e6
            + sum over units of quantity * unit price / block
            + request price) * ratio
    Tokens are split by kind with ``Usage.token_counts``; a kind's price is the tier's
    when the prompt is above a tier's threshold, else the base one, else the input (or
    output) price. The sum is exact (integers, the ratio as an exact fraction) and
    rounded once, at the end, to a whole nano-USD, half up (ROUND_HALF_UP: 37.5 -> 38,
    37.4999 -> 37). Example: gpt-4 at 30 / 60, 100 prompt + 200 completion tokens, ratio
    1, costs exactly 15_000_000 (0.015 USD). Same sum as ``bill_lines``, without
    building the lines: this runs on every request.
    """
    rates = price.rates_for(usage.prompt_tokens)
    per_million = rates["request"] * TOKENS_PER_PRICE_UNIT
    for kind, tokens in usage.token_counts():
        if tokens:
            per_million += tokens * rates[kind]
    if not usage.units:  # integers only: the common case
        return _apply_ratio(per_million, 1, TOKENS_PER_PRICE_UNIT, ratio)
    units = sum((line.amount for line in _unit_lines(usage, price)), Fraction(0))
    total = per_million + units * TOKENS_PER_PRICE_UNIT
    return _apply_ratio(total.numerator, total.denominator, TOKENS_PER_PRICE_UNIT, ratio)


def ceiling_cost(
    prompt_tokens: int,
    completion_tokens: int,
    price: Price,
    ratio: Decimal,
    units: tuple[UnitUse, ...] = (),
) -> int:
    """The most ``prompt_tokens`` in and ``completion_tokens`` out can cost: every prompt
    token at the dearest input-side price and every answer token at the dearest output
    one (a reservation must cover cache writes, which may cost more than input), plus
    ``units`` (the most of each per-unit kind the request may use) at their prices."""
    rates = price.rates_for(prompt_tokens)
    per_million = (
        prompt_tokens * rates["dearest_input"]
        + completion_tokens * rates["dearest_output"]
        + rates["request"] * TOKENS_PER_PRICE_UNIT
    )
    if not units:
        return _apply_ratio(per_million, 1, TOKENS_PER_PRICE_UNIT, ratio)
    usage = Usage(0, 0, units=units)
    total = per_million + sum((line.amount for line in _unit_lines(usage, price)), Fraction(0)) * (
        TOKENS_PER_PRICE_UNIT
    )
    return _apply_ratio(total.numerator, total.denominator, TOKENS_PER_PRICE_UNIT, ratio)


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


def _token_amounts(usage: Usage, rates: Mapping[str, int]) -> Iterator[tuple[str, int, Fraction]]:
    for kind, tokens in usage.token_counts():
        if tokens:
            yield kind, tokens, Fraction(tokens * rates[kind], TOKENS_PER_PRICE_UNIT)


def _unit_lines(usage: Usage, price: Price) -> Iterator[BillLine]:
    for use in usage.units:
        if use.quantity <= 0:
            continue
        block = UNIT_BLOCKS[use.per]
        unit = price.unit_price(use.per, use.variant)
        if unit is None:
            yield BillLine(use.per, use.variant, use.quantity, None, block, Fraction(0))
            continue
        amount = Fraction(use.quantity) * unit.amount / block
        yield BillLine(use.per, use.variant, use.quantity, unit.amount, block, amount)


def _effective(rates: Rates) -> dict[str, int]:
    """Every kind's price with the fallbacks applied, the flat ``request`` price (0 if
    none) and the dearest price of each side (for reservations)."""
    table = {kind: amount for kind, amount in rates.named().items() if kind != "request"}
    table.update({kind: table[base] for kind, base in FALLBACK.items() if kind not in table})
    table["request"] = rates.request or 0
    table["dearest_input"] = max(table[kind] for kind in INPUT_SIDE)
    table["dearest_output"] = max(table[kind] for kind in OUTPUT_SIDE)
    return table


def _apply_ratio(numerator: int, denominator: int, scale: int, ratio: Decimal) -> int:
    """``numerator / denominator / scale * ratio`` rounded once to a whole nano-USD."""
    ratio_numerator, ratio_denominator = ratio.as_integer_ratio()
    return _round_half_up(numerator * ratio_numerator, denominator * scale * ratio_denominator)


def _round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to an integer, halves away from zero."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def _usd(units: int | None) -> str | None:
    return None if units is None else format_usd(units)


def _quantity(quantity: Decimal) -> str:
    return f"{quantity:,}" if quantity == quantity.to_integral_value() else f"{quantity:,f}"


def _exact_usd(amount: Fraction) -> str:
    """nano-USD as USD, exact to 1e-12 (a line may be a fraction of a nano-USD)."""
    pico = round(amount * 1000)
    return format((Decimal(pico) / Decimal(10**12)).normalize(), "f")
