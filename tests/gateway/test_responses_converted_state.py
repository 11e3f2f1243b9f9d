"""End to end: Responses API state through a real router, driven by the official openai SDK.

A converted turn's reasoning travels sealed in ``encrypted_content`` when the client keeps
the conversation (``store: false``); a stored converted turn is continued, listed, retrieved
and deleted from burncloud's own store; a passthrough turn lives at the OpenAI channel that
made it, which every later call about it goes back to; input tokens are counted where the
channel can, estimated where it cannot."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from openai.types.responses import (
    FunctionToolParam,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseReasoningItem,
)

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.gateway.doors.responses_turns import REASONING
from burncloud.services.channels import update_channel
from tests.fakes import FakeOpenAI
from tests.gateway.converted_cases import AFTER_TOOL, QUESTION, THINKING_TOOL_USE, sent
from tests.gateway.recorded_answers import FIXTURES, anthropic_answer, anthropic_stream
from tests.gateway.responses_harness import (
    add_fake_channel,
    checked_events,
    checked_response,
    converted_router,
    cost,
    in_db,
    make_fake,
    sdk,
    second_user_key,
)
from tests.gateway.router_harness import logged_rows, running_router, wait_for_reload

ASK = "What is the largest city in my country?"
COUNTRY_TOOL: FunctionToolParam = {
    "type": "function",
    "name": "get_user_country",
    "description": "The user's country.",
    "parameters": {"type": "object", "properties": {}},
    "strict": None,
}
# A Codex-like turn of a tool loop: the client keeps the conversation and its reasoning.
LOOP: dict[str, Any] = {
    "model": "gpt-4",
    "tools": [COUNTRY_TOOL],
    "reasoning": {"effort": "low"},
    "include": ["reasoning.encrypted_content"],
    "store": False,
}
CALL_RECORDING = "responses_stream_function_call.sse"


def recorded_thinking(name: str) -> dict[str, Any]:
    """The signed thinking block of a recorded Anthropic answer."""
    answer = orjson.loads((FIXTURES / "anthropic" / name).read_bytes())
    block: dict[str, Any] = next(b for b in answer["content"] if b["type"] == "thinking")
    return {"type": "thinking", "thinking": block["thinking"], "signature": block["signature"]}


def flipped(token: str, at: int) -> str:
    """The token with one character changed, whatever that character was."""
    changed = "B" if token[at] == "A" else "A"
    return token[:at] + changed + token[at + 1 :]


def items(output: list[Any]) -> list[dict[str, object]]:
    return [item.to_dict() for item in output]


def assistant_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    assistant = [m for m in body["messages"] if m["role"] == "assistant"][-1]
    content = assistant["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def texts(listed: list[Any]) -> list[str]:
    return [item.content[0].text for item in listed]


async def stored_count(router: Any) -> int:
    async def count(db: Database) -> int:
        return int(await db.fetch_value("SELECT COUNT(*) FROM responses"))

    total: int = await in_db(router, count)
    return total


async def test_sealed_reasoning_returns_to_claude_as_its_signed_thinking_and_is_not_stored(
    tmp_path: Path,
) -> None:
    thinking = recorded_thinking(THINKING_TOOL_USE)
    fixtures = [THINKING_TOOL_USE, AFTER_TOOL]
    async with (
        converted_router(tmp_path, "anthropic", answer_fixture=fixtures) as (router, fake),
        sdk(router) as client,
    ):
        first = checked_response(await client.responses.create(input=ASK, **LOOP))
        reasoning, _, call = first.output
        assert isinstance(reasoning, ResponseReasoningItem)
        assert isinstance(call, ResponseFunctionToolCall)
        back = {"type": "function_call_output", "call_id": call.call_id, "output": "Mexico"}
        sealed: list[Any] = [{"role": "user", "content": ASK}, *items(first.output), back]
        second = await client.responses.create(input=sealed, **LOOP)
        token = str(reasoning.encrypted_content)
        tampered = {**reasoning.to_dict(), "encrypted_content": flipped(token, 40)}
        forged_seal = SecretBox.from_passphrase("not the router's").seal(
            orjson.dumps({"thinking_blocks": [{**thinking, "signature": "forged"}]}), REASONING
        )
        forged = {**reasoning.to_dict(), "encrypted_content": forged_seal}
        for fake_item in (tampered, forged):
            conversation = [sealed[0], fake_item, *sealed[2:]]
            answered = await client.responses.create(input=conversation, **LOOP)
            assert answered.status == "completed"
        for response_id in (first.id, second.id):
            with pytest.raises(openai.NotFoundError):
                await client.responses.retrieve(response_id)
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == thinking["thinking"]
    assert thinking["signature"] not in token  # sealed, not merely encoded
    assert sent(fake, 0)["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    loop = sent(fake, 1)
    assert loop["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert [b["type"] for b in assistant_blocks(loop)] == ["thinking", "text", "tool_use"]
    assert assistant_blocks(loop)[0] == thinking
    assert checked_response(second).output_text == anthropic_answer(AFTER_TOOL).text
    for refused in (sent(fake, 2), sent(fake, 3)):  # no signed block: thinking stays off
        assert [b["type"] for b in assistant_blocks(refused)] == ["text", "tool_use"]
        assert "thinking" not in refused
    assert await stored_count(router) == 0


async def test_a_streamed_thinking_signature_is_sealed_for_the_next_turn(tmp_path: Path) -> None:
    recorded = anthropic_stream("anthropic_stream_thinking.sse")
    streams = ["anthropic_stream_thinking.sse", "anthropic_stream_basic_text.sse"]
    request = {**LOOP, "tools": []}
    async with (
        converted_router(tmp_path, "anthropic", stream_fixture=streams) as (router, fake),
        sdk(router) as client,
    ):
        first = await client.responses.create(
            input="How do I cross the street?", stream=True, **request
        )
        output = checked_events([event async for event in first])[-1].response.output
        turn: list[Any] = [{"role": "user", "content": "How do I cross the street?"}]
        turn += items(output)
        turn.append({"role": "user", "content": "Thanks!"})
        second = await client.responses.create(input=turn, stream=True, **request)
        checked_events([event async for event in second])
    signature = next(
        event["delta"]["signature"]
        for event in _anthropic_events("anthropic_stream_thinking.sse")
        if event.get("delta", {}).get("type") == "signature_delta"
    )
    assert assistant_blocks(sent(fake, 1))[0] == {
        "type": "thinking",
        "thinking": recorded.thinking,
        "signature": signature,
    }
    assert await stored_count(router) == 0


def _anthropic_events(name: str) -> list[dict[str, Any]]:
    raw = (FIXTURES / "anthropic" / name).read_bytes().splitlines()
    return [orjson.loads(line[5:]) for line in raw if line.startswith(b"data:")]


async def test_a_stored_converted_turn_is_continued_listed_and_retrieved(tmp_path: Path) -> None:
    whole = anthropic_answer(AFTER_TOOL)
    streamed = anthropic_stream("anthropic_stream_basic_text.sse")
    async with (
        converted_router(tmp_path, "anthropic", answer_fixture=AFTER_TOOL) as (router, fake),
        sdk(router) as client,
    ):
        first = await client.responses.create(
            model="gpt-4", input="What is 2+2?", instructions="Be brief."
        )
        stream = await client.responses.create(
            model="gpt-4", input="And 3+3?", previous_response_id=first.id, stream=True
        )
        second = checked_events([event async for event in stream])[-1].response
        third = await client.responses.create(
            model="gpt-4", input="And 4+4?", previous_response_id=second.id
        )
        got = await client.responses.retrieve(second.id)
        listed = [item async for item in client.responses.input_items.list(third.id, limit=2)]
        page = await client.responses.input_items.list(third.id, limit=2)
        after = await client.responses.input_items.list(third.id, limit=2, after=page.data[-1].id)
        oldest = await client.responses.input_items.list(third.id, order="asc", limit=3)
    assert "Be brief." in str(sent(fake, 0)["system"]) and "system" not in sent(fake, 1)
    conversation = ["What is 2+2?", whole.text, "And 3+3?", streamed.text, "And 4+4?"]
    for turn, count in ((1, 3), (2, 5)):
        said = [m["content"][0]["text"] for m in sent(fake, turn)["messages"]]
        assert said == conversation[:count]
    assert (second.previous_response_id, third.previous_response_id) == (first.id, second.id)
    assert checked_response(got).to_dict() == second.to_dict()
    assert texts(listed) == conversation[::-1]
    assert [getattr(i, "role", None) for i in listed] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert (texts(page.data), page.has_more) == (conversation[:2:-1], True)
    assert (texts(after.data), after.has_more) == (conversation[2:0:-1], True)
    assert (texts(oldest.data), oldest.has_more) == (conversation[:3], True)
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["stream"], r["cost"]) for r in rows] == [
        ("responses", 0, cost(whole.prompt, whole.completion)),
        ("responses", 1, cost(streamed.prompt, streamed.completion)),
        ("responses", 0, cost(whole.prompt, whole.completion)),
    ]


async def test_a_deleted_or_foreign_response_is_gone_for_every_call_about_it(
    tmp_path: Path,
) -> None:
    async with (
        converted_router(tmp_path, "anthropic", answer_fixture=AFTER_TOOL) as (router, fake),
        sdk(router) as client,
    ):
        first = await client.responses.create(model="gpt-4", input=QUESTION)
        bob = sdk(router, await second_user_key(router))
        async with bob:
            refusals = await _refusals(bob, first.id)
        kept = await client.responses.retrieve(first.id)
        await client.responses.delete(first.id)
        gone = await _refusals(client, first.id)
    missing = f"Response with id '{first.id}' not found."
    previous = {
        "message": f"Previous response with id '{first.id}' not found.",
        "type": "invalid_request_error",
        "code": "previous_response_not_found",
    }
    for found in (refusals, gone):
        assert found["retrieve"] == found["delete"] == found["items"] == (404, missing)
        assert found["continue"] == (400, previous)
    assert kept.id == first.id  # bob's delete did not reach it
    assert len(fake.requests) == 1  # no refused continuation went upstream


async def _refusals(client: openai.AsyncOpenAI, response_id: str) -> dict[str, Any]:
    """How each call about ``response_id`` is refused: (status, message or error body)."""
    found: dict[str, Any] = {}
    calls: dict[str, Awaitable[object]] = {
        "retrieve": client.responses.retrieve(response_id),
        "delete": client.responses.delete(response_id),
        "items": client.responses.input_items.list(response_id),
        "continue": client.responses.create(
            model="gpt-4", input="more", previous_response_id=response_id
        ),
    }
    for name, call in calls.items():
        with pytest.raises(openai.APIStatusError) as refused:
            await call
        error = refused.value.body
        assert isinstance(error, dict)
        found[name] = (refused.value.status_code, error if name == "continue" else error["message"])
    return found


async def test_a_passthrough_turn_is_pinned_to_the_channel_that_made_it(tmp_path: Path) -> None:
    async with (
        FakeOpenAI("sk-canary-a") as a,
        FakeOpenAI("sk-canary-b") as b,
        running_router(tmp_path, a) as router,
        sdk(router) as client,
    ):
        b.responses_recording = CALL_RECORDING  # another recording: another response id
        b_id = await add_fake_channel(router, "openai", b, "b", priority=10)
        first = await client.responses.create(model="gpt-4", input=QUESTION)

        async def demote(db: Database) -> None:
            await update_channel(db, None, b_id, priority=-10)

        await in_db(router, demote)  # from now on the balancer prefers channel a
        await wait_for_reload(router)
        continued = [
            await client.responses.create(
                model="gpt-4", input="More.", previous_response_id=first.id
            )
            for _ in range(3)
        ]
        stream = await client.responses.create(
            model="gpt-4", input="More.", previous_response_id=first.id, stream=True
        )
        streamed = [event async for event in stream]  # as recorded (before sequence numbers)
        fresh = await client.responses.create(model="gpt-4", input=QUESTION)
        got = await client.responses.retrieve(first.id)
        await client.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            await client.responses.retrieve(first.id)
    completed = streamed[-1]
    assert isinstance(completed, ResponseCompletedEvent)
    assert {r.id for r in continued} == {first.id, got.id, completed.response.id}
    assert fresh.id != first.id
    assert [(r.method, r.path) for r in a.requests] == [("POST", "/v1/responses")]
    assert [(r.method, r.path) for r in b.requests] == [
        *[("POST", "/v1/responses")] * 5,
        ("GET", f"/v1/responses/{first.id}"),
        ("DELETE", f"/v1/responses/{first.id}"),
    ]
    assert [r.json["previous_response_id"] for r in b.requests[1:5]] == [first.id] * 4
    rows = await logged_rows(router.db_url)
    assert [r["channel_id"] for r in rows if r["status"] == 200] == [b_id] * 5 + [1]


async def test_input_tokens_are_counted_upstream_by_openai_and_free(tmp_path: Path) -> None:
    async with (
        FakeOpenAI("sk-canary-upstream") as fake,
        running_router(tmp_path, fake) as router,
        sdk(router) as client,
    ):
        counted = await client.responses.input_tokens.count(
            model="gpt-4", instructions="Be brief.", input=[{"role": "user", "content": QUESTION}]
        )
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.input_tokens.count(
                model="gpt-4", input="hi", extra_body={"temperature": 1}
            )
    assert (counted.object, counted.input_tokens) == ("response.input_tokens", 2 + 6)
    assert fake.requests[0].path == "/v1/responses/input_tokens"
    assert fake.requests[0].json["input"] == [{"role": "user", "content": QUESTION}]
    assert refused.value.status_code == 400 and "temperature" in str(refused.value.body)
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["status"]) for r in rows] == [("input_tokens", 400)]


async def test_input_tokens_are_estimated_for_a_converted_channel_and_free(
    tmp_path: Path,
) -> None:
    async with (
        converted_router(tmp_path, "anthropic") as (router, fake),
        sdk(router) as client,
    ):
        short = await client.responses.input_tokens.count(model="gpt-4", input="Hi")
        longer = await client.responses.input_tokens.count(
            model="gpt-4", instructions="Be brief.", input=QUESTION, tools=[COUNTRY_TOOL]
        )
    assert 0 < short.input_tokens < longer.input_tokens
    assert fake.requests == []
    assert await logged_rows(router.db_url) == []


async def test_a_turn_stored_here_continues_on_a_channel_serving_the_api(tmp_path: Path) -> None:
    """A stored converted turn (with Claude's sealed reasoning) continued on an OpenAI
    channel: the whole conversation goes up, without the reasoning OpenAI cannot open and
    without the id OpenAI never made, and the strict fake takes it."""
    async with (
        FakeOpenAI("sk-canary-openai") as openai_fake,
        make_fake("anthropic", stream_fixture="anthropic_stream_thinking.sse") as claude,
        running_router(tmp_path, openai_fake) as router,
        sdk(router) as client,
    ):
        claude_id = await add_fake_channel(router, "anthropic", claude, "claude", priority=10)
        stream = await client.responses.create(
            model="gpt-4", input=ASK, reasoning={"effort": "medium"}, stream=True
        )
        first = checked_events([event async for event in stream])[-1].response

        async def demote(db: Database) -> None:
            await update_channel(db, None, claude_id, priority=-10)

        await in_db(router, demote)
        await wait_for_reload(router)
        second = await client.responses.create(
            model="gpt-4", input="And the second largest?", previous_response_id=first.id
        )
    assert first.output[0].type == "reasoning"
    assert second.output_text  # the fake OpenAI's answer
    sent_up = openai_fake.last_request.json
    assert "previous_response_id" not in sent_up
    kinds = [(item.get("type"), item.get("role")) for item in sent_up["input"]]
    assert ("reasoning", None) not in kinds
    assert kinds[0][1] == "user" and kinds[-1][1] == "user" and ("message", "assistant") in kinds


async def test_a_turn_whose_channel_no_longer_serves_the_model_is_a_clear_404(
    tmp_path: Path,
) -> None:
    async with (
        FakeOpenAI("sk-canary-a") as a,
        FakeOpenAI("sk-canary-b") as b,
        running_router(tmp_path, a) as router,
        sdk(router) as client,
    ):
        b.responses_recording = CALL_RECORDING  # another recording: another response id
        b_id = await add_fake_channel(router, "openai", b, "b", priority=10)
        first = await client.responses.create(model="gpt-4", input=QUESTION)

        async def retire(db: Database) -> None:
            await update_channel(db, None, b_id, models=["gpt-3.5-turbo"])

        await in_db(router, retire)
        await wait_for_reload(router)
        with pytest.raises(openai.NotFoundError) as caught:
            await client.responses.create(
                model="gpt-4", input="More.", previous_response_id=first.id
            )
    assert "holding the previous response no longer serves model 'gpt-4'" in str(caught.value)
    assert len(b.requests) == 1 and len(a.requests) == 0  # not sent where it cannot continue
