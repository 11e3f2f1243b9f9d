"""/api/prices and /api/groups: the same rules as `burncloud price` and `burncloud group`."""

from __future__ import annotations

import pytest

from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.price_coverage import missing_kinds
from burncloud.services.pricing import Price
from tests.price_json import priced

# The harness's channel is an OpenAI one serving gpt-4: the kinds it reports that gpt-4's
# price (input and output only) leaves to fall back.
OPENAI_GAPS = missing_kinds(Price("gpt-4", 1, 1), CHANNEL_KINDS["openai"].reports)


async def test_price_round_trip_with_an_alias(admin) -> None:
    listed = (await admin.get("/api/prices")).json()["data"]
    assert listed == [priced("gpt-4", "30", "60", version=1, incomplete=OPENAI_GAPS)]
    set_ = await admin.put(
        "/api/prices/openai/gpt-4o", json={"input": "2.5", "output": 10, "cached": 1.25}
    )
    assert set_.status_code == 200, set_.text
    assert set_.json() == priced("openai/gpt-4o", "2.5", "10", cached="1.25", version=2)
    alias = await admin.put("/api/prices/gpt-4-latest", json={"alias": "gpt-4"})
    assert alias.json() == priced("gpt-4-latest", "30", "60", alias="gpt-4", version=1)
    assert (await admin.get("/api/prices/openai/gpt-4o")).json()["cached"] == "1.25"
    in_use = await admin.delete("/api/prices/gpt-4")
    assert in_use.status_code == 400 and "alias it" in in_use.json()["error"]["message"]
    deleted = await admin.delete("/api/prices/gpt-4-latest")
    assert deleted.json() == {"model": "gpt-4-latest", "deleted": True}
    assert (await admin.get("/api/prices/gpt-4-latest")).status_code == 404
    assert (await admin.delete("/api/prices/gpt-4-latest")).status_code == 404
    models = [p["model"] for p in (await admin.get("/api/prices")).json()["data"]]
    assert models == ["gpt-4", "openai/gpt-4o"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "1"}, "needs input and output"),
        ({"alias": "gpt-4", "input": "1"}, "cannot be combined"),
        ({"alias": "nothing"}, "has no price"),
        ({"alias": "gpt-5"}, "itself"),
        ({"input": "-1", "output": "1"}, "input: amount must not be negative"),
        ({"input": "1", "output": "x"}, "output: not a decimal"),
        ({"input": "1", "output": "1", "cached": [1]}, "cached must be a decimal"),
    ],
)
async def test_invalid_prices_are_refused(admin, body, message) -> None:
    reply = await admin.put("/api/prices/gpt-5", json=body)
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]["message"]
    assert (await admin.get("/api/prices/gpt-5")).status_code == 404


async def test_tiers_and_units_round_trip(admin) -> None:
    base = await admin.put(
        "/api/prices/gpt-4", json={"input": "30", "output": "60", "cache_write": "37.5"}
    )
    assert base.json()["cache_write"] == "37.5"
    tier = await admin.put("/api/price-tiers/gpt-4", json={"above": 200000, "input": 60})
    assert tier.status_code == 200, tier.text
    assert tier.json()["tiers"] == [{"above": 200000, "input": "60"}]
    image = {"per": "image", "size": "1024x1024", "quality": "hd", "usd": "0.08"}
    unit = await admin.put("/api/price-units/gpt-4", json=image)
    assert unit.json()["units"] == [{"per": "image", "variant": "1024x1024/hd", "usd": "0.08"}]
    kept = await admin.put("/api/prices/gpt-4", json={"input": "10", "output": "20"})
    assert (kept.json()["cache_write"], len(kept.json()["tiers"])) == (None, 1)
    gone = await admin.delete(
        "/api/price-units/gpt-4", params={"per": "image", "size": "1024x1024", "quality": "hd"}
    )
    assert gone.json()["units"] == []
    untiered = await admin.delete("/api/price-tiers/gpt-4", params={"above": 200000})
    assert untiered.json()["tiers"] == []
    shown = (await admin.get("/api/prices/gpt-4")).json()
    assert shown == priced("gpt-4", "10", "20", version=shown["version"])
    assert shown["version"] > base.json()["version"]


