from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import NotFound
from burncloud.services import channel_test, channels
from burncloud.services.settings import read_config_version
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.key_fragments import fragments_in

BOX = SecretBox.from_passphrase("test-secret")
TESTED_AT = 1_767_225_600
WRONG_KEY = "sk-wrong-Zq7DistinctivePlaintextKey-8842"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_test, "now", lambda: TESTED_AT)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


async def add(db: Database, base_url: str, **changes: object) -> channels.Channel:
    fields: dict = {
        "type": "openai",
        "name": "openai-main",
        "key": "sk-canary-upstream",
        "models": ["gpt-4o-mini"],
        "base_url": base_url,
    }
    fields.update(changes)
    return await channels.add_channel(db, BOX, **fields)


async def counts(db: Database, channel_id: int) -> tuple:
    row = await db.fetch_one("SELECT * FROM channels WHERE id = :id", {"id": channel_id})
    assert row is not None
    return (row["success_count"], row["failure_count"], row["latency_ms"], row["tested_at"])


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_ok_sends_the_minimal_request_and_records_latency_and_success(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI() as fake:
        ch = await add(db, fake.base_url)
        version = await read_config_version(db)
        result = await channel_test.test_channel(db, BOX, ch.id, client=client)
    assert fake.last_request.path == "/v1/chat/completions"
    assert fake.last_request.json == {"model": "gpt-4o-mini", "messages": HI, "max_tokens": 1}
    assert fake.last_request.authorization == "Bearer sk-canary-upstream"
    assert (result.ok, result.status, result.error) == (True, 200, "")
    assert (result.channel_id, result.name, result.type) == (ch.id, "openai-main", "openai")
    assert (result.model, result.upstream_model) == ("gpt-4o-mini", "gpt-4o-mini")
    assert await counts(db, ch.id) == (1, 0, result.latency_ms, TESTED_AT)
    assert await read_config_version(db) == version  # a test never makes routers reload


async def test_wrong_key_records_a_failure_without_the_key(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI() as fake:
        ch = await add(db, fake.base_url, key=WRONG_KEY)
        first = await channel_test.test_channel(db, BOX, ch.id, client=client)
        second = await channel_test.test_channel(db, BOX, ch.id, client=client)
    assert fake.request_count == 2
    assert (first.ok, first.status) == (False, 401)
    assert first.error == "the upstream refused this channel's credentials (HTTP 401)"
    assert WRONG_KEY[-8:] not in first.error
    assert await counts(db, ch.id) == (0, 2, second.latency_ms, TESTED_AT)


async def test_unreachable_upstream_fails_with_a_clear_message_and_a_latency(
    db: Database, client: httpx.AsyncClient
) -> None:
    ch = await add(db, f"http://127.0.0.1:{closed_port()}/v1")
    result = await channel_test.test_channel(db, BOX, ch.id, client=client)
    assert (result.ok, result.status) == (False, None)
    assert result.error == "the upstream is unreachable (could not connect)"
    assert "127.0.0.1" not in result.error
    assert result.latency_ms >= 0
    assert await counts(db, ch.id) == (0, 1, result.latency_ms, TESTED_AT)


async def test_upstream_message_never_carries_the_key_or_base_url(
    db: Database, client: httpx.AsyncClient
) -> None:
    key = "plainkey-7781"  # no sk- prefix, so only the channel test's own scrub can mask it
    async with FakeOpenAI(key) as fake:
        ch = await add(db, fake.base_url, key=key)
        fake.fail_with(400, f"key {key} is not allowed at {fake.base_url}\nfor this org")
        result = await channel_test.test_channel(db, BOX, ch.id, client=client)
    assert (result.ok, result.status) == (False, 400)
    assert result.error == "upstream: key *** is not allowed at *** for this org"


async def test_a_piece_of_the_key_anywhere_in_a_long_message_is_masked_before_the_cut(
    db: Database, client: httpx.AsyncClient
) -> None:
    key = "plainkey-7781-Zq7DistinctivePlaintext"  # not key-like to the provider's own mask
    async with FakeOpenAI(key) as fake:
        ch = await add(db, fake.base_url, key=key)
        for message in (f"a piece {key[4:20]} of it", "y" * 280 + key, "z" * 495 + key):
            fake.fail_with(400, message)
            result = await channel_test.test_channel(db, BOX, ch.id, client=client)
            assert len(result.error) <= channel_test.ERROR_LIMIT
            assert fragments_in(result.error, key) == [] and key[:4] not in result.error


async def test_anthropic_channel_is_tested_through_its_own_provider(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeAnthropic() as fake:
        ch = await add(
            db, fake.base_url, type="anthropic", key=fake.key, models=["claude-3-5-haiku"]
        )
        result = await channel_test.test_channel(db, BOX, ch.id, client=client)
    assert (result.ok, result.status, result.error) == (True, 200, "")
    hi = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert fake.requests == [{"model": "claude-3-5-haiku", "max_tokens": 1, "messages": hi}]
    assert fake.headers[0]["x-api-key"] == fake.key
    assert await counts(db, ch.id) == (1, 0, result.latency_ms, TESTED_AT)


async def test_model_option_and_model_map_decide_what_the_upstream_sees(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI(models=["gpt-4o-mini", "gpt-4"]) as fake:
        ch = await add(
            db,
            fake.base_url,
            models=["fast", "gpt-4o"],
            model_map={"fast": "gpt-4o-mini", "gpt-4o": "gpt-4"},
        )
        default = await channel_test.test_channel(db, BOX, ch.id, client=client)
        chosen = await channel_test.test_channel(db, BOX, ch.id, "gpt-4o", client=client)
    assert [r.json["model"] for r in fake.requests] == ["gpt-4o-mini", "gpt-4"]
    assert (default.model, default.upstream_model, default.ok) == ("fast", "gpt-4o-mini", True)
    assert (chosen.model, chosen.upstream_model, chosen.ok) == ("gpt-4o", "gpt-4", True)


async def test_disabled_channel_can_be_tested_and_stays_disabled(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI() as fake:
        ch = await add(db, fake.base_url)
        await channels.disable_channel(db, ch.id, "maintenance")
        result = await channel_test.test_channel(db, BOX, ch.id, client=client)
    after = await channels.get_channel(db, ch.id)
    assert result.ok
    assert (after.status, after.status_reason, after.success_count) == (
        "disabled",
        "maintenance",
        1,
    )


async def test_failed_test_does_not_disable_the_channel(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI() as fake:
        ch = await add(db, fake.base_url)
        fake.fail_with(500)
        result = await channel_test.test_channel(db, BOX, ch.id, client=client)
    after = await channels.get_channel(db, ch.id)
    assert (result.ok, result.status) == (False, 500)
    assert result.error.startswith("upstream error (HTTP 500): ")
    assert (after.status, after.failure_count) == ("enabled", 1)


async def test_all_channels_returns_every_result_in_id_order(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI() as openai_fake, FakeAnthropic() as anthropic_fake:
        good = await add(db, openai_fake.base_url, name="good")
        bad = await add(db, openai_fake.base_url, name="bad", key=WRONG_KEY)
        claude = await add(
            db,
            anthropic_fake.base_url,
            name="claude",
            type="anthropic",
            key=anthropic_fake.key,
            models=["claude-3-5-haiku"],
        )
        results = await channel_test.test_all_channels(db, BOX, client, concurrency=2)
    assert [(r.channel_id, r.name, r.ok, r.status) for r in results] == [
        (good.id, "good", True, 200),
        (bad.id, "bad", False, 401),
        (claude.id, "claude", True, 200),
    ]
    assert openai_fake.request_count == 2 and len(anthropic_fake.requests) == 1
    assert [(await counts(db, r.channel_id))[:2] for r in results] == [(1, 0), (0, 1), (1, 0)]


async def test_unknown_channel_is_not_found(db: Database, client: httpx.AsyncClient) -> None:
    with pytest.raises(NotFound, match="no channel with id 9"):
        await channel_test.test_channel(db, BOX, 9, client=client)
