"""Responses tools, tool choice and settings -> chat request fields."""

from __future__ import annotations

import re
from typing import Any

import pytest

from burncloud.errors import InvalidRequest
from burncloud.providers.openai.front.tools import ToolName

from .support import CHAT_NAME, convert

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}


def namespace(name: str, *members: str) -> dict[str, Any]:
    tools = [{"type": "function", "name": m, "parameters": None, "strict": None} for m in members]
    return {"type": "namespace", "name": name, "description": "", "tools": tools}


def chat_of(**body: Any) -> dict[str, Any]:
    chat: dict[str, Any] = convert({"model": "m", "input": "hi", **body}).chat
    return chat


def tool_names(chat: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in chat.get("tools", ())]


def test_function_tools_convert_with_strict_kept() -> None:
    assert chat_of(tools=[WEATHER])["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city.",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]


def test_namespace_members_are_flattened_and_named_back() -> None:
    conversion = convert(
        {"model": "m", "input": "hi", "tools": [WEATHER, namespace("mcp__files", "read", "write")]}
    )
    assert tool_names(conversion.chat) == ["get_weather", "mcp__files__read", "mcp__files__write"]
    context = conversion.context
    assert context.client_name("mcp__files__read") == ToolName("read", "mcp__files")
    assert context.client_name("get_weather") == ToolName("get_weather")


def test_names_chat_cannot_take_get_a_short_hashed_form_that_still_maps_back() -> None:
    long_space, odd_space = "mcp__" + "x" * 70, "my.server"
    tools = [namespace(long_space, "read", "write"), namespace(odd_space, "read")]
    conversion = convert({"model": "m", "input": "hi", "tools": tools})
    names = tool_names(conversion.chat)
    assert all(CHAT_NAME.fullmatch(name) for name in names)
    assert len(set(names)) == 3
    assert [conversion.context.client_name(n) for n in names] == [
        ToolName("read", long_space),
        ToolName("write", long_space),
        ToolName("read", odd_space),
    ]
    again = convert({"model": "m", "input": "hi", "tools": tools})
    assert tool_names(again.chat) == names  # deterministic: history calls keep their names


def test_a_flattened_name_taken_by_a_function_is_hashed() -> None:
    taken = {**WEATHER, "name": "a__b"}
    conversion = convert({"model": "m", "input": "hi", "tools": [namespace("a", "b"), taken]})
    names = tool_names(conversion.chat)
    assert names[1] == "a__b" and names[0] != "a__b"
    assert conversion.context.client_name(names[0]) == ToolName("b", "a")
    assert conversion.context.client_name("a__b") == ToolName("a__b")


def test_a_tool_declared_twice_is_sent_once() -> None:
    additional = {
        "type": "additional_tools",
        "role": "developer",
        "tools": [namespace("ns", "a"), WEATHER],
    }
    items = [additional, {"role": "user", "content": "hi"}, additional]
    chat = convert({"model": "m", "input": items, "tools": [WEATHER, namespace("ns", "a")]}).chat
    assert tool_names(chat) == ["get_weather", "ns__a"]


def test_custom_tools_take_their_input_as_a_string_and_tell_the_grammar() -> None:
    grammar = {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}
    tool = {"type": "custom", "name": "exec", "description": "Run code.", "format": grammar}
    conversion = convert({"model": "m", "input": "hi", "tools": [tool]})
    (function,) = [t["function"] for t in conversion.chat["tools"]]
    assert function["name"] == "exec"
    assert function["parameters"]["required"] == ["input"]
    assert function["parameters"]["properties"]["input"]["type"] == "string"
    assert function["description"].startswith("Run code.")
    assert "lark grammar:\nstart: /.+/" in function["description"]
    assert conversion.context.client_name("exec") == ToolName("exec", None, custom=True)


def test_web_search_becomes_web_search_options_and_other_built_ins_are_left_out() -> None:
    tools = [
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "image_generation"},
        {
            "type": "computer_use_preview",
            "display_width": 1,
            "display_height": 1,
            "environment": "linux",
        },
        {"type": "local_shell"},
        {"type": "mcp", "server_label": "docs", "server_url": "https://example.com"},
        {"type": "a_tool_from_next_year"},
        WEATHER,
    ]
    conversion = convert({"model": "m", "input": "hi", "tools": tools})
    assert conversion.chat["web_search_options"] == {}
    assert tool_names(conversion.chat) == ["get_weather"]
    left_out = [note.split(":")[0] for note in conversion.omitted]
    assert left_out == [
        "file_search",
        "code_interpreter",
        "image_generation",
        "computer_use_preview",
        "local_shell",
        "mcp",
        "a_tool_from_next_year",
    ]