async def test_a_channels_cost_price_round_trip(admin) -> None:
    path = "/api/prices/gpt-4"
    set_ = await admin.put(path, params={"channel_id": 1}, json={"input": "9", "output": "18"})
    assert set_.status_code == 200, set_.text
    assert (await admin.get(path)).json()["input"] == "30"  # the list price is untouched
    assert (await admin.get(path, params={"channel_id": 1})).json()["input"] == "9"
    listed = (await admin.get("/api/prices", params={"channel_id": 1})).json()["data"]
    assert listed == [priced("gpt-4", "9", "18", version=2, incomplete=OPENAI_GAPS)]
    deleted = await admin.delete(path, params={"channel_id": 1})
    assert deleted.json() == {"model": "gpt-4", "deleted": True, "channel_id": 1}
    assert (await admin.get(path, params={"channel_id": 1})).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("PUT", "/api/price-tiers/gpt-4", {"input": "1"}, "above is required"),
        ("PUT", "/api/price-tiers/gpt-4", {"above": 10}, "names no price"),
        ("PUT", "/api/price-tiers/gpt-4", {"above": 10, "cached": "x"}, "cached: not a decimal"),
        ("PUT", "/api/price-units/gpt-4", {"per": "image", "usd": "1"}, "needs its size"),
        ("PUT", "/api/price-units/gpt-4", {"per": "call", "tool": "web_search"}, "usd is required"),
        ("PUT", "/api/price-units/gpt-4", {"per": "hour", "usd": "1"}, "unknown unit 'hour'"),
        ("PUT", "/api/price-units/gpt-4", {"per": "search", "usd": "-1"}, "usd: amount must"),
        ("DELETE", "/api/price-tiers/gpt-4", None, "query parameter above is required"),
        ("PUT", "/api/prices/gpt-4?channel_id=1", {"alias": "gpt-4o"}, "cannot be an alias"),
        ("PUT", "/api/prices/gpt-5?channel_id=1", {"input": "1", "output": "1"}, "does not serve"),
    ],
)
async def test_invalid_tier_unit_and_channel_changes_are_refused(
    admin, method, path, body, message
) -> None:
    reply = await admin.request(method, path, json=body)
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/price-tiers/gpt-5"),
        ("DELETE", "/api/price-tiers/gpt-4?above=5"),
        ("DELETE", "/api/price-units/gpt-4?per=minute"),
        ("GET", "/api/prices/gpt-4?channel_id=9"),
    ],
)
async def test_missing_prices_tiers_and_channels_are_not_found(admin, method, path) -> None:
    body = {"above": 1, "input": "1"} if method == "PUT" else None
    reply = await admin.request(method, path, json=body)
    assert reply.status_code == 404, reply.text


async def test_group_round_trip(admin) -> None:
    assert (await admin.get("/api/groups")).json() == {"data": [{"name": "default", "ratio": "1"}]}
    vip = await admin.put("/api/groups/vip", json={"ratio": "0.80"})
    assert vip.json() == {"name": "vip", "ratio": "0.8"}
    assert (await admin.put("/api/groups/vip", json={"ratio": 1.5})).json()["ratio"] == "1.5"
    assert (await admin.get("/api/groups/vip")).json() == {"name": "vip", "ratio": "1.5"}
    names = [g["name"] for g in (await admin.get("/api/groups")).json()["data"]]
    assert names == ["default", "vip"]
    assert (await admin.delete("/api/groups/vip")).json() == {"name": "vip", "deleted": True}
    assert (await admin.get("/api/groups/vip")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("PUT", "/api/groups/vip", {"ratio": "-1"}, 400, "non-negative"),
        ("PUT", "/api/groups/vip", {}, 400, "ratio is required"),
        ("PUT", "/api/groups/vip", {"ratio": "Infinity"}, 400, "finite"),
        ("DELETE", "/api/groups/default", None, 400, "cannot be deleted"),
        ("DELETE", "/api/groups/nope", None, 404, "no group"),
    ],
)
async def test_invalid_group_changes_are_refused(admin, method, path, body, status, message):
    reply = await admin.request(method, path, json=body)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["error"]["message"]


async def test_a_group_in_use_cannot_be_deleted(admin) -> None:
    await admin.put("/api/groups/vip", json={"ratio": "2"})
    await admin.post("/api/users", json={"name": "bob", "group": "vip"})
    reply = await admin.delete("/api/groups/vip")
    assert reply.status_code == 400 and "still has 1 user" in reply.json()["error"]["message"]
