"""End to end: a channel's overrides reach the strict fake upstreams in every mode, and a
channel at its own cap is skipped for another (or answered 429 when none is left).

Needs the integration of issue 20's section E: ``update_channel(..., overrides=, rpm=,
tpm=, max_concurrency=)`` storing them, the snapshot's ``Upstream.overrides`` and
``Upstream.limits``, the hook in ``egress.upstream`` and the caps' hook in the failover.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import orjson
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.services.channel_overrides import EMPTY_OVERRIDES, changed_overrides
from burncloud.services.channels import add_channel, update_channel
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
    wait_for_reload,
)

QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]
DOOR_QUESTION: list[MessageParam] = [{"role": "user", "content": "hello there"}]
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def header(headers: Any, name: str) -> str | None:
    """A received header by name in any case."""
    return next((v for k, v in dict(headers).items() if k.lower() == name.lower()), None)


async def change_channel(router: RunningRouter, channel_id: int, **fields: Any) -> None:
    db = await open_database(router.db_url)
    try:
        await update_channel(db, SecretBox.from_passphrase(SECRET), channel_id, **fields)
    finally:
        await db.close()
    await wait_for_reload(router)


async def test_an_openai_channel_sends_its_headers_and_parameters(tmp_path) -> None:
    overrides = changed_overrides(
        EMPTY_OVERRIDES,
        set_headers=["X-Org-Route=blue"],
        set_params=["temperature=0.2", 'metadata={"team": "ops"}'],
        drop_params=["user"],
    )
    async with FakeOpenAI() as fake, running_router(tmp_path, fake) as router:
        await change_channel(router, 1, overrides=overrides)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        reply = await client.chat.completions.create(
            model="gpt-4", messages=QUESTION, temperature=1, user="bob"
        )
        whole = fake.last_request
        stream = await client.chat.completions.create(
            model="gpt-4", messages=QUESTION, user="bob", stream=True
        )
        chunks = [chunk async for chunk in stream]
        streamed = fake.last_request
        await client.close()
    assert reply.choices[0].message.content
    for sent in (whole, streamed):
        assert header(sent.headers, "X-Org-Route") == "blue"
        assert header(sent.headers, "Authorization") == f"Bearer {fake.key}"
        assert sent.json["temperature"] == 0.2 and sent.json["metadata"] == {"team": "ops"}
        assert "user" not in sent.json
    # the relay's own changes stay: usage asked for on the stream, and billed from it
    assert streamed.json["stream_options"] == {"include_usage": True}
    assert chunks and all(chunk.usage is None for chunk in chunks)  # hidden: not asked for
    rows = await logged_rows(router.db_url)
    assert [(row["status"], row["estimated"]) for row in rows] == [(200, 0), (200, 0)]


async def test_an_anthropic_channel_takes_parameters_of_its_own_api(tmp_path) -> None:
    overrides = changed_overrides(
        EMPTY_OVERRIDES, set_headers=["X-Proxy-Tag=t1"], set_params=["top_k=5"]
    )
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "anthropic", fake.base_url, fake.key, overrides=overrides)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        reply = await client.chat.completions.create(model="gpt-4", messages=QUESTION)
        await client.close()
        # the Anthropic door's request to the same channel goes natively, overridden too
        door = anthropic.AsyncAnthropic(
            api_key=router.key, base_url=router.base_url.removesuffix("/v1"), max_retries=0
        )
        message = await door.messages.create(model="gpt-4", max_tokens=50, messages=DOOR_QUESTION)
        await door.close()
    assert reply.choices[0].message and message.content
    converted, native = fake.requests
    assert converted["top_k"] == 5 and native["top_k"] == 5
    assert native["max_tokens"] == 50  # the client's limit, untouched
    assert [header(sent, "X-Proxy-Tag") for sent in fake.headers] == ["t1", "t1"]


async def test_a_bedrock_channel_is_signed_over_the_overridden_request(tmp_path) -> None:
    overrides = changed_overrides(
        EMPTY_OVERRIDES,
        set_headers=["X-Amzn-Bedrock-Trace=ENABLED"],
        set_params=['inferenceConfig={"topP": 0.5}'],
    )
    async with (
        FakeOpenAI("unused") as unused,
        FakeBedrock() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(
            router,
            "bedrock",
            fake.base_url,
            fake.key,
            config={"region": fake.region},
            model_map={"gpt-4": CLAUDE},
            overrides=overrides,
        )
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        reply = await client.chat.completions.create(
            model="gpt-4", messages=QUESTION, max_tokens=100
        )
        await client.close()
    assert reply.choices[0].message.content  # the strict fake checked the signature
    assert fake.requests[-1]["inferenceConfig"] == {"maxTokens": 100, "topP": 0.5}
    sent = fake.headers[-1]
    assert sent["x-amzn-bedrock-trace"] == "ENABLED"
    assert "x-amzn-bedrock-trace" in sent["authorization"]  # signed, not just sent


async def add_second_channel(router: RunningRouter, fake: FakeOpenAI, **fields: Any) -> int:
    db = await open_database(router.db_url)
    try:
        channel = await add_channel(
            db,
            SecretBox.from_passphrase(SECRET),
            type="openai",
            name="second",
            key=fake.key,
            base_url=fake.base_url,
            models=["gpt-4"],
            **fields,
        )
    finally:
        await db.close()
    return channel.id


async def test_a_channel_at_its_rpm_cap_is_skipped_for_the_next_one(tmp_path) -> None:
    async with (
        FakeOpenAI() as capped,
        FakeOpenAI() as spare,
        running_router(tmp_path, capped) as router,
    ):
        second = await add_second_channel(router, spare, priority=0)
        await change_channel(router, 1, rpm=2, priority=10)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        for _ in range(3):
            await client.chat.completions.create(model="gpt-4", messages=QUESTION)
        await client.close()
        assert (capped.request_count, spare.request_count) == (2, 1)
    rows = await logged_rows(router.db_url)
    assert [row["channel_id"] for row in rows] == [1, 1, second]
    assert all(row["status"] == 200 for row in rows)
    route = orjson.loads(rows[-1]["route"])
    skipped = [entry for entry in route["skipped"] if entry.get("cap")]
    assert skipped == [
        {"id": 1, "reason": skipped[0]["reason"], "cap": "rpm", **_key_of(skipped[0])}
    ]
    assert skipped[0]["reason"].startswith("channel at its 2 RPM cap, retry in ")
    assert [attempt["id"] for attempt in route["attempts"]] == [second]


def _key_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The key id the trace may name with the skip (it never names the key itself)."""
    return {"key": entry["key"]} if "key" in entry else {}


async def test_every_channel_capped_answers_429_with_retry_after(tmp_path) -> None:
    async with FakeOpenAI() as fake, running_router(tmp_path, fake) as router:
        await change_channel(router, 1, rpm=1)
        async with httpx.AsyncClient() as client:
            answers = [
                await client.post(
                    f"{router.base_url}/chat/completions",
                    json={"model": "gpt-4", "messages": QUESTION},
                    headers={"Authorization": f"Bearer {router.key}"},
                )
                for _ in range(2)
            ]
        assert fake.request_count == 1
    assert [answer.status_code for answer in answers] == [200, 429]
    refused = answers[1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "rate cap" in refused.json()["error"]["message"]
    rows = await logged_rows(router.db_url)
    assert [row["status"] for row in rows] == [200, 429]
    # a cap is no failure: the channel's breaker never heard of it
    route = orjson.loads(rows[1]["route"])
    assert route["attempts"] == [] and route["skipped"][0]["cap"] == "rpm"
