"""Margin: what callers paid for a set of requests against what their upstreams charged.

A request's upstream cost is unknown when its log row's ``upstream_cost`` is NULL: it was
served free or unpriced, or no channel answered. Such a request is never counted as
costing $0: the upstream cost and the margin are taken over the requests whose cost is
known, and the others are counted beside them, shown as "12.3 + 4 unknown" (the JSON
keeps the count and what their callers paid). A set whose every request is of unknown
cost has no upstream cost and no margin: "unknown" (null in JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from burncloud.money import format_usd

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Margin:
    """Revenue and upstream cost of ``requests`` requests, in nano-USD."""

    revenue: int  # what the callers paid, every request
    requests: int
    upstream_cost: int  # summed over the requests whose upstream cost is known
    unknown: int  # requests whose upstream cost is unknown
    unknown_revenue: int  # what the callers paid for those

    @property
    def all_unknown(self) -> bool:
        """Whether no request of the set has a known upstream cost (and there is one)."""
        return self.unknown > 0 and self.unknown >= self.requests

    @property
    def upstream(self) -> int | None:
        """The known upstream cost; None when every request's is unknown."""
        return None if self.all_unknown else self.upstream_cost

    @property
    def margin(self) -> int | None:
        """Revenue minus upstream cost over the requests of known cost; None if none is."""
        if self.all_unknown:
            return None
        return self.revenue - self.unknown_revenue - self.upstream_cost

    @property
    def percent(self) -> Decimal | None:
        """The margin as a percentage of the revenue it is taken over, to 0.1 (half away
        from zero); None without a margin or without that revenue."""
        margin, revenue = self.margin, self.revenue - self.unknown_revenue
        if margin is None or revenue <= 0:
            return None
        tenths = (2000 * abs(margin) + revenue) // (2 * revenue)
        return Decimal(tenths if margin >= 0 else -tenths).scaleb(-1)

    def with_unknown(self, shown: str) -> str:
        """``shown`` (an amount of the known part) as it reads with the unknown requests:
        "unknown" when every request is, "``shown`` + N unknown" when some are."""
        if self.all_unknown:
            return UNKNOWN
        return f"{shown} + {self.unknown} unknown" if self.unknown else shown

    def to_json(self) -> dict[str, Any]:
        """Revenue, upstream cost, margin and percentage as decimal strings (null: unknown),
        and the requests of unknown upstream cost with their revenue."""
        upstream, margin, percent = self.upstream, self.margin, self.percent
        return {
            "revenue": format_usd(self.revenue),
            "upstream_cost": None if upstream is None else format_usd(upstream),
            "upstream_unknown": self.unknown,
            "upstream_unknown_revenue": format_usd(self.unknown_revenue),
            "margin": None if margin is None else format_usd(margin),
            "margin_percent": None if percent is None else str(percent),
        }
