"""What the dashboard reads on each refresh, and the protocol of the source it reads it from.

The dashboard never touches the database itself: ``StatsSource`` is the seam. The real
source (``burncloud_tui.db_source``) calls ``burncloud.services.stats`` and
``burncloud.services.forecast``; tests pass an in-memory source with known figures. The
rows are the services' dataclasses, read only by attribute, so this module does not import
the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from burncloud.services.forecast import RunningOut
    from burncloud.services.stats import (
        ChannelRow,
        GroupRow,
        HourPoint,
        LiveSummary,
        LogLine,
        MinutePoint,
    )

MINUTES = 60  # the per-minute plots cover the last hour
HOURS = 24  # the spend plot covers the last day
TABLE_WINDOW = 24 * 3600  # the channel / model / token / user tables cover the last day
TAIL_LIMIT = 100  # rows fetched per refresh for the live tail
# Forecasts move slowly and read more than a refresh's other queries: once a minute is enough.
FORECAST_EVERY = 60


@dataclass(frozen=True, slots=True)
class Figures:
    """The header and the plots."""

    summary: LiveSummary
    minutes: list[MinutePoint]  # oldest first
    hours: list[HourPoint]  # oldest first


@dataclass(frozen=True, slots=True)
class Tables:
    """The breakdown tables, each sorted by spend (channels as the service orders them)."""

    channels: list[ChannelRow]
    models: list[GroupRow]
    tokens: list[GroupRow]
    users: list[GroupRow]


class StatsSource(Protocol):
    """Read-only queries behind one refresh; every method may raise (the header shows it)."""

    async def figures(self, now: int) -> Figures:
        """The live summary at ``now`` and the per-minute and per-hour series ending there."""
        ...

    async def tables(self, since: int) -> Tables:
        """Channels (with their breaker states when known), models, tokens and users."""
        ...

    async def tail(self, after_id: int | None, limit: int) -> list[LogLine]:
        """Up to ``limit`` newest log rows, newest first; only ids above ``after_id`` if set."""
        ...

    async def running_out(self, now: int) -> list[RunningOut]:
        """The keys and users that run out at their recent spend rate, soonest first."""
        ...

    async def close(self) -> None:
        """Release the connection (the dashboard is quitting)."""
        ...
