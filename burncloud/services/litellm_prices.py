"""LiteLLM's price file (``model_prices_and_context_window.json``) as burncloud prices.

LiteLLM gives USD per token (or per image, second, character, query) as JSON numbers;
they are read from the JSON text as exact decimals, never binary floats, and scaled to
burncloud's blocks: nano-USD per 1M tokens is USD per token x 10^15. A few entries carry
float noise finer than that (0.0000029999900000000002): those amounts are rounded half up
to a whole nano-USD per block, and counted.

What maps where:

- token kinds: ``input_cost_per_token`` -> input, ``output_cost_per_token`` -> output,
  ``cache_read_input_token_cost`` -> cached, ``cache_creation_input_token_cost`` ->
  cache_write, ``cache_creation_input_token_cost_above_1hr`` -> cache_write_1h,
  ``input/output_cost_per_audio_token`` -> audio, ``input/output_cost_per_image_token``
  -> image tokens;
- tiers: each of those with ``_above_<N>k_tokens`` is the tier above N x 1,000 prompt
  tokens; ``tiered_pricing`` ranges ([start, end]) are tiers above each start;
- units: ``output_cost_per_image`` -> per image (any size: variant ""), and so is
  ``input_cost_per_image`` of an image-generation entry without it (LiteLLM prices
  generated images so there); ``input_cost_per_second`` -> per minute (x 60),
  ``input_cost_per_character`` -> per 1M characters, ``input_cost_per_query`` -> per
  1,000 searches, ``search_context_cost_per_query`` (its medium size, the default) -> per
  1,000 ``web_search`` tool calls; ``input_cost_per_request`` -> the request price;
- ``alias_of`` -> an alias. ``output_cost_per_reasoning_token`` and
  ``input_cost_per_token_cache_hit`` repeat the output and cached prices: burncloud bills
  reasoning as output, so they are ignored where they agree and reported where they don't.

Fields that are not prices (limits, capabilities, provider, mode) are skipped. A price
field burncloud does not bill (batch, flex and priority rates, video, pixels, off-peak,
regional multipliers...) is ignored and named in the report. An entry with no price
burncloud can bill is skipped, and so is ``sample_spec``; a missing input or output price
is 0 (an embedding has no output price).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.money import UNITS_PER_USD
from burncloud.services.price_catalog import priced
from burncloud.services.price_definitions import check_price
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice

PER_TOKEN = UNITS_PER_USD * 1_000_000  # USD per token -> nano-USD per 1M tokens
TOKEN_FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cached",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "input_cost_per_audio_token": "audio_input",
    "output_cost_per_audio_token": "audio_output",
    "input_cost_per_image_token": "image_input",
    "output_cost_per_image_token": "image_output",
}
TIER_FIELD = re.compile(r"(?P<field>.+)_above_(?P<thousands>\d+)k_tokens")
# field -> (unit, nano-USD per block for 1 USD of the field)
UNIT_FIELDS = {
    "output_cost_per_image": ("image", UNITS_PER_USD),
    "input_cost_per_second": ("minute", 60 * UNITS_PER_USD),
    "input_cost_per_character": ("characters", PER_TOKEN),
    "input_cost_per_query": ("search", 1_000 * UNITS_PER_USD),
}
SAME_AS = {
    "output_cost_per_reasoning_token": "output_cost_per_token",
    "input_cost_per_token_cache_hit": "cache_read_input_token_cost",
}
SEARCH_SIZE = "search_context_size_medium"
_PRICE_WORDS = ("cost", "pricing", "multiplier", "free_requests", "billing")
_SHOWN = 12  # unknown field names a one-line report lists


@dataclass(frozen=True, slots=True)
class Converted:
    """One entry as a price (None: nothing burncloud bills), the price fields it did not
    carry over, and how many amounts were rounded to a whole nano-USD."""

    price: Price | None
    ignored: tuple[str, ...] = ()
    rounded: int = 0


@dataclass(frozen=True, slots=True)
class LitellmImport:
    """The prices (and aliases) taken from the file, and what was left behind."""

    prices: dict[str, Price]
    ignored: Counter[str]  # price field -> how many entries had it
    rounded: int
    skipped: tuple[str, ...]  # entries without a price burncloud bills

    def report(self) -> str:
        """One line on what the file gave and what it could not."""
        aliases = sum(1 for price in self.prices.values() if price.alias_of is not None)
        parts = [f"LiteLLM: {len(self.prices) - aliases} prices, {aliases} aliases"]
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} entries without a price burncloud bills")
        if self.ignored:
            names = sorted(self.ignored)
            more = ", ..." if len(names) > _SHOWN else ""
            shown = ", ".join(names[:_SHOWN])
            parts.append(f"ignored {len(names)} unknown fields: {shown}{more}")
        if self.rounded:
            parts.append(f"rounded {self.rounded} amounts to a whole nano-USD")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "prices": len(self.prices),
            "skipped": list(self.skipped),
            "ignored_fields": dict(sorted(self.ignored.items())),
            "rounded": self.rounded,
        }


def read_litellm(text: str) -> dict[str, Any]:
    """The entries of LiteLLM's file, numbers as exact decimals; InvalidRequest if it is
    not a JSON object of entries."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"not valid JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InvalidRequest("not LiteLLM's price file: expected an object of model entries")
    data.pop("sample_spec", None)
    return data


