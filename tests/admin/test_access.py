"""Only admin keys may use /api/: no key or a bad key is 401, any other key 403 (relay keys
of admin users too)."""

from __future__ import annotations

import pytest

from burncloud.config import Settings
from burncloud.server import create_app
from burncloud.services.admin_keys import create_admin_key
from tests.admin.conftest import client, wait_for_key

# (method, path, body): every admin route, with bodies that would change something if the
# access check let them through, real and unknown ids alike.
ROUTES: list[tuple[str, str, dict | None]] = [
    ("GET", "/api/channels", None),
    ("POST", "/api/channels", {"type": "openai", "name": "x", "key": "sk-x", "models": "gpt-4"}),
    ("GET", "/api/channels/1", None),
    ("GET", "/api/channels/999", None),
    ("PATCH", "/api/channels/1", {"name": "renamed"}),
    ("DELETE", "/api/channels/1", None),
    ("DELETE", "/api/channels/999", None),
    ("POST", "/api/channels/1/enable", None),
    ("POST", "/api/channels/1/disable", {"reason": "no"}),
    ("GET", "/api/channels?tag=eu", None),
    ("POST", "/api/channels/tagged/eu/disable", {"reason": "no"}),
    ("POST", "/api/channels/tagged/eu/enable", None),
    ("GET", "/api/channels/1/keys", None),
    ("POST", "/api/channels/1/keys", {"keys": ["sk-new"]}),
    ("PATCH", "/api/channels/1/keys/1", {"status": "disabled"}),
    ("DELETE", "/api/channels/1/keys/1", None),
    ("GET", "/api/channels/1/models?fetch=1", None),
    ("POST", "/api/channels/1/models/sync", {"add_only": False}),
    ("GET", "/api/channels/balances", None),
    ("GET", "/api/channels/1/balance", None),
    ("POST", "/api/channels/1/balance", None),
    ("GET", "/api/channels/1/capabilities", None),
    ("PUT", "/api/channels/1/capabilities", {"capabilities": {"vision": False}}),
    ("POST", "/api/channels/1/probe", {}),
    ("GET", "/api/tokens", None),
    ("POST", "/api/tokens", {"name": "mine"}),
    ("GET", "/api/tokens/1", None),
    ("PATCH", "/api/tokens/1", {"quota": "0"}),
    ("DELETE", "/api/tokens/1", None),
    ("POST", "/api/tokens/1/revoke", None),
    ("GET", "/api/tokens/1/quota", None),
    ("POST", "/api/tokens/1/quota/add", {"amount": "100"}),
    ("PUT", "/api/tokens/999/quota", {"amount": "-1"}),
    ("GET", "/api/prices", None),
    ("GET", "/api/prices/gpt-4", None),
    ("PUT", "/api/prices/gpt-4", {"input": "0", "output": "0"}),
    ("DELETE", "/api/prices/gpt-4", None),
    ("PUT", "/api/price-tiers/gpt-4", {"above": 200000, "input": "5"}),
    ("DELETE", "/api/price-tiers/gpt-4?above=200000", None),
    ("PUT", "/api/price-units/gpt-4", {"per": "search", "usd": "2"}),
    ("DELETE", "/api/price-units/gpt-4?per=search", None),
    ("GET", "/api/price-catalog", None),
    ("POST", "/api/bill-replay", {"prices": {}}),
    ("POST", "/api/price-catalog?prune=true", {"prices": {}}),
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"name": "mallory", "role": "admin"}),
    ("GET", "/api/users/admin", None),
    ("PATCH", "/api/users/alice", {"role": "admin"}),
    ("POST", "/api/users/1/disable", None),
    ("POST", "/api/users/nobody/enable", None),
    ("GET", "/api/users/1/balance", None),
    ("POST", "/api/users/alice/balance/add", {"amount": "100"}),
    ("PUT", "/api/users/alice/balance", {"amount": "-1"}),
    ("GET", "/api/groups", None),
    ("GET", "/api/groups/default", None),
    ("PUT", "/api/groups/default", {"ratio": "0"}),
    ("DELETE", "/api/groups/vip", None),
    ("GET", "/api/redemptions", None),
    ("POST", "/api/redemptions", {"quota": "100", "count": 1}),
    ("POST", "/api/redemptions/use", {"code": "x", "user": "alice"}),
    ("GET", "/api/plans", None),
    ("POST", "/api/plans", {"name": "free", "budgets": ["100/day"]}),
    ("GET", "/api/plans/free", None),
    ("PATCH", "/api/plans/free", {"rpm": 1}),
    ("DELETE", "/api/plans/free", None),
    ("PUT", "/api/users/alice/plan", {"plan": "free"}),
    ("GET", "/api/default-plan", None),
    ("PUT", "/api/default-plan", {"plan": "free"}),
    ("GET", "/api/tokens/1/budgets", None),
    ("PUT", "/api/tokens/1/budgets", {"amount": "0", "period": "day"}),
    ("DELETE", "/api/tokens/1/budgets/day", None),
    ("GET", "/api/users/1/budgets", None),
    ("PUT", "/api/users/1/budgets", {"amount": "0", "period": "day"}),
    ("DELETE", "/api/users/1/budgets/day", None),
    ("GET", "/api/alerts", None),
    ("POST", "/api/alerts", {"url": "http://127.0.0.1:9/", "events": "fleet"}),
    ("GET", "/api/alerts/1", None),
    ("DELETE", "/api/alerts/1", None),
    ("POST", "/api/alerts/1/test", None),
    ("GET", "/api/alerts/log", None),
    ("GET", "/api/audit", None),
    ("GET", "/api/logs", None),
    ("GET", "/api/logs?model=gpt-4", None),
    ("GET", "/api/logs/req-1", None),
    ("GET", "/api/no-such-thing", None),
    ("PUT", "/api/channels", None),
    ("POST", "/api/no-such-thing", {}),
    ("PATCH", "/api/channels", {"name": "all"}),
    ("DELETE", "/api/users", None),
]


