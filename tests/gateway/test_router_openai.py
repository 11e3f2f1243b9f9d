"""End to end: the official openai SDK through the router to a strict fake OpenAI."""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest

from burncloud.db import open_database
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import running_router

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def upstream():
    async with FakeOpenAI("sk-upstream-key", prompt_tokens=100, completion_tokens=200) as fake:
        yield fake


async def _logs(db_url: str) -> list[dict]:
    db = await open_database(db_url)
    try:
        return await db.fetch_all("SELECT * FROM logs ORDER BY id")
    finally:
        await db.close()


async def test_non_stream_is_relayed_and_billed_exactly(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        reply = await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        await client.close()
        assert reply.choices[0].message.content == "Hello! You said: hello there"
        assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (100, 200)
        sent = upstream.last_request
        assert sent.authorization == "Bearer sk-upstream-key"
        assert router.key not in sent.body.decode() and router.key not in str(sent.headers)
    logs = await _logs(router.db_url)
    assert [(r["status"], r["cost"], r["estimated"]) for r in logs] == [(200, 15_000_000, 0)]


async def test_stream_without_usage_request_hides_the_injected_usage(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
        await client.close()
        assert upstream.last_request.json["stream_options"] == {"include_usage": True}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! You said: hello there"
    assert all(c.usage is None and c.choices for c in chunks)
    logs = await _logs(router.db_url)
    assert [(r["cost"], r["stream"], r["estimated"]) for r in logs] == [(15_000_000, 1, 0)]


async def test_stream_with_usage_request_gets_the_usage_chunk(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(
            model="gpt-4", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 200


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, {"model": "gpt-4", "messages": MESSAGES}, 401, "invalid_token"),
        (
            {"Authorization": "Bearer sk-wrong"},
            {"model": "gpt-4", "messages": MESSAGES},
            401,
            "invalid_token",
        ),
        (None, {"model": "gpt-9", "messages": MESSAGES}, 403, "model_price_not_set"),
        (None, {"model": "gpt-4"}, 400, "invalid_request"),
    ],
)
async def test_error_table_rows(tmp_path, upstream, headers, body, status, code) -> None:
    async with running_router(tmp_path, upstream) as router:
        sent_headers = {"Authorization": f"Bearer {router.key}"} if headers is None else headers
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{router.base_url}/chat/completions", json=body, headers=sent_headers
            )
    assert response.status_code == status
    error = orjson.loads(response.content)["error"]
    assert error["code"] == code and set(error) == {"message", "type", "code"}