def import_litellm(text: str, only: Iterable[str] = ()) -> LitellmImport:
    """The prices of LiteLLM's file (of the ``only`` models and what they alias, if
    given); InvalidRequest if the file is malformed or lacks a model asked for."""
    entries = read_litellm(text)
    wanted = _selection(entries, list(only))
    converted = {model: convert_entry(model, entries[model]) for model in wanted}
    table = {m: c.price for m, c in converted.items() if c.price is not None}
    table = {m: p for m, p in table.items() if _reaches_price(m, table)}
    ignored: Counter[str] = Counter()
    for result in converted.values():
        ignored.update(result.ignored)
    return LitellmImport(
        prices=table,
        ignored=ignored,
        rounded=sum(c.rounded for c in converted.values()),
        skipped=tuple(sorted(set(converted) - set(table))),
    )


def convert_entry(model: str, entry: Mapping[str, Any]) -> Converted:
    """One LiteLLM entry as a burncloud price."""
    alias = entry.get("alias_of")
    if isinstance(alias, str) and alias:
        return Converted(Price(model=model, input=0, output=0, alias_of=alias))
    builder = _Builder(entry)
    for name, value in entry.items():
        if _is_price(name) and not builder.take(name, value):
            builder.ignored.append(name)
    price = builder.price(model)
    if price is not None:
        try:
            check_price(price)
        except InvalidRequest as exc:
            raise InvalidRequest(f"LiteLLM entry {model!r}: {exc.message}") from None
    return Converted(price, tuple(builder.ignored), builder.rounded)


