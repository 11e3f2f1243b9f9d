"""Exact money: USD amounts as integer nano-dollars, decimal strings at the edges.

Every quota, balance, cost and price is stored as an integer count of nano-USD
(1 USD = 10**9 units), so database arithmetic is exact and atomic. Text in and out is a
plain decimal string ("0.015"), never a binary float. ``UNLIMITED`` (-1) marks a quota
or balance without a limit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from burncloud.errors import InvalidRequest

UNITS_PER_USD = 10**9
UNLIMITED = -1
MAX_UNITS = 10**18  # one billion USD: far below BIGINT's limit, so sums never overflow
_QUANTUM = Decimal(1).scaleb(-9)


def parse_usd(text: str | int | Decimal, *, allow_unlimited: bool = False) -> int:
    """Parse a non-negative USD amount into nano-USD; ``-1`` if unlimited is allowed."""
    value = _to_decimal(text)
    if allow_unlimited and value == -1:
        return UNLIMITED
    if value < 0:
        raise InvalidRequest(f"amount must not be negative: {text}")
    return _to_units(value, text)


def parse_signed_usd(text: str | int | Decimal) -> int:
    """Parse a USD amount that may be negative (a quota adjustment)."""
    return _to_units(_to_decimal(text), text)


def format_usd(units: int) -> str:
    """Render nano-USD as a plain decimal string: 15_000_000 -> "0.015", -1 -> "-1"."""
    if units == UNLIMITED:
        return "-1"
    text = format((Decimal(units) * _QUANTUM).normalize(), "f")
    return text


def _to_units(value: Decimal, text: object) -> int:
    units = value * UNITS_PER_USD
    if abs(units) > MAX_UNITS:
        raise InvalidRequest(f"amount is too large (at most {format_usd(MAX_UNITS)} USD): {text}")
    if units != units.to_integral_value():
        raise InvalidRequest(f"amount has more than 9 decimal places: {text}")
    return int(units)


def _to_decimal(text: str | int | Decimal) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidRequest(f"not a decimal amount: {text!r}") from None
    if not value.is_finite():
        raise InvalidRequest(f"not a finite amount: {text!r}")
    return value
