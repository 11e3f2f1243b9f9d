"""/api/tokens and their quotas: the key is shown once, works at once, and its hash never."""

from __future__ import annotations

import hashlib

import pytest

from tests.admin.conftest import client, eventually

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}


async def _chat_status(router, key: str) -> int:
    async with client(router, key) as http:
        return (await http.post("/v1/chat/completions", json=CHAT)).status_code


async def test_a_token_created_through_the_api_works_within_two_seconds(router, admin) -> None:
    reply = await admin.post("/api/tokens", json={"name": "app", "quota": "1.5"})
    assert reply.status_code == 201, reply.text
    created = reply.json()
    key = created["key"]
    assert key.startswith("sk-") and created["key_hint"] != key
    assert (created["name"], created["quota"], created["used"]) == ("app", "1.5", "0")

    async def works() -> bool:
        return await _chat_status(router, key) == 200

    await eventually(works)

    async def billed() -> bool:
        return (await admin.get(f"/api/tokens/{created['id']}")).json()["used"] == "0.015"

    await eventually(billed)
    shown = await admin.get(f"/api/tokens/{created['id']}")
    for body in (shown.text, (await admin.get("/api/tokens")).text):
        assert key not in body
        assert hashlib.sha256(key.encode()).hexdigest() not in body
        assert "key_hash" not in body


async def test_token_round_trip(admin) -> None:
    created = (
        await admin.post(
            "/api/tokens",
            json={
                "name": "ci",
                "user": "admin",
                "quota": 2,
                "expires": "2999-01-31",
                "models": "gpt-4,gpt-4o",
                "ips": ["10.0.0.1", "192.168.0.0/16"],
            },
        )
    ).json()
    tid = created["id"]
    assert created["models"] == ["gpt-4", "gpt-4o"]
    assert created["ips"] == ["10.0.0.1/32", "192.168.0.0/16"]
    assert created["quota"] == "2" and created["expires"] > 0

    updated = await admin.patch(
        f"/api/tokens/{tid}",
        json={"name": "ci-2", "quota": "-1", "expires": -1, "models": [], "rpm": 60, "tpm": -1},
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["name"], body["quota"], body["expires"], body["models"]) == ("ci-2", "-1", -1, [])
    assert (body["rpm"], body["tpm"]) == (60, None)

    revoked = await admin.post(f"/api/tokens/{tid}/revoke")
    assert revoked.json()["status"] == "revoked"
    ids = [
        t["id"] for t in (await admin.get("/api/tokens", params={"user": "admin"})).json()["data"]
    ]
    assert tid in ids
    assert (await admin.delete(f"/api/tokens/{tid}")).json() == {"id": tid, "deleted": True}
    assert (await admin.get(f"/api/tokens/{tid}")).status_code == 404


async def test_a_revoked_token_stops_working_within_two_seconds(router, admin) -> None:
    assert await _chat_status(router, router.key) == 200
    assert (await admin.post(f"/api/tokens/{router.token_id}/revoke")).status_code == 200

    async def refused() -> bool:
        return await _chat_status(router, router.key) == 401

    await eventually(refused)


async def test_listing_another_users_tokens(admin, user_key) -> None:
    alices = (await admin.get("/api/tokens?user=alice")).json()["data"]
    assert [t["name"] for t in alices] == ["alice-key"]
    assert user_key not in str(alices)
    assert (await admin.get("/api/tokens?user=nobody")).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name is required"),
        ({"name": "  "}, "needs a name"),
        ({"name": "x", "quota": "-2"}, "negative"),
        ({"name": "x", "quota": "1.0000000001"}, "9 decimal places"),
        ({"name": "x", "quota": "lots"}, "not a decimal"),
        ({"name": "x", "quota": True}, "decimal string"),
        ({"name": "x", "expires": "2001-01-01"}, "in the past"),
        ({"name": "x", "ips": "10.0.0.1/8"}, "host bits"),
        ({"name": "x", "user": "nobody"}, "no user"),
        ({"name": "x", "key": "sk-chosen"}, "unknown field 'key'"),
    ],
)
async def test_invalid_tokens_are_refused(admin, body, message) -> None:
    reply = await admin.post("/api/tokens", json=body)
    assert reply.status_code in (400, 404), reply.text
    assert message in reply.json()["error"]["message"]


async def test_invalid_token_updates_are_refused(admin, router) -> None:
    for body, message in [
        ({"rpm": 0}, "positive"),
        ({"rpm": "60"}, "integer"),
        ({"tpm": 2**63}, "integer"),
        ({}, "nothing to update"),
    ]:
        reply = await admin.patch(f"/api/tokens/{router.token_id}", json=body)
        assert reply.status_code == 400 and message in reply.json()["error"]["message"]


async def test_quota_show_add_and_set(admin, router) -> None:
    path = f"/api/tokens/{router.token_id}/quota"
    assert (await admin.get(path)).json() == {
        "id": router.token_id,
        "name": "test",
        "quota": "-1",
        "held_by_routers": "0",
        "used": "0",
    }
    unlimited = await admin.post(f"{path}/add", json={"amount": "1"})
    assert unlimited.status_code == 400 and "unlimited" in unlimited.json()["error"]["message"]
    assert (await admin.put(path, json={"amount": "0.5"})).json()["quota"] == "0.5"
    assert (await admin.post(f"{path}/add", json={"amount": 0.1})).json()["quota"] == "0.6"
    assert (await admin.post(f"{path}/add", json={"amount": "-0.25"})).json()["quota"] == "0.35"
    below = await admin.post(f"{path}/add", json={"amount": "-1"})
    assert below.status_code == 400 and "below zero" in below.json()["error"]["message"]
    assert (await admin.put(path, json={"amount": "-1"})).json()["quota"] == "-1"
    assert (await admin.put(path, json={})).status_code == 400
    assert (await admin.get("/api/tokens/999/quota")).status_code == 404


async def test_a_quota_set_through_the_api_is_enforced_within_two_seconds(router, admin) -> None:
    await admin.put(f"/api/tokens/{router.token_id}/quota", json={"amount": "0"})

    async def refused() -> bool:
        return await _chat_status(router, router.key) == 402

    await eventually(refused)
