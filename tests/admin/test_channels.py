"""/api/channels: CRUD through the shared services; a channel's key never comes back out."""

from __future__ import annotations

import pytest

from tests.admin.conftest import client, eventually

SECRET = "sk-channel-secret-0123456789abcdef"
NEW_SECRET = "sk-rotated-secret-fedcba9876543210"


async def test_channel_round_trip_never_returns_the_key(admin, upstream) -> None:
    bodies: list[str] = []

    async def call(method: str, path: str, json: dict | None = None, status: int = 200) -> dict:
        reply = await admin.request(method, path, json=json)
        bodies.append(reply.text)
        assert reply.status_code == status, reply.text
        return reply.json()

    created = await call(
        "POST",
        "/api/channels",
        {
            "type": "openai-compatible",
            "name": "  second   fake ",
            "key": SECRET,
            "base_url": upstream.base_url,
            "models": "gpt-4o, gpt-4o-mini",
            "weight": 3,
            "priority": 2,
            "model_map": {"gpt-4o-mini": "gpt-4o"},
            "config": {"note": "x"},
        },
        status=201,
    )
    cid = created["id"]
    assert created["name"] == "second fake"
    assert created["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert created["groups"] == ["default"]
    assert (created["weight"], created["priority"], created["status"]) == (3, 2, "enabled")
    assert created["model_map"] == {"gpt-4o-mini": "gpt-4o"}
    assert created["used"] == "0"
    assert created["key_hint"] != SECRET and created["key_hint"].startswith("sk-")

    listed = await call("GET", "/api/channels")
    assert [c["id"] for c in listed["data"]] == [1, cid]
    assert await call("GET", f"/api/channels/{cid}") == created

    updated = await call(
        "PATCH",
        f"/api/channels/{cid}",
        {"name": "renamed", "key": NEW_SECRET, "models": ["gpt-4o"], "model_map": {}},
    )
    assert (updated["name"], updated["models"], updated["model_map"]) == ("renamed", ["gpt-4o"], {})
    assert updated["key_hint"] != created["key_hint"]

    disabled = await call("POST", f"/api/channels/{cid}/disable", {"reason": "maintenance"})
    assert (disabled["status"], disabled["status_reason"]) == ("disabled", "maintenance")
    enabled = await call("POST", f"/api/channels/{cid}/enable")
    assert (enabled["status"], enabled["status_reason"]) == ("enabled", "")

    assert await call("DELETE", f"/api/channels/{cid}") == {"id": cid, "deleted": True}
    gone = await call("GET", f"/api/channels/{cid}", status=404)
    assert gone["error"]["code"] == "not_found"

    everything = "\n".join(bodies)
    for secret in (SECRET, NEW_SECRET, upstream.key, "key_enc"):
        assert secret not in everything


async def test_the_seeded_channels_key_is_not_listed(admin, upstream) -> None:
    reply = await admin.get("/api/channels")
    assert reply.status_code == 200
    assert upstream.key not in reply.text
    assert "key_hint" in reply.json()["data"][0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "nope", "name": "n", "key": "k", "models": "m"}, "unknown channel type"),
        ({"type": "openai", "name": "n", "models": "m"}, "a channel needs a key"),
        ({"type": "openai", "name": "n", "key": "k"}, "at least one model"),
        ({"type": "openai", "name": "n", "key": "k", "models": [1]}, "models must be a list"),
        ({"type": "openai", "name": "n", "key": "k", "models": "m", "weight": "3"}, "integer"),
        ({"type": "openai", "name": "n", "key": "k", "models": "m", "priority": 10**30}, "integer"),
        ({"type": "openai", "name": "n", "key": "k", "models": "m", "groups": "nogroup"}, "group"),
        ({"type": "openai", "name": "n", "key": "k", "models": "m", "colour": "red"}, "colour"),
        ({"type": "openai", "name": "n", "key": "k", "models": "m", "model_map": []}, "object"),
        (
            {"type": "openai", "name": "n", "key": "k", "models": "m", "model_map": {"x": "y"}},
            "does not serve",
        ),
        (
            {"type": "azure", "name": "n", "key": "k", "models": "m", "base_url": "https://u:pw@h"},
            "credentials",
        ),
    ],
)
async def test_invalid_channels_are_refused_with_400(admin, body, message) -> None:
    reply = await admin.post("/api/channels", json=body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["type"]) == ("invalid_request", "invalid_request_error")
    assert message in error["message"]
    assert "pw" not in reply.text
    assert len((await admin.get("/api/channels")).json()["data"]) == 1


