"""Every row of the error table, through a real router, with exact error bodies."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.services.channels import add_channel, update_channel
from burncloud.services.groups import set_group
from burncloud.services.prices import set_price
from burncloud.services.quota import get_token_quota, set_token_quota
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user, disable_user, update_user
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    free_port,
    running_router,
    wait_for_reload,
)

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def upstream():
    async with FakeOpenAI(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        yield fake


async def _post(router: RunningRouter, body, key: str | None = None, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or router.key}", **kwargs.pop("headers", {})}
    async with httpx.AsyncClient(timeout=10) as http:
        if not isinstance(body, dict):
            return await http.post(
                f"{router.base_url}/chat/completions", content=body, headers=headers, **kwargs
            )
        return await http.post(
            f"{router.base_url}/chat/completions", json=body, headers=headers, **kwargs
        )


def _error(response: httpx.Response, status: int, code: str, kind: str) -> str:
    assert response.status_code == status, response.text
    error = orjson.loads(response.content)["error"]
    assert set(error) == {"message", "type", "code"}
    assert (error["code"], error["type"]) == (code, kind)
    return error["message"]


async def _with_db(router: RunningRouter, action):
    db = await open_database(router.db_url)
    try:
        return await action(db)
    finally:
        await db.close()


async def _eventually(check, within: float = 2.5) -> None:
    """Poll ``check`` until it passes: CLI changes reach the router within 2 s."""
    deadline = time.monotonic() + within
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_expired_key_is_401_token_expired(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:

        async def expire(db) -> None:
            await db.execute(
                "UPDATE tokens SET expires_at = 1 WHERE id = :id", {"id": router.token_id}
            )
            await db.execute("UPDATE config_version SET version = version + 1")

        await _with_db(router, expire)

        async def check() -> None:
            _error(await _post(router, CHAT), 401, "token_expired", "invalid_request_error")

        await _eventually(check)


async def test_model_outside_the_allow_list_is_403(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        _, key = await _with_db(router, lambda db: create_token(db, "narrow", models="gpt-3.5"))
        await _eventually(
            lambda: _expect(_post(router, CHAT, key), 403, "permission_denied", "permission_error")
        )


async def test_client_ip_outside_the_allow_list_is_403(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        _, key = await _with_db(router, lambda db: create_token(db, "lan", ips="10.0.0.0/8"))
        await _eventually(
            lambda: _expect(_post(router, CHAT, key), 403, "permission_denied", "permission_error")
        )


async def test_disabled_user_is_403(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:

        async def make(db):
            await add_user(db, name="bob", balance=-1)
            return await create_token(db, "bob-app", user_ref="bob")

        _, key = await _with_db(router, make)
        await _eventually(lambda: _expect(_post(router, CHAT, key), 200))
        await _with_db(router, lambda db: disable_user(db, "bob"))
        await _eventually(
            lambda: _expect(_post(router, CHAT, key), 403, "permission_denied", "permission_error")
        )


async def test_model_with_a_channel_but_no_price_is_403_naming_it(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        await _with_db(
            router,
            lambda db: update_channel(
                db, SecretBox.from_passphrase(SECRET), 1, models=["gpt-4", "gpt-unpriced"]
            ),
        )

        async def check() -> None:
            body = {**CHAT, "model": "gpt-unpriced"}
            message = _error(
                await _post(router, body), 403, "model_price_not_set", "permission_error"
            )
            assert "gpt-unpriced" in message

        await _eventually(check)


async def test_free_models_are_served_when_the_operator_opts_in(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream, allow_free_models=True) as router:
        await _with_db(
            router,
            lambda db: update_channel(
                db, SecretBox.from_passphrase(SECRET), 1, models=["gpt-4", "gpt-free"]
            ),
        )
        await _eventually(lambda: _expect(_post(router, {**CHAT, "model": "gpt-free"}), 200))


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1]", b'{"model": "gpt-4"}', b'{"messages": [{"role":"user","content":"x"}]}'],
)
async def test_malformed_requests_are_400(tmp_path, upstream, body: bytes) -> None:
    async with running_router(tmp_path, upstream) as router:
        response = await _post(router, body, headers={"Content-Type": "application/json"})
        _error(response, 400, "invalid_request", "invalid_request_error")
    assert upstream.request_count == 0


async def test_body_over_the_limit_is_413_without_reading_it(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream, max_body_bytes=1024) as router:
        declared = await _post(router, b"x" * 5000)
        _error(declared, 413, "request_too_large", "invalid_request_error")

        async def chunks():
            for _ in range(100):
                yield b"y" * 1000

        streamed = await _post(router, chunks())  # chunked: no Content-Length
        _error(streamed, 413, "request_too_large", "invalid_request_error")


async def test_quota_that_cannot_cover_the_prompt_is_402(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream, quota="0.000001") as router:
        message = _error(
            await _post(router, CHAT), 402, "insufficient_quota", "insufficient_quota_error"
        )
        assert "quota" in message
    assert upstream.request_count == 0


async def test_short_quota_caps_max_tokens_instead_of_overspending(tmp_path) -> None:
    # 0.01 USD affords the prompt estimate plus about 150 answer tokens at 60/1M, not 4096.
    # The fake counts prompt words, so the real prompt is below the reserved estimate.
    async with (
        FakeOpenAI("sk-canary-upstream-key", completion_tokens=4096) as upstream,
        running_router(tmp_path, upstream, quota="0.01") as router,
    ):
        response = await _post(router, CHAT)
        assert response.status_code == 200, response.text
        cap = upstream.last_request.json["max_tokens"]
        assert 1 <= cap < 4096
        assert orjson.loads(response.content)["choices"][0]["finish_reason"] == "length"
    logs = await _with_db(router, lambda db: db.fetch_all("SELECT cost FROM logs"))
    remaining = await _with_db(
        router,
        lambda db: db.fetch_value("SELECT quota FROM tokens WHERE id = :i", {"i": router.token_id}),
    )
    assert remaining >= 0 and remaining + logs[0]["cost"] == 10_000_000


async def test_unreachable_upstream_is_503(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        dead = f"http://127.0.0.1:{free_port()}/v1"
        await _with_db(
            router,
            lambda db: update_channel(db, SecretBox.from_passphrase(SECRET), 1, base_url=dead),
        )

        async def check() -> None:
            message = _error(await _post(router, CHAT), 503, "service_unavailable", "server_error")
            assert "127.0.0.1" not in message and "sk-canary-upstream" not in message

        await _eventually(check)
    logs = await _with_db(router, lambda db: db.fetch_all("SELECT status, cost FROM logs"))
    assert logs[-1] == {"status": 503, "cost": 0}


@pytest.mark.parametrize(
    ("upstream_status", "status", "code"),
    [
        (500, 502, "upstream_error"),
        (503, 503, "service_unavailable"),
        (429, 429, "rate_limit_exceeded"),
    ],
)
async def test_upstream_failures_map_to_gateway_errors(
    tmp_path, upstream, upstream_status: int, status: int, code: str
) -> None:
    upstream.fail_with(upstream_status, "boom", retry_after="7" if upstream_status == 429 else None)
    async with running_router(tmp_path, upstream) as router:
        response = await _post(router, CHAT)
    assert response.status_code == status
    assert orjson.loads(response.content)["error"]["code"] == code
    if status == 429:
        assert response.headers["retry-after"] == "7"


async def test_a_second_channel_takes_over_when_the_first_is_down(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        dead = f"http://127.0.0.1:{free_port()}/v1"

        async def add_dead(db) -> None:
            await add_channel(
                db,
                SecretBox.from_passphrase(SECRET),
                type="openai",
                name="dead",
                key="sk-x",
                base_url=dead,
                models=["gpt-4"],
                priority=10,
            )

        await _with_db(router, add_dead)
        await wait_for_reload(router)
        for _ in range(3):
            assert (await _post(router, CHAT)).status_code == 200


async def test_request_id_is_accepted_or_generated(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        given = await _post(router, CHAT, headers={"X-Request-ID": "abc-123"})
        generated = await _post(router, CHAT)
    assert given.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32


async def _expect(
    response_coro, status: int, code: str | None = None, kind: str | None = None
) -> None:
    response = await response_coro
    if code is None:
        assert response.status_code == status, response.text
    else:
        _error(response, status, code, kind or "")


async def test_setting_a_quota_cancels_what_a_router_holds(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream, quota="1.5") as router:
        assert (await _post(router, CHAT)).status_code == 200
        await asyncio.sleep(0.5)  # the log writer has settled the first request
        state = await _with_db(router, lambda db: get_token_quota(db, router.token_id))
        assert state.remaining == 1_500_000_000 - 15_000_000  # leased money still counts
        await _with_db(router, lambda db: set_token_quota(db, router.token_id, 0))
        await _eventually(
            lambda: _expect(
                _post(router, CHAT), 402, "insufficient_quota", "insufficient_quota_error"
            )
        )
    final = await _with_db(router, lambda db: get_token_quota(db, router.token_id))
    assert final.remaining == 0


async def test_group_ratio_and_price_changes_apply_to_the_next_request(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        assert (await _post(router, CHAT)).status_code == 200  # 0.015 at ratio 1

        async def cheaper(db) -> None:
            async with db.transaction() as tx:
                await set_group(tx, "vip", "0.5")
            await update_user(db, "admin", group="vip")
            await update_channel(
                db, SecretBox.from_passphrase(SECRET), 1, groups=["default", "vip"]
            )
            async with db.transaction() as tx:
                await set_price(tx, "gpt-4", 10_000_000_000, 20_000_000_000)

        await _with_db(router, cheaper)
        await wait_for_reload(router)
        assert (await _post(router, CHAT)).status_code == 200
    costs = await _with_db(router, lambda db: db.fetch_all("SELECT cost FROM logs ORDER BY id"))
    # then: (100 x 10 + 200 x 20) / 1M USD x 0.5 = 0.0025
    assert [row["cost"] for row in costs] == [15_000_000, 2_500_000]


async def test_an_endpoint_a_channel_type_cannot_serve_is_a_clear_404(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        await _with_db(
            router,
            lambda db: update_channel(db, SecretBox.from_passphrase(SECRET), 1, type="anthropic"),
        )

        async def check() -> None:
            async with httpx.AsyncClient() as http:
                response = await http.post(
                    f"{router.base_url}/completions",
                    json={"model": "gpt-4", "prompt": "hi"},
                    headers={"Authorization": f"Bearer {router.key}"},
                )
            message = _error(response, 404, "endpoint_not_served", "not_found_error")
            assert "anthropic" in message and "completions" in message

        await _eventually(check)
        before = upstream.request_count
        await check()
        assert upstream.request_count == before  # nothing was sent in the wrong format