@pytest.mark.parametrize("kind", ["web_search", "web_search_preview"])
def test_a_web_search_without_external_access_is_left_out_and_reported(kind: str) -> None:
    conversion = convert(
        {"model": "m", "input": "hi", "tools": [{"type": kind, "external_web_access": False}]}
    )
    assert "web_search_options" not in conversion.chat and "tools" not in conversion.chat
    assert conversion.omitted == (f"{kind}: external_web_access is false",)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (
            {"type": "function", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
        (
            {"type": "function", "name": "read"},
            {"type": "function", "function": {"name": "mcp__files__read"}},
        ),
        (
            {"type": "function", "name": "mcp__files__read"},
            {"type": "function", "function": {"name": "mcp__files__read"}},
        ),
        ({"type": "file_search"}, "auto"),
        ({"type": "mcp", "server_label": "docs"}, "auto"),
    ],
)
def test_tool_choice_maps_to_chat(choice: Any, expected: Any) -> None:
    chat = chat_of(tools=[WEATHER, namespace("mcp__files", "read")], tool_choice=choice)
    assert chat["tool_choice"] == expected
    assert len(chat["tools"]) == 2


def test_allowed_tools_narrow_the_tools_to_the_allowed_functions() -> None:
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "read"}, {"type": "image_generation"}],
    }
    chat = chat_of(tools=[WEATHER, namespace("mcp__files", "read")], tool_choice=choice)
    assert chat["tool_choice"] == "required"
    assert tool_names(chat) == ["mcp__files__read"]
    only_built_in = {**choice, "tools": [{"type": "image_generation"}]}
    chat = chat_of(tools=[WEATHER], tool_choice=only_built_in)
    assert chat["tool_choice"] == "auto" and tool_names(chat) == ["get_weather"]


@pytest.mark.parametrize(
    ("choice", "words"),
    [
        ("sometimes", "'sometimes'"),
        ({"type": "function", "name": "nope"}, "'nope' not found"),
        ({"type": "function"}, "tool_choice.name"),
        (3, "tool_choice"),
    ],
)
def test_a_bad_tool_choice_is_refused(choice: Any, words: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(words)):
        chat_of(tools=[WEATHER], tool_choice=choice)


def test_without_chat_tools_there_is_no_tool_choice_nor_parallel_flag() -> None:
    chat = chat_of(
        tools=[{"type": "file_search"}], tool_choice="required", parallel_tool_calls=False
    )
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(chat)
    assert chat_of(tools=[WEATHER], parallel_tool_calls=False)["parallel_tool_calls"] is False


def test_settings_chat_takes_go_on_and_openai_only_ones_stay_behind() -> None:
    chat = chat_of(
        instructions="Sys",
        max_output_tokens=300,
        temperature=0.2,
        top_p=0.9,
        safety_identifier="user-7",
        metadata={"k": "v"},
        store=False,
        include=["reasoning.encrypted_content"],
        prompt_cache_key="pck",
        service_tier="flex",
        truncation="auto",
        background=False,
        top_logprobs=2,
        client_metadata={"x": "y"},
        stream_options={"include_obfuscation": False},
        text={"format": {"type": "text"}, "verbosity": "low"},
        stream=True,
    )
    assert chat == {
        "model": "m",
        "messages": [{"role": "system", "content": "Sys"}, {"role": "user", "content": "hi"}],
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "user-7",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert chat_of(user="u1", safety_identifier="s1")["user"] == "u1"


def test_state_kept_at_openai_is_reported() -> None:
    conversion = convert(
        {"model": "m", "input": "hi", "prompt": {"id": "pmpt_1"}, "conversation": "conv_1"}
    )
    assert conversion.omitted == (
        "prompt: stored prompts live at OpenAI",
        "conversation: conversations live at OpenAI",
    )


def test_text_format_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    form = {"type": "json_schema", "name": "out", "schema": schema, "strict": True}
    assert chat_of(text={"format": form})["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": schema, "strict": True},
    }
    assert chat_of(text={"format": {"type": "json_object"}})["response_format"] == {
        "type": "json_object"
    }
    assert "response_format" not in chat_of(text={"format": {"type": "text"}})
    with pytest.raises(InvalidRequest, match=re.escape("text.format.schema")):
        chat_of(text={"format": {"type": "json_schema", "name": "out"}})
    with pytest.raises(InvalidRequest, match="'yaml'"):
        chat_of(text={"format": {"type": "yaml"}})


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("none", None), ("minimal", "minimal"), ("low", "low"), ("high", "high"), (None, None)],
)
def test_reasoning_effort_goes_on_except_none(effort: str | None, expected: str | None) -> None:
    chat = chat_of(reasoning={"effort": effort, "summary": "auto"})
    assert chat.get("reasoning_effort") == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", "hot"),
        ("max_output_tokens", 0),
        ("metadata", {"k": 1}),
        ("store", "no"),
        ("tools", {"type": "function"}),
        ("tools", [{"type": "function"}]),
        ("tools", [{"name": "x"}]),
        ("text", "json"),
        ("truncation", "sometimes"),
    ],
)
def test_malformed_settings_are_refused(field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest):
        chat_of(**{field: value})
