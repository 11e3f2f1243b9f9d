"""End to end: the openai SDK through the router to a strict fake DashScope (compatible mode).

The channel serves ``gpt-4`` (priced by the harness) and maps it to a Qwen model, so each
test also proves the mapped name is what reaches DashScope.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest

from burncloud.db import open_database
from burncloud.services.channels import update_channel
from tests.fakes import FakeOpenAI
from tests.fakes.qwen_upstream import ANSWER, REASONING, ROOT, THINKING_STREAM_ONLY, FakeQwen
from tests.gateway.router_harness import (
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
)

MESSAGES = [{"role": "user", "content": "Who are you?"}]
RECORDED_TEXT = "I am a large-scale language model from Alibaba Cloud, and my name is Qwen."


def cost(prompt: int, completion: int) -> int:
    """nano-USD for gpt-4 at 30/60 USD per 1M tokens."""
    return (prompt * 30 + completion * 60) * 1000


async def use_qwen(router: RunningRouter, fake: FakeQwen, target: str, key: str = "") -> None:
    """Map channel 1's ``gpt-4`` to ``target``, then make it a qwen channel at the fake."""
    db = await open_database(router.db_url)
    try:
        await update_channel(db, None, 1, models=["gpt-4"], model_map={"gpt-4": target})
    finally:
        await db.close()
    await point_channel_at(router, "qwen", fake.base_url + ROOT, key or fake.key)


def billed(rows: list[dict]) -> list[tuple[int, int, int, int, int]]:
    return [
        (r["status"], r["prompt_tokens"], r["completion_tokens"], r["estimated"], r["cost"])
        for r in rows
    ]


def reasoning_of(chunks: list[Any]) -> str:
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    return "".join(getattr(delta, "reasoning_content", None) or "" for delta in deltas)


@pytest.mark.parametrize(
    ("target", "extra", "sent_flag"),
    [
        ("qwen3-32b", {}, False),  # thinks by default: switched off for a non-stream call
        ("qwen-plus-latest", {"enable_thinking": True}, False),
        ("qwen-plus-latest", {}, None),  # not Qwen3: the body is left alone
    ],
)
async def test_non_stream_reaches_qwen_with_thinking_off(
    tmp_path, target: str, extra: dict[str, bool], sent_flag: bool | None
) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeQwen() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_qwen(router, fake, target)
        async with openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, max_retries=0
        ) as client:
            reply = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, extra_body=extra
            )
    sent = fake.requests[-1]
    assert (sent.path, sent.json["model"]) == (f"{ROOT}/chat/completions", target)
    assert sent.json.get("enable_thinking") is sent_flag
    assert sent.headers["Authorization"] == f"Bearer {fake.key}"
    assert router.key not in str(sent.headers) and router.key not in sent.body.decode()
    assert reply.choices[0].message.content.startswith("你好！我是通义千问（Qwen）")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 65)
    assert billed(await logged_rows(router.db_url)) == [(200, 11, 65, 0, cost(11, 65))]


async def test_stream_with_include_usage_bills_the_final_figure_once(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeQwen() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_qwen(router, fake, "qwen-plus")
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            stream = await client.chat.completions.create(
                model="gpt-4",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
    assert fake.requests[-1].json["stream_options"] == {"include_usage": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == RECORDED_TEXT
    with_usage = [c for c in chunks if c.usage is not None]
    assert [(c.choices, c.usage.prompt_tokens, c.usage.completion_tokens) for c in with_usage] == [
        ([], 22, 17)
    ]
    assert billed(await logged_rows(router.db_url)) == [(200, 22, 17, 0, cost(22, 17))]


async def test_stream_without_include_usage_hides_usage_but_bills_it(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeQwen() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_qwen(router, fake, "qwen-plus")
        async with (
            openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client,
            client.chat.completions.with_streaming_response.create(
                model="gpt-4", messages=MESSAGES, stream=True
            ) as response,
        ):
            lines = [line async for line in response.iter_lines() if line]
    assert fake.requests[-1].json["stream_options"] == {"include_usage": True}  # injected
    assert lines[-1] == "data: [DONE]" and len(lines) == 9  # 8 chunks, no usage chunk
    assert not any('"usage"' in line for line in lines)  # not even "usage":null
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert "".join(e["choices"][0]["delta"]["content"] for e in events) == RECORDED_TEXT
    assert billed(await logged_rows(router.db_url)) == [(200, 22, 17, 0, cost(22, 17))]


async def test_reasoning_content_deltas_are_passed_through(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeQwen() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_qwen(router, fake, "qwen3-32b")
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            stream = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, stream=True
            )
            chunks = [chunk async for chunk in stream]
    sent = fake.requests[-1].json
    assert sent["model"] == "qwen3-32b" and "enable_thinking" not in sent  # streams may think
    assert reasoning_of(chunks) == "".join(REASONING)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(ANSWER)
    assert all(c.usage is None for c in chunks)
    assert billed(await logged_rows(router.db_url)) == [(200, 12, 30, 0, cost(12, 30))]


async def test_embeddings_pass_through_with_their_usage(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeQwen() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_qwen(router, fake, "text-embedding-v3")
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            result = await client.embeddings.create(model="gpt-4", input=["hello world", "hi"])
    sent = fake.requests[-1]
    assert (sent.path, sent.json["model"]) == (f"{ROOT}/embeddings", "text-embedding-v3")
    assert "enable_thinking" not in sent.json
    assert [item.index for item in result.data] == [0, 1] and result.usage.prompt_tokens == 3
    assert billed(await logged_rows(router.db_url)) == [(200, 3, 0, 0, cost(3, 0))]


async def test_wrong_dashscope_key_is_a_clear_gateway_error(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeQwen() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_qwen(router, fake, "qwen-plus", key="sk-wrong-dashscope-key")
        async with openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, max_retries=0
        ) as client:
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
    assert fake.requests[-1].headers["Authorization"] == "Bearer sk-wrong-dashscope-key"
    assert caught.value.status_code == 502 and "credentials" in caught.value.message
    assert "sk-wrong" not in caught.value.message
    assert [(r["status"], r["cost"]) for r in await logged_rows(router.db_url)] == [(502, 0)]


@pytest.mark.parametrize(
    ("body", "auth", "status", "code"),
    [
        ({"model": "qwen3-32b"}, "Bearer KEY", 400, "invalid_parameter_error"),
        (
            {"model": "qwen-plus", "enable_thinking": True},
            "Bearer KEY",
            400,
            "invalid_parameter_error",
        ),
        ({"model": "qwen-plus"}, "Bearer sk-other", 401, "invalid_api_key"),
        ({"model": "qwen-nope"}, "Bearer KEY", 404, "model_not_found"),
    ],
)
async def test_the_fake_rejects_what_dashscope_rejects(
    body: dict[str, Any], auth: str, status: int, code: str
) -> None:
    async with FakeQwen() as fake, aiohttp.ClientSession() as http:
        headers = {"Authorization": auth.replace("KEY", fake.key)}
        url = f"{fake.base_url}{ROOT}/chat/completions"
        async with http.post(url, json={"messages": MESSAGES, **body}, headers=headers) as response:
            answer = await response.json()
    assert (response.status, answer["error"]["code"]) == (status, code)
    if status == 400:
        assert answer["error"]["message"] == THINKING_STREAM_ONLY
