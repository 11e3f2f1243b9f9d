"""A request's usage as a ``logs`` row stores it, both ways.

A row keeps every token kind in a column of the ``Usage`` field's name, as reported (the
billing partition is worked out again from them, so a row reproduces its cost exactly),
and the per-unit quantities as compact JSON in ``units``: a list of
``{"per", "quantity", "variant"}`` objects, the quantity a decimal string so that seconds
of audio stay exact; '' when there are none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from burncloud.services.pricing import UNIT_BLOCKS, UnitUse, Usage

TOKEN_COLUMNS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "image_input_tokens",
    "image_output_tokens",
)


def encode_units(units: tuple[UnitUse, ...]) -> str:
    """The ``units`` column of these quantities: compact JSON, '' for none."""
    if not units:
        return ""
    return json.dumps([unit_json(unit) for unit in units], separators=(",", ":"))


def decode_units(text: str) -> tuple[UnitUse, ...]:
    """The quantities a ``units`` column holds; ValueError if it is not such JSON."""
    if not text:
        return ()
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError("logged units are a JSON list")
    return tuple(_unit(item) for item in items)


def unit_json(unit: UnitUse) -> dict[str, str]:
    """One quantity as JSON, the quantity as a plain decimal string."""
    return {"per": unit.per, "quantity": format(unit.quantity, "f"), "variant": unit.variant}


def usage_of_row(row: Mapping[str, Any]) -> Usage:
    """The ``Usage`` a log row was billed for (its token columns and its units)."""
    counts = {column: int(row[column] or 0) for column in TOKEN_COLUMNS}
    return Usage(**counts, units=decode_units(row["units"] or ""))


def _unit(item: Any) -> UnitUse:
    if not isinstance(item, dict) or item.get("per") not in UNIT_BLOCKS:
        raise ValueError(f"not a logged unit quantity: {item!r}")
    quantity, variant = item.get("quantity"), item.get("variant", "")
    if not isinstance(quantity, str) or not isinstance(variant, str):
        raise ValueError(f"not a logged unit quantity: {item!r}")
    try:
        amount = Decimal(quantity)
    except InvalidOperation:
        raise ValueError(f"not a logged unit quantity: {item!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a logged unit quantity: {item!r}")
    return UnitUse(item["per"], amount, variant)
