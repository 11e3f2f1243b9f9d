"""/api/channels/<id>/balance and /api/channels/balances on a running router, against the
local balance fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.services import channels
from tests.admin.conftest import client
from tests.fakes.balance_servers import BalanceServer, FakeDeepSeek, FakeMoonshot
from tests.gateway.router_harness import SECRET, RunningRouter

BOX = SecretBox.from_passphrase(SECRET)
WRONG_KEY = "sk-canary-wrong-admin-balance-4410"


@pytest.fixture
async def deepseek() -> AsyncIterator[FakeDeepSeek]:
    async with FakeDeepSeek() as fake:
        yield fake


async def add(db: Database, fake: BalanceServer, name: str, api: str, **fields: Any) -> int:
    channel = await channels.add_channel(
        db,
        BOX,
        type="openai-compatible",
        name=name,
        key=fields.pop("key", fake.key),
        models=["m1"],
        base_url=fake.base_url,
        balance_api=api,
        **fields,
    )
    return channel.id


async def test_a_check_made_now_is_read_back(
    admin: httpx.AsyncClient, router_db: Database, deepseek: FakeDeepSeek
) -> None:
    channel_id = await add(router_db, deepseek, "ds", "deepseek")
    checked = await admin.post(f"/api/channels/{channel_id}/balance")
    assert checked.status_code == 200, checked.text
    shown = checked.json()
    assert {key: shown[key] for key in ("channel_id", "name", "api", "amount", "currency")} == {
        "channel_id": channel_id,
        "name": "ds",
        "api": "deepseek",
        "amount": "110.00",
        "currency": "CNY",
    }
    assert shown["error"] == "" and isinstance(shown["checked_at"], int)
    assert (await admin.get(f"/api/channels/{channel_id}/balance")).json() == shown
    listed = (await admin.get("/api/channels/balances")).json()["data"]
    assert listed == [shown]  # channel 1 has no balance API and no check: not listed
    assert [seen.authorization for seen in deepseek.seen] == [f"Bearer {deepseek.key}"]


async def test_a_channel_never_checked_shows_no_amount(
    admin: httpx.AsyncClient, router_db: Database
) -> None:
    async with FakeMoonshot() as moonshot:
        channel_id = await add(router_db, moonshot, "kimi", "moonshot")
        shown = (await admin.get(f"/api/channels/{channel_id}/balance")).json()
        listed = (await admin.get("/api/channels/balances")).json()["data"]
    assert (shown["api"], shown["amount"], shown["checked_at"]) == ("moonshot", None, None)
    assert listed == [shown]
    assert moonshot.seen == []


async def test_a_failed_check_answers_200_with_its_error(
    admin: httpx.AsyncClient, router_db: Database, deepseek: FakeDeepSeek
) -> None:
    channel_id = await add(router_db, deepseek, "ds", "deepseek", key=WRONG_KEY)
    reply = await admin.post(f"/api/channels/{channel_id}/balance")
    assert reply.status_code == 200, reply.text
    assert reply.json()["amount"] is None
    assert reply.json()["error"].startswith("DeepSeek refused the key (401)")
    assert WRONG_KEY not in reply.text


async def test_a_channel_without_a_balance_api_is_a_400(admin: httpx.AsyncClient) -> None:
    reply = await admin.post("/api/channels/1/balance")  # the harness's plain openai channel
    assert reply.status_code == 400
    assert "has no balance API" in reply.json()["error"]["message"]
    shown = (await admin.get("/api/channels/1/balance")).json()
    assert (shown["api"], shown["amount"]) == (None, None)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_unknown_channel_is_a_404(admin: httpx.AsyncClient, method: str) -> None:
    reply = await admin.request(method, "/api/channels/42/balance")
    assert reply.status_code == 404
    assert reply.json()["error"]["message"] == "no channel with id 42"


async def test_a_check_takes_no_fields(admin: httpx.AsyncClient) -> None:
    reply = await admin.post("/api/channels/1/balance", json={"force": True})
    assert reply.status_code == 400
    assert "unknown field 'force'" in reply.json()["error"]["message"]


async def test_balances_are_for_admins_only(router: RunningRouter, user_key: str) -> None:
    paths = (("GET", "/api/channels/balances"), ("POST", "/api/channels/1/balance"))
    async with client(router, user_key) as http:
        for method, path in paths:
            assert (await http.request(method, path)).status_code == 403
