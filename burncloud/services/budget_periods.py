"""Budget periods and their windows: calendar days, weeks and months, and N-hour windows.

A calendar window begins at local midnight in the configured timezone (a week on Monday, a
month on its first day), so "$5 a day" resets when the operator's day does, across DST
changes. An N-hour window is the way coding plans count ("5-hour limits"): it begins with
the first request after the previous window ended and lasts N hours, so an idle key does
not burn through windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from burncloud.errors import InvalidRequest

CALENDAR = ("day", "week", "month")
MAX_HOURS = 24 * 31
_HOURS = re.compile(r"(\d+)h")
_ALIASES = {"daily": "day", "weekly": "week", "monthly": "month", "1d": "day", "7d": "week"}


@dataclass(frozen=True, slots=True)
class Window:
    """One window of a period: ``seq`` tells it apart from the budget's other windows."""

    seq: int
    starts_at: int
    ends_at: int


def parse_period(text: str) -> str:
    """The canonical period for ``text``: day, week, month or Nh (1 <= N <= 744)."""
    name = text.strip().lower()
    name = _ALIASES.get(name, name)
    if name in CALENDAR:
        return name
    match = _HOURS.fullmatch(name)
    if match is not None and 1 <= int(match.group(1)) <= MAX_HOURS:
        return f"{int(match.group(1))}h"
    raise InvalidRequest(
        f"unknown budget period {text!r}: use day, week, month or a number of hours such as 5h"
    )


def rolling_hours(period: str) -> int | None:
    """The length of an N-hour period; None for a calendar one."""
    return None if period in CALENDAR else int(period[:-1])


def calendar_window(period: str, now: int, timezone: str) -> Window:
    """The day, week or month holding ``now`` in ``timezone``; its start is its ``seq``."""
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, zone)
    day = local.date()
    if period == "day":
        first, after = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    elif period == "month":
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"{period!r} is not a calendar period")
    starts = _midnight(first.year, first.month, first.day, zone)
    ends = _midnight(after.year, after.month, after.day, zone)
    return Window(starts, starts, ends)


def rolling_window(period: str, seq: int, now: int) -> Window:
    """The ``seq``-th N-hour window of a budget, opened by a request at ``now``."""
    hours = rolling_hours(period)
    if hours is None:
        raise ValueError(f"{period!r} is not an N-hour period")
    return Window(seq, now, now + hours * 3600)


def describe_period(period: str) -> str:
    """How a message names the period: 'daily', 'weekly', 'monthly' or '5-hour'."""
    return {"day": "daily", "week": "weekly", "month": "monthly"}.get(period, f"{period[:-1]}-hour")


def _midnight(year: int, month: int, day: int, zone: ZoneInfo) -> int:
    return int(datetime(year, month, day, tzinfo=zone).timestamp())
