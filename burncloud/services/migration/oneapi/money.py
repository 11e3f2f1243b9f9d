"""The peers' quota units as nano-USD, exactly or visibly rounded.

One API and New API count money in integer "quota" units: ``QuotaPerUnit`` of them make
$1 (500,000 unless the option says otherwise). A unit is ``10**9 / QuotaPerUnit``
nano-USD: with the default, 2,000 nano-USD exactly. An amount that does not divide into
whole nano-USD (an odd ``QuotaPerUnit``) is rounded half-even and flagged, so the report
can say so; totals are the sums of the converted amounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from burncloud.services.migration.oneapi.findings import fraction_text
from burncloud.services.migration.report import MoneyTotal

NANO_PER_USD = 10**9
DEFAULT_QUOTA_PER_UNIT = Decimal(500_000)


@dataclass(frozen=True, slots=True)
class Converted:
    """An amount in whole nano-USD, and the exact amount it was rounded from."""

    nano: int
    value: Fraction  # nano-USD, exactly

    @property
    def exact(self) -> bool:
        """Whether ``nano`` is the amount itself (no rounding)."""
        return self.value == self.nano


def to_nano(usd: Fraction) -> Converted:
    """``usd`` dollars as whole nano-USD, rounded half-even when not whole."""
    exact = usd * NANO_PER_USD
    return Converted(round(exact), exact)


def units_usd(units: int, quota_per_unit: Decimal) -> Fraction:
    """``units`` quota units in dollars, exactly."""
    return Fraction(units) / Fraction(quota_per_unit)


def units_to_nano(units: int, quota_per_unit: Decimal) -> Converted:
    """``units`` quota units as nano-USD."""
    return to_nano(units_usd(units, quota_per_unit))


def units_text(units: int, quota_per_unit: Decimal) -> str:
    """``12500000 units ($25)``; a dollar amount with no exact decimal is shown to 9
    places with ``≈``."""
    return f"{units} units ({usd_text(units_usd(units, quota_per_unit))})"


def usd_text(usd: Fraction) -> str:
    """``$25``, ``$0.002``, or ``≈$0.333333333`` when it has no exact decimal."""
    if usd < 0:
        return "-" + usd_text(-usd)
    text = fraction_text(usd)
    if "/" not in text:
        return f"${text}"
    nano = to_nano(usd).nano
    return f"≈${fraction_text(Fraction(nano, NANO_PER_USD))}"


def money_total(what: str, units: Iterable[int], quota_per_unit: Decimal) -> MoneyTotal:
    """The total of ``units`` before (units and dollars) and after (the sum of each
    amount's nano-USD, as each is stored); exact when every amount was."""
    amounts = list(units)
    converted = [units_to_nano(amount, quota_per_unit) for amount in amounts]
    return MoneyTotal(
        what=what,
        before=units_text(sum(amounts), quota_per_unit),
        after=sum(c.nano for c in converted),
        exact=all(c.exact for c in converted),
    )
