"""`burncloud channel balance ID|--all` against the local balance fakes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from burncloud.db import open_database
from burncloud.services import channels
from burncloud.services.secret_box import open_secret_box
from tests.cli.checks import fails_with_one_line
from tests.fakes.balance_servers import BalanceServer, FakeDeepSeek, FakeOneApi, running

WRONG_KEY = "sk-canary-wrong-Zq7BalanceKey-5519"
WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
HEADER = ["ID", "Name", "API", "Balance", "Checked", "Note"]


@pytest.fixture(autouse=True)
def primed(bootstrapped: None) -> None:
    """The first-run admin key banner is out of the way of stderr checks."""


@pytest.fixture
def deepseek() -> Iterator[FakeDeepSeek]:
    with running(FakeDeepSeek()) as fake:
        yield fake


@pytest.fixture
def reseller() -> Iterator[FakeOneApi]:
    with running(FakeOneApi()) as fake:
        yield fake


def seed(db_url: str, fake: BalanceServer, name: str, api: str | None, **fields: Any) -> int:
    """A channel to ``fake`` added through the service (as `channel add` would)."""

    async def add() -> int:
        db = await open_database(db_url)
        try:
            box = await open_secret_box(db, None if db_url.startswith("sqlite") else "test-secret")
            options: dict[str, Any] = {"balance_api": api} if api else {}
            channel = await channels.add_channel(
                db,
                box,
                type="openai-compatible",
                name=name,
                key=fields.pop("key", fake.key),
                models=["m1"],
                base_url=fake.base_url,
                **options,
                **fields,
            )
            return channel.id
        finally:
            await db.close()

    return asyncio.run(add())


def test_prints_the_amount_its_currency_and_time(cli, db_url, deepseek: FakeDeepSeek) -> None:
    channel_id = seed(db_url, deepseek, "ds", "deepseek")
    result = cli("channel", "balance", str(channel_id))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf'channel {channel_id} "ds": 110\.00 CNY \(deepseek, checked {WHEN}\)\n', result.stdout
    )
    assert [seen.path for seen in deepseek.seen] == ["/user/balance"]


def test_json_is_the_stored_check(cli, db_url, reseller: FakeOneApi) -> None:
    channel_id = seed(db_url, reseller, "resold", "openai-billing")
    result = cli("channel", "balance", str(channel_id), "--json")
    assert result.exit_code == 0, result.output
    shown = orjson.loads(result.stdout)
    assert {key: shown[key] for key in ("channel_id", "name", "api", "amount", "currency")} == {
        "channel_id": channel_id,
        "name": "resold",
        "api": "openai-billing",
        "amount": "37.66",
        "currency": "USD",
    }
    assert shown["error"] == "" and shown["details"]["hard_limit_usd"] == "50"


def test_a_failed_check_exits_1_with_why_and_the_last_amount(
    cli, db_url, deepseek: FakeDeepSeek
) -> None:
    channel_id = seed(db_url, deepseek, "ds", "deepseek")
    assert cli("channel", "balance", str(channel_id)).exit_code == 0
    deepseek.outage = True
    result = cli("channel", "balance", str(channel_id))
    assert result.exit_code == 1
    assert re.fullmatch(
        rf'channel {channel_id} "ds": balance check failed \(deepseek, checked {WHEN}\):'
        r" DeepSeek answered 503: upstream connect error or disconnect; last read 110\.00 CNY\n",
        result.stdout,
    )


def test_a_refused_key_never_shows(cli, db_url, deepseek: FakeDeepSeek) -> None:
    channel_id = seed(db_url, deepseek, "ds", "deepseek", key=WRONG_KEY)
    result = cli("channel", "balance", str(channel_id), "--json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["error"].startswith("DeepSeek refused the key (401)")
    assert WRONG_KEY not in result.output


def test_a_channel_without_a_balance_api_says_so(cli, db_url, deepseek: FakeDeepSeek) -> None:
    channel_id = seed(db_url, deepseek, "plain", None)
    result = cli("channel", "balance", str(channel_id))
    fails_with_one_line(result, f"channel {channel_id} (plain) has no balance API")
    assert "--balance-api" in result.stderr and deepseek.seen == []


def test_an_unknown_channel_fails_with_one_line(cli) -> None:
    fails_with_one_line(cli("channel", "balance", "42"), "no channel with id 42")


@pytest.mark.parametrize("args", [(), ("1", "--all")])
def test_it_takes_an_id_or_all(cli, args: tuple[str, ...]) -> None:
    fails_with_one_line(cli("channel", "balance", *args), "give a channel ID or --all")


def test_all_checks_each_channel_and_says_why_others_were_not(
    cli, db_url, deepseek: FakeDeepSeek, reseller: FakeOneApi
) -> None:
    checked = seed(db_url, deepseek, "ds", "deepseek")
    refused = seed(db_url, reseller, "resold", "openai-billing", key=WRONG_KEY)
    plain = seed(db_url, deepseek, "plain", None)
    off = seed(db_url, deepseek, "off", "deepseek")
    assert cli("channel", "disable", str(off)).exit_code == 0
    result = cli("channel", "balance", "--all")
    assert result.exit_code == 1  # one check failed
    header, *lines = result.stdout.splitlines()
    assert header.split("\t") == HEADER
    rows = {int(line.split("\t")[0]): line.split("\t") for line in lines}
    assert rows[checked][2:4] == ["deepseek", "110.00 CNY"]
    assert re.fullmatch(WHEN, rows[checked][4]) and rows[checked][5] == ""
    assert rows[refused][2:4] == ["openai-billing", "-"]
    assert rows[refused][5].startswith("failed: the reseller refused the key (401)")
    assert rows[plain][2:] == ["-", "-", "-", "no balance API"]
    assert rows[off][2:] == ["-", "-", "-", "disabled: not checked"]
    assert WRONG_KEY not in result.output
    assert len(deepseek.seen) == 1