async def test_a_channels_cost_ratio_is_set_shown_and_checked(admin, upstream) -> None:
    body = {"type": "openai", "name": "r", "key": "sk-reseller-0001", "models": "gpt-4"}
    created = await admin.post("/api/channels", json={**body, "cost_ratio": 0.30})
    assert created.status_code == 201, created.text
    assert created.json()["cost_ratio"] == "0.3"  # a JSON number read as an exact decimal
    assert (await admin.get("/api/channels/1")).json()["cost_ratio"] == "1"  # the default
    cid = created.json()["id"]
    updated = await admin.patch(f"/api/channels/{cid}", json={"cost_ratio": "1.25"})
    assert updated.json()["cost_ratio"] == "1.25"
    for bad, message in (("-1", "cost ratio must be a non-negative"), ([1], "decimal string")):
        refused = await admin.patch(f"/api/channels/{cid}", json={"cost_ratio": bad})
        assert refused.status_code == 400 and message in refused.json()["error"]["message"]
    assert (await admin.get(f"/api/channels/{cid}")).json()["cost_ratio"] == "1.25"


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'"text"', b'{"name": NaN}', b"\xff\xfe", b"[" * 100_000]
)
async def test_a_malformed_body_is_400(admin, raw) -> None:
    reply = await admin.post("/api/channels", content=raw)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "invalid_request"


async def test_updating_nothing_or_an_unknown_channel_is_refused(admin) -> None:
    empty = await admin.patch("/api/channels/1", json={})
    assert empty.status_code == 400 and "nothing to update" in empty.json()["error"]["message"]
    missing = await admin.patch("/api/channels/999", json={"name": "x"})
    assert missing.status_code == 404
    assert (await admin.post("/api/channels/999/enable")).status_code == 404
    assert (await admin.delete("/api/channels/999")).status_code == 404


async def test_a_channel_added_through_the_api_serves_within_two_seconds(
    router, admin, upstream
) -> None:
    price = await admin.put("/api/prices/gpt-4o", json={"input": "2.5", "output": "10"})
    assert price.status_code == 200
    await admin.post(
        "/api/channels",
        json={
            "type": "openai",
            "name": "for gpt-4o",
            "key": upstream.key,
            "base_url": upstream.base_url,
            "models": ["gpt-4o"],
        },
    )
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    async with client(router, router.key) as http:

        async def served() -> bool:
            return (await http.post("/v1/chat/completions", json=request)).status_code == 200

        await eventually(served)
        await admin.post("/api/channels/2/disable")

        async def refused() -> bool:
            return (await http.post("/v1/chat/completions", json=request)).status_code == 404

        await eventually(refused)


async def test_overrides_tags_and_caps_are_set_and_shown_masked(admin) -> None:
    created = await admin.post(
        "/api/channels",
        json={
            "type": "openai",
            "name": "proxied",
            "keys": ["sk-first-key-0001", "sk-second-key-0002"],
            "models": "m",
            "tags": ["eu"],
            "rpm": 60,
            "overrides": {"set_headers": {"Authorization": "Bearer proxy-token-123456789"}},
        },
    )
    assert created.status_code == 201, created.text
    data = created.json()
    assert (data["key_hint"], data["tags"], data["rpm"]) == ("2 keys", ["eu"], 60)
    shown = data["overrides"]["set_headers"]["Authorization"]
    assert "proxy-token-123456789" not in shown and shown.endswith("6789")
    refused = await admin.patch(f"/api/channels/{data['id']}", json={"overrides": {"x": 1}})
    assert refused.status_code == 400
    tagged = await admin.get("/api/channels", params={"tag": "eu"})
    assert [c["id"] for c in tagged.json()["data"]] == [data["id"]]