def test_the_route_list_covers_every_admin_route() -> None:
    app = create_app(Settings(database_url="sqlite:///unused.db")).control
    adapter = app.url_map.bind("localhost")
    covered = {(adapter.match(path.split("?")[0], method)[0], method) for method, path, _ in ROUTES}
    every = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert every - covered == set()
    assert len(every) >= 40


async def _statuses(router, key: str | None, headers: dict | None = None) -> dict[str, int]:
    async with client(router, key) as http:
        return {
            f"{method} {path}": (
                await http.request(method, path, json=body, headers=headers)
            ).status_code
            for method, path, body in ROUTES
        }


async def test_no_key_is_refused_on_every_route(router) -> None:
    statuses = await _statuses(router, None)
    assert set(statuses.values()) == {401}, statuses


async def test_an_unknown_key_is_refused_with_the_relays_error(router) -> None:
    async with client(router, "sk-not-a-real-key") as http:
        admin = await http.get("/api/channels")
        relay = await http.post("/v1/chat/completions", json={"model": "gpt-4", "messages": []})
    assert admin.status_code == relay.status_code == 401
    assert admin.json()["error"]["code"] == relay.json()["error"]["code"] == "invalid_token"
    statuses = await _statuses(router, "sk-not-a-real-key")
    assert set(statuses.values()) == {401}, statuses


async def test_a_user_key_gets_403_on_every_route_and_changes_nothing(
    router, router_db, user_key
) -> None:
    before = await _config(router_db)
    statuses = await _statuses(router, user_key)
    assert set(statuses.values()) == {403}, statuses
    async with client(router, user_key) as http:
        reply = await http.post("/api/channels", content=b"{not json")
        assert reply.status_code == 403
        assert reply.json() == {
            "error": {
                "message": "the admin API needs an admin key, and this is a relay key:"
                " make one with `burncloud admin-key create`",
                "type": "permission_error",
                "code": "permission_denied",
            }
        }
    async with client(router, None) as http:
        via_header = await http.get("/api/users", headers={"x-api-key": user_key})
        assert via_header.status_code == 403
    assert await _config(router_db) == before


async def test_an_admins_relay_key_gets_403_on_every_route_and_changes_nothing(
    router, router_db
) -> None:
    before = await _config(router_db)
    statuses = await _statuses(router, router.key)  # a token of the admin user
    assert set(statuses.values()) == {403}, statuses
    assert await _config(router_db) == before


async def _config(db) -> list:
    """Everything the refused requests tried to change."""
    return [
        await db.fetch_all(f"SELECT * FROM {table} ORDER BY 1")
        for table in ("channels", "tokens", "prices", "users", "user_groups", "redemptions")
    ]


async def test_the_admin_key_reads_every_list(admin) -> None:
    for path in ("channels", "tokens", "prices", "users", "groups", "redemptions", "logs"):
        reply = await admin.get(f"/api/{path}")
        assert reply.status_code == 200, (path, reply.text)
        assert isinstance(reply.json()["data"], list)


async def test_a_rotated_admin_key_is_an_admin_key(router, admin_key) -> None:
    async with client(router, admin_key) as http:
        assert (await http.get("/api/users")).status_code == 200
        rotated = await http.get("/api/tokens")
    admin_tokens = [t for t in rotated.json()["data"] if t["name"] == "admin"]
    assert len(admin_tokens) == 1 and admin_key not in rotated.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/no-such-thing"), ("PUT", "/api/channels"), ("GET", "/api/channels/abc")],
)
async def test_unknown_admin_endpoints_are_404_for_the_admin(admin, method, path) -> None:
    reply = await admin.request(method, path)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"


async def test_a_revoked_admin_key_stops_working_within_two_seconds(
    router, router_db, admin
) -> None:
    second, key = await create_admin_key(router_db, "second-admin-key")
    await wait_for_key(router, key, 200)
    assert (await admin.post(f"/api/tokens/{second.id}/revoke")).status_code == 200
    await wait_for_key(router, key, 401)


async def test_a_key_made_through_the_admin_api_is_a_relay_key(router, admin) -> None:
    """A grant never exceeds the grantor, and the API grants no admin scope at all."""
    created = await admin.post("/api/tokens", json={"name": "new", "user": "admin"})
    assert created.status_code == 201 and created.json()["scopes"] == ["relay"]
    await wait_for_key(router, created.json()["key"], 403)
    for body in ({"name": "x", "scopes": "admin"}, {"name": "x", "scopes": ["admin", "relay"]}):
        refused = await admin.post("/api/tokens", json=body)
        assert refused.status_code == 400 and "unknown field 'scopes'" in refused.text
    widened = await admin.patch(f"/api/tokens/{created.json()['id']}", json={"scopes": "admin"})
    assert widened.status_code == 400
    shown = await admin.get(f"/api/tokens/{created.json()['id']}")
    assert shown.json()["scopes"] == ["relay"]
