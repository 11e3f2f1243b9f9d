"""An in-memory ``StatsSource`` with known figures, for driving the dashboard in tests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from burncloud_tui.source import Figures, Tables

from burncloud.services.forecast import RunningOut, Runway
from burncloud.services.margins import Margin
from burncloud.services.stats import (
    ChannelRow,
    GroupRow,
    HourPoint,
    LiveSummary,
    LogLine,
    MinutePoint,
)

NOW = 1_700_000_000  # 2023-11-14 22:13:20 UTC
USD = 10**9

SUMMARY = LiveSummary(
    requests_per_second=12.5,
    requests_per_minute=750,
    input_tokens_per_second=1234.0,
    output_tokens_per_second=345.0,
    error_rate=0.0123,
    latency_p50_ms=230,
    latency_p95_ms=1200,
    ttft_p50_ms=120,
    ttft_p95_ms=400,
    spend_today=1234 * USD + 567_000_000,
    active_channels=5,
    disabled_channels=1,
    last_request_at=NOW - 2,
    # $300 over the requests of known upstream cost; 12 of free ones of unknown cost
    margin_today=Margin(1234 * USD + 567_000_000, 9000, 934 * USD + 567_000_000, 12, 0),
)
NO_MARGIN = Margin(0, 0, 0, 0, 0)
EMPTY_SUMMARY = LiveSummary(0.0, 0, 0.0, 0.0, 0.0, None, None, None, None, 0, 0, 0, None, NO_MARGIN)

ROUTE = {
    "candidates": [{"id": 2, "priority": 0, "weight": 1}, {"id": 1, "priority": 0, "weight": 1}],
    "skipped": [{"id": 2, "reason": "breaker open, retry in 4 s"}],
    "attempts": [{"id": 1, "status": 502, "ms": 87, "error": "upstream overloaded"}],
}


def minutes(requests: list[int]) -> list[MinutePoint]:
    """Sixty minute points ending at NOW's minute, ``requests`` at the end, 10 tokens each."""
    padded = [0] * (60 - len(requests)) + requests
    start = NOW - NOW % 60 - 59 * 60
    return [MinutePoint(start + 60 * i, n, 0, 7 * n, 3 * n, n * 1000) for i, n in enumerate(padded)]


def hours(costs: list[int]) -> list[HourPoint]:
    padded = [0] * (24 - len(costs)) + costs
    start = NOW - NOW % 3600 - 23 * 3600
    return [HourPoint(start + 3600 * i, cost) for i, cost in enumerate(padded)]


def channel(id: int, name: str, **changes: object) -> ChannelRow:
    values: dict[str, object] = dict(
        id=id,
        name=name,
        type="openai",
        status="enabled",
        reason="",
        latency_ms=312,
        success_rate=0.987,
        requests=1500,
        spend=42 * USD,
        breaker="closed",
        margin=Margin(42 * USD, 1500, 12_600_000_000, 0, 0),  # a 0.3 cost ratio
    )
    values.update(changes)
    return ChannelRow(**values)  # type: ignore[arg-type]


def group(key: str, label: str, requests: int, cost: int) -> GroupRow:
    return GroupRow(
        key,
        label,
        requests,
        requests // 10,
        1000 * requests,
        200 * requests,
        cost,
        250,
        900,
        Margin(cost, requests, cost // 2, 0, 0),
    )


def log_line(id: int, **changes: object) -> LogLine:
    values: dict[str, object] = dict(
        id=id,
        created_at=NOW - 100 + id,
        request_id=f"req-{id}",
        token_id=3,
        token_name="alice-key",
        user_id=7,
        model="gpt-4o",
        channel_id=1,
        channel_name="openai-a",
        endpoint="/v1/chat/completions",
        prompt_tokens=1200,
        completion_tokens=345,
        cached_tokens=0,
        cost=56_700_000,
        latency_ms=830,
        ttft_ms=210,
        status=200,
        stream=True,
        estimated=False,
        error="",
        route="",
    )
    values.update(changes)
    return LogLine(**values)  # type: ignore[arg-type]


def busy_running_out() -> list[RunningOut]:
    """alice's monthly budget runs out in 5 h 12 min, her key's quota in 3 d 4 h."""
    return [
        RunningOut("user", 7, "alice", "monthly budget", Runway("window", 9, USD, USD // 5, 18720)),
        RunningOut(
            "token", 3, "alice-key", "quota", Runway("token", 3, 16 * USD, USD // 5, 273600)
        ),
    ]


def busy_figures() -> Figures:
    return Figures(SUMMARY, minutes([300, 500, 900, 750]), hours([10 * USD, 20 * USD]))


def busy_tables() -> Tables:
    return Tables(
        channels=[
            channel(1, "openai-a"),
            channel(
                2,
                "claude-b",
                type="anthropic",
                status="auto_disabled",
                reason="invalid api key",
                breaker="open",
                success_rate=0.5,
                # $10 over $40 of known upstream cost, 300 requests' upstream cost unknown
                margin=Margin(42 * USD, 1500, 30 * USD, 300, 2 * USD),
                balance="8.50 CNY (low)",
                balance_low=True,
            ),
        ],
        models=[group("gpt-4o", "gpt-4o", 900, 30 * USD), group("claude-3", "claude-3", 40, USD)],
        tokens=[group("3", "alice-key", 800, 25 * USD), group("4", "bob-key", 140, 6 * USD)],
        users=[group("7", "alice", 940, 31 * USD)],
    )


def busy_lines() -> list[LogLine]:
    """Three requests, newest first; the newest failed over and has a route trace."""
    return [
        log_line(
            3,
            model="claude-3",
            token_name="bob-key",
            status=502,
            channel_id=1,
            error="upstream overloaded",
            route=json.dumps(ROUTE),
        ),
        log_line(2, model="gpt-4o-mini", status=429),
        log_line(1),
    ]


@dataclass
class MemorySource:
    """Serves fixed figures; ``gate`` holds every refresh until set, ``failure`` is raised."""

    figures_now: Figures = field(default_factory=busy_figures)
    tables_now: Tables = field(default_factory=busy_tables)
    lines: list[LogLine] = field(default_factory=busy_lines)
    running: list[RunningOut] = field(default_factory=busy_running_out)
    failure: Exception | None = None
    gate: asyncio.Event | None = None
    calls: int = 0
    tail_calls: list[int | None] = field(default_factory=list)
    tables_since: list[int] = field(default_factory=list)
    forecasts_at: list[int] = field(default_factory=list)
    closed: bool = False

    async def figures(self, now: int) -> Figures:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return self.figures_now

    async def tables(self, since: int) -> Tables:
        self.tables_since.append(since)
        return self.tables_now

    async def tail(self, after_id: int | None, limit: int) -> list[LogLine]:
        self.tail_calls.append(after_id)
        newer = [line for line in self.lines if after_id is None or line.id > after_id]
        return sorted(newer, key=lambda line: -line.id)[:limit]

    async def running_out(self, now: int) -> list[RunningOut]:
        self.forecasts_at.append(now)
        return self.running

    async def close(self) -> None:
        self.closed = True


def empty_source() -> MemorySource:
    return MemorySource(
        figures_now=Figures(EMPTY_SUMMARY, minutes([]), hours([])),
        tables_now=Tables([], [], [], []),
        lines=[],
        running=[],
    )
