"""What the logged requests would have cost at other prices (``burncloud bill replay``).

Each log row is billed again, exactly as the router bills (``pricing.cost``), for the
usage it stores (every token kind and its units, ``logged_usage.usage_of_row``) at the
price the given table has for its model, times the group ratio the row was billed with
(stored on the row). Rows logged before the ratio was stored use their user's group's
ratio now (1 for a row without a user, a deleted user or a deleted group, as the router
does). A row without any usage (an error before
the upstream answered) was not billed and is replayed at 0, flat request price or not.
Rows whose model the table does not price are counted apart (``unpriced``) and left out
of every sum, so the difference is always replayed minus logged over the same requests.

Upstream cost is what the channel charged, so the replay keeps it as logged: the margin
is revenue minus upstream cost over the rows whose upstream cost is known (None when no
row's is). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from burncloud.db.base import Executor, Row
from burncloud.errors import BurncloudError, InvalidRequest
from burncloud.money import format_usd
from burncloud.services.logged_usage import TOKEN_COLUMNS, usage_of_row
from burncloud.services.pricing import Price, Usage, cost, resolve_price

REPLAY_BY = ("model", "user")
PAGE = 5_000  # log rows read at a time
_COLUMNS = ", ".join(f"l.{column}" for column in TOKEN_COLUMNS)
_ROWS = (
    f"SELECT l.id, l.model, l.user_id, l.cost, l.upstream_cost, l.units, l.group_ratio,"
    f" {_COLUMNS},"
    " u.name AS user_name, g.ratio FROM logs l"
    " LEFT JOIN users u ON u.id = l.user_id LEFT JOIN user_groups g ON g.name = u.group_name"
    " WHERE l.created_at >= :since AND l.id > :after ORDER BY l.id LIMIT :n"
)


@dataclass(slots=True)
class ReplayRow:
    """One model's or user's requests: logged and replayed revenue (nano-USD) over the
    requests the prices cover, and the upstream cost of those whose cost is known."""

    key: str
    label: str
    requests: int = 0
    unpriced: int = 0  # requests of models the prices leave out: in no sum
    logged: int = 0
    replayed: int = 0
    upstream: int = 0
    unknown_cost: int = 0  # compared requests whose upstream cost is unknown
    logged_known: int = 0  # revenue of the requests whose upstream cost is known
    replayed_known: int = 0

    @property
    def difference(self) -> int:
        return self.replayed - self.logged

    @property
    def margin(self) -> int | None:
        """Logged revenue minus upstream cost, over requests whose cost is known."""
        return self.logged_known - self.upstream if self._known else None

    @property
    def replayed_margin(self) -> int | None:
        return self.replayed_known - self.upstream if self._known else None

    @property
    def _known(self) -> bool:
        return self.requests - self.unpriced - self.unknown_cost > 0

    def add(self, logged: int, replayed: int | None, upstream: int | None) -> None:
        """Count one request: its logged cost, its replayed cost (None: unpriced) and its
        upstream cost (None: unknown)."""
        self.requests += 1
        if replayed is None:
            self.unpriced += 1
            return
        self.logged += logged
        self.replayed += replayed
        if upstream is None:
            self.unknown_cost += 1
            return
        self.upstream += upstream
        self.logged_known += logged
        self.replayed_known += replayed

    def to_json(self) -> dict[str, Any]:
        """USD as decimal strings; a margin null when no upstream cost is known."""
        return {
            "key": self.key,
            "label": self.label,
            "requests": self.requests,
            "unpriced": self.unpriced,
            "logged_revenue": format_usd(self.logged),
            "replayed_revenue": format_usd(self.replayed),
            "difference": _signed_usd(self.difference),
            "upstream_cost": format_usd(self.upstream),
            "unknown_upstream_cost": self.unknown_cost,
            "margin": _margin(self.margin),
            "replayed_margin": _margin(self.replayed_margin),
        }


@dataclass(slots=True)
class Replay:
    """The replay of a window: one row per model or user (sorted), the total, and the
    models the prices do not cover."""

    by: str
    rows: list[ReplayRow]
    total: ReplayRow
    unpriced_models: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "total": self.total.to_json(),
            "rows": [row.to_json() for row in self.rows],
            "unpriced_models": self.unpriced_models,
        }


async def replay_bills(db: Executor, prices: Mapping[str, Price], since: int, by: str) -> Replay:
    """Every log row from ``since`` (unix seconds) billed again at ``prices`` (a raw
    table: aliases are followed), summed by model or user; InvalidRequest for another
    ``by``."""
    if by not in REPLAY_BY:
        raise InvalidRequest(f"by must be one of {', '.join(REPLAY_BY)}, not {by!r}")
    biller = _Biller(prices)
    groups: dict[str, ReplayRow] = {}
    total = ReplayRow(key="", label="total")
    after = 0
    while rows := await db.fetch_all(_ROWS, {"since": since, "after": after, "n": PAGE}):
        for row in rows:
            replayed = biller.bill(row)
            key, label = _group(row, by)
            group = groups.setdefault(key, ReplayRow(key=key, label=label))
            for target in (group, total):
                target.add(row["cost"], replayed, row["upstream_cost"])
        after = rows[-1]["id"]
    ordered = sorted(groups.values(), key=lambda r: (r.label, r.key))
    return Replay(by, ordered, total, sorted(biller.unpriced))


class _Biller:
    """Prices rows, resolving each model's price once."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = prices
        self.resolved: dict[str, Price | None] = {}
        self.unpriced: set[str] = set()

    def bill(self, row: Row) -> int | None:
        """What ``row`` costs at these prices; None when they do not price its model."""
        model = row["model"]
        if model not in self.resolved:
            self.resolved[model] = resolve_price(model, self.prices)
        price = self.resolved[model]
        if price is None:
            self.unpriced.add(model)
            return None
        usage = _usage(row)
        if not (usage.prompt_tokens or usage.completion_tokens or usage.units):
            return 0
        return cost(usage, price, _ratio(row))


def _ratio(row: Row) -> Decimal:
    """The group ratio the row was billed with; for an older row, its group's ratio now."""
    stored = row["group_ratio"] or row["ratio"]
    return Decimal(stored) if stored is not None else Decimal(1)


def _usage(row: Row) -> Usage:
    try:
        return usage_of_row(row)
    except ValueError as exc:
        raise BurncloudError(f"log row {row['id']} has unreadable units: {exc}") from None


def _group(row: Row, by: str) -> tuple[str, str]:
    if by == "model":
        return row["model"], row["model"]
    if row["user_id"] is None:
        return "", "(no user)"
    return str(row["user_id"]), row["user_name"] or f"#{row['user_id']}"


def _signed_usd(units: int) -> str:
    return format_usd(units) if units >= 0 else "-" + format_usd(-units)


def _margin(units: int | None) -> str | None:
    return None if units is None else _signed_usd(units)
