"""Which token kinds a model's price leaves to fall back although its upstreams report them.

A kind without a price of its own bills at the input (or output) price; no multiplier is
ever guessed. That is right for a kind no upstream of the model reports, and an
undercharge waiting to happen for one it does (Anthropic's cache writes cost 1.25x or 2x
input): ``price list`` flags such a model as incomplete, naming the kinds. What a channel's
upstream reports is its kind's registry entry (``ChannelKind.reports``); the channels
serving a model are its abilities, enabled or not (a disabled channel comes back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from burncloud.db.base import Executor
from burncloud.errors import NotFound
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.pricing import Price


async def reported_kinds(db: Executor) -> dict[str, frozenset[str]]:
    """The token kinds the channels serving each model report, by model."""
    rows = await db.fetch_all(
        "SELECT DISTINCT a.model, c.type FROM abilities a JOIN channels c ON c.id = a.channel_id"
    )
    reported: dict[str, frozenset[str]] = {}
    for row in rows:
        kind = CHANNEL_KINDS.get(row["type"])
        if kind is not None:
            reported[row["model"]] = reported.get(row["model"], frozenset()) | kind.reports
    return reported


def missing_kinds(price: Price, reported: Iterable[str]) -> list[str]:
    """The reported kinds ``price`` has no price of its own for."""
    wanted = set(reported)
    return [kind for kind in price.unpriced_kinds() if kind in wanted]


async def incomplete_kinds(db: Executor, prices: Iterable[Price]) -> Mapping[str, list[str]]:
    """For each of ``prices`` (resolved: an alias is judged by the price it bills at), the
    kinds its model's channels report and it leaves to fall back (empty when complete)."""
    reported = await reported_kinds(db)
    return {price.model: missing_kinds(price, reported.get(price.model, ())) for price in prices}


async def channel_incomplete_kinds(
    db: Executor, channel_id: int, prices: Iterable[Price]
) -> Mapping[str, list[str]]:
    """For each of a channel's cost ``prices``, the kinds its upstream reports and the
    price leaves to fall back; NotFound for an unknown channel."""
    type_ = await db.fetch_value("SELECT type FROM channels WHERE id = :id", {"id": channel_id})
    if type_ is None:
        raise NotFound(f"no channel with id {channel_id}")
    kind = CHANNEL_KINDS.get(type_)
    reported = kind.reports if kind is not None else frozenset()
    return {price.model: missing_kinds(price, reported) for price in prices}
