"""Anthropic-format requests to a Bedrock channel serving Claude: InvokeModel, untouched.

The anthropic SDK (and Claude Code's recorded requests) through the router to the strict
fake Bedrock: the body reaches it with every member the client wrote (only ``model`` and
``stream`` moved out, ``anthropic_version`` and ``anthropic_beta`` added), the client gets
Claude's own events and message, and the log row bills the recorded usage exactly. A
Bedrock channel serving another model still gets the Converse conversion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from burncloud.protocols.sse import SSEFramer, parse_event
from tests.fakes import FakeOpenAI
from tests.fakes.bedrock_invoke import FIXTURES, recorded_events
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.gateway.router_harness import RunningRouter, logged_rows, running_router
from tests.gateway.test_router_bedrock import NOVA, billed, cost, fixture_json, use_bedrock
from tests.gateway.test_router_claude_code_requests import (
    RECORDED,
    _models,
    _recorded,
    _replay,
    _serve_models,
)

SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET_PATH = "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0"
VERSION = "bedrock-2023-05-31"
HELLO = [{"role": "user", "content": "How do I cross the street?"}]
# A Messages body as a client writes it: stream first, a mid-conversation system turn,
# cache control, thinking, and a member no API knows yet.
EVERYTHING = (
    b'{"stream": true, "max_tokens": 300, "model": "gpt-4",'
    b' "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there",'
    b' "cache_control": {"type": "ephemeral"}}]},'
    b' {"role": "system", "content": "Today is Monday."}],'
    b' "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],'
    b' "thinking": {"type": "enabled", "budget_tokens": 1024},'
    b' "future_field": {"introduced": "2027", "values": [1, 2.5, null]}}'
)
BETAS = "interleaved-thinking-2025-05-14,context-1m-2025-08-07"


@asynccontextmanager
async def claude_on_bedrock(
    tmp_path: Path, model: str = SONNET, **fake_options: Any
) -> AsyncIterator[tuple[RunningRouter, FakeBedrock, anthropic.AsyncAnthropic]]:
    """A router whose one channel is Bedrock serving gpt-4 as ``model``; an anthropic SDK
    client that never retries."""
    async with (
        FakeOpenAI("unused") as unused,
        FakeBedrock(**fake_options) as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_bedrock(router, fake, model, fake.key, None)
        client = anthropic.AsyncAnthropic(
            api_key=router.key, base_url=router.base_url.removesuffix("/v1"), max_retries=0
        )
        try:
            yield router, fake, client
        finally:
            await client.close()


def recorded_deltas(name: str, kind: str) -> str:
    """The joined ``kind`` deltas (text_delta, thinking_delta) of a recorded stream."""
    deltas = [orjson.loads(data).get("delta", {}) for data in recorded_events(name)]
    field = kind.removesuffix("_delta")
    return "".join(delta[field] for delta in deltas if delta.get("type") == kind)


def sse_events(raw: bytes) -> list[tuple[str, bytes]]:
    framer = SSEFramer()
    events = [parse_event(event) for event in [*framer.feed(raw), framer.flush()] if event]
    return [(event.event, event.data.encode()) for event in events if event is not None]


async def test_the_sdk_streams_claudes_thinking_and_text_from_bedrock(tmp_path) -> None:
    name = "anthropic_stream_thinking.sse"
    thinking = {"type": "enabled", "budget_tokens": 1024}
    messages = [*HELLO, {"role": "system", "content": "The user is in Paris."}]
    future = {"introduced": "2027", "values": [1, 2.5, None]}
    async with (
        claude_on_bedrock(tmp_path, invoke_stream=name) as (router, fake, client),
        client.messages.stream(
            model="gpt-4",
            max_tokens=4096,
            thinking=thinking,
            messages=messages,  # type: ignore[arg-type]
            extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
            extra_body={"future_field": future},
        ) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == recorded_deltas(name, "text_delta")
    assert final.content[0].thinking == recorded_deltas(name, "thinking_delta")
    assert (final.usage.input_tokens, final.usage.output_tokens) == (43, 282)
    assert fake.paths == [f"{SONNET_PATH}/invoke-with-response-stream"]
    assert fake.requests == [
        {
            "max_tokens": 4096,
            "messages": messages,
            "thinking": thinking,
            "future_field": future,
            "anthropic_version": VERSION,
            "anthropic_beta": ["interleaved-thinking-2025-05-14"],
        }
    ]
    assert billed(await logged_rows(router.db_url)) == [(43, 282, 0, cost(43, 282), 0, 200)]


async def test_the_sdk_gets_claudes_message_from_bedrock_as_it_came(tmp_path) -> None:
    async with claude_on_bedrock(tmp_path) as (router, fake, client):
        message = await client.messages.create(model="gpt-4", max_tokens=300, messages=HELLO)
    recorded = orjson.loads((FIXTURES / fake.invoke_answer).read_bytes())
    assert message.model_dump(exclude_none=True) == {
        k: v for k, v in recorded.items() if v is not None
    } | {"usage": message.usage.model_dump(exclude_none=True)}
    assert fake.paths == [f"{SONNET_PATH}/invoke"]
    assert fake.requests == [{"max_tokens": 300, "messages": HELLO, "anthropic_version": VERSION}]
    rows = await logged_rows(router.db_url)
    assert billed(rows) == [(1577, 86, 0, cost(1577, 86), 0, 200)]


async def test_every_member_reaches_bedrock_and_every_event_the_client(tmp_path) -> None:
    async with claude_on_bedrock(tmp_path) as (router, fake, _), httpx.AsyncClient() as http:
        response = await http.post(
            f"{router.base_url}/messages",
            content=EVERYTHING,
            headers={"x-api-key": router.key, "anthropic-beta": BETAS},
        )
    assert response.status_code == 200
    assert fake.rejections == []
    sent = orjson.loads(EVERYTHING)
    kept = {key: value for key, value in sent.items() if key not in ("model", "stream")}
    expected = kept | {"anthropic_version": VERSION, "anthropic_beta": BETAS.split(",")}
    assert fake.requests == [expected]
    assert list(fake.requests[0]) == list(expected)  # in the client's order
    got, recorded = sse_events(response.content), recorded_events(fake.invoke_stream)
    assert [kind for kind, _ in got] == [orjson.loads(data)["type"] for data in recorded]
    assert [data for _, data in got[:-1]] == recorded[:-1]  # Claude's JSON, byte for byte
    metrics = orjson.loads(got[-1][1])["amazon-bedrock-invocationMetrics"]
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == (11, 6)
    assert billed(await logged_rows(router.db_url)) == [(11, 6, 0, cost(11, 6), 0, 200)]


async def test_an_exception_mid_stream_reaches_the_sdk_and_the_log(tmp_path) -> None:
    cut = {"stream_exception": ("throttlingException", "Too many tokens."), "exception_after": 4}
    seen: list[str] = []
    async with claude_on_bedrock(tmp_path, **cut) as (router, fake, client):
        with pytest.raises(anthropic.APIStatusError, match="Too many tokens") as caught:
            async with client.messages.stream(
                model="gpt-4", max_tokens=300, messages=HELLO
            ) as stream:
                async for event in stream:
                    seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta", "text"]
    assert fake.paths == [f"{SONNET_PATH}/invoke-with-response-stream"]
    assert caught.value.body == {  # Anthropic's error event, as Claude's API sends it
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Too many tokens."},
    }
    rows = await logged_rows(router.db_url)
    assert (rows[0]["status"], rows[0]["error"]) == (429, "Too many tokens.")
    assert rows[0]["estimated"] == 1 and rows[0]["cost"] > 0  # the prompt was sent: billed


async def test_a_bedrock_channel_serving_nova_still_gets_converse(tmp_path) -> None:
    async with claude_on_bedrock(tmp_path, NOVA) as (router, fake, client):
        message = await client.messages.create(model="gpt-4", max_tokens=300, messages=HELLO)
    answer = fixture_json("bedrock_converse_nonstream_claude.json")
    assert message.content[0].text == answer["output"]["message"]["content"][0]["text"]
    assert fake.paths == ["/model/us.amazon.nova-micro-v1%3A0/converse"]
    assert fake.requests[0]["messages"] == [
        {"role": "user", "content": [{"text": HELLO[0]["content"]}]}
    ]
    assert billed(await logged_rows(router.db_url)) == [(21, 69, 0, cost(21, 69), 0, 200)]


@pytest.mark.parametrize(
    "fixture",
    [RECORDED / "tool_result_turn.json", RECORDED / "main_turn_model_claude-sonnet-4-5.json"],
    ids=lambda path: path.stem,
)
async def test_claude_codes_request_reaches_bedrock_untouched(tmp_path, fixture) -> None:
    recorded = _recorded(fixture)
    async with (
        FakeOpenAI("unused") as unused,
        FakeBedrock() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await _serve_models(
            router,
            "bedrock",
            fake,
            config={"region": fake.region},
            model_map={model: SONNET for model in _models()},
        )
        response, _ = await _replay(router, recorded)
    assert response.status_code == 200, response.text
    body = recorded["body"]
    kept = {key: value for key, value in body.items() if key not in ("model", "stream")}
    betas = recorded["headers"]["anthropic-beta"].split(",")
    assert fake.requests == [kept | {"anthropic_version": VERSION, "anthropic_beta": betas}]
    assert fake.paths == [f"{SONNET_PATH}/invoke-with-response-stream"]
    assert [kind for kind, _ in sse_events(response.content)][-1] == "message_stop"
    rows = await logged_rows(router.db_url)
    assert [(r["status"], r["model"], r["estimated"]) for r in rows] == [(200, body["model"], 0)]
    assert (rows[0]["prompt_tokens"], rows[0]["completion_tokens"]) == (11, 6)
