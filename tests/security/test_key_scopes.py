"""Admin rights belong to admin keys, not to their owner (issue 14, point 1).

The finding: every `token create` key was an admin key, because a token without --user
belongs to the admin user and the admin API accepted any key of an admin. The quick start's
app key (`token create --name my-app --quota 5`) could lift its own quota to unlimited,
mint unlimited keys and read every channel and log. Now that key relays and nothing more,
and the first-run admin key administers and relays nothing.
"""

from __future__ import annotations

import asyncio

import orjson
from typer.testing import CliRunner

from burncloud.cli.app import app
from burncloud.db import open_database
from tests.admin.conftest import client, eventually
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import SECRET, RunningRouter, logged_rows, running_router

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}


def burncloud_json(router: RunningRouter, *args: str) -> dict:
    """Run `burncloud ARGS... --json` against the router's database, as an operator would."""
    env = {"DATABASE_URL": router.db_url, "BURNCLOUD_SECRET": SECRET}
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


async def tokens_table(router: RunningRouter) -> list[dict]:
    db = await open_database(router.db_url)
    try:
        return await db.fetch_all("SELECT id, name, quota, scopes FROM tokens ORDER BY id")
    finally:
        await db.close()


def permission_denied(reply) -> bool:
    return reply.status_code == 403 and reply.json()["error"]["code"] == "permission_denied"


async def test_the_quick_start_app_key_cannot_raise_its_quota_mint_keys_or_read(
    tmp_path,
) -> None:
    async with (
        FakeOpenAI("sk-upstream-finding") as upstream,
        running_router(tmp_path, upstream) as router,
    ):
        created = await asyncio.to_thread(
            burncloud_json, router, "token", "create", "--name", "my-app", "--quota", "5"
        )
        app_id, app_key = created["id"], created["key"]
        before = await tokens_table(router)
        async with client(router, app_key) as http:

            async def relays() -> bool:
                return (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200

            await eventually(relays)  # the router knows the key: refusals below are scopes
            replies = [
                await http.put(f"/api/tokens/{app_id}/quota", json={"amount": "-1"}),
                await http.post(f"/api/tokens/{app_id}/quota/add", json={"amount": "100"}),
                await http.post("/api/tokens", json={"name": "mine", "quota": "-1"}),
                await http.get("/api/channels"),
                await http.get("/api/logs"),
                await http.get("/api/tokens"),
            ]
    assert [permission_denied(reply) for reply in replies] == [True] * len(replies)
    assert "admin-key create" in replies[0].json()["error"]["message"]
    after = await tokens_table(router)
    assert [row["name"] for row in after] == [row["name"] for row in before]  # none minted
    mine = next(row for row in after if row["id"] == app_id)
    assert mine["scopes"] == "relay" and 0 <= mine["quota"] <= 5 * 10**9  # not -1, not +100


async def test_the_first_run_admin_key_is_refused_on_the_relay_saying_what_to_do(
    tmp_path,
) -> None:
    async with (
        FakeOpenAI("sk-upstream-finding") as upstream,
        running_router(tmp_path, upstream) as router,
        client(router, router.admin_key) as http,
    ):
        chat = await http.post("/v1/chat/completions", json=CHAT)
        models = await http.get("/v1/models")
        messages = await http.post("/v1/messages", json={**CHAT, "max_tokens": 8})
        listed = await http.get("/api/tokens")
    assert permission_denied(chat) and permission_denied(models)
    assert "token create" in chat.json()["error"]["message"]
    assert messages.status_code == 403
    assert messages.json()["error"]["type"] == "permission_error"  # the Anthropic shape
    assert "token create" in messages.json()["error"]["message"]
    assert listed.status_code == 200
    assert await logged_rows(router.db_url) == []  # refused before anything was served
    assert upstream.requests == []
