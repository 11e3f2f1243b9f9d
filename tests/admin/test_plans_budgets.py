"""/api/plans, /api/default-plan and the budgets of tokens and users: the same rules as
`burncloud plan`, `token update --budget` and `user update --budget`."""

from __future__ import annotations

from burncloud.services.users import add_user


async def test_a_plan_round_trip(admin, router_db) -> None:
    await add_user(router_db, name="alice")
    created = await admin.post(
        "/api/plans",
        json={
            "name": "pro",
            "budgets": ["20/month", "gpt-4=5/5h"],
            "models": "gpt-4,o3",
            "rpm": 60,
        },
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["models"] == ["gpt-4", "o3"] and plan["rpm"] == 60 and plan["group"] is None
    assert sorted((b["period"], b["model"], b["amount"]) for b in plan["budgets"]) == [
        ("5h", "gpt-4", "5"),
        ("month", None, "20"),
    ]
    assigned = await admin.put("/api/users/alice/plan", json={"plan": "pro"})
    assert assigned.json() == {"user": "alice", "plan": "pro"}
    listed = (await admin.get("/api/plans")).json()["data"]
    assert [(p["name"], p["users"]) for p in listed] == [("pro", 1)]
    changed = await admin.patch(
        "/api/plans/pro", json={"remove_budgets": ["gpt-4=5h"], "rpm": -1, "budgets": ["1/day"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["rpm"] is None
    assert sorted(b["period"] for b in changed.json()["budgets"]) == ["day", "month"]
    assert (await admin.put("/api/default-plan", json={"plan": "pro"})).json() == {"plan": "pro"}
    assert (await admin.get("/api/default-plan")).json() == {"plan": "pro"}
    deleted = await admin.delete("/api/plans/pro")
    assert deleted.json() == {"plan": "pro", "deleted": True, "users_moved_off": 1}
    assert (await admin.get("/api/default-plan")).json() == {"plan": None}
    assert (await admin.get("/api/plans/pro")).status_code == 404


async def test_plan_mistakes_are_400s(admin) -> None:
    cases = [
        ({"name": "x", "budgets": ["20"]}, "has no period"),
        ({"name": "x", "budgets": ["20/year"]}, "unknown budget period"),
        ({"name": "x", "group": "nope"}, "unknown group"),
        ({"name": "x", "surprise": 1}, "surprise"),
    ]
    for body, message in cases:
        reply = await admin.post("/api/plans", json=body)
        assert reply.status_code == 400 and message in reply.json()["error"]["message"], reply.text
    empty = await admin.patch("/api/plans/x", json={})
    assert empty.status_code == 400


async def test_token_and_user_budgets_round_trip(admin, router) -> None:
    path = f"/api/tokens/{router.token_id}/budgets"
    set_ = await admin.put(path, json={"amount": "2.5", "period": "daily"})
    assert set_.status_code == 200, set_.text
    assert set_.json()["period"] == "day" and set_.json()["amount"] == "2.5"
    await admin.put(path, json={"amount": "1", "period": "week", "model": "gpt-4"})
    await admin.put("/api/users/admin/budgets", json={"amount": "9", "period": "5h"})
    listed = (await admin.get(path)).json()["data"]
    assert sorted((b["scope"], b["period"], b["used"]) for b in listed) == [
        ("token", "day", "0"),
        ("token", "week", "0"),
        ("user", "5h", "0"),
    ]
    assert (await admin.delete(f"{path}/week?model=gpt-4")).json()["deleted"] is True
    missing = await admin.delete(f"{path}/week?model=gpt-4")
    assert missing.status_code == 404
    user = (await admin.get("/api/users/admin/budgets")).json()["data"]
    assert [b["period"] for b in user] == ["5h"]
    bad = await admin.put(path, json={"amount": "-1", "period": "day"})
    assert bad.status_code == 400
