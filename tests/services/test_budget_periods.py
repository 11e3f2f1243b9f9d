"""Budget periods: calendar windows in the configured timezone, N-hour windows."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from burncloud.errors import InvalidRequest
from burncloud.services.budget_periods import (
    calendar_window,
    describe_period,
    parse_period,
    rolling_window,
)


def at(text: str, zone: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp())


def local(unix: int, zone: str) -> str:
    return datetime.fromtimestamp(unix, ZoneInfo(zone)).isoformat()


@pytest.mark.parametrize(
    ("text", "period"),
    [("day", "day"), ("Daily", "day"), ("week", "week"), ("month", "month"), ("5h", "5h"),
     ("05h", "5h"), ("744h", "744h"), ("monthly", "month")],
)  # fmt: skip
def test_periods_are_named_canonically(text: str, period: str) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["", "year", "0h", "745h", "5", "h", "-5h", "5 h", "1.5h"])
def test_an_unknown_period_is_refused_with_the_forms_that_exist(text: str) -> None:
    with pytest.raises(InvalidRequest, match="day, week, month or a number of hours"):
        parse_period(text)


def test_a_day_in_shanghai_turns_at_local_midnight_not_utc_midnight() -> None:
    zone = "Asia/Shanghai"  # UTC+8: local midnight is 16:00 UTC the day before
    before = calendar_window("day", at("2026-12-07T15:59:59", "UTC"), zone)
    after = calendar_window("day", at("2026-12-07T16:00:00", "UTC"), zone)
    assert local(before.starts_at, zone) == "2026-12-07T00:00:00+08:00"
    assert local(before.ends_at, zone) == "2026-12-08T00:00:00+08:00"
    assert after.starts_at == before.ends_at and after.seq != before.seq
    assert after.ends_at - after.starts_at == 86400


def test_a_day_in_new_york_crossing_midnight_belongs_to_the_local_date() -> None:
    zone = "America/New_York"  # 03:00 UTC is still the evening before in New York
    window = calendar_window("day", at("2026-12-08T03:00:00", "UTC"), zone)
    assert local(window.starts_at, zone) == "2026-12-07T00:00:00-05:00"
    assert calendar_window("day", at("2026-12-08T03:00:00", "UTC"), "UTC").starts_at == at(
        "2026-12-08T00:00:00"
    )


def test_the_day_daylight_saving_starts_is_23_hours_long() -> None:
    zone = "Europe/Berlin"
    window = calendar_window("day", at("2026-03-29T12:00:00", zone), zone)
    assert window.ends_at - window.starts_at == 23 * 3600
    assert local(window.ends_at, zone) == "2026-03-30T00:00:00+02:00"


@pytest.mark.parametrize(
    ("moment", "start", "end"),
    [
        ("2026-01-31T23:59:59", "2026-01-01T00:00:00", "2026-02-01T00:00:00"),
        ("2026-02-28T12:00:00", "2026-02-01T00:00:00", "2026-03-01T00:00:00"),
        ("2028-02-29T12:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),  # leap year
        ("2026-12-31T23:00:00", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),  # year end
        ("2027-01-01T00:00:00", "2027-01-01T00:00:00", "2027-02-01T00:00:00"),
    ],
)
def test_months_end_on_the_first_of_the_next_month_locally(
    moment: str, start: str, end: str
) -> None:
    zone = "Asia/Tokyo"
    window = calendar_window("month", at(moment, zone), zone)
    assert (window.starts_at, window.ends_at) == (at(start, zone), at(end, zone))


def test_a_week_starts_on_monday() -> None:
    window = calendar_window("week", at("2026-12-10T08:00:00"), "UTC")  # a Thursday
    start = datetime.fromtimestamp(window.starts_at, UTC)
    assert start.isoformat() == "2026-12-07T00:00:00+00:00" and start.weekday() == 0
    assert window.ends_at - window.starts_at == 7 * 86400


def test_an_n_hour_window_starts_at_the_request_that_opens_it() -> None:
    window = rolling_window("5h", 3, 1_000_000)
    assert (window.seq, window.starts_at, window.ends_at) == (3, 1_000_000, 1_018_000)
    with pytest.raises(ValueError):
        rolling_window("day", 1, 0)
    with pytest.raises(ValueError):
        calendar_window("5h", 0, "UTC")


def test_periods_read_well_in_messages() -> None:
    assert [describe_period(p) for p in ("day", "week", "month", "5h")] == [
        "daily",
        "weekly",
        "monthly",
        "5-hour",
    ]
