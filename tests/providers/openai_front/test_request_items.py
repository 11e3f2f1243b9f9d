"""Responses input items -> chat messages: every item kind, every content kind."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from burncloud.errors import InvalidRequest
from burncloud.providers.openai.front import responses_to_chat

from .support import Sealer, convert

PDF = "data:application/pdf;base64,JVBERi0xLjQK"
PNG = "data:image/png;base64,iVBORw0KGgo="


def messages(items: Any, **body: Any) -> list[dict[str, Any]]:
    chat = convert({"model": "m", "input": items, **body}).chat
    result: list[dict[str, Any]] = chat["messages"]
    return result


def call(call_id: str, name: str = "get_weather", **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": "{}", **extra}


def output(call_id: str, value: Any = "ok") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": value}


def test_a_string_input_is_one_user_message_after_the_instructions() -> None:
    assert messages("Hi", instructions="Be terse.") == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi"},
    ]


def test_every_role_keeps_its_place_and_developer_is_system() -> None:
    items = [
        {"role": "developer", "content": [{"type": "input_text", "text": "A"}]},
        {"type": "message", "role": "system", "content": "B"},
        {"role": "user", "content": [{"type": "input_text", "text": "C"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "D"}]},
        {"role": "user", "content": "E"},
    ]
    assert messages(items) == [
        {"role": "system", "content": "A"},
        {"role": "system", "content": "B"},
        {"role": "user", "content": "C"},
        {"role": "assistant", "content": "D"},
        {"role": "user", "content": "E"},
    ]


def test_text_parts_of_system_and_assistant_messages_join_and_refusals_are_text() -> None:
    items = [
        {
            "role": "developer",
            "content": [
                {"type": "input_text", "text": "one"},
                {"type": "input_text", "text": "two"},
            ],
        },
        {"role": "user", "content": "q"},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "refusal", "refusal": "I can't."}],
        },
    ]
    result = messages(items)
    assert result[0] == {"role": "system", "content": "one\n\ntwo"}
    assert result[2] == {"role": "assistant", "content": "I can't."}


def test_user_images_files_and_audio_become_chat_parts() -> None:
    content = [
        {"type": "input_text", "text": "Look"},
        {"type": "input_image", "image_url": PNG, "detail": "low"},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "original"},
        {"type": "input_file", "file_data": PDF, "filename": "report.pdf"},
        {"type": "input_file", "file_data": "JVBERi0xLjQK", "filename": "raw.pdf"},
        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
    ]
    assert messages([{"role": "user", "content": content}])[0]["content"] == [
        {"type": "text", "text": "Look"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "file", "file": {"file_data": PDF, "filename": "report.pdf"}},
        {"type": "file", "file": {"file_data": PDF, "filename": "raw.pdf"}},
        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
    ]


@pytest.mark.parametrize(
    ("part", "words"),
    [
        ({"type": "input_image", "file_id": "file-1", "detail": "auto"}, "file_id"),
        ({"type": "input_file", "file_id": "file-1"}, "file_id"),
        ({"type": "input_file", "file_url": "https://example.com/a.pdf"}, "file_url"),
        ({"type": "input_image", "detail": "auto"}, "image_url"),
        ({"type": "input_video", "video_url": "x"}, "input_video"),
    ],
)
def test_content_chat_cannot_carry_is_refused(part: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidRequest, match=words) as caught:
        messages([{"role": "user", "content": [part]}])
    assert "input[0].content[0]" in caught.value.message


def test_consecutive_calls_join_the_assistant_text_of_their_turn() -> None:
    items = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        call("call_1", arguments='{"city":"Paris"}'),
        call("call_2", arguments='{"city":"Rome"}'),
        output("call_1", "18C"),
        output("call_2", "21C"),
        call("call_3"),
        output("call_3"),
    ]
    result = messages(items)
    assert [m["role"] for m in result] == ["user", "assistant", "tool", "tool", "assistant", "tool"]
    assert result[1]["content"] == "Checking."
    assert [c["id"] for c in result[1]["tool_calls"]] == ["call_1", "call_2"]
    assert result[1]["tool_calls"][0] == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    assert result[2] == {"role": "tool", "tool_call_id": "call_1", "content": "18C"}
    assert result[4] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [result[4]["tool_calls"][0]],
    }


def test_tool_output_parts_keep_text_and_send_images_after_the_tool_messages() -> None:
    items = [
        call("call_1"),
        call("call_2"),
        output(
            "call_1",
            [{"type": "input_text", "text": "a"}, {"type": "input_image", "image_url": PNG}],
        ),
        output(
            "call_2", [{"type": "input_text", "text": "b"}, {"type": "input_text", "text": "c"}]
        ),
        {"role": "user", "content": "next"},
    ]
    result = messages(items)
    assert [m["role"] for m in result] == ["assistant", "tool", "tool", "user", "user"]
    assert result[1]["content"] == "a" and result[2]["content"] == "b\n\nc"
    assert result[3]["content"] == [{"type": "image_url", "image_url": {"url": PNG}}]


def test_custom_tool_calls_carry_their_input_wrapped() -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
    items = [
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": patch},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done!"},
    ]
    tools = [{"type": "custom", "name": "apply_patch", "description": "Edit files."}]
    result = messages(items, tools=tools)
    function = result[0]["tool_calls"][0]["function"]
    assert function["name"] == "apply_patch"
    assert orjson.loads(function["arguments"]) == {"input": patch}
    assert result[1] == {"role": "tool", "tool_call_id": "call_p", "content": "Done!"}


def test_namespaced_calls_use_the_flattened_name() -> None:
    tools = [
        {
            "type": "namespace",
            "name": "mcp__files",
            "description": "Files.",
            "tools": [{"type": "function", "name": "read", "parameters": {}, "strict": False}],
        }
    ]
    items = [call("call_1", name="read", namespace="mcp__files"), output("call_1")]
    assert (
        messages(items, tools=tools)[0]["tool_calls"][0]["function"]["name"] == "mcp__files__read"
    )


def test_client_run_built_in_calls_become_function_calls() -> None:
    action = {"type": "exec", "command": ["ls", "-l"], "env": {}}
    items = [
        {
            "type": "local_shell_call",
            "id": "lsh_1",
            "call_id": "call_s",
            "action": action,
            "status": "completed",
        },
        {"type": "local_shell_call_output", "id": "call_s", "output": "total 0"},
        {
            "type": "apply_patch_call",
            "call_id": "call_a",
            "status": "completed",
            "operation": {"type": "delete_file", "path": "a.txt"},
        },
        {"type": "apply_patch_call_output", "call_id": "call_a", "status": "completed"},
    ]
    result = messages(items)
    local = result[0]["tool_calls"][0]
    assert local["function"]["name"] == "local_shell"
    assert orjson.loads(local["function"]["arguments"]) == action
    assert result[1] == {"role": "tool", "tool_call_id": "call_s", "content": "total 0"}
    assert result[2]["tool_calls"][0]["function"]["name"] == "apply_patch"
    assert result[3]["content"] == "completed"


def test_items_without_a_chat_form_are_dropped_and_reported() -> None:
    items = [
        {"role": "user", "content": "search"},
        {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {"type": "search", "query": "q"},
        },
        {"type": "item_reference", "id": "msg_old"},
        {"role": "assistant", "content": "found"},
    ]
    conversion = convert({"model": "m", "input": items})
    assert [m["content"] for m in conversion.chat["messages"]] == ["search", "found"]
    assert conversion.omitted == (
        "web_search_call items: no equivalent on this channel",
        "item_reference items: no equivalent on this channel",
    )


def test_reasoning_summaries_go_to_the_next_assistant_turn() -> None:
    items = [
        {"role": "user", "content": "q"},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Think."}],
        },
        call("call_1"),
        output("call_1"),
        {
            "type": "reasoning",
            "id": "rs_2",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "More."}],
        },
        {"role": "assistant", "content": "Answer."},
        {
            "type": "reasoning",
            "id": "rs_3",
            "summary": [{"type": "summary_text", "text": "Dangling."}],
        },
    ]
    result = messages(items)
    assert result[1]["reasoning_content"] == "Think." and "thinking_blocks" not in result[1]
    assert result[3] == {"role": "assistant", "content": "Answer.", "reasoning_content": "More."}
    assert len(result) == 4


def test_history_items_come_first_after_the_instructions() -> None:
    history = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "one"}]
    chat = convert({"model": "m", "input": "second", "instructions": "Sys"}, history=history).chat
    assert [m["content"] for m in chat["messages"]] == ["Sys", "first", "one", "second"]


def test_context_keeps_the_history_and_input_items_for_storage() -> None:
    history = [{"role": "user", "content": "first"}]
    context = convert({"model": "m", "input": "second"}, history=history).context
    assert context.input_items == (
        {"role": "user", "content": "first"},
        {"type": "message", "role": "user", "content": "second"},
    )


@pytest.mark.parametrize(
    ("items", "words"),
    [
        (42, "'input'"),
        (["hi"], "input[0]"),
        ([{"content": "no role or type"}], "input[0].type"),
        ([{"role": "tool", "content": "x"}], "'tool'"),
        ([{"role": "user"}], "input[0].content"),
        ([{"type": "function_call", "call_id": "c", "arguments": "{}"}], "input[0].name"),
        ([{"type": "function_call_output", "output": "x"}], "input[0].call_id"),
        ([{"role": "user", "content": 5}], "input[0].content"),
        ([], "'input'"),
    ],
)
def test_malformed_input_is_refused_in_openai_words(items: Any, words: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(words)):
        responses_to_chat({"model": "m", "input": items}, unseal=Sealer().unseal)


def test_a_namespaced_custom_call_in_the_history_keeps_its_chat_name() -> None:
    grouped = {
        "type": "namespace",
        "name": "functions",
        "description": "",
        "tools": [{"type": "custom", "name": "exec", "description": "Run JS."}],
    }
    items = [
        {
            "type": "custom_tool_call",
            "call_id": "c1",
            "name": "exec",
            "namespace": "functions",
            "input": "1+1",
        },
        {
            "type": "custom_tool_call_output",
            "call_id": "c1",
            "output": [{"type": "input_text", "text": "2"}],
        },
    ]
    result = messages(items, tools=[grouped])
    assert result[0]["tool_calls"][0]["function"] == {
        "name": "functions__exec",
        "arguments": '{"input":"1+1"}',
    }
    assert result[1] == {"role": "tool", "tool_call_id": "c1", "content": "2"}


def test_mcp_and_shell_calls_keep_their_results_for_the_model() -> None:
    items = [
        {
            "type": "mcp_call",
            "id": "mcp_1",
            "server_label": "docs",
            "name": "search",
            "arguments": '{"q":"x"}',
            "output": "found x",
        },
        {"type": "shell_call", "call_id": "call_sh", "action": {"commands": ["pwd"]}},
        {
            "type": "shell_call_output",
            "call_id": "call_sh",
            "output": [{"stdout": "/", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}],
        },
    ]
    result = messages(items)
    assert result[0]["tool_calls"][0]["function"] == {
        "name": "docs__search",
        "arguments": '{"q":"x"}',
    }
    assert result[1] == {"role": "tool", "tool_call_id": "mcp_1", "content": "found x"}
    assert result[2]["tool_calls"][0]["function"]["name"] == "shell"
    assert orjson.loads(result[2]["tool_calls"][0]["function"]["arguments"]) == {
        "commands": ["pwd"]
    }
    assert result[3]["tool_call_id"] == "call_sh" and "/" in result[3]["content"]
