"""End to end: what a converted Responses request carries to the provider, through a real
router, driven by the official openai SDK against the strict fakes: function tools and
their outputs, Codex's namespace tools and built-in web search, instructions and developer
messages, structured output, reasoning effort, and the settings only OpenAI understands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.responses import (
    ResponseFormatTextJSONSchemaConfig,
    ResponseFunctionToolCall,
    ResponseInputItemParam,
    ResponseOutputMessage,
    ResponseTextConfigParam,
    WebSearchToolParam,
)
from openai.types.responses.response_input_item_param import FunctionCallOutput

from burncloud.db import Database
from burncloud.providers.anthropic.tools import JSON_SCHEMA_INSTRUCTION, WEB_SEARCH_TOOL
from burncloud.services.routes import explain
from tests.fakes.anthropic_upstream import FIXTURES as ANTHROPIC_FIXTURES
from tests.gateway.converted_cases import (
    AFTER_TOOL,
    KINDS,
    MEMORY_TOOL,
    QUESTION,
    WHOLE,
    sent,
    system_text,
)
from tests.gateway.recorded_answers import anthropic_answer, anthropic_stream
from tests.gateway.responses_harness import (
    checked_events,
    checked_response,
    converted_router,
    in_db,
    sdk,
    streamed_text,
)
from tests.gateway.router_harness import logged_rows

CODEX = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
CODEX_REQUEST = CODEX / "codex_0.171.0_responses_request.json"
SPAWN = "multi_agent_v1__spawn_agent"  # Codex's spawn_agent in its multi_agent_v1 namespace
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
JSON_FORMAT: ResponseTextConfigParam = {
    "format": {"type": "json_schema", "name": "capital", "schema": SCHEMA, "strict": True}
}


def renamed_fixture(tmp_path: Path, name: str, old: str, new: str) -> str:
    """A recorded Anthropic answer with its tool ``old`` renamed ``new``, written to
    ``tmp_path`` (the fake reads a fixture by absolute path as well)."""
    raw = (ANTHROPIC_FIXTURES / name).read_bytes()
    assert f'"{old}"'.encode() in raw
    path = tmp_path / name
    path.write_bytes(raw.replace(f'"{old}"'.encode(), f'"{new}"'.encode()))
    return str(path)


def blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def item_dicts(items: list[Any]) -> list[dict[str, object]]:
    """Output items as a client sends them back on its next turn."""
    return [item.to_dict() for item in items]


async def notes_of(router: Any) -> list[str]:
    """The route explanation's notes for the router's one logged request."""
    (row,) = await logged_rows(router.db_url)

    async def read(db: Database) -> list[str]:
        return (await explain(db, row["request_id"])).notes

    notes: list[str] = await in_db(router, read)
    return notes


async def test_a_function_call_goes_out_and_its_output_comes_back_as_a_tool_result(
    tmp_path: Path,
) -> None:
    fixtures = ["anthropic_nonstream_tool_use.json", AFTER_TOOL]
    async with (
        converted_router(tmp_path, "anthropic", answer_fixture=fixtures) as (router, fake),
        sdk(router) as client,
    ):
        first = await client.responses.create(
            model="gpt-4",
            input=QUESTION,
            tools=[MEMORY_TOOL],
            tool_choice={"type": "function", "name": "memory"},
            parallel_tool_calls=False,
            store=False,
        )
        message, call = checked_response(first).output
        assert isinstance(message, ResponseOutputMessage)
        assert isinstance(call, ResponseFunctionToolCall)
        answered: FunctionCallOutput = {
            "type": "function_call_output",
            "call_id": call.call_id,
            "output": "none",
        }
        conversation: list[Any] = [{"role": "user", "content": QUESTION}]
        conversation += item_dicts(first.output)
        second = await client.responses.create(
            model="gpt-4", input=[*conversation, answered], tools=[MEMORY_TOOL], store=False
        )
    turn1, turn2 = sent(fake, 0), sent(fake, 1)
    assert turn1["tools"] == [
        {
            "name": "memory",
            "description": MEMORY_TOOL["description"],
            "input_schema": MEMORY_TOOL["parameters"],
        }
    ]
    assert turn1["tool_choice"] == {
        "type": "tool",
        "name": "memory",
        "disable_parallel_tool_use": True,
    }
    assert (call.type, call.name, call.call_id, call.namespace) == (
        "function_call",
        "memory",
        "toolu_01YC8RhZeDTZRbb8n1gUFTmb",
        None,
    )
    assert json.loads(call.arguments) == {"command": "view", "path": "/memories"}
    user, assistant, result = turn2["messages"]
    assert blocks(user) == [{"type": "text", "text": QUESTION}]
    assert assistant["role"] == "assistant" and blocks(assistant) == [
        {"type": "text", "text": first.output_text},
        {
            "type": "tool_use",
            "id": call.call_id,
            "name": "memory",
            "input": {"command": "view", "path": "/memories"},
        },
    ]
    (tool_result,) = blocks(result)
    assert result["role"] == "user" and tool_result["type"] == "tool_result"
    assert tool_result["tool_use_id"] == call.call_id and "none" in json.dumps(tool_result)
    assert checked_response(second).output_text == anthropic_answer(AFTER_TOOL).text


async def test_codex_turns_flatten_its_namespace_tools_and_map_their_calls_back(
    tmp_path: Path,
) -> None:
    codex = orjson.loads(CODEX_REQUEST.read_bytes())["body"]
    assert codex["stream"] is True and codex["store"] is False
    # What the SDK has no parameter for goes as Codex sends it: in the body.
    request = {key: value for key, value in codex.items() if key != "client_metadata"}
    extra = {"client_metadata": codex["client_metadata"]}
    tool_use = renamed_fixture(tmp_path, "anthropic_stream_tool_use.sse", "get_weather", SPAWN)
    streams = [tool_use, "anthropic_stream_basic_text.sse"]
    async with (
        converted_router(tmp_path, "anthropic", stream_fixture=streams) as (router, fake),
        sdk(router) as client,
    ):
        first = await client.responses.create(**request, extra_body=extra)
        events = checked_events([event async for event in first])
        output = events[-1].response.output
        call = output[-1]
        answered = {"type": "function_call_output", "call_id": call.call_id, "output": "ok"}
        turn = [*codex["input"], *item_dicts(output), answered]
        second = await client.responses.create(**{**request, "input": turn}, extra_body=extra)
        events2 = checked_events([event async for event in second])
    turn1, turn2 = sent(fake, 0), sent(fake, 1)
    declared = [
        f"{tool['name']}__{member['name']}" if tool["type"] == "namespace" else tool["name"]
        for tool in codex["tools"]
        for member in tool.get("tools", [tool])
        if tool["type"] in ("function", "namespace")
    ]
    assert [t["name"] for t in turn1["tools"] if "input_schema" in t] == declared
    assert WEB_SEARCH_TOOL in turn1["tools"]  # Codex allows a live search: Anthropic's own
    assert codex["input"][0]["content"][0]["text"][:200] in system_text("anthropic", turn1)
    added = next(
        e.item
        for e in events
        if e.type == "response.output_item.added" and e.item.type == "function_call"
    )
    assert (call.type, call.name, call.namespace) == (
        "function_call",
        "spawn_agent",
        "multi_agent_v1",
    )
    assert (added.name, added.namespace) == ("spawn_agent", "multi_agent_v1")
    assert json.loads(call.arguments) == {"location": "Paris"}
    assistant_turn = [m for m in turn2["messages"] if m["role"] == "assistant"][-1]
    tool_use_block = blocks(assistant_turn)[-1]
    assert (tool_use_block["type"], tool_use_block["name"], tool_use_block["id"]) == (
        "tool_use",
        SPAWN,
        call.call_id,
    )
    assert blocks(turn2["messages"][-1])[0]["tool_use_id"] == call.call_id
    assert streamed_text(events2) == anthropic_stream("anthropic_stream_basic_text.sse").text
    forbidden = {"client_metadata", "prompt_cache_key", "include", "store", "reasoning"}
    assert forbidden.isdisjoint(turn1) and forbidden.isdisjoint(turn2)


@pytest.mark.parametrize("kind", KINDS)
async def test_instructions_and_developer_messages_become_the_system_prompt(
    tmp_path: Path, kind: str
) -> None:
    options, _ = WHOLE[kind]
    conversation: list[ResponseInputItemParam] = [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": QUESTION},
    ]
    async with (
        converted_router(tmp_path, kind, **options) as (router, fake),
        sdk(router) as client,
    ):
        await client.responses.create(model="gpt-4", instructions="Be brief.", input=conversation)
    body = sent(fake)
    assert system_text(kind, body) == "Be brief.\n\nAnswer in French."
    turns = body.get("messages") or body["contents"]
    spoken = [turn for turn in turns if turn.get("role") != "system"]
    assert "French" not in orjson.dumps(spoken).decode()


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "bedrock"])
async def test_a_json_schema_text_format_reaches_the_provider_as_its_own_equivalent(
    tmp_path: Path, kind: str
) -> None:
    options, _ = WHOLE[kind]
    async with (
        converted_router(tmp_path, kind, **options) as (router, fake),
        sdk(router) as client,
    ):
        response = await client.responses.create(model="gpt-4", input=QUESTION, text=JSON_FORMAT)
    body = sent(fake)
    if kind == "gemini":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseSchema"]["properties"] == {"city": {"type": "string"}}
    else:  # Claude has no JSON mode: the schema is asked for in the system prompt
        assert system_text(kind, body).endswith(orjson.dumps(SCHEMA).decode())
        if kind == "anthropic":
            assert JSON_SCHEMA_INSTRUCTION in system_text(kind, body)
    text = checked_response(response).text
    form = text.format if text is not None else None
    assert isinstance(form, ResponseFormatTextJSONSchemaConfig)
    assert (form.type, form.name, form.schema_) == ("json_schema", "capital", SCHEMA)


async def test_reasoning_effort_is_a_thinking_budget_and_thinking_streams_as_reasoning(
    tmp_path: Path,
) -> None:
    recorded = anthropic_stream("anthropic_stream_thinking.sse")
    options = {"stream_fixture": "anthropic_stream_thinking.sse"}
    async with (
        converted_router(tmp_path, "anthropic", **options) as (router, fake),
        sdk(router) as client,
    ):
        stream = await client.responses.create(
            model="gpt-4",
            input="How do I cross the street?",
            reasoning={"effort": "medium", "summary": "auto"},
            max_output_tokens=8000,
            stream=True,
        )
        events = checked_events([event async for event in stream])
    body = sent(fake)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] == 8000
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    final = events[-1].response
    reasoning, message = final.output
    assert summary == reasoning.summary[0].text == recorded.thinking
    assert reasoning.encrypted_content  # sealed for the turn that continues a stored one
    assert message.content[0].text == recorded.text == streamed_text(events)
    assert (final.reasoning.effort, final.max_output_tokens) == ("medium", 8000)


@pytest.mark.parametrize("kind", KINDS)
async def test_settings_only_openai_understands_are_accepted_and_echoed(
    tmp_path: Path, kind: str
) -> None:
    options, recorded = WHOLE[kind]
    async with (
        converted_router(tmp_path, kind, **options) as (router, fake),
        sdk(router) as client,
    ):
        response = await client.responses.create(
            model="gpt-4",
            input=QUESTION,
            include=["reasoning.encrypted_content"],
            store=False,
            prompt_cache_key="session-1",
            service_tier="priority",
            metadata={"ticket": "42"},
            truncation="auto",
            extra_body={"client_metadata": {"session_id": "s-1"}},
        )
    checked_response(response)
    assert response.output_text == recorded.text
    assert (response.to_dict()["store"], response.prompt_cache_key, response.metadata) == (
        False,
        "session-1",
        {"ticket": "42"},
    )
    body = orjson.dumps(sent(fake)).decode()
    for value in ("session-1", "s-1", "ticket", "priority", "reasoning.encrypted_content"):
        assert value not in body


async def test_a_web_search_without_external_access_is_left_out_and_noted(
    tmp_path: Path,
) -> None:
    options, recorded = WHOLE["anthropic"]
    search: WebSearchToolParam = {"type": "web_search", "external_web_access": False}
    async with (
        converted_router(tmp_path, "anthropic", **options) as (router, fake),
        sdk(router) as client,
    ):
        response = await client.responses.create(model="gpt-4", input=QUESTION, tools=[search])
    notes = await notes_of(router)  # once the router has written its log
    assert response.output_text == recorded.text
    assert "tools" not in sent(fake)
    assert notes == ["web_search: external_web_access is false"]


async def test_a_web_search_is_google_search_grounding_at_gemini(tmp_path: Path) -> None:
    options, _ = WHOLE["gemini"]
    async with (
        converted_router(tmp_path, "gemini", **options) as (router, fake),
        sdk(router) as client,
    ):
        await client.responses.create(model="gpt-4", input=QUESTION, tools=[{"type": "web_search"}])
    notes = await notes_of(router)  # once the router has written its log
    assert sent(fake)["tools"] == [{"googleSearch": {}}] and notes == []


async def test_a_web_search_next_to_function_tools_is_left_out_at_gemini_and_noted(
    tmp_path: Path,
) -> None:
    """Gemini refuses Google Search next to function calling (Codex always sends both)."""
    options, _ = WHOLE["gemini"]
    tools = [{"type": "web_search"}, {**MEMORY_TOOL}]
    async with (
        converted_router(tmp_path, "gemini", **options) as (router, fake),
        sdk(router) as client,
    ):
        await client.responses.create(model="gpt-4", input=QUESTION, tools=tools)
    notes = await notes_of(router)
    assert {"googleSearch": {}} not in sent(fake)["tools"]
    assert notes == ["web_search: gemini cannot search here"]


async def test_a_web_search_bedrock_cannot_run_is_noted(tmp_path: Path) -> None:
    options, _ = WHOLE["bedrock"]
    async with (
        converted_router(tmp_path, "bedrock", **options) as (router, fake),
        sdk(router) as client,
    ):
        await client.responses.create(model="gpt-4", input=QUESTION, tools=[{"type": "web_search"}])
    notes = await notes_of(router)  # once the router has written its log
    assert "toolConfig" not in sent(fake)
    assert any(note.startswith("web_search") for note in notes)
