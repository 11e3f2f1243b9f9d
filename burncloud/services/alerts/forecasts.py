"""Forecast alerts: a limited token, user or budget window that runs out within 24 hours
at its recent spend rate (``services.forecast``), once per subject and total, so a top-up
that still does not last the day warns again.

``services.forecast`` is imported when first needed (``forecast_api``), and the watcher may
be handed another ``runways`` (tests do)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol

from burncloud.db.base import Database, Executor
from burncloud.money import format_usd
from burncloud.services.alerts.events import FORECAST, Event
from burncloud.services.alerts.outbox import raise_alone
from burncloud.services.alerts.thresholds import Standing, describe_subject, known_keys

HORIZON = 86_400  # seconds: a runway shorter than this raises the alert
_KINDS = {"token": "its quota", "user": "its balance", "window": "its budget window"}


class RunwayLike(Protocol):
    """What the alert reads of ``services.forecast.Runway``."""

    @property
    def subject(self) -> str: ...
    @property
    def subject_id(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def spend_per_hour(self) -> int: ...
    @property
    def runs_out_in(self) -> int | None: ...


class Runways(Protocol):
    def __call__(
        self,
        db: Executor,
        now: int,
        *,
        subject: str | None = None,
        ids: Collection[int] | None = None,
    ) -> Awaitable[Sequence[RunwayLike]]: ...


FormatRunway = Callable[[int | None], str]


def forecast_api() -> tuple[Runways, FormatRunway]:
    """``services.forecast``'s ``runways`` and ``format_runway``, imported now."""
    from burncloud.services import forecast

    return forecast.runways, forecast.format_runway


def forecast_events(
    standings: Sequence[Standing], runways: Sequence[RunwayLike], describe: FormatRunway
) -> list[Event]:
    """An event for each subject of ``standings`` whose runway ends within HORIZON."""
    by_subject = {(standing.kind, standing.id): standing for standing in standings}
    events = []
    for runway in runways:
        standing = by_subject.get((runway.subject, runway.subject_id))
        runs_out_in = runway.runs_out_in
        if standing is None or runs_out_in is None or runway.remaining <= 0:
            continue
        if runs_out_in <= HORIZON:
            events.append(_event(standing, runway, describe(runs_out_in)))
    return events


async def raise_forecast_events(
    db: Database,
    standings: Sequence[Standing],
    now: int,
    runways: Runways,
    describe: FormatRunway,
) -> int:
    """Raise the forecasts not raised before; how many were new."""
    if not standings:
        return 0
    events = forecast_events(standings, await runways(db, now), describe)
    known = await known_keys(db, [event.key for event in events])
    raised = 0
    for event in events:
        if event.key not in known and await raise_alone(db, event, now) is not None:
            raised += 1
    return raised


def _event(standing: Standing, runway: RunwayLike, runs_out_in: str) -> Event:
    left, rate = format_usd(runway.remaining), format_usd(runway.spend_per_hour)
    text = (
        f"{describe_subject(standing)} runs out of {_KINDS[standing.kind]} in {runs_out_in}"
        f" at the recent rate of {rate} USD an hour ({left} USD left)."
    )
    data = {
        "subject": standing.subject,
        "id": standing.subject_id,
        "name": standing.name,
        "window_id": standing.id if standing.kind == "window" else None,
        "runs_out_in": runway.runs_out_in,
        "remaining": left,
        "spend_per_hour": rate,
    }
    key = f"forecast:{standing.kind}:{standing.id}:{standing.total}"
    return Event(FORECAST, key, text, data)