@dataclass(slots=True)
class _Builder:
    """Collects one entry's amounts field by field."""

    entry: Mapping[str, Any]
    base: dict[str, int] = field(default_factory=dict)
    tiers: dict[int, dict[str, int]] = field(default_factory=dict)
    units: list[UnitPrice] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    rounded: int = 0

    def take(self, name: str, value: Any) -> bool:
        """Carry field ``name`` over; False if burncloud has nowhere to put it."""
        if name == "tiered_pricing":
            return self._tiered(value)
        if name == "search_context_cost_per_query":
            medium = value.get(SEARCH_SIZE) if isinstance(value, dict) else None
            return self._unit("call", medium, 1_000 * UNITS_PER_USD, "web_search")
        if name in SAME_AS:
            return _number(value) and value == self.entry.get(SAME_AS[name])
        if name in UNIT_FIELDS or (name == "input_cost_per_image" and self._generates_images()):
            unit, scale = UNIT_FIELDS.get(name, UNIT_FIELDS["output_cost_per_image"])
            return self._unit(unit, value, scale)
        if name == "input_cost_per_request":
            return self._amount(self.base, "request", value, UNITS_PER_USD)
        return self._token(name, value, None)

    def price(self, model: str) -> Price | None:
        if not (self.base or self.tiers or self.units):
            return None
        tiers = [Tier(above, Rates(**kinds)) for above, kinds in self.tiers.items()]
        return priced(model, Rates(**self.base), tiers, self.units)

    def _token(self, name: str, value: Any, above: int | None) -> bool:
        """A token price: a base one (``above`` None, or a tiered range from 0, which fills
        only what the entry does not give itself) or a tier's above ``above`` tokens."""
        match = TIER_FIELD.fullmatch(name)
        if above is None and match is not None and match["field"] in TOKEN_FIELDS:
            name, above = match["field"], int(match["thousands"]) * 1_000
        kind = TOKEN_FIELDS.get(name)
        if kind is None:
            return False
        if above is None:
            return self._amount(self.base, kind, value)
        if above == 0:
            return name in self.entry or self._amount(self.base, kind, value)
        tier: dict[str, int] = {}
        if not self._amount(tier, kind, value):
            return False
        self.tiers.setdefault(above, {}).update(tier)
        return True

    def _tiered(self, ranges: Any) -> bool:
        """``tiered_pricing``: [{"range": [start, end], <token field>: price, ...}, ...]."""
        starts = [_range_start(item) for item in ranges] if isinstance(ranges, list) else [None]
        if None in starts:
            return False  # malformed: none of it is taken
        for item, start in zip(ranges, starts, strict=True):
            for name, value in item.items():
                if name != "range" and not self._token(name, value, start):
                    self.ignored.append(f"tiered_pricing.{name}")
        return True

    def _unit(self, per: str, value: Any, scale: int, variant: str = "") -> bool:
        amount: dict[str, int] = {}
        if not self._amount(amount, per, value, scale):
            return False
        self.units.append(UnitPrice(per, amount[per], variant))
        return True

    def _amount(self, into: dict[str, int], kind: str, value: Any, scale: int = PER_TOKEN) -> bool:
        if not _number(value) or value < 0:
            return False
        exact = Decimal(value) * scale
        whole = exact.to_integral_value(rounding=ROUND_HALF_UP)
        self.rounded += whole != exact
        into[kind] = int(whole)
        return True

    def _generates_images(self) -> bool:
        return self.entry.get("mode") == "image_generation" and (
            "output_cost_per_image" not in self.entry
        )


def _selection(entries: Mapping[str, Any], only: list[str]) -> list[str]:
    """The entries to convert: all, or ``only`` and the models their aliases lead to."""
    if not only:
        return list(entries)
    missing = [model for model in only if model not in entries]
    if missing:
        raise InvalidRequest(f"not in the LiteLLM file: {', '.join(missing)}")
    chosen: list[str] = []
    for model in only:
        while model in entries and model not in chosen:
            chosen.append(model)
            model = entries[model].get("alias_of") or ""
    return chosen


def _reaches_price(model: str, table: Mapping[str, Price]) -> bool:
    """Whether ``model``'s aliases end at a price in ``table`` (not a gap or a loop)."""
    seen: set[str] = set()
    entry = table.get(model)
    while entry is not None and entry.alias_of is not None and entry.model not in seen:
        seen.add(entry.model)
        entry = table.get(entry.alias_of)
    return entry is not None and entry.alias_of is None


def _range_start(item: Any) -> int | None:
    """A tiered range's first token count (LiteLLM writes 256000.0), or None if malformed."""
    bounds = item.get("range") if isinstance(item, dict) else None
    if not isinstance(bounds, list) or not bounds:
        return None
    try:
        start = Decimal(str(bounds[0]))
    except ArithmeticError:
        return None
    return int(start) if start.is_finite() and start == int(start) and start >= 0 else None


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _is_price(name: str) -> bool:
    return any(word in name for word in _PRICE_WORDS)
