"""Error-rate alerts: errors above a share of requests in each of the last 5 whole minutes,
read from the per-minute rollup (``log_minutes``, dimension 'all'), once per episode.

An episode opens when 5 minutes in a row are over the threshold (one alert, keyed by the
episode's first minute) and closes at the first whole minute that is not (quiet minutes
included); it is marked in ``alert_state`` in the transaction that raises its event, so
two routers watching the same minutes open it once. An error is what the rollup counts
as one: a status of 400 or more, except a client that went away (499).
"""

from __future__ import annotations

from dataclasses import dataclass

from burncloud.db.base import Database
from burncloud.services.alerts.events import ERROR_RATE, Event
from burncloud.services.alerts.outbox import raise_event
from burncloud.services.alerts.watch_state import move_mark, read_mark

MINUTES = 5
EPISODE = "error-rate:episode"  # the open episode's first minute; 0 when none is open


@dataclass(frozen=True, slots=True)
class Minute:
    start: int
    requests: int
    errors: int

    def over(self, percent: int) -> bool:
        return self.requests > 0 and self.errors * 100 > percent * self.requests


async def last_minutes(db: Database, now: int) -> list[Minute]:
    """The last MINUTES whole minutes before ``now``, oldest first (quiet ones as zeros)."""
    current = now - now % 60
    first = current - MINUTES * 60
    rows = await db.fetch_all(
        "SELECT minute, requests, errors FROM log_minutes WHERE dim = 'all' AND key = ''"
        " AND minute >= :first AND minute < :current",
        {"first": first, "current": current},
    )
    found = {int(row["minute"]): row for row in rows}
    return [
        Minute(start, int(found[start]["requests"]), int(found[start]["errors"]))
        if start in found
        else Minute(start, 0, 0)
        for start in range(first, current, 60)
    ]


async def watch_error_rate(db: Database, now: int, percent: int) -> int | None:
    """Open an episode (raising its event) or close one, as the last minutes say; the
    event's id when one was raised."""
    minutes = await last_minutes(db, now)
    open_since = await read_mark(db, EPISODE)
    if all(minute.over(percent) for minute in minutes):
        if open_since:
            return None
        async with db.transaction() as tx:
            if not await move_mark(tx, EPISODE, 0, minutes[0].start):
                return None
            return await raise_event(tx, episode_event(minutes, percent), now)
    if open_since and not minutes[-1].over(percent):
        await move_mark(db, EPISODE, open_since, 0)
    return None


def episode_event(minutes: list[Minute], percent: int) -> Event:
    """The alert for an episode that began with ``minutes[0]``."""
    requests = sum(minute.requests for minute in minutes)
    errors = sum(minute.errors for minute in minutes)
    share = errors * 100 // requests
    text = (
        f"Errors were {share}% of requests over the last {len(minutes)} minutes"
        f" ({errors} of {requests}), above the {percent}% threshold in every minute."
    )
    data = {
        "errors": errors,
        "requests": requests,
        "percent": share,
        "threshold": percent,
        "since": minutes[0].start,
    }
    return Event(ERROR_RATE, f"error-rate:{minutes[0].start}", text, data)
