"""End to end: the openai SDK through the router to a strict fake AWS Bedrock Runtime."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.providers.bedrock.sigv4 import AwsCredentials, sign_request
from burncloud.services.prices import set_price
from tests.fakes import FakeOpenAI
from tests.fakes.bedrock_upstream import ACCESS_KEY, HTTP_ERRORS, FakeBedrock
from tests.gateway.router_harness import (
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
NOVA = "us.amazon.nova-micro-v1:0"
QUESTION = [
    {"role": "system", "content": "You are a helpful chatbot."},
    {"role": "user", "content": "What is the capital of France?"},
]
INPUT, OUTPUT, CACHED = 30_000, 60_000, 3_000  # nano-USD per gpt-4 token; CACHED when set to $3/M


def cost(prompt: int, completion: int, cached: int = 0, cached_price: int = INPUT) -> int:
    return (prompt - cached) * INPUT + cached * cached_price + completion * OUTPUT


def fixture_json(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def recorded_payloads(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{name}.decoded.jsonl").read_text().splitlines()
    return [json.loads(line)["payload"] for line in lines]


def recorded_deltas(name: str, kind: str) -> str:
    """The concatenated ``kind`` deltas ("text" or "reasoningContent") of a recorded stream."""
    deltas = [payload.get("delta", {}) for payload in recorded_payloads(name)]
    parts = [d[kind] if kind == "text" else d[kind].get("text", "") for d in deltas if kind in d]
    return "".join(parts)


async def use_bedrock(
    router: RunningRouter, fake: FakeBedrock, model: str, key: str, cached_price: str | None
) -> None:
    """Make channel 1 a Bedrock channel at ``fake`` serving gpt-4 as ``model``; wait for reload."""
    if cached_price is not None:
        db = await open_database(router.db_url)
        try:
            async with db.transaction() as tx:
                prices = (parse_usd("30"), parse_usd("60"), parse_usd(cached_price))
                await set_price(tx, "gpt-4", *prices)
        finally:
            await db.close()
    await point_channel_at(
        router,
        "bedrock",
        fake.base_url,
        key,
        config={"region": fake.region},
        model_map={"gpt-4": model},
    )


@asynccontextmanager
async def bedrock_router(
    tmp_path: Path,
    model: str = CLAUDE,
    key: str | None = None,
    cached_price: str | None = None,
    **fake_options: Any,
) -> AsyncIterator[tuple[RunningRouter, FakeBedrock, openai.AsyncOpenAI]]:
    """A router whose one channel is Bedrock at a fake; an SDK client that never retries."""
    async with (
        FakeOpenAI("unused") as unused,
        FakeBedrock(**fake_options) as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_bedrock(router, fake, model, key or fake.key, cached_price)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        try:
            yield router, fake, client
        finally:
            await client.close()


async def stream_chunks(client: openai.AsyncOpenAI, **request: Any) -> list[Any]:
    stream = await client.chat.completions.create(
        model="gpt-4", stream=True, stream_options={"include_usage": True}, **request
    )
    return [chunk async for chunk in stream]


def joined(chunks: list[Any], field: str) -> str:
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    return "".join(getattr(d, field, None) or "" for d in deltas)


def billed(rows: list[dict]) -> list[tuple[int, int, int, int, int, int]]:
    keys = ("prompt_tokens", "completion_tokens", "cached_tokens", "cost", "estimated", "status")
    return [tuple(row[k] for k in keys) for row in rows]


async def test_non_stream_answer_is_billed_exactly_from_converse_usage(tmp_path) -> None:
    async with bedrock_router(tmp_path) as (router, fake, client):
        reply = await client.chat.completions.create(model="gpt-4", messages=QUESTION)
    answer = fixture_json("bedrock_converse_nonstream_claude.json")
    assert reply.choices[0].message.content == answer["output"]["message"]["content"][0]["text"]
    assert (reply.choices[0].finish_reason, reply.model) == ("stop", "gpt-4")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (21, 69)
    assert fake.paths == ["/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"]
    assert fake.requests == [
        {
            "system": [{"text": "You are a helpful chatbot."}],
            "messages": [{"role": "user", "content": [{"text": "What is the capital of France?"}]}],
        }
    ]
    assert fake.headers[0]["x-amz-date"] and "x-amz-security-token" not in fake.headers[0]
    rows = await logged_rows(router.db_url)
    assert billed(rows) == [(21, 69, 0, cost(21, 69), 0, 200)]
    assert rows[0]["channel_id"] == 1


async def test_cache_reads_are_logged_as_cached_tokens_at_the_cached_price(tmp_path) -> None:
    fixture = "bedrock_converse_nonstream_cache_write_then_read.json"
    options = {"answer_fixture": fixture, "cached_price": "3"}
    async with bedrock_router(tmp_path, **options) as (router, _, client):
        replies = [
            await client.chat.completions.create(model="gpt-4", messages=QUESTION) for _ in "ab"
        ]
    # inputTokens (2) excludes the cache: the prompt is 2 + 1322 written, then 2 + 1322 read.
    assert [r.usage.prompt_tokens_details.cached_tokens for r in replies] == [0, 1322]
    assert [(r.usage.prompt_tokens, r.usage.completion_tokens) for r in replies] == [(1324, 5)] * 2
    assert billed(await logged_rows(router.db_url)) == [
        (1324, 5, 0, cost(1324, 5), 0, 200),
        (1324, 5, 1322, cost(1324, 5, 1322, CACHED), 0, 200),
    ]


async def test_stream_text_from_nova_matches_the_recording(tmp_path) -> None:
    name = "bedrock_converse_stream_nova_text"
    async with bedrock_router(tmp_path, NOVA, stream_fixture=name) as (router, fake, client):
        chunks = await stream_chunks(client, messages=QUESTION, temperature=0)
    assert fake.requests == [fixture_json(f"{name}.request.json")]  # what produced the recording
    assert fake.paths == ["/model/us.amazon.nova-micro-v1%3A0/converse-stream"]
    assert joined(chunks, "content") == recorded_deltas(name, "text")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = recorded_payloads(name)[-1]["usage"]
    assert (usage["inputTokens"], usage["outputTokens"]) == (13, 82)
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (13, 82)
    assert billed(await logged_rows(router.db_url)) == [(13, 82, 0, cost(13, 82), 0, 200)]


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": spec["toolSpec"]["name"],
            "description": spec["toolSpec"]["description"],
            "parameters": spec["toolSpec"]["inputSchema"]["json"],
        },
    }
    for spec in fixture_json("bedrock_converse_stream_tool_use.request.json")["toolConfig"]["tools"]
]


async def test_stream_tool_use_reaches_the_sdk_as_tool_call_deltas(tmp_path) -> None:
    name = "bedrock_converse_stream_tool_use"
    ask = "What is the temperature of the capital of France?"
    question = [QUESTION[0], {"role": "user", "content": ask}]
    async with bedrock_router(tmp_path, NOVA, stream_fixture=name) as (router, fake, client):
        chunks = await stream_chunks(client, messages=question, tools=TOOLS, top_p=0.5)
    assert fake.requests == [fixture_json(f"{name}.request.json")]
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert [(c.index, c.id, c.function.name) for c in calls if c.id] == [
        (0, "tooluse_lAG_zP8QRHmSYOwZzzaCqA", "get_temperature")
    ]
    assert json.loads("".join(c.function.arguments or "" for c in calls)) == {"city": "Paris"}
    assert joined(chunks, "content") == recorded_deltas(name, "text")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert billed(await logged_rows(router.db_url)) == [(471, 91, 0, cost(471, 91), 0, 200)]


async def test_stream_reasoning_arrives_as_reasoning_content_deltas(tmp_path) -> None:
    name = "bedrock_converse_stream_claude_reasoning"
    model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
    hello = [{"role": "user", "content": "Hello"}]
    async with bedrock_router(tmp_path, model, stream_fixture=name) as (router, fake, client):
        chunks = await stream_chunks(client, messages=hello, reasoning_effort="low")
    recorded = fixture_json(f"{name}.request.json")
    sent = fake.requests[0]
    assert sent["additionalModelRequestFields"] == recorded["additionalModelRequestFields"]
    assert sent["inferenceConfig"] == {"maxTokens": 1024 + 4096}  # budget + answer allowance
    assert joined(chunks, "reasoning_content") == recorded_deltas(name, "reasoningContent")
    assert joined(chunks, "content") == "Hello! It's nice to meet you. How can I help you today?"
    assert billed(await logged_rows(router.db_url)) == [(36, 73, 0, cost(36, 73), 0, 200)]


async def test_system_multi_turn_and_tool_result_reach_bedrock_as_valid_converse(tmp_path) -> None:
    call = {"id": "tooluse_01", "type": "function"}
    call["function"] = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    weather = {"name": "get_weather", "description": "Current weather"}
    weather["parameters"] = {"type": "object", "properties": {"city": {"type": "string"}}}
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "tooluse_01", "content": '{"temp_c": 18}'},
        {"role": "assistant", "content": "It is 18 C."},
        {"role": "user", "content": "And tomorrow?"},
    ]
    async with bedrock_router(tmp_path) as (_, fake, client):
        await client.chat.completions.create(
            model="gpt-4",
            messages=messages,
            tools=[{"type": "function", "function": weather}],
            max_tokens=50,
            temperature=0.5,
            stop="END",
        )
    tool_use = {"toolUseId": "tooluse_01", "name": "get_weather", "input": {"city": "Paris"}}
    result = {"toolUseId": "tooluse_01", "status": "success", "content": [{"json": {"temp_c": 18}}]}
    spec = {"name": "get_weather", "description": "Current weather"}
    spec["inputSchema"] = {"json": weather["parameters"]}
    assert fake.rejections == []
    assert fake.requests == [
        {
            "system": [{"text": "Be terse."}],
            "messages": [
                {"role": "user", "content": [{"text": "Weather in Paris?"}]},
                {"role": "assistant", "content": [{"toolUse": tool_use}]},
                {"role": "user", "content": [{"toolResult": result}]},
                {"role": "assistant", "content": [{"text": "It is 18 C."}]},
                {"role": "user", "content": [{"text": "And tomorrow?"}]},
            ],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.5, "stopSequences": ["END"]},
            "toolConfig": {"tools": [{"toolSpec": spec}]},
        }
    ]


async def test_a_wrong_secret_is_a_clear_gateway_error_and_logged(tmp_path) -> None:
    wrong = f"{ACCESS_KEY}:not-the-secret"
    async with bedrock_router(tmp_path, key=wrong) as (router, fake, client):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="gpt-4", messages=QUESTION)
    assert fake.rejections == [(403, "InvalidSignatureException")] and fake.requests == []
    assert caught.value.status_code == 502
    assert "credentials" in caught.value.message and "internal" not in caught.value.message
    rows = await logged_rows(router.db_url)
    assert billed(rows) == [(0, 0, 0, 0, 0, 502)]
    assert "check the channel's key and region" in rows[0]["error"]


@pytest.mark.parametrize(
    ("exception", "status"), [("ThrottlingException", 429), ("ServiceUnavailableException", 503)]
)
async def test_upstream_throttling_and_unavailability_keep_their_status(
    tmp_path, exception: str, status: int
) -> None:
    async with bedrock_router(tmp_path, http_error=exception) as (router, fake, client):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="gpt-4", messages=QUESTION)
    assert caught.value.status_code == status
    assert HTTP_ERRORS[exception][1] in caught.value.message
    assert len(fake.requests) == 1  # one channel: tried once, not hammered
    rows = await logged_rows(router.db_url)
    assert billed(rows) == [(0, 0, 0, 0, 0, status)]
    assert HTTP_ERRORS[exception][1] in rows[0]["error"]


async def test_in_stream_exception_ends_the_stream_with_an_error_and_is_logged(tmp_path) -> None:
    name = "bedrock_converse_stream_nova_text"
    message = "Too many tokens, please wait before trying again."
    cut = {"stream_exception": ("throttlingException", message), "exception_after": 5}
    async with bedrock_router(tmp_path, NOVA, stream_fixture=name, **cut) as (router, _, client):
        stream = await client.chat.completions.create(model="gpt-4", messages=QUESTION, stream=True)
        chunks: list[Any] = []
        with pytest.raises(openai.APIError, match="Too many tokens"):
            async for chunk in stream:
                chunks.append(chunk)
    delivered = "The capital of France is Paris. Paris is not only the capital city but"
    assert joined(chunks, "content") == delivered  # the 4 text deltas before the exception
    rows = await logged_rows(router.db_url)
    assert (rows[0]["status"], rows[0]["error"]) == (429, message)
    # No usage came: what was delivered is estimated and billed.
    assert rows[0]["estimated"] == 1 and rows[0]["completion_tokens"] > 0
    assert rows[0]["cost"] == cost(rows[0]["prompt_tokens"], rows[0]["completion_tokens"])


@pytest.mark.parametrize("credential", ["api_key", "session_token"])
async def test_api_key_and_temporary_credential_channels_work(tmp_path, credential: str) -> None:
    secret = "ABSKZmFrZS1iZWRyb2NrLWFwaS1rZXk=" if credential == "api_key" else "FwoGZXIvYXdz"
    key = secret if credential == "api_key" else None  # None: the fake's AK:SECRET:TOKEN
    async with bedrock_router(tmp_path, key=key, **{credential: secret}) as (_, fake, client):
        reply = await client.chat.completions.create(model="gpt-4", messages=QUESTION)
    assert reply.usage.completion_tokens == 69 and fake.rejections == []
    sent = fake.headers[-1]
    if credential == "api_key":
        assert sent["authorization"] == f"Bearer {secret}" and "x-amz-date" not in sent
    else:
        assert sent["x-amz-security-token"] == secret
        assert "x-amz-security-token" in sent["authorization"]


INVALID_BODIES = [
    b'{"messages":[]}',
    b'{"messages":[{"role":"assistant","content":[{"text":"Hi"}]}]}',
    b'{"messages":[{"role":"user","content":[{"text":""}]}]}',
    b'{"messages":[{"role":"user","content":[{"text":"a","cachePoint":{"type":"default"}}]}]}',
    b'{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"topK":5}}',
    b'{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"system":"Be brief."}',
    b'{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[]}}]}]}',
]


def botocore_signed(fake: FakeBedrock, url: str, body: bytes) -> dict[str, str]:
    """Headers signed by botocore itself, independent of burncloud's signer."""
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    credentials = Credentials(fake.access_key, fake.secret_key)
    SigV4Auth(credentials, "bedrock", fake.region).add_auth(request)
    return dict(request.headers)


