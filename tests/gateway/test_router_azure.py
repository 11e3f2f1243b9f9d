"""End to end: the openai SDK through the router to a strict fake Azure OpenAI resource."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest

from burncloud.db import open_database
from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.services.channels import update_channel
from tests.fakes import FakeOpenAI
from tests.fakes.azure_upstream import FakeAzure
from tests.gateway.router_harness import (
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
)

MESSAGES = [{"role": "user", "content": "Translate to German: Hello world!"}]
STREAM_ID = "chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j"


def cost(prompt: int, completion: int) -> int:
    """nano-USD for gpt-4 at 30/60 USD per 1M tokens."""
    return (prompt * 30 + completion * 60) * 1000


async def use_azure(router: RunningRouter, base_url: str, key: str, **config: str) -> None:
    """Give channel 1 ``config`` (api_version, deployments), then make it azure at ``base_url``."""
    db = await open_database(router.db_url)
    try:
        await update_channel(db, None, 1, config=config)
    finally:
        await db.close()
    await point_channel_at(router, "azure", base_url, key)


def billed(rows: list[dict]) -> list[tuple[int, int, int, int, int]]:
    return [
        (r["status"], r["prompt_tokens"], r["completion_tokens"], r["estimated"], r["cost"])
        for r in rows
    ]


async def test_classic_non_stream_reaches_the_deployment_without_filter_results(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(
            router, fake.base_url, fake.key, api_version="2024-10-21", deployments="gpt-4=prod-4"
        )
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4", messages=MESSAGES
            )
    sent = fake.requests[-1]
    assert (sent.path, sent.query) == (
        "/openai/deployments/prod-4/chat/completions",
        "api-version=2024-10-21",
    )
    assert sent.headers["api-key"] == fake.key and "Authorization" not in sent.headers
    assert router.key not in str(sent.headers) and router.key not in sent.body.decode()
    assert sent.json["model"] == "prod-4" and sent.json["messages"] == MESSAGES
    answer = json.loads(raw.text)
    assert "prompt_filter_results" not in answer
    assert all("content_filter_results" not in choice for choice in answer["choices"])
    assert answer["choices"][0]["message"]["content"] == "The capital of France is **Paris**."
    assert answer["usage"]["prompt_tokens"] == 14 and answer["usage"]["completion_tokens"] == 9
    assert billed(await logged_rows(router.db_url)) == [(200, 14, 9, 0, cost(14, 9))]


@pytest.mark.parametrize("include_usage", [False, True])
async def test_classic_stream_drops_the_prompt_filter_chunk_and_bills_usage(
    tmp_path, include_usage: bool
) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure(stream_usage=(16, 4)) as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(
            router,
            fake.base_url,
            fake.key,
            api_version="2025-01-01-preview",
            deployments="gpt-4=prod-4",
        )
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            options = {"stream_options": {"include_usage": True}} if include_usage else {}
            stream = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, stream=True, **options
            )
            chunks = [chunk async for chunk in stream]
    sent = fake.requests[-1]
    assert sent.path == "/openai/deployments/prod-4/chat/completions"
    assert sent.query == "api-version=2025-01-01-preview"
    assert sent.json["stream_options"] == {
        "include_usage": True
    }  # asked even if the client did not
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hallo Welt!"
    assert {c.id for c in chunks} == {STREAM_ID}  # the filter chunk's empty id never came
    assert all("prompt_filter_results" not in (c.model_extra or {}) for c in chunks)
    assert all(
        "content_filter_results" not in (ch.model_extra or {}) for c in chunks for ch in c.choices
    )
    with_usage = [c for c in chunks if c.usage is not None]
    if include_usage:
        assert [
            (c.choices, c.usage.prompt_tokens, c.usage.completion_tokens) for c in with_usage
        ] == [([], 16, 4)]
        assert chunks[-1] is with_usage[0]
    else:
        assert with_usage == [] and all(c.choices for c in chunks)
    assert billed(await logged_rows(router.db_url)) == [(200, 16, 4, 0, cost(16, 4))]


@pytest.mark.parametrize(
    ("suffix", "config", "query", "model"),
    [
        ("/openai/v1", {}, "", "gpt-4"),
        ("/openai/v1", {"api_version": "2024-10-21", "deployments": "gpt-4=prod-4"}, "", "prod-4"),
        ("", {}, "", "gpt-4"),
        (
            "",
            {"api_version": "preview", "deployments": "gpt-4=prod-4"},
            "api-version=preview",
            "prod-4",
        ),
    ],
)
async def test_v1_scheme_sends_the_deployment_as_model(
    tmp_path, suffix: str, config: dict[str, str], query: str, model: str
) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(router, fake.base_url + suffix, fake.key, **config)
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            reply = await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
    sent = fake.requests[-1]
    assert (sent.path, sent.query, sent.json["model"]) == (
        "/openai/v1/chat/completions",
        query,
        model,
    )
    assert sent.headers["api-key"] == fake.key
    assert reply.choices[0].message.content == "The capital of France is **Paris**."
    assert billed(await logged_rows(router.db_url)) == [(200, 14, 9, 0, cost(14, 9))]


async def test_content_filter_finish_reason_is_kept_without_the_annotations(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure(content_filter=True) as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(router, fake.base_url, fake.key, api_version="2024-10-21")
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            stream = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, stream=True
            )
            chunks = [chunk async for chunk in stream]
    assert fake.requests[-1].path == "/openai/deployments/gpt-4/chat/completions"
    finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finishes == ["content_filter"]
    assert all(
        "content_filter_results" not in (ch.model_extra or {}) for c in chunks for ch in c.choices
    )
    assert billed(await logged_rows(router.db_url)) == [(200, 16, 4, 0, cost(16, 4))]


@pytest.mark.parametrize("include_usage", [False, True])
async def test_old_api_version_gets_no_stream_options_and_usage_is_estimated(
    tmp_path, include_usage: bool
) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(
            router, fake.base_url, fake.key, api_version="2024-06-01", deployments="gpt-4=prod-4"
        )
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            options = {"stream_options": {"include_usage": True}} if include_usage else {}
            stream = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, stream=True, **options
            )
            chunks = [chunk async for chunk in stream]
    sent = fake.requests[-1]
    assert sent.query == "api-version=2024-06-01" and "stream_options" not in sent.json
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hallo Welt!"
    estimator = TokenEstimator()
    body = {"messages": MESSAGES, "model": "gpt-4", "stream": True, **options}
    prompt = await estimator.prompt_tokens(body, "gpt-4")
    answer = await estimator.completion_tokens(["Hallo", " Welt", "!"], "gpt-4")
    assert billed(await logged_rows(router.db_url)) == [
        (200, prompt, answer, 1, cost(prompt, answer))
    ]


async def test_wrong_azure_key_is_a_clear_gateway_error(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        wrong = "fedcba9876543210fedcba9876543210"
        await use_azure(router, fake.base_url, wrong, api_version="2024-10-21")
        async with openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, max_retries=0
        ) as client:
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
    assert fake.requests[-1].headers["api-key"] == wrong
    assert caught.value.status_code == 502
    assert "credentials" in caught.value.message and wrong not in caught.value.message
    assert [(r["status"], r["cost"]) for r in await logged_rows(router.db_url)] == [(502, 0)]


async def test_missing_deployment_is_model_not_found(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(
            router, fake.base_url, fake.key, api_version="2024-10-21", deployments="gpt-4=nowhere"
        )
        async with openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, max_retries=0
        ) as client:
            with pytest.raises(openai.NotFoundError) as caught:
                await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
    assert fake.requests[-1].path == "/openai/deployments/nowhere/chat/completions"
    assert "deployment" in caught.value.message
    assert [(r["status"], r["cost"]) for r in await logged_rows(router.db_url)] == [(404, 0)]


async def test_embeddings_reach_the_embeddings_deployment(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(
            router,
            fake.base_url,
            fake.key,
            api_version="2024-10-21",
            deployments="gpt-4=embed-small",
        )
        async with openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, max_retries=0
        ) as client:
            result = await client.embeddings.create(model="gpt-4", input=["hello world", "bonjour"])
    sent = fake.requests[-1]
    assert (sent.path, sent.query) == (
        "/openai/deployments/embed-small/embeddings",
        "api-version=2024-10-21",
    )
    assert sent.headers["api-key"] == fake.key and sent.json["input"] == ["hello world", "bonjour"]
    assert [item.index for item in result.data] == [0, 1] and len(result.data[0].embedding) == 8
    assert result.usage.prompt_tokens == 3
    assert billed(await logged_rows(router.db_url)) == [(200, 3, 0, 0, cost(3, 0))]


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "code"),
    [
        (
            "/openai/deployments/prod-4/chat/completions?api-version=2024-10-21",
            {"Authorization": "Bearer KEY"},
            {},
            401,
            "PermissionDenied",
        ),
        (
            "/openai/deployments/prod-4/chat/completions?api-version=2024-10-21",
            {"api-key": "not-the-key"},
            {},
            401,
            "401",
        ),
        ("/openai/deployments/prod-4/chat/completions", {"api-key": "KEY"}, {}, 404, "404"),
        (
            "/openai/deployments/nope/chat/completions?api-version=2024-10-21",
            {"api-key": "KEY"},
            {},
            404,
            "DeploymentNotFound",
        ),
        (
            "/openai/v1/chat/completions?api-version=2024-10-21",
            {"api-key": "KEY"},
            {"model": "prod-4"},
            400,
            "BadRequest",
        ),
        (
            "/openai/deployments/prod-4/chat/completions?api-version=2024-06-01",
            {"api-key": "KEY"},
            {"stream": True, "stream_options": {"include_usage": True}},
            400,
            None,
        ),
        (
            "/openai/deployments/embed-small/chat/completions?api-version=2024-10-21",
            {"api-key": "KEY"},
            {},
            400,
            "OperationNotSupported",
        ),
    ],
)
async def test_the_fake_rejects_what_azure_rejects(
    path: str, headers: dict[str, str], body: dict, status: int, code: str | None
) -> None:
    async with FakeAzure() as fake, aiohttp.ClientSession() as http:
        real = {name: value.replace("KEY", fake.key) for name, value in headers.items()}
        payload = {"messages": MESSAGES, **body}
        async with http.post(fake.base_url + path, json=payload, headers=real) as response:
            answer = await response.json()
    assert (response.status, answer["error"]["code"]) == (status, code)
