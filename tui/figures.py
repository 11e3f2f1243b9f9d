"""How the dashboard writes numbers: short, fixed-width-friendly, and exact where it counts.

Money comes in as integer nano-USD; it is rounded here for display only (the details
screen shows the exact ``format_usd`` value). Times are shown in UTC, like "spend today".
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from burncloud.services.margins import Margin

UNITS_PER_USD = 10**9
_CENT = Decimal("0.01")
_SMALL = Decimal("0.0001")
_TINY = Decimal("0.000001")


def compact(value: float) -> str:
    """A count in at most about five characters: 950, 1.2k, 12.3k, 123k, 4.5M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.0f}{suffix}" if abs(scaled) >= 100 else f"{scaled:.1f}{suffix}"
    return f"{value:.0f}"


def per_second(value: float) -> str:
    """A rate: two decimals below 10 (so a trickle does not read as 0), fewer above."""
    if value >= 1000:
        return compact(value)
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def millis(value: int | None) -> str:
    """A duration given in ms: "230ms", "1.2s", "-" when there is no data."""
    if value is None:
        return "-"
    if value < 1000:
        return f"{value}ms"
    return f"{value / 1000:.1f}s"


def percent(fraction: float | None) -> str:
    """A 0..1 fraction as "1.2%"; "-" when unknown."""
    return "-" if fraction is None else f"{fraction * 100:.1f}%"


def usd(units: int) -> str:
    """Nano-USD as dollars with the precision the amount needs: $1,234.57, $0.0123, $0.000123."""
    if units == 0:
        return "$0"
    amount = Decimal(units).scaleb(-9)
    if abs(amount) >= 1:
        return f"${amount.quantize(_CENT, ROUND_HALF_UP):,}"
    if abs(amount) >= _CENT:
        return f"${amount.quantize(_SMALL, ROUND_HALF_UP)}"
    shown = amount.quantize(_TINY, ROUND_HALF_UP)
    return f"${shown}" if shown else "<$0.000001"


def margin_amount(value: Margin) -> str:
    """A margin and its percentage, "$29.40 70.0%"; "unknown" when every request's upstream
    cost is (the requests of unknown cost are not counted in)."""
    amount, share = value.margin, value.percent
    if amount is None:
        return "unknown"
    return usd(amount) if share is None else f"{usd(amount)} {share}%"


def margin_cell(value: Margin) -> str:
    """A margin as a narrow table cell: "$10.00 25.0% +300?" when 300 requests' upstream
    cost is unknown (not counted in), "unknown" when every one's is."""
    shown = margin_amount(value)
    return f"{shown} +{value.unknown}?" if value.unknown and not value.all_unknown else shown


def age(seconds: float) -> str:
    """How long ago, coarsely: 45s, 12m, 3h, 2d."""
    seconds = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def clock(unix: int) -> str:
    """The UTC time of day, HH:MM:SS."""
    return time.strftime("%H:%M:%S", time.gmtime(unix))


def stamp(unix: int) -> str:
    """The UTC date and time."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def tokens(prompt: int, completion: int) -> str:
    """Tokens in and out as "1.2k/345"."""
    return f"{compact(prompt)}/{compact(completion)}"
