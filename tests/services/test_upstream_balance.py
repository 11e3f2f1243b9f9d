"""Upstream balances against the local fakes of each provider's balance endpoint, on SQLite
and PostgreSQL: reading, storing (a failure beside the last amount) and the low-balance
alert, once per crossing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from burncloud.cli.channel_balance import httpx_getter
from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import InvalidRequest, UpstreamError
from burncloud.services import channels
from burncloud.services.alerts import hooks
from burncloud.services.balance_apis import BALANCE_APIS
from burncloud.services.balances_api import READERS, Access, Getter, Reply, read_balance
from burncloud.services.balances_api.openrouter import NO_LIMIT
from burncloud.services.channel_keys import list_keys, set_key_status, write_key_status
from burncloud.services.channels import UrlCheck
from burncloud.services.upstream_balance import (
    StoredBalance,
    check_all,
    check_balance,
    stored_balance,
    stored_balances,
)
from tests.fakes.balance_servers import (
    FAKES,
    BalanceServer,
    FakeDeepSeek,
    FakeMoonshot,
    FakeOneApi,
    FakeOpenRouter,
    FakeSiliconFlow,
)
from tests.gateway.quota_db import BACKENDS, OpenDb, database_factory

BOX = SecretBox.from_passphrase("test-secret")
T0 = 1_800_000_000  # 2027-01-15T08:00:00Z
WRONG_KEY = "sk-canary-wrong-Zq7DistinctiveKey-8842"
EXPECTED = {  # what each fake's documented example answer is worth
    "openrouter": ("74.75", "USD"),
    "deepseek": ("110.00", "CNY"),
    "siliconflow": ("88.88", "CNY"),
    "moonshot": ("49.58894", "CNY"),
    "openai-billing": ("37.66", "USD"),
}
PATHS = {
    "openrouter": ["/api/v1/credits"],
    "deepseek": ["/user/balance"],
    "siliconflow": ["/v1/user/info"],
    "moonshot": ["/v1/users/me/balance"],
    "openai-billing": ["/v1/dashboard/billing/subscription", "/v1/dashboard/billing/usage"],
}


@pytest.fixture(params=BACKENDS)
async def connect(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    async with database_factory(request.param, tmp_path) as opener:
        yield opener


@pytest.fixture
async def db(connect: OpenDb) -> Database:
    return await connect()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


def fake_for(api: str) -> BalanceServer:
    return FakeOpenRouter(management=True) if api == "openrouter" else FAKES[api]()


async def add(
    db: Database, fake: BalanceServer, api: str | None, key: str | None = None, **fields: Any
) -> int:
    options: dict[str, Any] = {"balance_api": api} if api else {}
    channel = await channels.add_channel(
        db,
        BOX,
        type="openai-compatible",
        name=f"ch-{len(await channels.list_channels(db)) + 1}",
        key=key or fake.key,
        models=["m1"],
        base_url=fake.base_url,
        **options,
        **fields,
    )
    return channel.id


async def check(
    db: Database,
    channel_id: int,
    get: Getter,
    alert_below: Decimal = Decimal(0),
    check_url: UrlCheck | None = None,
) -> StoredBalance:
    return await check_balance(
        db, BOX, channel_id, get, alert_below=alert_below, check_url=check_url, clock=lambda: T0
    )


async def events(db: Database) -> list[dict]:
    return await db.fetch_all(
        "SELECT * FROM alert_events WHERE kind = 'upstream-balance' ORDER BY id"
    )


class Canned:
    """A Getter answering from memory (as httpx's MockTransport): the URLs it was asked."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.reply = Reply(status, body)
        self.urls: list[str] = []

    async def __call__(self, url: str, headers: Mapping[str, str]) -> Reply:
        self.urls.append(url)
        return self.reply


def test_every_balance_api_has_a_reader() -> None:
    assert set(READERS) == set(BALANCE_APIS) == set(FAKES)


@pytest.mark.parametrize("api", BALANCE_APIS)
async def test_each_api_reads_its_documented_answer(
    db: Database, http: httpx.AsyncClient, api: str
) -> None:
    async with fake_for(api) as fake:
        channel_id = await add(db, fake, api)
        stored = await check(db, channel_id, httpx_getter(http))
    assert stored.error == ""
    assert (str(stored.amount), stored.currency) == EXPECTED[api]
    assert (stored.api, stored.checked_at) == (api, T0)
    assert [seen.path for seen in fake.seen] == PATHS[api]
    assert {seen.authorization for seen in fake.seen} == {f"Bearer {fake.key}"}
    assert await stored_balance(db, channel_id) == stored


async def test_details_keep_what_the_provider_said(db: Database, http: httpx.AsyncClient) -> None:
    async with FakeDeepSeek() as deepseek, FakeMoonshot() as moonshot:
        deepseek.infos.append(("USD", "3.50", "0.00", "3.50"))
        first = await add(db, deepseek, "deepseek")
        second = await add(db, moonshot, "moonshot")
        await check(db, first, httpx_getter(http))
        await check(db, second, httpx_getter(http))
    stored = await stored_balances(db)
    assert stored[first].details == {
        "is_available": True,
        "balances": [
            {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00",
             "topped_up_balance": "100.00"},
            {"currency": "USD", "total_balance": "3.50", "granted_balance": "0.00",
             "topped_up_balance": "3.50"},
        ],
    }  # fmt: skip
    assert stored[second].details == {"voucher_balance": "46.58893", "cash_balance": "3.00001"}


async def test_an_openrouter_inference_key_is_worth_its_own_limit(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeOpenRouter(management=False) as fake:
        channel_id = await add(db, fake, "openrouter")
        limited = await check(db, channel_id, httpx_getter(http))
        fake.limit = None
        unlimited = await check(db, channel_id, httpx_getter(http))
    assert (str(limited.amount), limited.currency, limited.error) == ("74.5", "USD", "")
    assert limited.details == {
        "source": "key", "limit": "100", "usage": "25.5", "limit_reset": "monthly",
    }  # fmt: skip
    assert [seen.path for seen in fake.seen[:2]] == ["/api/v1/credits", "/api/v1/key"]
    assert unlimited.error == NO_LIMIT
    assert unlimited.amount == Decimal("74.5")  # the last amount read stays


@pytest.mark.parametrize("api", BALANCE_APIS)
async def test_a_refused_key_is_stored_as_one_masked_line(
    db: Database, http: httpx.AsyncClient, api: str
) -> None:
    async with fake_for(api) as fake:
        channel_id = await add(db, fake, api, key=WRONG_KEY)
        stored = await check(db, channel_id, httpx_getter(http))
    assert stored.amount is None
    assert "refused the key (401)" in stored.error
    assert WRONG_KEY not in stored.error and fake.base_url not in stored.error
    assert "\n" not in stored.error


async def test_a_failed_check_keeps_the_last_amount_until_one_succeeds(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeSiliconFlow() as fake:
        channel_id = await add(db, fake, "siliconflow")
        await check(db, channel_id, httpx_getter(http))
        fake.outage = True
        failed = await check(db, channel_id, httpx_getter(http))
        fake.outage, fake.total_balance = False, "12.00"
        again = await check(db, channel_id, httpx_getter(http))
    assert failed.error == "SiliconFlow answered 503: upstream connect error or disconnect"
    assert (failed.amount, failed.currency) == (Decimal("88.88"), "CNY")
    assert (again.amount, again.error) == (Decimal("12.00"), "")


async def test_an_unreachable_upstream_is_a_stored_error(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeMoonshot() as fake:
        channel_id = await add(db, fake, "moonshot")
    stored = await check(db, channel_id, httpx_getter(http))  # the fake is gone
    assert stored.error == "the upstream is unreachable (could not connect)"


async def test_the_reseller_window_is_one_apis(db: Database, http: httpx.AsyncClient) -> None:
    async with FakeOneApi() as fake:
        channel_id = await add(db, fake, "openai-billing")
        await check(db, channel_id, httpx_getter(http))
        fake.has_payment_method = False
        await check(db, channel_id, httpx_getter(http))
    windows = [seen.query for seen in fake.seen if seen.path.endswith("/usage")]
    assert windows == [
        {"start_date": "2027-01-01", "end_date": "2027-01-15"},
        {"start_date": "2026-10-07", "end_date": "2027-01-15"},  # 100 days back
    ]


async def test_an_unlimited_reseller_key_has_no_balance(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeOneApi() as fake:
        fake.unlimited = True
        channel_id = await add(db, fake, "openai-billing")
        stored = await check(db, channel_id, httpx_getter(http))
    assert stored.amount is None
    assert "unlimited key" in stored.error
    assert [seen.path for seen in fake.seen] == ["/v1/dashboard/billing/subscription"]


async def test_a_channel_without_a_balance_api_says_how_to_set_one(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeDeepSeek() as fake:
        channel_id = await add(db, fake, None)
        with pytest.raises(InvalidRequest, match=r"has no balance API.*--balance-api"):
            await check(db, channel_id, httpx_getter(http))
    assert fake.seen == [] and await stored_balance(db, channel_id) is None


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("https://api.deepseek.com", "https://api.deepseek.com/user/balance"),
        ("https://api.deepseek.com/v1", "https://api.deepseek.com/user/balance"),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1/credits"),
        ("https://api.siliconflow.cn/v1", "https://api.siliconflow.cn/v1/user/info"),
        ("https://api.moonshot.ai/v1", "https://api.moonshot.ai/v1/users/me/balance"),
    ],
)
async def test_the_host_names_the_balance_api(db: Database, base_url: str, url: str) -> None:
    canned = Canned(b'{"error": {"message": "nope"}}', status=500)
    channel = await channels.add_channel(
        db, BOX, type="openai-compatible", name="hosted", key="sk-x-0001", models=["m"],
        base_url=base_url,
    )  # fmt: skip
    stored = await check(db, channel.id, canned)
    assert canned.urls == [url]
    assert stored.error.endswith("answered 500: nope")


@pytest.mark.parametrize(
    ("reader", "base_url", "currency"),
    [
        ("moonshot", "https://api.moonshot.ai/v1", "USD"),
        ("moonshot", "https://api.moonshot.cn/v1", "CNY"),
        ("siliconflow", "https://api.siliconflow.com/v1", "USD"),
        ("siliconflow", "https://api.siliconflow.cn/v1", "CNY"),
    ],
)
async def test_the_site_names_the_currency(reader: str, base_url: str, currency: str) -> None:
    bodies = {
        "moonshot": b'{"code":0,"data":{"available_balance":1.5,"voucher_balance":1,'
        b'"cash_balance":0.5},"scode":"0x0","status":true}',
        "siliconflow": b'{"code":20000,"message":"OK","status":true,"data":{"balance":"1",'
        b'"chargeBalance":"0.5","totalBalance":"1.5","status":"normal"}}',
    }
    access = Access(base_url, "sk-x", date(2027, 1, 15))
    balance = await read_balance(reader, access, Canned(bodies[reader]))
    assert (balance.amount, balance.currency) == (Decimal("1.5"), currency)


async def test_a_proxy_names_its_currency_in_the_channel_config(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeMoonshot() as fake:
        channel_id = await add(db, fake, "moonshot", config={"balance_currency": "USD"})
        stored = await check(db, channel_id, httpx_getter(http))
    assert (stored.amount, stored.currency) == (Decimal("49.58894"), "USD")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"data": {"total_credits": "lots", "total_usage": 1}}', b"{}"],
)
async def test_an_answer_that_is_not_a_balance_is_an_error(body: bytes) -> None:
    access = Access("https://openrouter.ai/api/v1", "sk-x", date(2027, 1, 15))
    with pytest.raises(UpstreamError, match=r"^OpenRouter answered"):
        await read_balance("openrouter", access, Canned(body))


async def test_the_address_guard_runs_before_anything_is_sent(
    db: Database, http: httpx.AsyncClient
) -> None:
    async def refuse(url: str) -> None:
        raise InvalidRequest("base URL host 127.0.0.1 is refused")

    async with FakeDeepSeek() as fake:
        channel_id = await add(db, fake, "deepseek")
        stored = await check(db, channel_id, httpx_getter(http), check_url=refuse)
    assert stored.error == "base URL host 127.0.0.1 is refused"
    assert fake.seen == []


async def test_a_channel_out_of_credit_is_asked_with_its_taken_out_key(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeDeepSeek() as fake:
        channel_id = await add(db, fake, "deepseek")
        (key,) = await list_keys(db, channel_id)
        async with db.transaction() as tx:
            await write_key_status(tx, key.id, "auto_disabled", "insufficient balance")
        stored = await check(db, channel_id, httpx_getter(http))
    assert (stored.amount, stored.error) == (Decimal("110.00"), "")


async def test_an_operator_disabled_key_is_never_used(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeDeepSeek() as fake:
        channel = await channels.add_channel(
            db, BOX, type="openai-compatible", name="two", key=[WRONG_KEY, fake.key],
            models=["m"], base_url=fake.base_url, balance_api="deepseek",
        )  # fmt: skip
        first, _ = await list_keys(db, channel.id)
        await set_key_status(db, channel.id, first.id, "disabled")
        stored = await check(db, channel.id, httpx_getter(http))
    assert stored.error == ""
    assert {seen.authorization for seen in fake.seen} == {f"Bearer {fake.key}"}


async def test_check_all_skips_disabled_channels_and_those_without_an_api(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeDeepSeek() as deepseek, FakeMoonshot() as moonshot:
        checked = await add(db, deepseek, "deepseek")
        disabled = await add(db, moonshot, "moonshot")
        await channels.disable_channel(db, disabled)
        await add(db, moonshot, None)
        outcomes = await check_all(
            db, BOX, httpx_getter(http), alert_below=Decimal(0), clock=lambda: T0
        )
    assert [(one.channel_id, one.amount) for one in outcomes] == [(checked, Decimal("110.00"))]
    assert moonshot.seen == []


async def test_a_low_balance_alerts_once_per_crossing(
    db: Database, http: httpx.AsyncClient
) -> None:
    hook, _ = await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/", events="upstream-balance")
    async with FakeSiliconFlow() as fake:
        channel_id = await add(db, fake, "siliconflow")
        amounts = ["88.88", "50.00", "120.00", "99.99"]
        alerted = []
        for amount in amounts:
            fake.total_balance = amount
            stored = await check(db, channel_id, httpx_getter(http), alert_below=Decimal(100))
            alerted.append((stored.alerted_below, len(await events(db))))
    assert alerted == [(True, 1), (True, 1), (False, 1), (True, 2)]
    first = (await events(db))[0]
    assert first["text"] == (
        f"channel {channel_id} (ch-1): upstream balance 88.88 CNY is below 100 CNY"
    )
    deliveries = await db.fetch_all("SELECT hook_id FROM alert_deliveries")
    assert [row["hook_id"] for row in deliveries] == [hook.id, hook.id]


async def test_the_channel_threshold_wins_over_the_default(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeDeepSeek() as fake:
        own = await add(db, fake, "deepseek", balance_alert_below="100.5")
        default = await add(db, fake, "deepseek")
        await check(db, own, httpx_getter(http), alert_below=Decimal(1000))
        await check(db, default, httpx_getter(http), alert_below=Decimal(1000))
    raised = await events(db)
    assert [row["dedupe_key"] for row in raised] == [f"upstream-balance:{default}:0"]


async def test_a_failed_check_neither_alerts_nor_rearms(
    db: Database, http: httpx.AsyncClient
) -> None:
    async with FakeDeepSeek() as fake:
        channel_id = await add(db, fake, "deepseek")
        low = await check(db, channel_id, httpx_getter(http), alert_below=Decimal(200))
        fake.outage = True
        failed = await check(db, channel_id, httpx_getter(http), alert_below=Decimal(200))
        fake.outage = False
        again = await check(db, channel_id, httpx_getter(http), alert_below=Decimal(200))
    assert (low.alerted_below, failed.alerted_below, again.alerted_below) == (True, True, True)
    assert len(await events(db)) == 1


async def test_routers_racing_on_one_crossing_raise_one_event(
    connect: OpenDb, http: httpx.AsyncClient
) -> None:
    first, second = await connect(), await connect()
    async with FakeMoonshot() as fake:
        channel_id = await add(first, fake, "moonshot")
        await asyncio.gather(
            *(
                check(db, channel_id, httpx_getter(http), alert_below=Decimal(100))
                for db in (first, second, first, second)
            )
        )
    assert len(await events(first)) == 1


@pytest.mark.parametrize(
    ("amount", "error", "alerted", "cell"),
    [
        (None, "", False, "-"),
        (None, "DeepSeek refused the key (401)", False, "check failed"),
        (Decimal("110.00"), "", False, "110.00 CNY"),
        (Decimal("8.5"), "", True, "8.5 CNY (low)"),
        (Decimal("8.5"), "DeepSeek answered 503", True, "8.5 CNY (low, stale)"),
        (Decimal("1E+2"), "DeepSeek answered 503", False, "100 CNY (stale)"),
    ],
)
def test_one_cell_says_the_amount_and_whether_it_is_low_or_stale(
    amount: Decimal | None, error: str, alerted: bool, cell: str
) -> None:
    stored = StoredBalance(1, "deepseek", amount, "CNY", error=error, alerted_below=alerted)
    assert stored.cell() == cell
