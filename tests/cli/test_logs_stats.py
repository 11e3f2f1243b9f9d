"""`burncloud log list|tail` and `burncloud stats` over the known rows of the stats tests.

The commands read the clock through ``burncloud.services.clock.now``, pinned here to the
world's NOW, so every window and figure is exact. ``log tail`` runs as a real process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest

from burncloud.db import Database, open_database
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.gateway.route_trace import RouteTrace
from tests.cli.checks import fails_with_one_line
from tests.services.test_stats import DAY, NOW, M, NoLedger, World, build_world, record


def utc(at: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _build(db_url: str) -> World:
    db = await open_database(db_url)
    try:
        return await build_world(db)
    finally:
        await db.close()


@pytest.fixture
def world(db_url: str, bootstrapped: None, monkeypatch: pytest.MonkeyPatch) -> World:
    """The stats tests' eight requests, written after the admin's first run; clock at NOW."""
    monkeypatch.setattr("burncloud.cli.logs.now", lambda: NOW)
    monkeypatch.setattr("burncloud.cli.stats.now", lambda: NOW)
    return asyncio.run(_build(db_url))


HEADER = "time\ttoken\tmodel\tchannel\ttokens in/out\tcost\tlatency\tstatus"
STATS_COLUMNS = (
    "requests\terrors\ttokens in\ttokens out\tspend\tupstream\tmargin\tmargin %\tp50 ms\tp95 ms"
)


def test_log_list_prints_the_newest_requests_first(cli, world: World) -> None:
    result = cli("log", "list", "--since", "1h")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        HEADER,
        f"{utc(NOW)}\t\t\t\t0/0\t0\t5 ms\t401",
        f"{utc(NOW - 20)}\tbob-key\tclaude\tmain\t400/40\t0.013\t1000 ms\t500",
        f"{utc(NOW - 30)}\tbob-key\tclaude\tspare\t300/30\t0.011\t200 ms\t499",
        f"{utc(NOW - 40)}\talice-key\tgpt-4\tmain\t200/20\t0.007\t300 ms\t429",
        f"{utc(NOW - 50)}\talice-key\tgpt-4\tmain\t100/10\t0.005\t100 ms\t200",
        f"{utc(NOW - 60)}\talice-key\tgpt-4\tmain\t1000/100\t0.002\t50 ms\t200",
    ]  # r7 and r8 are hours older


def test_log_list_filters_and_limits(cli, cli_json, world: World) -> None:
    claude: Any = cli_json("log", "list", "--model", "claude", "--token", str(world.bob))
    assert [(row["id"], row["status"], row["cost"], row["channel_name"]) for row in claude] == [
        (world.ids["r4"], 500, "0.013", "main"),
        (world.ids["r3"], 499, "0.011", "spare"),
    ]
    assert claude[1] == {
        "id": world.ids["r3"],
        "created_at": NOW - 30,
        "request_id": f"req-{NOW - 30}-499",
        "token_id": world.bob,
        "token_name": "bob-key",
        "user_id": world.bob_user,
        "model": "claude",
        "channel_id": world.spare,
        "channel_name": "spare",
        "endpoint": "chat/completions",
        "prompt_tokens": 300,
        "completion_tokens": 30,
        "cached_tokens": 0,
        "cost": "0.011",
        "latency_ms": 200,
        "ttft_ms": 80,
        "status": 499,
        "stream": True,
        "estimated": False,
        "error": "",
        "route": None,
    }
    every: Any = cli_json("log", "list")  # no --since: any age
    assert [row["id"] for row in every] == sorted(world.ids.values(), reverse=True)
    limited: Any = cli_json("log", "list", "--status", "200", "--limit", "2")
    assert [row["id"] for row in limited] == [world.ids["r1"], world.ids["r6"]]
    since: Any = cli_json("log", "list", "--since", "30s")
    assert [row["id"] for row in since] == [world.ids[n] for n in ("r5", "r4", "r3")]
    assert cli_json("log", "list", "--model", "nope") == []


def test_log_list_filters_by_user_channel_and_until(cli_json, world: World) -> None:
    ids = world.ids

    def found(*args: str) -> list[int]:
        return [row["id"] for row in cli_json("log", "list", *args)]  # type: ignore[index]

    bobs = [ids["r4"], ids["r3"], ids["r7"]]
    assert found("--user", "bob") == bobs
    assert found("--user", str(world.bob_user)) == bobs
    assert found("--channel", str(world.spare)) == [ids["r3"]]
    assert found("--user", "alice", "--channel", str(world.main), "--status", "200") == [
        ids["r1"],
        ids["r6"],
        ids["r8"],
    ]
    older = [ids[n] for n in ("r2", "r1", "r6", "r7", "r8")]  # until is exclusive: not r3
    assert found("--until", "30s") == older
    assert found("--since", "1h", "--until", "30s") == older[:3]
    day = utc(DAY)[:10]  # the date of DAY: until its 00:00 UTC
    assert found("--until", day) == [ids["r8"]]
    assert found("--since", day, "--until", f"{day}T00:00:06Z") == [ids["r7"]]
    assert found("--since", f"{day} 00:00:06") == [
        ids[n] for n in ("r5", "r4", "r3", "r2", "r1", "r6")
    ]


def test_log_list_json_holds_the_route_as_an_object(
    cli, cli_json, db_url: str, bootstrapped: None
) -> None:
    trace = RouteTrace(
        candidates=[{"id": 1, "priority": 0, "weight": 1}],
        attempts=[{"id": 1, "status": 200, "ms": 30, "error": ""}],
    )
    asyncio.run(
        _write_records(
            db_url, replace(record(NOW, None, None, "gpt-4", (1, 1), 0, 1, 200), route=trace)
        )
    )
    (row,) = cli_json("log", "list")  # type: ignore[misc]
    assert row["route"] == {
        "candidates": [{"id": 1, "priority": 0, "weight": 1}],
        "skipped": [],
        "attempts": [{"id": 1, "status": 200, "ms": 30, "error": ""}],
    }


async def _write_records(db_url: str, *records: Any) -> None:
    db = await open_database(db_url)
    try:
        await _write(db, *records)
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("log", "list", "--since", "1x"), "--since: invalid time '1x': use a window"),
        (("log", "list", "--since", "0h"), "--since: invalid time '0h'"),
        (("log", "list", "--until", "tomorrow"), "--until: invalid time 'tomorrow'"),
        (("log", "list", "--user", "nobody"), "no user 'nobody'"),
        (("log", "list", "--limit", "0"), "--limit must be from 1 to 1000"),
        (("stats", "--since", "yesterday"), "--since: invalid window 'yesterday'"),
        (("stats", "--by", "region"), "--by must be one of model, channel, token, user, group"),
    ],
)
def test_bad_options_are_one_line_errors(
    cli, world: World, args: tuple[str, ...], message: str
) -> None:
    fails_with_one_line(cli(*args), message)


def test_stats_prints_totals_and_the_breakdown_by_model(cli, world: World) -> None:
    result = cli("stats")  # the last 24 h: from 02:30:15 yesterday, so all eight
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"since        {utc(NOW - 86400)}\n"
        "requests     8\n"
        "errors       3 (37.5%)\n"
        "tokens in    2020\n"
        "tokens out   202\n"
        "spend        0.058 USD\n"
        "upstream     0.012 USD + 4 unknown\n"  # r7, r2, r4 and r5 have no upstream cost
        "margin       0.023 USD (65.7%) + 4 unknown\n"  # (58 - 23) - 12, of the 35 known
        "latency p50  80 ms\n"
        "latency p95  1000 ms\n"
        "latency p99  1000 ms\n"
        "\n"
        f"model\t{STATS_COLUMNS}\n"
        "gpt-4\t5\t1\t1320\t132\t0.034\t0.008 + 2 unknown\t0.016 + 2 unknown\t66.7%\t80\t300\n"
        "claude\t2\t1\t700\t70\t0.024\t0.004 + 1 unknown\t0.007 + 1 unknown\t63.6%\t200\t1000\n"
        "(none)\t1\t1\t0\t0\t0\tunknown\tunknown\t-\t5\t5\n"
    )


def test_stats_by_token_over_the_last_hour(cli, world: World) -> None:
    result = cli("stats", "--since", "1h", "--by", "token")  # r6 and r1..r5
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:11] == [
        f"since        {utc(NOW - 3600)}",
        "requests     6",
        "errors       3 (50.0%)",
        "tokens in    2000",
        "tokens out   200",
        "spend        0.038 USD",
        "upstream     0.007 USD + 3 unknown",
        "margin       0.011 USD (61.1%) + 3 unknown",
        "latency p50  100 ms",
        "latency p95  1000 ms",
        "latency p99  1000 ms",
    ]
    assert lines[12:] == [
        f"id\ttoken\t{STATS_COLUMNS}",
        f"{world.bob}\tbob-key\t2\t1\t700\t70\t0.024"
        "\t0.004 + 1 unknown\t0.007 + 1 unknown\t63.6%\t200\t1000",
        f"{world.alice}\talice-key\t3\t1\t1300\t130\t0.014"
        "\t0.003 + 1 unknown\t0.004 + 1 unknown\t57.1%\t100\t300",
        "\t(none)\t1\t1\t0\t0\t0\tunknown\tunknown\t-\t5\t5",
    ]


def test_stats_by_group_names_the_groups(cli, world: World) -> None:
    result = cli("stats", "--since", "7d", "--by", "group")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[12:] == [
        f"group\t{STATS_COLUMNS}",
        "default\t4\t1\t1310\t131\t0.031\t0.008 + 1 unknown\t0.016 + 1 unknown\t66.7%\t80\t300",
        "vip\t3\t1\t710\t71\t0.027\t0.004 + 2 unknown\t0.007 + 2 unknown\t63.6%\t200\t1000",
        "(none)\t1\t1\t0\t0\t0\tunknown\tunknown\t-\t5\t5",
    ]


def test_stats_json_matches_the_rows(cli_json, world: World) -> None:
    found: Any = cli_json("stats", "--since", "7d", "--by", "user")
    assert found == {
        "totals": {
            "since": NOW - 7 * 86400,
            "requests": 8,
            "errors": 3,
            "error_rate": 0.375,
            "prompt_tokens": 2020,
            "completion_tokens": 202,
            "cached_tokens": 0,
            "cost": "0.058",
            "latency_p50_ms": 80,
            "latency_p95_ms": 1000,
            "latency_p99_ms": 1000,
            "sampled": 8,
            **_margin("0.058", "0.012", 4, "0.023", "0.023", "65.7"),
        },
        "by": "user",
        "rows": [
            {
                **_group(str(world.alice_user), "alice", 4, 1, 1310, 131, "0.031", 80, 300),
                **_margin("0.031", "0.008", 1, "0.007", "0.016", "66.7"),
            },
            {
                **_group(str(world.bob_user), "bob", 3, 1, 710, 71, "0.027", 200, 1000),
                **_margin("0.027", "0.004", 2, "0.016", "0.007", "63.6"),
            },
            {
                **_group("", "(none)", 1, 1, 0, 0, "0", 5, 5),
                **_margin("0", None, 1, "0", None, None),  # r5's upstream: unknown, not 0
            },
        ],
        "running_out": [],  # no key or user of the world has a limit
    }


def _group(key: str, label: str, *values: Any) -> dict[str, Any]:
    names = ("requests", "errors", "prompt_tokens", "completion_tokens", "cost")
    return {
        "key": key,
        "label": label,
        **dict(zip(names, values[:5], strict=True)),
        "latency_p50_ms": values[5],
        "latency_p95_ms": values[6],
    }


def _margin(revenue: str, *values: Any) -> dict[str, Any]:
    names = ("upstream_cost", "upstream_unknown", "upstream_unknown_revenue", "margin")
    return {
        "revenue": revenue,  # what the callers paid: the cost, by its name in a margin
        **dict(zip(names, values[:4], strict=True)),
        "margin_percent": values[4],
    }


def test_stats_since_a_minute_covers_exactly_the_last_60_seconds(
    cli, cli_json, db_url: str, bootstrapped: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("burncloud.cli.stats.now", lambda: NOW)
    ages = (30, 59, 61)  # all three in minute 02:29; the window starts at 02:29:15
    asyncio.run(
        _write_records(
            db_url, *(record(NOW - age, None, None, "gpt-4", (1, 1), M, age, 200) for age in ages)
        )
    )
    found: Any = cli_json("stats", "--since", "1m")
    assert (found["totals"]["since"], found["totals"]["requests"]) == (NOW - 60, 2)
    assert [(row["key"], row["requests"]) for row in found["rows"]] == [("gpt-4", 2)]
    assert found["totals"]["latency_p95_ms"] == 59  # the 61 s old request is not sampled
    shown = cli("stats", "--since", "1m").stdout.splitlines()
    assert shown[:2] == [f"since        {utc(NOW - 60)}", "requests     2"]


def test_stats_of_an_empty_database(cli, bootstrapped) -> None:
    result = cli("stats", "--since", "15m")
    assert result.exit_code == 0, result.output
    assert "requests     0\nerrors       0 (0.0%)\n" in result.stdout
    assert "upstream     0 USD\nmargin       0 USD\n" in result.stdout
    assert "latency p99  -\n" in result.stdout
    assert result.stdout.endswith(f"model\t{STATS_COLUMNS}\n")


@contextlib.asynccontextmanager
async def running_tail(db_url: str, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`burncloud log tail` in a process of its own, once it has printed its header; killed
    on the way out if it is still running, so a failed test never leaves it behind."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "burncloud",
        "log",
        "tail",
        "--db",
        db_url,
        "--interval",
        "0.05",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "BURNCLOUD_DEBUG": ""},
        preexec_fn=_default_ctrl_c,
    )
    try:
        assert process.stdout is not None
        header = await asyncio.wait_for(process.stdout.readline(), 30)
        assert header.decode() == HEADER + "\n"
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


def _default_ctrl_c() -> None:
    """In the child, before exec: SIGINT's default action. A test runner started with
    SIGINT ignored (a background job of a script, some CI shells) passes that on, and a
    tail that ignores Ctrl-C would never end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def _write(db: Database, *records: Any) -> None:
    writer = LogWriter(db, NoLedger())
    for item in records:
        writer.submit(item)
    await writer.flush()


