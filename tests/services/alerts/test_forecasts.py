"""Forecast alerts: a limited subject that runs out within 24 h, once per subject and
total, from ``services.forecast``'s runways (a fake here, the real one at the end)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from burncloud.db import Database
from burncloud.db.base import Executor
from burncloud.money import parse_usd
from burncloud.services.alerts.forecasts import (
    HORIZON,
    forecast_api,
    forecast_events,
    raise_forecast_events,
)
from burncloud.services.alerts.thresholds import Standing, load_standings
from tests.gateway.quota_db import make_caller
from tests.services.alerts.conftest import T0

USD = parse_usd("1")


@dataclass(frozen=True, slots=True)
class FakeRunway:
    subject: str
    subject_id: int
    remaining: int
    spend_per_hour: int
    runs_out_in: int | None


def _standing(kind: str, rid: int, total: int = 10 * USD) -> Standing:
    subject = "user" if kind == "user" else "token"
    return Standing(kind, rid, subject, rid, f"{kind}-{rid}", total, total // 2)


def _hours(seconds: int | None) -> str:
    return "—" if seconds is None else f"{seconds // 3600} h"


def test_only_runways_shorter_than_a_day_of_known_subjects_alert() -> None:
    standings = [_standing("token", 1), _standing("user", 2), _standing("window", 3)]
    runways = [
        FakeRunway("token", 1, 5 * USD, USD, 5 * 3600),
        FakeRunway("user", 2, 5 * USD, USD // 10, HORIZON + 1),
        FakeRunway("window", 3, 5 * USD, 0, None),  # no recent spend
        FakeRunway("token", 9, 5 * USD, USD, 3600),  # not a limited subject here
        FakeRunway("user", 2, 0, USD, 0),  # already out: the 100 % budget alert says so
    ]
    [event] = forecast_events(standings, runways, _hours)
    assert (event.kind, event.key) == ("forecast", f"forecast:token:1:{10 * USD}")
    assert event.text == (
        "Token 'token-1' (id 1) runs out of its quota in 5 h at the recent rate of 1 USD an"
        " hour (5 USD left)."
    )
    assert event.data["runs_out_in"] == 5 * 3600 and event.data["window_id"] is None


async def test_a_forecast_is_raised_once_per_total(db: Database) -> None:
    token, _ = await make_caller(db, quota=10 * USD, balance=-1)
    asked: list[int] = []

    async def runways(
        db: Executor,
        now: int,
        *,
        subject: str | None = None,
        ids: Collection[int] | None = None,
    ) -> Sequence[FakeRunway]:
        asked.append(now)
        return [FakeRunway("token", token.id, 10 * USD, 2 * USD, 5 * 3600)]

    standings = await load_standings(db, T0)
    assert await raise_forecast_events(db, standings, T0, runways, _hours) == 1
    assert await raise_forecast_events(db, standings, T0 + 60, runways, _hours) == 0
    await db.execute("UPDATE tokens SET quota = quota + :x", {"x": 5 * USD})  # a top-up
    later = await load_standings(db, T0 + 120)
    assert await raise_forecast_events(db, later, T0 + 120, runways, _hours) == 1
    assert asked == [T0, T0 + 60, T0 + 120]
    assert await raise_forecast_events(db, [], T0, runways, _hours) == 0  # nothing limited


async def test_the_real_forecast_finds_a_key_burning_through_its_quota(db: Database) -> None:
    runways, describe = forecast_api()
    token, _ = await make_caller(db, quota=2 * USD, balance=-1, name="burner")
    hour = T0 - T0 % 3600
    for back in range(1, 4):  # 1 USD an hour for the last three hours
        await db.execute(
            "INSERT INTO log_hours (hour, dim, key, requests, cost)"
            " VALUES (:h, 'token', :k, 10, :c)",
            {"h": hour - back * 3600, "k": str(token.id), "c": USD},
        )
    standings = await load_standings(db, T0)
    assert await raise_forecast_events(db, standings, T0, runways, describe) == 1
    text = await db.fetch_value("SELECT text FROM alert_events")
    assert text.startswith(f"Token 'burner-key' (id {token.id}) runs out of its quota in ")
    assert "(2 USD left)" in text