async def test_the_fake_checks_signatures_and_bodies_like_bedrock() -> None:
    body = b'{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}'
    async with FakeBedrock() as fake, aiohttp.ClientSession() as http:
        url = f"{fake.base_url}/model/{CLAUDE.replace(':', '%3A')}/converse"
        credentials = AwsCredentials(fake.access_key, fake.secret_key)
        scope = {"region": fake.region, "service": "bedrock", "now": time.time() - 600}
        stale = sign_request("POST", url, {}, body, credentials=credentials, **scope)
        sends = [
            (body, botocore_signed(fake, url, body)),
            (body + b" ", botocore_signed(fake, url, body)),  # the body changed after signing
            (body, stale),
            (body, {}),
            *((bad, botocore_signed(fake, url, bad)) for bad in INVALID_BODIES),
        ]
        answers = []
        for data, headers in sends:
            async with http.post(URL(url, encoded=True), data=data, headers=headers) as answer:
                answers.append((answer.status, answer.headers.get("x-amzn-ErrorType", "")))
    assert [(status, kind.split(":")[0]) for status, kind in answers] == [
        (200, ""),
        (403, "InvalidSignatureException"),
        (403, "InvalidSignatureException"),
        (403, "MissingAuthenticationTokenException"),
        *[(400, "ValidationException")] * len(INVALID_BODIES),
    ]
