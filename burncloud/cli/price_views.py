"""How `burncloud price` shows a price to a person: a table row, a record, one line.

USD amounts are decimal strings; a token kind without its own price shows the price it
bills at ("as input"), so a reader sees every fallback rather than a blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from burncloud.money import format_usd
from burncloud.services.pricing import FALLBACK, TOKEN_KINDS, Price, UnitPrice

LIST_COLUMNS = [
    ("model", "model"),
    ("input", "input"),
    ("output", "output"),
    ("cached", "cached"),
    ("cache_write", "cache_write"),
    ("cache_write_1h", "cache_write_1h"),
    ("request", "request"),
    ("tiers", "tiers"),
    ("units", "units"),
    ("alias", "alias"),
    ("incomplete", "incomplete"),
]
_BLOCKS = {
    "image": "per image",
    "minute": "per minute",
    "characters": "per 1M characters",
    "search": "per 1,000 searches",
    "call": "per 1,000 calls",
}
_NAMES = {
    "input": "input",
    "output": "output",
    "cached": "cached",
    "cache_write": "cache write",
    "cache_write_1h": "1h cache write",
    "audio_input": "audio input",
    "audio_output": "audio output",
    "image_input": "image input",
    "image_output": "image output",
}


def list_row(price: dict[str, Any]) -> dict[str, Any]:
    """A row of `price list` from a price's JSON: tiers by threshold, units by name."""
    return {
        **price,
        "tiers": [f">{tier['above']}" for tier in price["tiers"]],
        "units": [f"{unit['per']} {unit['variant']}".strip() for unit in price["units"]],
    }


def record(price: Price) -> dict[str, str]:
    """`price get`: every kind (a fallback as "as input"), the request price, each tier and
    unit, the alias and the version."""
    shown = {"model": price.model}
    if price.alias_of is not None:
        shown["alias of"] = price.alias_of
    for kind in TOKEN_KINDS:
        amount = getattr(price, kind)
        shown[kind] = f"as {FALLBACK[kind]}" if amount is None else format_usd(amount)
    shown["request"] = "-" if price.request is None else format_usd(price.request)
    for tier in price.tiers:
        shown[f"tier >{tier.above}"] = _amounts(tier.rates.named())
    for unit in price.units:
        shown[_unit_name(unit)] = f"{format_usd(unit.amount)} {_BLOCKS[unit.per]}"
    shown["version"] = "-" if price.version is None else str(price.version)
    return shown


def describe(price: Price, channel_id: int | None = None) -> str:
    """One line saying what a model now costs (or what it costs a channel)."""
    whose = price.model if channel_id is None else f"channel {channel_id}'s cost of {price.model}"
    alias = f"alias of {price.alias_of}, " if price.alias_of else ""
    tokens = {kind: getattr(price, kind) for kind in TOKEN_KINDS}
    line = f"{whose}: {alias}{_amounts(tokens)} USD per 1M tokens"
    if price.request is not None:
        line += f", {format_usd(price.request)} USD per request"
    if price.tiers:
        line += "; tiers above " + ", ".join(str(tier.above) for tier in price.tiers)
    if price.units:
        line += "; per " + ", ".join(_unit_name(unit) for unit in price.units)
    return line


def _amounts(amounts: Mapping[str, int | None]) -> str:
    """ "input 30, output 60, cache write 3.75" for the kinds that have an amount."""
    named = [(kind, amount) for kind, amount in amounts.items() if amount is not None]
    return ", ".join(f"{_NAMES.get(kind, kind)} {format_usd(amount)}" for kind, amount in named)


def _unit_name(unit: UnitPrice) -> str:
    return f"{unit.per} {unit.variant}".strip()
