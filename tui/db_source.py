"""The dashboard's real source: ``burncloud.services.stats`` and ``.forecast`` over the
database at a URL.

Every query runs on a loop of its own in a thread (``LoopThread``), where the connection
lives. The database opens on the first refresh, so a database that cannot be reached shows
in the header and the next refresh tries again. It opens read-only: the dashboard never
creates, migrates or writes a database. The service and the database layer are
imported there too: the ``burncloud dash`` command starts fast.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from burncloud_tui.breakers import BreakerReader
from burncloud_tui.loop_thread import LoopThread
from burncloud_tui.source import HOURS, MINUTES, Figures, Tables

if TYPE_CHECKING:
    from burncloud.db import Database
    from burncloud.services.forecast import RunningOut
    from burncloud.services.stats import ChannelRow, LogLine


class DatabaseSource:
    """A ``StatsSource`` reading one database; breakers from this machine's routers."""

    def __init__(self, database_url: str) -> None:
        from burncloud.gateway.fleet.state_file import state_file_path

        self._url = database_url
        self._db: Database | None = None
        self._breakers = BreakerReader(state_file_path(database_url))
        self._thread = LoopThread("burncloud-dash-queries")

    async def figures(self, now: int) -> Figures:
        """The live summary and the per-minute and per-hour series at ``now``."""
        return await self._thread.run(self._figures(now))

    async def tables(self, since: int) -> Tables:
        """The breakdowns since ``since``, channels with their worst breaker."""
        return await self._thread.run(self._tables(since))

    async def tail(self, after_id: int | None, limit: int) -> list[LogLine]:
        """The newest log rows (above ``after_id`` when set), newest first."""
        return await self._thread.run(self._tail(after_id, limit))

    async def running_out(self, now: int) -> list[RunningOut]:
        """The keys and users that run out at their recent spend rate, soonest first."""
        return await self._thread.run(self._running_out(now))

    async def close(self) -> None:
        """Close the database, end the query thread, detach from the routers' state file."""
        try:
            if self._db is not None:
                await self._thread.run(self._close())
        finally:
            self._thread.stop()
            self._breakers.close()

    async def _figures(self, now: int) -> Figures:
        from burncloud.services import stats

        db = await self._database()
        return Figures(
            summary=await stats.live_summary(db, now),
            minutes=await stats.minute_series(db, now, MINUTES),
            hours=await stats.hourly_spend(db, now, HOURS),
        )

    async def _tables(self, since: int) -> Tables:
        from burncloud.services import stats

        db = await self._database()
        return Tables(
            channels=await self._with_balances(
                db, await self._with_breakers(db, await stats.channel_rows(db, since))
            ),
            models=await stats.breakdown(db, since, "model"),
            tokens=await stats.breakdown(db, since, "token"),
            users=await stats.breakdown(db, since, "user"),
        )

    async def _tail(self, after_id: int | None, limit: int) -> list[LogLine]:
        from burncloud.services import stats

        return await stats.recent_logs(await self._database(), after_id=after_id, limit=limit)

    async def _running_out(self, now: int) -> list[RunningOut]:
        from burncloud.services import forecast

        return await forecast.running_out(await self._database(), now)

    async def _close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    async def _database(self) -> Database:
        if self._db is None:
            from burncloud.db import open_database

            self._db = await open_database(self._url, create=False)  # a reader: never creates
        return self._db

    async def _with_balances(self, db: Database, rows: list[ChannelRow]) -> list[ChannelRow]:
        """Each channel's upstream balance as last checked (none: left blank)."""
        from burncloud.services.upstream_balance import stored_balances

        found = await stored_balances(db)
        return [
            replace(row, balance=found[row.id].cell(), balance_low=found[row.id].alerted_below)
            if row.id in found
            else row
            for row in rows
        ]

    async def _with_breakers(self, db: Database, rows: list[ChannelRow]) -> list[ChannelRow]:
        if not rows or not self._breakers.known():
            return rows
        from burncloud.services.channel_keys import keys_of_channels
        from burncloud.services.channels import list_channels

        models = {channel.id: channel.models for channel in await list_channels(db)}
        keys = {
            channel_id: [key.id for key in found if key.status == "enabled"]
            for channel_id, found in (await keys_of_channels(db)).items()
        }
        return [
            replace(
                row,
                breaker=self._breakers.worst(row.id, models.get(row.id, ()), keys.get(row.id, ())),
            )
            for row in rows
        ]
