"""End to end: ``POST /v1/responses`` converted for channels that speak only their own API
(Anthropic, Gemini, Bedrock, Qwen), through a real router, driven by the official openai
SDK against the strict fakes replaying recorded answers. Every Response and event is
validated against the SDK's models; usage and cost come from the recording's usage."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import orjson
import pytest
from openai.types.responses import (
    FunctionToolParam,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseReasoningItem,
)

from tests.gateway.converted_cases import (
    AFTER_TOOL,
    KINDS,
    MEMORY_TOOL,
    QUESTION,
    STREAMED,
    THINKING_TOOL_USE,
    WHOLE,
    billed,
    only_row,
    recorded_bill,
    sent,
    system_text,
)
from tests.gateway.recorded_answers import FIXTURES, anthropic_answer, anthropic_stream
from tests.gateway.responses_harness import (
    UPSTREAM_MODELS,
    FailingAnthropic,
    add_fake_channel,
    checked_events,
    checked_response,
    converted_router,
    cost,
    router_in_thread,
    sdk,
    streamed_text,
)
from tests.gateway.router_harness import logged_rows

AGENTS_TURN = FIXTURES / "clients" / "openai_agents_0.24.0_turn2.json"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_whole_answer_is_a_response_billed_from_the_recorded_usage(
    tmp_path: Path, kind: str
) -> None:
    options, recorded = WHOLE[kind]
    async with (
        converted_router(tmp_path, kind, **options) as (router, fake),
        sdk(router) as client,
    ):
        response = await client.responses.create(
            model="gpt-4", input=QUESTION, instructions="Be brief."
        )
        body = sent(fake)
    checked_response(response)
    assert (response.status, response.model, response.instructions) == (
        "completed",
        "gpt-4",
        "Be brief.",
    )
    assert response.id.startswith("resp_") and response.output_text == recorded.text
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        recorded.prompt,
        recorded.completion,
        recorded.prompt + recorded.completion,
    )
    assert usage.output_tokens_details.reasoning_tokens == recorded.reasoning
    assert system_text(kind, body) == "Be brief."
    assert QUESTION in orjson.dumps(body).decode()
    if kind in ("anthropic", "qwen"):
        assert body["model"] == UPSTREAM_MODELS[kind]
    row = only_row(await logged_rows(router.db_url))
    assert billed(row) == recorded_bill(recorded) and row["stream"] == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_is_response_events_billed_from_the_recorded_usage(
    tmp_path: Path, kind: str
) -> None:
    options, recorded = STREAMED[kind]
    async with (
        converted_router(tmp_path, kind, **options) as (router, _),
        sdk(router) as client,
    ):
        stream = await client.responses.create(model="gpt-4", input=QUESTION, stream=True)
        events = checked_events([event async for event in stream])
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed" and kinds.count("response.completed") == 1
    final = events[-1].response
    assert streamed_text(events) == final.output_text == recorded.text
    assert final.id == events[0].response.id and final.status == "completed"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        recorded.prompt,
        recorded.completion,
    )
    row = only_row(await logged_rows(router.db_url))
    assert billed(row) == recorded_bill(recorded) and row["stream"] == 1


async def test_the_async_stream_helper_assembles_a_streamed_tool_call(tmp_path: Path) -> None:
    recorded = anthropic_stream("anthropic_stream_tool_use.sse")
    weather: FunctionToolParam = {**MEMORY_TOOL, "name": "get_weather", "description": "Weather."}
    options = {"stream_fixture": "anthropic_stream_tool_use.sse"}
    async with (
        converted_router(tmp_path, "anthropic", **options) as (router, fake),
        sdk(router) as client,
        client.responses.stream(model="gpt-4", input=QUESTION, tools=[weather]) as stream,
    ):
        events = checked_events([event async for event in stream])
        final = checked_response(await stream.get_final_response())
    assert [tool["name"] for tool in sent(fake)["tools"]] == ["get_weather"]
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    message, call = final.output
    assert isinstance(message, ResponseOutputMessage) and final.output_text == recorded.text
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.type, call.name, call.call_id) == (
        "function_call",
        "get_weather",
        "toolu_01NRLabsLyVHZPKxbKvkfSMn",
    )
    assert json.loads(call.arguments) == json.loads(arguments) == {"location": "Paris"}
    row = only_row(await logged_rows(router.db_url))
    assert billed(row) == recorded_bill(recorded)


def test_the_sync_client_creates_streams_retrieves_and_deletes(tmp_path: Path) -> None:
    whole, streamed = (
        anthropic_answer(AFTER_TOOL),
        anthropic_stream("anthropic_stream_basic_text.sse"),
    )
    with router_in_thread(tmp_path, "anthropic", answer_fixture=AFTER_TOOL) as running:
        router = running.router
        client = openai.OpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        created = client.responses.create(model="gpt-4", input=QUESTION)
        events = checked_events(
            list(client.responses.create(model="gpt-4", input="Hi", stream=True))
        )
        with client.responses.stream(model="gpt-4", input="Hi") as helper:
            deltas = [e.delta for e in helper if e.type == "response.output_text.delta"]
            final = helper.get_final_response()
        got = client.responses.retrieve(created.id)
        items = list(client.responses.input_items.list(created.id))
        client.responses.delete(created.id)  # returns nothing; a refusal would raise
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)
        client.close()
    assert created.output_text == got.output_text == whole.text
    assert got.to_dict() == created.to_dict()
    assert [(item.type, getattr(item, "role", None)) for item in items] == [("message", "user")]
    assert streamed_text(events) == "".join(deltas) == final.output_text == streamed.text
    rows = asyncio.run(logged_rows(router.db_url))
    stream_cost = cost(streamed.prompt, streamed.completion)
    # Retrieving and deleting are free and logged only when refused: the last 404 is.
    assert [(r["endpoint"], r["status"], r["stream"], r["cost"]) for r in rows] == [
        ("responses", 200, 0, cost(whole.prompt, whole.completion)),
        ("responses", 200, 1, stream_cost),
        ("responses", 200, 1, stream_cost),
        ("responses.retrieve", 404, 0, 0),
    ]


@pytest.mark.parametrize("status", [529, 500])
async def test_a_failing_converted_channel_fails_over_to_another_kind_before_the_first_byte(
    tmp_path: Path, status: int
) -> None:
    options, recorded = STREAMED["gemini"]
    async with (
        converted_router(tmp_path, "gemini", **options) as (router, fake),
        FailingAnthropic(status) as failing,
    ):
        failing_id = await add_fake_channel(router, "anthropic", failing, "claude", priority=10)
        async with sdk(router) as client:
            stream = await client.responses.create(model="gpt-4", input=QUESTION, stream=True)
            events = checked_events([event async for event in stream])
    assert (failing.hits, len(fake.requests)) == (1, 1)
    assert [e.type for e in events].count("response.created") == 1
    assert streamed_text(events) == recorded.text
    row = only_row(await logged_rows(router.db_url))
    attempts = orjson.loads(row["route"])["attempts"]
    assert [(a["id"], a["status"]) for a in attempts] == [(failing_id, status), (1, 200)]
    assert billed(row) == recorded_bill(recorded)


@pytest.mark.parametrize("kind", KINDS)
async def test_an_agents_sdk_tool_loop_turn_is_answered_on_every_kind(
    tmp_path: Path, kind: str
) -> None:
    """The OpenAI Agents SDK's second turn as recorded: the whole conversation (a function
    call and its output), ``include: []``, no ``store``; each provider gets its tool loop."""
    turn = orjson.loads(AGENTS_TURN.read_bytes())["body"]
    options, recorded = WHOLE[kind]
    async with (
        converted_router(tmp_path, kind, **options) as (router, fake),
        sdk(router) as client,
    ):
        response = await client.responses.create(**{**turn, "model": "gpt-4"})
    assert checked_response(response).output_text == recorded.text
    body = sent(fake)
    assert system_text(kind, body) == turn["instructions"]
    call, output = turn["input"][1], turn["input"][2]
    said = orjson.dumps(body).decode()
    assert all(text in said for text in ("get_capital", "France", output["output"]))
    if kind != "gemini":  # Gemini pairs a call and its answer by name and order, not by id
        assert said.count(call["call_id"]) == 2


async def test_reasoning_of_an_unstored_turn_is_not_sealed_unless_included(
    tmp_path: Path,
) -> None:
    thinking = anthropic_answer(THINKING_TOOL_USE).thinking
    options = {"answer_fixture": THINKING_TOOL_USE}
    async with (
        converted_router(tmp_path, "anthropic", **options) as (router, _),
        sdk(router) as client,
    ):
        response = await client.responses.create(
            model="gpt-4", input=QUESTION, reasoning={"effort": "low"}, store=False
        )
    reasoning = checked_response(response).output[0]
    assert isinstance(reasoning, ResponseReasoningItem)
    assert reasoning.summary[0].text == thinking and reasoning.encrypted_content is None
