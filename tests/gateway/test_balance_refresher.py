"""The balance refresher: due channels checked once per interval across routers, over the
router's transport, on SQLite and PostgreSQL; and its GET's failures as one line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import UpstreamError
from burncloud.gateway.egress.transport import AiohttpTransport
from burncloud.gateway.fleet.shared_state import LocalState
from burncloud.gateway.upkeep.balance_refresher import BalanceRefresher, transport_getter
from burncloud.services import channels
from burncloud.services.timeouts import Timeouts
from burncloud.services.upstream_balance import stored_balances
from tests.fakes.balance_servers import BalanceServer, FakeDeepSeek, FakeMoonshot
from tests.gateway.quota_db import BACKENDS, OpenDb, database_factory

BOX = SecretBox.from_passphrase("test-secret")
T0 = 1_800_000_000
WRONG_KEY = "sk-canary-wrong-balance-key-7731"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture(params=BACKENDS)
async def connect(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    async with database_factory(request.param, tmp_path) as opener:
        yield opener


@pytest.fixture
async def db(connect: OpenDb) -> Database:
    return await connect()


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    opened = AiohttpTransport.open(allow_private=False)  # loopback passes the guard
    try:
        yield opened
    finally:
        await opened.close()


def refresher(
    db: Database, transport: AiohttpTransport, clock: Clock, **options: Any
) -> BalanceRefresher:
    options.setdefault("alert_below", Decimal(0))
    return BalanceRefresher(db, BOX, LocalState(), transport, every=3600, clock=clock, **options)


async def add(db: Database, fake: BalanceServer, api: str | None, **fields: Any) -> int:
    options: dict[str, Any] = {"balance_api": api} if api else {}
    channel = await channels.add_channel(
        db,
        BOX,
        type="openai-compatible",
        name=f"ch-{len(await channels.list_channels(db)) + 1}",
        key=fields.pop("key", fake.key),
        models=["m1"],
        base_url=fake.base_url,
        **options,
        **fields,
    )
    return channel.id


async def test_due_channels_are_checked_once_per_interval(
    db: Database, transport: AiohttpTransport
) -> None:
    clock = Clock()
    async with FakeDeepSeek() as deepseek, FakeMoonshot() as moonshot:
        hourly = await add(db, deepseek, "deepseek")
        often = await add(db, moonshot, "moonshot", balance_every=600)
        await add(db, moonshot, None)  # no balance API
        await add(db, moonshot, "moonshot", balance_every=0)  # never
        disabled = await add(db, moonshot, "moonshot")
        await channels.disable_channel(db, disabled)
        rounds = refresher(db, transport, clock)
        checked = []
        for at in (T0, T0 + 60, T0 + 599, T0 + 600, T0 + 1199, T0 + 3600):
            clock.now = at
            checked.append(sorted(one.channel_id for one in await rounds.refresh_once()))
    assert checked == [[hourly, often], [], [], [often], [], [hourly, often]]
    assert len(deepseek.seen) == 2 and len(moonshot.seen) == 3


async def test_routers_racing_check_each_channel_once(
    connect: OpenDb, transport: AiohttpTransport
) -> None:
    clock = Clock()
    first, second = await connect(), await connect()
    async with FakeDeepSeek() as deepseek, FakeMoonshot() as moonshot:
        for fake, api in ((deepseek, "deepseek"), (moonshot, "moonshot")):
            await add(first, fake, api)
        routers = [refresher(db, transport, clock) for db in (first, second, first, second)]
        done = await asyncio.gather(*(router.refresh_once() for router in routers))
    assert sorted(one.channel_id for outcomes in done for one in outcomes) == [1, 2]
    assert (len(deepseek.seen), len(moonshot.seen)) == (1, 1)


async def test_a_failing_check_is_stored_and_the_round_goes_on(
    db: Database, transport: AiohttpTransport
) -> None:
    async with FakeDeepSeek() as fake:
        refused = await add(db, fake, "deepseek", key=WRONG_KEY)
        fine = await add(db, fake, "deepseek")
        await refresher(db, transport, Clock()).refresh_once()
    stored = await stored_balances(db)
    assert stored[refused].error.startswith("DeepSeek refused the key (401)")
    assert (stored[fine].amount, stored[fine].error) == (Decimal("110.00"), "")


async def test_check_now_ignores_the_interval_and_alerts(
    db: Database, transport: AiohttpTransport
) -> None:
    clock = Clock()
    async with FakeMoonshot() as fake:
        channel_id = await add(db, fake, "moonshot")
        rounds = refresher(db, transport, clock, alert_below=Decimal(100))
        await rounds.refresh_once()
        fake.available = "10"
        stored = await rounds.check_now(channel_id)
    assert (stored.amount, stored.alerted_below) == (Decimal("10"), True)
    assert len(fake.seen) == 2
    raised = await db.fetch_all("SELECT text FROM alert_events WHERE kind = 'upstream-balance'")
    assert [row["text"] for row in raised] == [
        f"channel {channel_id} (ch-1): upstream balance 49.58894 CNY is below 100 CNY"
    ]


async def test_the_first_round_runs_as_the_worker_starts(
    db: Database, transport: AiohttpTransport
) -> None:
    asleep, never = asyncio.Event(), asyncio.Event()

    async def sleep(delay: float) -> None:  # the wait after the first round
        asleep.set()
        await never.wait()

    async with FakeDeepSeek() as fake:
        channel_id = await add(db, fake, "deepseek")
        rounds = refresher(db, transport, Clock(), sleep=sleep)
        await rounds.start()
        try:
            async with asyncio.timeout(10):  # a guard against a hung test, not a timing wait
                await asleep.wait()
        finally:
            await rounds.stop()
    assert (await stored_balances(db))[channel_id].amount == Decimal("110.00")


class Stalling:
    """A loopback server whose one route answers ``size`` bytes, or with ``stall`` not
    before the server closes."""

    def __init__(self, *, stall: bool = False, size: int = 10) -> None:
        self.size = size
        self._released = asyncio.Event()
        if not stall:
            self._released.set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _answer(self, request: web.Request) -> web.Response:
        await self._released.wait()
        return web.Response(body=b"x" * self.size)

    async def __aenter__(self) -> Stalling:
        app = web.Application()
        app.add_routes([web.get("/balance", self._answer)])
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/balance"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        self._released.set()
        await self._runner.cleanup()


async def test_a_silent_upstream_times_out_as_one_line(transport: AiohttpTransport) -> None:
    get = transport_getter(transport, Timeouts(connect=1.0, first_byte=0.2, idle=0.2))
    async with Stalling(stall=True) as server:
        with pytest.raises(UpstreamError, match=r"^the upstream did not answer within 0\.2 s$"):
            await get(server.url, {})


async def test_an_oversized_answer_is_refused(transport: AiohttpTransport) -> None:
    async with Stalling(size=100 * 1024) as server:
        with pytest.raises(UpstreamError, match="larger than 64 KiB"):
            await transport_getter(transport)(server.url, {})


async def test_an_unreachable_upstream_is_one_line(transport: AiohttpTransport) -> None:
    async with Stalling() as server:
        url = server.url
    with pytest.raises(UpstreamError, match=r"^the upstream is unreachable \(could not connect\)$"):
        await transport_getter(transport)(url, {})
