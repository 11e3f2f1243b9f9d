"""/api/channels/<id>/models and /models/sync through a real router, against a strict local
fake of OpenAI's model listing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.services.channels import add_channel
from tests.admin.conftest import client
from tests.fakes.model_lists import OPENAI_KEY, FakeOpenAIModels
from tests.gateway.router_harness import SECRET, RunningRouter

WRONG_KEY = "sk-canary-wrong-Zq7DistinctivePlaintext-8842"


@pytest.fixture
async def listing() -> AsyncIterator[FakeOpenAIModels]:
    async with FakeOpenAIModels(models=["gpt-4", "gpt-4o", "o3-mini"]) as fake:
        yield fake


async def add(db: Database, base_url: str, models: list[str], key: str = OPENAI_KEY) -> int:
    box = SecretBox.from_passphrase(SECRET)
    channel = await add_channel(
        db, box, type="openai", name=f"listed-{key[-4:]}", key=key, models=models, base_url=base_url
    )
    return channel.id


async def test_the_models_are_listed_with_their_prices(admin, router_db) -> None:
    channel = await add(router_db, "http://127.0.0.1:9/v1", ["gpt-4", "gpt-5"])
    reply = await admin.get(f"/api/channels/{channel}/models")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "channel_id": channel,
        "models": [
            {"model": "gpt-4", "upstream": "gpt-4", "priced": True},  # the harness prices gpt-4
            {"model": "gpt-5", "upstream": "gpt-5", "priced": False},
        ],
    }


async def test_fetch_asks_the_upstream(admin, router_db, listing: FakeOpenAIModels) -> None:
    channel = await add(router_db, listing.api_base, ["gpt-4"])
    reply = await admin.get(f"/api/channels/{channel}/models", params={"fetch": "1"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["source"], body["ignored"]) == ("upstream", [])
    assert body["models"] == [
        {"model": "gpt-4", "served_as": "gpt-4", "priced": True},
        {"model": "gpt-4o", "served_as": None, "priced": False},
        {"model": "o3-mini", "served_as": None, "priced": False},
    ]
    assert listing.requests[-1].headers["authorization"] == f"Bearer {OPENAI_KEY}"


async def test_a_dry_run_then_a_sync(admin, router_db, listing: FakeOpenAIModels) -> None:
    channel = await add(router_db, listing.api_base, ["gpt-4", "old"])
    dry = await admin.post(f"/api/channels/{channel}/models/sync", json={"dry_run": True})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["added"], dry.json()["removed"]) == (["gpt-4o", "o3-mini"], ["old"])
    assert (await admin.get(f"/api/channels/{channel}")).json()["models"] == ["gpt-4", "old"]

    done = await admin.post(f"/api/channels/{channel}/models/sync", json={"add_only": True})
    assert done.status_code == 200, done.text
    assert (done.json()["applied"], done.json()["removed"]) == (True, [])
    assert done.json()["unpriced"] == ["old", "gpt-4o", "o3-mini"]
    shown = (await admin.get(f"/api/channels/{channel}")).json()
    assert shown["models"] == ["gpt-4", "old", "gpt-4o", "o3-mini"]


async def test_a_refused_key_is_a_502_without_the_key(
    admin, router_db, listing: FakeOpenAIModels
) -> None:
    channel = await add(router_db, listing.api_base, ["gpt-4"], key=WRONG_KEY)
    reply = await admin.post(f"/api/channels/{channel}/models/sync", json={})
    assert reply.status_code == 502
    assert "HTTP 401" in reply.json()["error"]["message"] and WRONG_KEY not in reply.text


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/api/channels/99/models", None, 404, "no channel with id 99"),
        ("GET", "/api/channels/1/models?fetch=maybe", None, 400, "must be 1 or 0"),
        ("POST", "/api/channels/99/models/sync", {}, 404, "no channel with id 99"),
        ("POST", "/api/channels/1/models/sync", {"add_only": "yes"}, 400, "true or false"),
        ("POST", "/api/channels/1/models/sync", {"prune": True}, 400, "unknown field"),
    ],
)
async def test_bad_requests_are_refused(admin, method, path, body, status, message) -> None:
    reply = await admin.request(method, path, json=body)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/channels/1/models?fetch=1"), ("POST", "/api/channels/1/models/sync")],
)
async def test_only_admin_keys_may_list_or_sync(
    router: RunningRouter, user_key: str, method: str, path: str
) -> None:
    for key, status in ((None, 401), (user_key, 403), (router.key, 403)):
        async with client(router, key) as http:
            reply = await http.request(method, path, json={})
        assert reply.status_code == status, (key, reply.text)


def test_the_routes_load_no_httpx_until_asked() -> None:
    """A router worker loads httpx only when a listing is asked for, never to start."""
    code = (
        "import sys; import burncloud.server, burncloud.admin.channel_models,"
        " burncloud.gateway.upkeep.model_syncer; print('httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
