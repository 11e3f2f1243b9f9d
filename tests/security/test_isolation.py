"""One user's key never reads another user's logs, tokens, redemptions or figures: not through
the account endpoints, not through the admin API (403, and nothing changes)."""

from __future__ import annotations

import re

import httpx

from burncloud.crypto import SecretBox, mask_secret
from burncloud.db import open_database
from burncloud.money import UNITS_PER_USD, parse_usd
from burncloud.services.channels import add_channel
from burncloud.services.groups import set_group
from burncloud.services.redemptions import create_codes, redeem
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user
from tests.admin.conftest import client, eventually, wait_for_key
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import SECRET, RunningRouter, logged_rows, running_router
from tests.security.test_route_matrix import served_routes, user_key

MESSAGES = [{"role": "user", "content": "hi"}]


async def seed_bob(router: RunningRouter, upstream: FakeOpenAI) -> dict[str, object]:
    """Bob: group vip with its own model, 50 USD plus a redeemed 1 USD code, two tokens;
    what of his must never reach alice."""
    db = await open_database(router.db_url)
    try:
        async with db.transaction() as tx:
            await set_group(tx, "vip", "1")
        await add_user(db, name="bob", group="vip", balance=parse_usd("50"))
        await add_channel(
            db, SecretBox.from_passphrase(SECRET), type="openai", name="vip",
            key=upstream.key, base_url=upstream.base_url, models=["gpt-4", "bob-only-model"],
            groups=["vip"],
        )  # fmt: skip
        token, key = await create_token(db, "bob-main-token", user_ref="bob")
        _, second = await create_token(db, "bob-second-token", user_ref="bob")
        code = (await create_codes(db, parse_usd("1")))[0]
        await redeem(db, code, "bob")
    finally:
        await db.close()
    await wait_for_key(router, key, 403)
    return {"key": key, "second": second, "token_id": token.id, "code": code}


def aimed_at(pattern: str, bob_token: int) -> str:
    """A request path for ``pattern`` naming bob's records."""
    path = re.sub(r"<int:token_id>", str(bob_token), pattern)
    path = re.sub(r"<int:[^>]+>", "1", path)
    names = {"user_ref": "bob", "model": "bob-only-model", "name": "vip"}
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: names.get(m[1], "logs"), path)


async def money(router: RunningRouter) -> dict[str, dict]:
    """Every token's and user's status and money, by name."""
    db = await open_database(router.db_url)
    try:
        tokens = await db.fetch_all("SELECT id, name, status, quota, used FROM tokens")
        users = await db.fetch_all("SELECT id, name, role, balance, used FROM users")
    finally:
        await db.close()
    return {f"token {row['name']}": row for row in tokens} | {
        f"user {row['name']}": row for row in users
    }


async def test_a_user_key_reads_and_changes_nothing_of_another_user(tmp_path) -> None:
    async with (
        FakeOpenAI("sk-upstream-iso", prompt_tokens=100, completion_tokens=200) as upstream,
        running_router(tmp_path, upstream) as router,
    ):
        bob = await seed_bob(router, upstream)
        alice = await user_key(router, "alice")
        for key, count in ((alice, 1), (bob["key"], 3)):
            async with client(router, str(key)) as http:
                for _ in range(count):
                    body = {"model": "gpt-4", "messages": MESSAGES}
                    assert (await http.post("/v1/chat/completions", json=body)).status_code == 200

        async def all_logged() -> bool:
            return len(await logged_rows(router.db_url)) == 4

        await eventually(all_logged)
        before = await money(router)
        secrets_of_bob = {
            str(bob["key"]), str(bob["key"])[3:], mask_secret(str(bob["key"]), 7),
            str(bob["second"])[3:], str(bob["code"]), mask_secret(str(bob["code"])),
            "bob", "bob-only-model", "vip",
        }  # fmt: skip
        secrets_of_bob |= {row["request_id"] for row in (await logged_rows(router.db_url))[1:]}
        replies: list[tuple[str, httpx.Response]] = []
        async with client(router, alice) as http:
            for method, pattern in served_routes():
                if method == "POST" and not pattern.startswith("/api/"):
                    continue  # the relay: alice's own traffic, which reads nothing
                path = aimed_at(pattern, int(bob["token_id"]))
                body = None if method in ("GET", "DELETE") else {"user": "bob", "amount": "100"}
                replies.append((f"{method} {path}", await http.request(method, path, json=body)))
            bob_id = before["user bob"]["id"]
            for query in (f"logs?user_id={bob_id}", "tokens?user=bob", "redemptions?status=used"):
                replies.append((f"GET /api/{query}", await http.get(f"/api/{query}")))
            usage = (await http.get("/v1/dashboard/billing/usage")).json()["total_usage"]
            limit = (await http.get("/v1/dashboard/billing/subscription")).json()
        after = await money(router)
    admin_api = [reply for name, reply in replies if " /api/" in name]
    assert len(admin_api) >= 45
    assert {r.status_code for r in admin_api} == {403}
    assert {r.json()["error"]["code"] for r in admin_api} == {"permission_denied"}
    shown = [(name, sorted(s for s in secrets_of_bob if s in r.text)) for name, r in replies]
    assert [(name, found) for name, found in shown if found] == []
    assert after == before
    alice_used, bob_used = (before[f"token {n}"]["used"] for n in ("alice-key", "bob-main-token"))
    assert bob_used > alice_used > 0
    assert usage in (0, alice_used * 100 / UNITS_PER_USD)  # the snapshot's figure may lag
    assert limit["hard_limit_usd"] <= 5
