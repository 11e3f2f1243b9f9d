"""/api/users (with balances) and /api/redemptions: codes are shown once and spent once."""

from __future__ import annotations

import pytest

from tests.admin.conftest import client, eventually


async def test_user_round_trip(admin) -> None:
    created = await admin.post("/api/users", json={"name": "carol", "balance": "2.5"})
    assert created.status_code == 201, created.text
    carol = created.json()
    assert (carol["name"], carol["role"], carol["group"], carol["balance"]) == (
        "carol",
        "user",
        "default",
        "2.5",
    )
    assert (await admin.get(f"/api/users/{carol['id']}")).json() == carol
    assert (await admin.get("/api/users/carol")).json() == carol
    names = [u["name"] for u in (await admin.get("/api/users")).json()["data"]]
    assert names == ["admin", "carol"]
    await admin.put("/api/groups/vip", json={"ratio": "0.5"})
    updated = await admin.patch("/api/users/carol", json={"name": "caroline", "group": "vip"})
    assert (updated.json()["name"], updated.json()["group"]) == ("caroline", "vip")
    disabled = await admin.post("/api/users/caroline/disable")
    assert disabled.json()["status"] == "disabled"
    assert (await admin.post("/api/users/caroline/enable")).json()["status"] == "enabled"


async def test_user_rate_limits_are_set_and_cleared(admin) -> None:
    limited = await admin.patch("/api/users/admin", json={"rpm": 60, "max_concurrency": 4})
    assert limited.status_code == 200, limited.text
    body = limited.json()
    assert (body["rpm"], body["tpm"], body["max_concurrency"]) == (60, None, 4)
    cleared = await admin.patch("/api/users/admin", json={"rpm": -1, "tpm": 500})
    assert (cleared.json()["rpm"], cleared.json()["tpm"]) == (None, 500)
    assert (await admin.get("/api/users/admin")).json() == cleared.json()


async def test_signing_up_through_an_invite_code(admin) -> None:
    inviter = (await admin.get("/api/users/admin")).json()
    reply = await admin.post("/api/users", json={"name": "dave", "invite": inviter["invite_code"]})
    assert reply.status_code == 201
    assert reply.json()["inviter_id"] == inviter["id"]
    unknown = await admin.post("/api/users", json={"name": "erin", "invite": "nope"})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/api/users", {"name": "admin"}, 400, "already exists"),
        ("POST", "/api/users", {"name": "123"}, 400, "all digits"),
        ("POST", "/api/users", {"name": "x", "role": "root"}, 400, "unknown role"),
        ("POST", "/api/users", {"name": "x", "group": "nope"}, 400, "unknown group"),
        ("POST", "/api/users", {"name": "x", "balance": "-3"}, 400, "negative"),
        ("POST", "/api/users/admin/disable", None, 400, "last enabled admin"),
        ("PATCH", "/api/users/admin", {"role": "user"}, 400, "last enabled admin"),
        ("PATCH", "/api/users/admin", {}, 400, "nothing to update"),
        ("PATCH", "/api/users/admin", {"rpm": 0}, 400, "rpm must be a positive number"),
        ("PATCH", "/api/users/admin", {"tpm": "60"}, 400, "tpm must be an integer"),
        ("GET", "/api/users/nobody", None, 404, "no user"),
        ("POST", "/api/users/nobody/enable", None, 404, "no user"),
    ],
)
async def test_invalid_user_changes_are_refused(admin, method, path, body, status, message):
    reply = await admin.request(method, path, json=body)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["error"]["message"]


async def test_disabling_a_user_through_the_api_stops_its_keys_within_two_seconds(
    router, admin, user_key
) -> None:
    async with client(router, user_key) as http:
        assert (await http.get("/v1/models")).status_code == 200
        await admin.post("/api/users/alice/disable")

        async def refused() -> bool:
            return (await http.get("/v1/models")).status_code == 403

        await eventually(refused)


async def test_balance_show_add_and_set(admin, user_key) -> None:
    assert (await admin.get("/api/users/alice/balance")).json()["balance"] == "5"
    added = await admin.post("/api/users/alice/balance/add", json={"amount": "0.25"})
    assert added.json()["balance"] == "5.25"
    taken = await admin.post("/api/users/alice/balance/add", json={"amount": "-6"})
    assert taken.status_code == 400 and "below zero" in taken.json()["error"]["message"]
    assert (await admin.put("/api/users/alice/balance", json={"amount": "-1"})).json()[
        "balance"
    ] == "-1"
    bad = await admin.put("/api/users/alice/balance", json={"amount": "-2"})
    assert bad.status_code == 400
    assert (await admin.get("/api/users/nobody/balance")).status_code == 404


async def test_redemption_codes_are_shown_once_and_spent_once(admin, user_key) -> None:
    created = await admin.post("/api/redemptions", json={"quota": "1.5", "count": 2})
    assert created.status_code == 201, created.text
    codes = created.json()["codes"]
    assert created.json()["quota"] == "1.5" and len(codes) == 2 == len(set(codes))
    listed = await admin.get("/api/redemptions")
    assert [r["status"] for r in listed.json()["data"]] == ["unused", "unused"]
    assert all(code not in listed.text for code in codes)

    used = await admin.post("/api/redemptions/use", json={"code": codes[0], "user": "alice"})
    assert used.json() == {"user": "alice", "credited": "1.5", "balance": "6.5"}
    again = await admin.post("/api/redemptions/use", json={"code": codes[0], "user": "alice"})
    assert again.status_code == 400 and "already been used" in again.json()["error"]["message"]
    unknown = await admin.post("/api/redemptions/use", json={"code": "nope", "user": "alice"})
    assert unknown.status_code == 404
    statuses = (await admin.get("/api/redemptions?status=used")).json()["data"]
    assert [r["used_by"] for r in statuses] == [(await admin.get("/api/users/alice")).json()["id"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"quota": "0"}, "more than 0"),
        ({"quota": "1", "count": 0}, "between 1 and 1000"),
        ({"quota": "1", "count": "2"}, "count must be an integer"),
        ({"count": 2}, "quota is required"),
    ],
)
async def test_invalid_redemption_requests_are_refused(admin, body, message) -> None:
    reply = await admin.post("/api/redemptions", json=body)
    assert reply.status_code == 400 and message in reply.json()["error"]["message"]
    assert (await admin.get("/api/redemptions")).json()["data"] == []


async def test_listing_codes_by_an_unknown_status_is_refused(admin) -> None:
    assert (await admin.get("/api/redemptions?status=lost")).status_code == 400
    assert (await admin.post("/api/redemptions/use", json={"code": "x"})).status_code == 400
