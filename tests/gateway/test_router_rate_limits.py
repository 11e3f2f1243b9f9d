"""Rate limits through the router: per token, per user, exact across worker processes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from burncloud.db import open_database
from burncloud.services.tokens import create_token, update_token
from burncloud.services.users import update_user
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.gateway.router_harness import logged_rows, running_router, seed, wait_for_reload
from tests.gateway.router_process import router_process

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


async def _limit_token(db_url: str, token_id: int, **limits: int) -> None:
    db = await open_database(db_url)
    try:
        await update_token(db, token_id, **limits)
    finally:
        await db.close()


async def _burst(base_url: str, key: str, count: int, body: dict = CHAT) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"{base_url}/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                )
                for _ in range(count)
            )
        )


async def test_rpm_admits_exactly_the_limit_and_answers_429_with_retry_after(tmp_path) -> None:
    async with FakeOpenAI("sk-up") as fake, running_router(tmp_path, fake) as router:
        await _limit_token(router.db_url, router.token_id, rpm=5)
        await wait_for_reload(router)
        responses = await _burst(router.base_url, router.key, 12)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 5 + [429] * 7
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "token" in refused.json()["error"]["message"]
    assert fake.request_count == 5  # refused requests never reach the upstream
    logs = await logged_rows(router.db_url)
    assert sorted(r["status"] for r in logs) == statuses  # every request is logged
    assert all(r["cost"] == 0 for r in logs if r["status"] == 429)


async def test_concurrency_limit_refuses_while_a_stream_is_open(tmp_path) -> None:
    async with (
        FakeOpenAI("sk-up", chunks=20, chunk_delay=0.05) as fake,
        running_router(tmp_path, fake) as router,
    ):
        await _limit_token(router.db_url, router.token_id, max_concurrency=1)
        await wait_for_reload(router)
        headers = {"Authorization": f"Bearer {router.key}"}
        async with httpx.AsyncClient(timeout=30) as client:
            stream_body = {**CHAT, "stream": True}
            async with client.stream(
                "POST", f"{router.base_url}/chat/completions", json=stream_body, headers=headers
            ) as open_stream:
                await fake.wait_until(lambda: fake.open_streams == 1)
                second = await client.post(
                    f"{router.base_url}/chat/completions", json=CHAT, headers=headers
                )
                await open_stream.aread()
            third = await client.post(
                f"{router.base_url}/chat/completions", json=CHAT, headers=headers
            )
    assert second.status_code == 429 and second.headers["Retry-After"] == "1"
    assert third.status_code == 200  # the slot was given back when the stream ended


async def test_a_request_larger_than_the_tpm_limit_is_refused_for_good(tmp_path) -> None:
    async with FakeOpenAI("sk-up") as fake, running_router(tmp_path, fake) as router:
        await _limit_token(router.db_url, router.token_id, tpm=50)
        await wait_for_reload(router)
        big = {**CHAT, "max_tokens": 500}
        (refused,) = await _burst(router.base_url, router.key, 1, big)
        (small,) = await _burst(router.base_url, router.key, 1)
    assert refused.status_code == 400 and "Retry-After" not in refused.headers
    assert "tokens per minute" in refused.json()["error"]["message"]
    assert small.status_code == 200


async def test_a_users_limit_covers_all_its_tokens_together(tmp_path) -> None:
    async with FakeOpenAI("sk-up") as fake, running_router(tmp_path, fake) as router:
        db = await open_database(router.db_url)
        try:
            await update_user(db, "admin", rpm=4)
            _, second_key = await create_token(db, "second")
        finally:
            await db.close()
        await wait_for_reload(router)
        first = await _burst(router.base_url, router.key, 3)
        second = await _burst(router.base_url, second_key, 3)
    statuses = [r.status_code for r in first + second]
    assert statuses.count(200) == 4 and statuses.count(429) == 2
    refused = next(r for r in first + second if r.status_code == 429)
    assert "user" in refused.json()["error"]["message"]


@pytest.mark.slow
def test_rpm_is_exact_across_two_worker_processes(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/limits.db"
    with running_fake_openai("sk-up") as fake:
        token_id, key = asyncio.run(seed(db_url, fake))
        asyncio.run(_limit_token(db_url, token_id, rpm=10))
        with router_process(db_url, workers=2) as (base_url, _):
            responses = asyncio.run(_burst(base_url, key, 60))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 50
