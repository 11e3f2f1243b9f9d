"""The model syncer: channels with auto_sync are synced over the router's transport, once
per channel and interval across routers, with the channel-models alert; and its getter
over the relay's Transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import ServiceUnavailable
from burncloud.gateway.egress.transport import AiohttpTransport
from burncloud.gateway.fleet.shared_state import LocalState
from burncloud.gateway.upkeep.model_syncer import ModelSyncer, TransportGetter
from burncloud.services import channels, model_sync
from burncloud.services.audit import AuditFilter, list_changes
from burncloud.services.model_sync import stored_syncs
from tests.fakes.model_lists import OPENAI_KEY, FakeOpenAIModels
from tests.fakes.transport import FakeTransport, Reply

BOX = SecretBox.from_passphrase("test-secret")
T0 = 1_767_225_600
DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """One clock for the claims and the sync records."""
    moved = Clock()
    monkeypatch.setattr(model_sync, "now", moved)
    return moved


@pytest.fixture
async def getter() -> AsyncIterator[TransportGetter]:
    transport = AiohttpTransport.open(allow_private=False)  # loopback passes the guard
    try:
        yield TransportGetter(transport)
    finally:
        await transport.close()


def syncer(db: Database, getter: TransportGetter, clock: Clock) -> ModelSyncer:
    """A router's syncer (a state of its own: another router's workers share nothing)."""
    return ModelSyncer(db, BOX, getter, LocalState(), clock=clock)


async def add(db: Database, base_url: str, models: list[str], **fields: object) -> int:
    channel = await channels.add_channel(
        db,
        BOX,
        type="openai",
        name=str(fields.pop("name", "main")),
        key=str(fields.pop("key", OPENAI_KEY)),
        models=models,
        base_url=base_url,
        **fields,  # type: ignore[arg-type]
    )
    return channel.id


async def test_a_due_channel_is_synced_with_an_alert_and_audited_as_the_syncer(
    db: Database, getter: TransportGetter, clock: Clock
) -> None:
    async with FakeOpenAIModels(models=["gpt-4o", "gpt-5"]) as fake:
        auto = await add(db, fake.api_base, ["gpt-4o", "old"], auto_sync=DAY)
        await add(db, fake.api_base, ["old"], name="by-hand")
        (result,) = await syncer(db, getter, clock).sync_due()
    assert (result.channel_id, result.added, result.removed) == (auto, ("gpt-5",), ("old",))
    assert (await channels.get_channel(db, auto)).models == ("gpt-4o", "gpt-5")
    assert len(fake.requests) == 1  # the channel without auto_sync was left alone
    event = await db.fetch_one("SELECT kind, data FROM alert_events")
    assert event is not None and event["kind"] == "channel-models"
    assert orjson.loads(event["data"])["added"] == ["gpt-5"]
    changes = await list_changes(db, AuditFilter(kind="channel", object_id=str(auto)))
    assert changes[0].actor.startswith("model-sync:") and "models" in changes[0].changes


async def test_two_routers_sync_a_channel_once_per_interval(
    db: Database, getter: TransportGetter, clock: Clock
) -> None:
    async with FakeOpenAIModels(models=["gpt-4o"]) as fake:
        await add(db, fake.api_base, ["gpt-4o"], auto_sync=DAY)
        first, second = syncer(db, getter, clock), syncer(db, getter, clock)
        await asyncio.gather(first.sync_due(), second.sync_due())
        assert len(fake.requests) == 1
        clock.now += DAY - 1
        assert await first.sync_due() == [] and await second.sync_due() == []
        clock.now += 1
        await asyncio.gather(first.sync_due(), second.sync_due())
    assert len(fake.requests) == 2


async def test_one_failing_channel_is_recorded_and_the_others_still_sync(
    db: Database, getter: TransportGetter, clock: Clock
) -> None:
    async with FakeOpenAIModels(models=["gpt-4o", "gpt-5"]) as fake:
        broken = await add(
            db, fake.api_base, ["gpt-4o"], key="sk-canary-wrong-key-0001", auto_sync=DAY
        )
        fine = await add(db, fake.api_base, ["gpt-4o"], name="fine", auto_sync=DAY)
        done = await syncer(db, getter, clock).sync_due()
    assert [result.channel_id for result in done] == [fine]
    records = await stored_syncs(db)
    assert "HTTP 401" in records[broken].error and records[fine].error == ""
    assert (await channels.get_channel(db, broken)).models == ("gpt-4o",)


async def test_the_task_syncs_as_it_starts(
    db: Database, getter: TransportGetter, clock: Clock
) -> None:
    resting = asyncio.Event()

    async def sleep(_delay: float) -> None:  # the wait after the first round: never ends
        resting.set()
        await asyncio.Event().wait()

    async with FakeOpenAIModels(models=["gpt-4o", "gpt-5"]) as fake:
        auto = await add(db, fake.api_base, ["gpt-4o"], auto_sync=DAY)
        running = ModelSyncer(db, BOX, getter, LocalState(), clock=clock, sleep=sleep)
        await running.start()
        try:
            async with asyncio.timeout(10):  # a guard against a hung test, not a timing wait
                await resting.wait()
        finally:
            await running.stop()
    assert (await channels.get_channel(db, auto)).models == ("gpt-4o", "gpt-5")


async def test_the_getter_reads_a_whole_answer_with_a_get() -> None:
    transport = FakeTransport(
        lambda _sent: Reply(parts=[b'{"data":', b" []}"], headers={"Retry-After": "3"})
    )
    fetched = await TransportGetter(transport).get("http://up/v1/models", {"A": "b"})
    assert (fetched.status, fetched.body, fetched.retry_after) == (200, b'{"data": []}', "3")
    (sent,) = transport.sent
    assert (sent.method, sent.url, sent.headers) == ("GET", "http://up/v1/models", {"A": "b"})
    assert transport.answers[0].released


@pytest.mark.parametrize(
    ("transport", "message"),
    [
        (FakeTransport(unreachable=True), "unreachable"),
        (FakeTransport(lambda _sent: Reply(parts=[b"{", b"}"], break_after=1)), "failed"),
    ],
)
async def test_the_getter_turns_a_missing_answer_into_one_line(
    transport: FakeTransport, message: str
) -> None:
    with pytest.raises(ServiceUnavailable, match=message) as failed:
        await TransportGetter(transport).get("http://secret-host/v1/models", {})
    assert "secret-host" not in failed.value.message
