"""A logged request's bill, explained: ``burncloud log show`` and ``GET /api/logs/{id}``.

The row stores every kind's quantity and the version of the price it was billed at
(versions are immutable), so its bill's lines are those of ``pricing.bill_lines`` at that
version, exact, and they add up to the subtotal before the group ratio.

The row stores the group ratio its cost was computed with. Rows logged before it was
stored have none, and the group's ratio today may not be the one they were billed under:
for them the ratio is inferred from the row itself, 1 when the subtotal rounds to the cost,
else the shortest decimal ratio whose product with the subtotal, rounded once as ``cost``
rounds, is the row's cost (group ratios are short decimals such as 0.8 or 1.5), and it is
labelled as inferred. The total is the row's cost; when no ratio can explain it (a priced
row with nothing to bill but a cost), the bill says its lines do not explain the cost.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from burncloud.db.base import Executor
from burncloud.money import UNITS_PER_USD, format_usd
from burncloud.services.logged_usage import TOKEN_COLUMNS, unit_json
from burncloud.services.logs import LogEntry, get_log
from burncloud.services.price_definitions import price_at_version
from burncloud.services.pricing import BillLine, bill_lines

ONE = Decimal(1)
HALF = Fraction(1, 2)
USD_PLACES = 15  # a line that is no finite decimal is shown to 1e-15 USD


@dataclass(frozen=True, slots=True)
class LoggedBill:
    """A log row with its bill: ``lines`` at the row's price version (empty when the row
    was not priced) and ``ratio``: the stored one, else inferred (None: not priced, or
    nothing explains the cost)."""

    entry: LogEntry
    lines: tuple[BillLine, ...]
    ratio: Decimal | None

    @property
    def ratio_inferred(self) -> bool:
        """Whether ``ratio`` was inferred (the row predates stored ratios)."""
        return self.ratio is not None and not self.entry.group_ratio

    @property
    def priced(self) -> bool:
        return self.entry.price_version is not None

    @property
    def subtotal(self) -> Fraction:
        """The lines' exact sum in nano-USD, before the group ratio and the rounding."""
        return sum((line.amount for line in self.lines), Fraction(0))

    @property
    def margin(self) -> int | None:
        """What the caller paid less what the channel charges us; None when unknown."""
        upstream = self.entry.upstream_cost
        return None if upstream is None else self.entry.cost - upstream

    def margin_share(self) -> str | None:
        """The margin as a percentage of the cost, to 0.1 % ("62.5%"); None when unknown
        or when nothing was paid."""
        margin, paid = self.margin, self.entry.cost
        if margin is None or paid <= 0:
            return None
        share = (Decimal(margin) * 100 / Decimal(paid)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        return f"{share}%"

    def to_json(self) -> dict[str, Any]:
        """The bill as JSON: money as decimal USD strings (exact), null when unknown."""
        entry = self.entry
        return {
            "id": entry.id,
            "request_id": entry.request_id,
            "created_at": entry.created_at,
            "model": entry.model,
            "channel_id": entry.channel_id,
            "status": entry.status,
            "estimated": entry.estimated,
            "usage": {column: getattr(entry, column) for column in TOKEN_COLUMNS},
            "units": [unit_json(unit) for unit in entry.usage().units],
            "price_version": entry.price_version,
            "lines": [line_json(line) for line in self.lines],
            "subtotal": exact_usd(self.subtotal)[0] if self.priced else None,
            "group_ratio": None if self.ratio is None else str(self.ratio),
            "group_ratio_inferred": self.ratio_inferred,
            "cost": format_usd(entry.cost),
            "upstream_cost": _usd(entry.upstream_cost),
            "margin": None if self.margin is None else signed_usd(self.margin),
            "margin_share": self.margin_share(),
        }


async def logged_bill(db: Executor, request_id: str) -> LoggedBill:
    """The bill of the request logged as ``request_id`` (NotFound if none)."""
    entry = await get_log(db, request_id)
    if entry.price_version is None:
        return LoggedBill(entry, (), None)
    price = await price_at_version(db, entry.price_version)
    lines = tuple(bill_lines(entry.usage(), price))
    subtotal = sum((line.amount for line in lines), Fraction(0))
    if entry.group_ratio:
        return LoggedBill(entry, lines, Decimal(entry.group_ratio))
    return LoggedBill(entry, lines, infer_ratio(subtotal, entry.cost))


def infer_ratio(subtotal: Fraction, cost: int) -> Decimal | None:
    """The ratio that turned ``subtotal`` (exact nano-USD) into ``cost`` (rounded once,
    half up): 1 if it does, else the shortest decimal that does; None if none can."""
    if subtotal <= 0:
        return ONE if cost == 0 else None
    low = max(Fraction(0), (cost - HALF) / subtotal)
    high = (cost + HALF) / subtotal  # the ratios that give ``cost``: low <= r < high
    if low <= 1 < high:
        return ONE
    for digits in itertools.count():  # ends: the interval is 1 / subtotal wide
        step = Fraction(1, 10**digits)
        multiple = math.ceil(low / step)
        if multiple * step < high:
            return Decimal(multiple).scaleb(-digits)
    raise AssertionError("unreachable")


def line_json(line: BillLine) -> dict[str, Any]:
    """One bill line as JSON: the amount exact in USD (``exact`` false only for an amount
    that is no finite decimal, then shown to 1e-15 USD)."""
    usd, exact = exact_usd(line.amount)
    return {
        "kind": line.kind,
        "variant": line.variant,
        "quantity": format(line.quantity, "f"),
        "rate": _usd(line.rate),
        "block": line.block,
        "usd": usd,
        "exact": exact,
        "text": line.describe(),
    }


def exact_usd(nano: Fraction) -> tuple[str, bool]:
    """``nano`` nano-USD as a USD decimal string, and whether it is exact (it is unless the
    amount has no finite decimal form, e.g. thirds of a per-minute price)."""
    usd = nano / UNITS_PER_USD
    denominator, twos, fives = usd.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    places = max(twos, fives) if denominator == 1 else USD_PLACES
    scaled = usd * 10**places
    digits = scaled.numerator // scaled.denominator
    if 2 * (scaled - digits) >= 1:  # rounds half up; exact amounts have no remainder
        digits += 1
    text = format(Decimal(digits).scaleb(-places).normalize(), "f")
    return text, denominator == 1


def signed_usd(units: int) -> str:
    """nano-USD as USD, negatives included (``format_usd`` reads -1 as unlimited)."""
    return format(Decimal(units).scaleb(-9).normalize(), "f")


def _usd(units: int | None) -> str | None:
    return None if units is None else format_usd(units)
