"""/api/prices and /api/groups: the same rules as `burncloud price` and `burncloud group`."""

from __future__ import annotations

import pytest


async def test_price_round_trip_with_an_alias(admin) -> None:
    listed = (await admin.get("/api/prices")).json()["data"]
    assert listed == [
        {"model": "gpt-4", "input": "30", "output": "60", "cached": None, "alias": None}
    ]
    set_ = await admin.put(
        "/api/prices/openai/gpt-4o", json={"input": "2.5", "output": 10, "cached": 1.25}
    )
    assert set_.status_code == 200, set_.text
    assert set_.json() == {
        "model": "openai/gpt-4o",
        "input": "2.5",
        "output": "10",
        "cached": "1.25",
        "alias": None,
    }
    alias = await admin.put("/api/prices/gpt-4-latest", json={"alias": "gpt-4"})
    assert alias.json() == {
        "model": "gpt-4-latest",
        "input": "30",
        "output": "60",
        "cached": None,
        "alias": "gpt-4",
    }
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
