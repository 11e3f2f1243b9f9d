"""The burn-rate forecast in `burncloud quota show` and `burncloud stats`: spend rows put in
the rollup, the clock pinned at 12:30 UTC, so the last six hours start at 06:30."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from burncloud.db import open_database
from tests.services.test_stats import DAY

USD = 10**9
HOUR = 3600
NOW = DAY + 12 * HOUR + 30 * 60
SPENT_AT = DAY + 10 * HOUR  # an hour of the lookback

pytestmark = pytest.mark.usefixtures("bootstrapped")


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("burncloud.cli.quota.now", lambda: NOW)
    monkeypatch.setattr("burncloud.cli.stats.now", lambda: NOW)


def spend(db_url: str, dim: str, key: int, usd: float) -> None:
    """``usd`` spent by token or user ``key`` in the hour from 10:00."""

    async def insert() -> None:
        db = await open_database(db_url)
        try:
            await db.execute(
                "INSERT INTO log_hours (hour, dim, key, requests, cost)"
                " VALUES (:at, :dim, :key, 1, :cost)",
                {"at": SPENT_AT, "dim": dim, "key": str(key), "cost": int(usd * USD)},
            )
        finally:
            await db.close()

    asyncio.run(insert())


def token(cli: Any, name: str, *args: str) -> int:
    result = cli("token", "create", "--name", name, "--json", *args)
    assert result.exit_code == 0, result.output
    return int(orjson.loads(result.stdout)["id"])


def user(cli: Any, name: str, balance: str) -> int:
    result = cli("user", "add", name, "--balance", balance, "--json")
    assert result.exit_code == 0, result.output
    return int(orjson.loads(result.stdout)["id"])


def test_quota_show_says_when_a_token_runs_out(cli, cli_json, db_url: str) -> None:
    key = token(cli, "ci", "--quota", "10")
    spend(db_url, "token", key, 3)  # 0.5 USD an hour over the last six
    shown = cli("quota", "show", str(key))
    assert shown.exit_code == 0, shown.output
    assert "runs out in      20 h (at 0.5 USD/h over the last 6 h)\n" in shown.stdout
    found: Any = cli_json("quota", "show", str(key))
    assert (found["spend_per_hour"], found["runs_out_in"]) == ("0.5", 20 * HOUR)


def test_quota_show_of_a_user_balance(cli, cli_json, db_url: str) -> None:
    alice = user(cli, "alice", "100")
    spend(db_url, "user", alice, 12.5)  # about 2.08 USD an hour
    shown = cli("quota", "show", "--user", "alice").stdout
    assert "runs out in      2 d 0 h" not in shown  # the second unit is left out when 0
    assert "runs out in      2 d (at 2.083333333 USD/h over the last 6 h)\n" in shown
    assert cli_json("quota", "show", "--user", "alice")["runs_out_in"] == 172_800  # type: ignore[index]


def test_quota_show_without_recent_spend_has_no_forecast(cli, cli_json) -> None:
    key = token(cli, "idle", "--quota", "1")
    assert (
        "runs out in      — (no spend in the last 6 h)\n" in cli("quota", "show", str(key)).stdout
    )
    found: Any = cli_json("quota", "show", str(key))
    assert (found["spend_per_hour"], found["runs_out_in"]) == ("0", None)


def test_an_unlimited_quota_has_no_forecast(cli, cli_json, db_url: str) -> None:
    key = token(cli, "free")
    spend(db_url, "token", key, 3)
    assert "runs out" not in cli("quota", "show", str(key)).stdout
    found: Any = cli_json("quota", "show", str(key))
    assert "runs_out_in" not in found and "spend_per_hour" not in found


def test_stats_lists_the_keys_and_users_that_run_out_soonest(cli, cli_json, db_url: str) -> None:
    keys = [token(cli, f"key-{n}", "--quota", "10") for n in range(7)]
    free = token(cli, "free")
    for n, key in enumerate(keys):
        spend(db_url, "token", key, n + 1)  # key-6 spends the most: it runs out first
    spend(db_url, "token", free, 100)
    alice = user(cli, "alice", "1")
    spend(db_url, "user", alice, 6)
    shown = cli("stats").stdout.split("\n\n")[-1].splitlines()
    assert shown == [
        "running out, at the spend rate of the last 6 h:",
        "kind\tid\tname\tlimit\tleft\tspend/h\truns out in",
        f"user\t{alice}\talice\tbalance\t1\t1\t1 h",
        f"token\t{keys[6]}\tkey-6\tquota\t10\t1.166666666\t8 h 34 min",
        f"token\t{keys[5]}\tkey-5\tquota\t10\t1\t10 h",
        f"token\t{keys[4]}\tkey-4\tquota\t10\t0.833333333\t12 h",
        f"token\t{keys[3]}\tkey-3\tquota\t10\t0.666666666\t15 h",
    ]
    found: Any = cli_json("stats")
    assert [(r["kind"], r["id"], r["runs_out_in"]) for r in found["running_out"]] == [
        ("user", alice, HOUR),
        ("token", keys[6], 10 * 6 * HOUR // 7),
        ("token", keys[5], 10 * HOUR),
        ("token", keys[4], 12 * HOUR),
        ("token", keys[3], 15 * HOUR),
    ]


def test_stats_without_anything_running_out_prints_no_list(cli, cli_json) -> None:
    token(cli, "idle", "--quota", "1")
    assert "running out" not in cli("stats").stdout
    assert cli_json("stats")["running_out"] == []  # type: ignore[index]