async def test_log_tail_prints_rows_written_after_it_started(db_url: str) -> None:
    db = await open_database(db_url)
    try:
        world = await build_world(db)  # these were there before: never printed
        async with running_tail(db_url, "--model", "gpt-4", "--max-rows", "3") as process:
            main = world.main
            await _write(db, record(NOW + 1, None, main, "gpt-4", (1, 2), 3 * 10**6, 11, 200))
            await _write(
                db,
                record(NOW + 2, None, main, "claude", (1, 2), 0, 12, 200),  # another model
                record(NOW + 3, None, None, "gpt-4", (3, 4), 0, 13, 503),
            )
            await _write(db, record(NOW + 4, None, main, "gpt-4", (5, 6), 10**9, 14, 200))
            out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        await db.close()
    assert process.returncode == 0, err.decode()
    assert out.decode().splitlines() == [
        f"{utc(NOW + 1)}\t\tgpt-4\tmain\t1/2\t0.003\t11 ms\t200",
        f"{utc(NOW + 3)}\t\tgpt-4\t\t3/4\t0\t13 ms\t503",
        f"{utc(NOW + 4)}\t\tgpt-4\tmain\t5/6\t1\t14 ms\t200",
    ]


@pytest.fixture(params=["default", "ignored"])
def runner_sigint(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test runner's own SIGINT action while the test runs: as a terminal leaves it, or
    ignored as a background job of a script inherits it (the tail is started either way)."""
    if request.param == "default":
        yield request.param
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield request.param
    finally:
        signal.signal(signal.SIGINT, previous)


async def test_log_tail_ends_quietly_on_ctrl_c(db_url: str, runner_sigint: str) -> None:
    db = await open_database(db_url)
    await db.close()
    async with running_tail(db_url) as process:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert out == b"" and b"Traceback" not in err and b"error" not in err, err.decode()
