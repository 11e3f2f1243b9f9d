from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from burncloud.errors import InvalidRequest
from burncloud.providers.bedrock.request import converse_body

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "us.amazon.nova-micro-v1:0"
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def recorded_request(name: str) -> dict:
    return orjson.loads((FIXTURES / f"bedrock_converse_stream_{name}.request.json").read_bytes())


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def tool_history() -> list[dict]:
    call = {
        "id": "tooluse_01",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    return [
        user("Weather in Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "tooluse_01", "content": '{"temp_c": 18}'},
    ]


def test_reproduces_the_recorded_nova_text_request() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are a helpful chatbot."},
            user("What is the capital of France?"),
        ],
        "temperature": 0.0,
        "stream": True,
    }
    assert converse_body(body, NOVA) == recorded_request("nova_text")


def test_reproduces_the_recorded_tool_use_request() -> None:
    recorded = recorded_request("tool_use")
    tools = [
        {
            "type": "function",
            "function": {
                "name": spec["toolSpec"]["name"],
                "description": spec["toolSpec"]["description"],
                "parameters": spec["toolSpec"]["inputSchema"]["json"],
            },
        }
        for spec in recorded["toolConfig"]["tools"]
    ]
    body = {
        "messages": [
            {"role": "system", "content": "You are a helpful chatbot."},
            user("What is the temperature of the capital of France?"),
        ],
        "top_p": 0.5,
        "tools": tools,
        "tool_choice": "auto",
    }
    assert converse_body(body, NOVA) == recorded


def test_reasoning_effort_matches_the_recorded_claude_thinking_request() -> None:
    recorded = recorded_request("claude_reasoning")
    request = converse_body({"messages": [user("Hello")], "reasoning_effort": "low"}, CLAUDE)
    assert request["messages"] == recorded["messages"]
    thinking = recorded["additionalModelRequestFields"]["thinking"]
    assert request["additionalModelRequestFields"] == {"thinking": thinking}
    assert request["inferenceConfig"]["maxTokens"] > thinking["budget_tokens"]


def test_system_and_developer_messages_become_system_blocks_in_order() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be terse."},
            user("Hi"),
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        ]
    }
    request = converse_body(body, NOVA)
    assert request["system"] == [{"text": "Be terse."}, {"text": "Answer in French."}]
    assert request["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]


def test_multi_turn_alternates_and_merges_consecutive_roles() -> None:
    body = {
        "messages": [
            user("one"),
            user("two"),
            {"role": "assistant", "content": "reply"},
            {"role": "assistant", "content": ""},
            user("three"),
        ]
    }
    assert converse_body(body, NOVA)["messages"] == [
        {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
        {"role": "assistant", "content": [{"text": "reply"}]},
        {"role": "user", "content": [{"text": "three"}]},
    ]


def test_data_url_images_become_base64_image_blocks() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
    ]
    content = converse_body({"messages": [{"role": "user", "content": parts}]}, CLAUDE)["messages"][
        0
    ]["content"]
    assert content == [
        {"text": "What is this?"},
        {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}},
    ]


def test_s3_image_urls_become_s3_locations() -> None:
    part = {"type": "image_url", "image_url": {"url": "s3://bucket/cat.webp"}}
    content = converse_body({"messages": [{"role": "user", "content": [part]}]}, NOVA)
    source = {"s3Location": {"uri": "s3://bucket/cat.webp"}}
    assert content["messages"][0]["content"] == [{"image": {"format": "webp", "source": source}}]


@pytest.mark.parametrize(
    "url",
    ["https://example.com/cat.png", "data:image/bmp;base64,Qk0=", "data:image/png,raw-bytes"],
)
def test_images_bedrock_cannot_take_are_refused_without_fetching(url: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    with pytest.raises(InvalidRequest):
        converse_body({"messages": [{"role": "user", "content": [part]}]}, CLAUDE)


def test_pdf_files_become_document_blocks_with_safe_names() -> None:
    part = {
        "type": "file",
        "file": {
            "filename": "Q3 report_final!.pdf",
            "file_data": "data:application/pdf;base64,JVBERi0=",
        },
    }
    content = converse_body({"messages": [{"role": "user", "content": [part]}]}, CLAUDE)
    document = {"format": "pdf", "name": "Q3 report-final", "source": {"bytes": "JVBERi0="}}
    assert content["messages"][0]["content"] == [{"document": document}]


def test_tool_calls_and_results_map_to_tool_use_and_tool_result() -> None:
    request = converse_body({"messages": tool_history(), "tools": [WEATHER_TOOL]}, CLAUDE)
    assert request["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "toolUse": {
                        "toolUseId": "tooluse_01",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tooluse_01",
                        "status": "success",
                        "content": [{"json": {"temp_c": 18}}],
                    }
                }
            ],
        },
    ]


def test_parallel_tool_results_share_one_user_turn_before_its_text() -> None:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in (1, 2)
    ]
    body = {
        "messages": [
            user("go"),
            {"role": "assistant", "content": "Calling both.", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "[1]"}],
            },
            user("thanks"),
        ],
        "tools": [WEATHER_TOOL],
    }
    turns = converse_body(body, CLAUDE)["messages"]
    assert [block.get("text") or "toolUse" for block in turns[1]["content"]] == [
        "Calling both.",
        "toolUse",
        "toolUse",
    ]
    results = turns[2]["content"]
    assert [b.get("toolResult", {}).get("content") for b in results] == [
        [{"text": "sunny"}],
        [{"text": "[1]"}],
        None,
    ]
    assert results[2] == {"text": "thanks"}


def test_invalid_tool_arguments_become_an_empty_input() -> None:
    history = tool_history()
    history[1]["tool_calls"][0]["function"]["arguments"] = '{"city": "Par'
    request = converse_body({"messages": history, "tools": [WEATHER_TOOL]}, CLAUDE)
    assert request["messages"][1]["content"][0]["toolUse"]["input"] == {}


def test_tools_map_to_tool_specs_with_auto_choice_left_default() -> None:
    bare = {"type": "function", "function": {"name": "ping"}}
    request = converse_body({"messages": [user("hi")], "tools": [WEATHER_TOOL, bare]}, NOVA)
    assert request["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather",
                    "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]},
                }
            },
            {
                "toolSpec": {
                    "name": "ping",
                    "inputSchema": {"json": {"type": "object", "properties": {}}},
                }
            },
        ]
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("required", {"any": {}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_maps_to_any_or_tool(choice, expected) -> None:
    body = {"messages": [user("hi")], "tools": [WEATHER_TOOL], "tool_choice": choice}
    assert converse_body(body, CLAUDE)["toolConfig"]["toolChoice"] == expected


def test_tool_choice_none_drops_tools_when_history_has_none() -> None:
    body = {"messages": [user("hi")], "tools": [WEATHER_TOOL], "tool_choice": "none"}
    assert "toolConfig" not in converse_body(body, CLAUDE)


def test_tool_choice_none_keeps_tools_without_choice_when_history_needs_them() -> None:
    body = {"messages": tool_history(), "tools": [WEATHER_TOOL], "tool_choice": "none"}
    config = converse_body(body, CLAUDE)["toolConfig"]
    assert config["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in config


def test_tool_history_without_tools_gets_stand_in_specs() -> None:
    config = converse_body({"messages": tool_history()}, NOVA)["toolConfig"]
    schema = {"json": {"type": "object", "properties": {}}}
    assert config == {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": schema}}]}


def test_inference_settings_map_to_inference_config() -> None:
    body = {
        "messages": [user("hi")],
        "max_tokens": 100,
        "temperature": 0.3,
        "top_p": 0.9,
        "stop": "END",
    }
    assert converse_body(body, NOVA)["inferenceConfig"] == {
        "maxTokens": 100,
        "temperature": 0.3,
        "topP": 0.9,
        "stopSequences": ["END"],
    }


def test_max_completion_tokens_wins_and_claude_temperature_is_capped() -> None:
    body = {
        "messages": [user("hi")],
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "temperature": 1.7,
        "stop": ["a", "b"],
    }
    config = converse_body(body, CLAUDE)["inferenceConfig"]
    assert config == {"maxTokens": 200, "temperature": 1.0, "stopSequences": ["a", "b"]}


def test_no_settings_means_no_inference_config() -> None:
    assert converse_body({"messages": [user("hi")]}, NOVA) == {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}]
    }


def test_top_k_goes_to_additional_fields_for_claude_only() -> None:
    body = {"messages": [user("hi")], "top_k": 40}
    assert converse_body(body, CLAUDE)["additionalModelRequestFields"] == {"top_k": 40}
    assert "additionalModelRequestFields" not in converse_body(body, NOVA)


def test_thinking_drops_sampling_and_fits_under_an_explicit_max_tokens() -> None:
    """OpenAI counts reasoning inside the limit, and the relay caps it to the balance."""
    body = {
        "messages": [user("hi")],
        "reasoning_effort": "medium",
        "max_tokens": 3000,
        "temperature": 0.2,
        "top_k": 5,
    }
    request = converse_body(body, CLAUDE)
    assert request["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 2999}
    }
    assert request["inferenceConfig"] == {"maxTokens": 3000}


def test_a_limit_too_small_for_the_least_budget_leaves_thinking_off() -> None:
    body = {"messages": [user("hi")], "reasoning_effort": "medium", "max_tokens": 1000}
    body |= {"temperature": 0.2}
    request = converse_body(body, CLAUDE)
    assert "additionalModelRequestFields" not in request
    assert request["inferenceConfig"] == {"maxTokens": 1000, "temperature": 0.2}


@pytest.mark.parametrize(
    ("effort", "budget", "max_tokens"),
    [("minimal", 1024, 5120), ("low", 1024, 5120), ("high", 16384, 20480), ("xhigh", 24576, 28672)],
)
def test_without_a_limit_the_budget_comes_on_top_of_the_answers_room(
    effort: str, budget: int, max_tokens: int
) -> None:
    request = converse_body({"messages": [user("hi")], "reasoning_effort": effort}, CLAUDE)
    thinking = request["additionalModelRequestFields"]["thinking"]
    assert thinking == {"type": "enabled", "budget_tokens": budget}
    assert request["inferenceConfig"] == {"maxTokens": max_tokens}


def test_the_raised_max_tokens_stays_within_the_claude_models_output_limit() -> None:
    body = {"messages": [user("hi")], "reasoning_effort": "high"}
    request = converse_body(body, "us.anthropic.claude-3-5-haiku-20241022-v1:0")
    assert request["inferenceConfig"] == {"maxTokens": 8192}
    assert request["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 8191


@pytest.mark.parametrize("effort", ["extreme", 3])
def test_an_unknown_reasoning_effort_for_claude_is_an_invalid_request(effort: object) -> None:
    with pytest.raises(InvalidRequest):
        converse_body({"messages": [user("hi")], "reasoning_effort": effort}, CLAUDE)


def test_an_explicit_thinking_object_is_honoured() -> None:
    body = {"messages": [user("hi")], "thinking": {"type": "enabled", "budget_tokens": 2048}}
    fields = converse_body(body, CLAUDE)["additionalModelRequestFields"]
    assert fields == {"thinking": {"type": "enabled", "budget_tokens": 2048}}


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        (NOVA, {}),
        (CLAUDE, {"tool_choice": "required", "tools": [WEATHER_TOOL]}),
        (CLAUDE, {"reasoning_effort": "none"}),
        (CLAUDE, {"thinking": {"type": "disabled"}}),
    ],
)
def test_thinking_is_off_where_it_cannot_apply(model: str, extra: dict) -> None:
    body = {"messages": [user("hi")], "reasoning_effort": "high"} | extra
    assert "thinking" not in converse_body(body, model).get("additionalModelRequestFields", {})


def test_thinking_is_off_in_the_middle_of_a_tool_loop() -> None:
    body = {"messages": tool_history(), "tools": [WEATHER_TOOL], "reasoning_effort": "high"}
    assert "additionalModelRequestFields" not in converse_body(body, CLAUDE)


@pytest.mark.parametrize(
    ("response_format", "needle"),
    [
        ({"type": "json_object"}, "JSON object"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            '{"type":"object"}',
        ),
    ],
)
def test_json_mode_becomes_a_system_instruction(response_format: dict, needle: str) -> None:
    body = {"messages": [user("hi")], "response_format": response_format}
    system = converse_body(body, NOVA)["system"]
    assert len(system) == 1
    assert needle in system[0]["text"]


def test_text_response_format_adds_nothing() -> None:
    body = {"messages": [user("hi")], "response_format": {"type": "text"}}
    assert "system" not in converse_body(body, NOVA)


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": [user("hi")], "n": 2},
        {"messages": [{"role": "narrator", "content": "x"}]},
        {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
        {"messages": [user("hi")], "tools": [{"type": "web_search"}]},
        {"messages": [user("hi")], "tools": [WEATHER_TOOL], "tool_choice": "sometimes"},
    ],
)
def test_what_converse_cannot_express_is_an_invalid_request(body: dict) -> None:
    with pytest.raises(InvalidRequest):
        converse_body(body, CLAUDE)


def test_unsupported_openai_fields_are_dropped() -> None:
    body = {
        "messages": [user("hi")],
        "seed": 1,
        "logprobs": True,
        "user": "u1",
        "stream_options": {"include_usage": True},
        "parallel_tool_calls": False,
        "presence_penalty": 0.5,
    }
    assert set(converse_body(body, NOVA)) == {"messages"}


SIGNED = {"type": "thinking", "thinking": "Need the weather.", "signature": "ErcBCkgI=="}
REDACTED = {"type": "redacted_thinking", "data": "RXR3Q0Nr"}


def tool_history_with(**assistant: object) -> list[dict]:
    history = tool_history()
    history[1] = history[1] | {"content": "Checking.", **assistant}
    return history


def test_signed_and_redacted_thinking_open_the_claude_assistant_turn() -> None:
    unsigned = {"type": "thinking", "thinking": "No signature."}
    messages = tool_history_with(
        reasoning_content="Need the weather.", thinking_blocks=[unsigned, SIGNED, REDACTED]
    )
    body = {"messages": messages, "tools": [WEATHER_TOOL], "reasoning_effort": "low"}
    request = converse_body(body, CLAUDE)
    assert request["messages"][1]["content"] == [
        {
            "reasoningContent": {
                "reasoningText": {"text": "Need the weather.", "signature": "ErcBCkgI=="}
            }
        },
        {"reasoningContent": {"redactedContent": "RXR3Q0Nr"}},
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "tooluse_01", "name": "get_weather", "input": {"city": "Paris"}}},
    ]
    thinking = request["additionalModelRequestFields"]["thinking"]
    assert thinking == {"type": "enabled", "budget_tokens": 1024}


def test_reasoning_is_sent_back_to_claude_only() -> None:
    messages = tool_history_with(thinking_blocks=[SIGNED])
    request = converse_body({"messages": messages, "tools": [WEATHER_TOOL]}, NOVA)
    assert all("reasoningContent" not in block for block in request["messages"][1]["content"])


def test_reasoning_content_alone_is_not_sent_back_and_leaves_thinking_off() -> None:
    messages = tool_history_with(reasoning_content="Need the weather.")
    body = {"messages": messages, "tools": [WEATHER_TOOL], "reasoning_effort": "high"}
    request = converse_body(body, CLAUDE)
    assert [set(block) for block in request["messages"][1]["content"]] == [{"text"}, {"toolUse"}]
    assert "additionalModelRequestFields" not in request


def test_web_search_options_are_left_out() -> None:
    request = converse_body({"messages": [user("news?")], "web_search_options": {}}, CLAUDE)
    assert set(request) == {"messages"}


def test_the_chat_history_of_a_tool_loop_becomes_the_recorded_converse_turns() -> None:
    recorded = orjson.loads(
        (FIXTURES / "bedrock_converse_claude_thinking_tool_loop.request.json").read_bytes()
    )
    reasoning = recorded["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]
    call = {
        "id": "tooluse_4Lo0VS-FT5yev_-skOCQdw",
        "type": "function",
        "function": {"name": "get_user_country", "arguments": "{}"},
    }
    assistant = {
        "role": "assistant",
        "content": "I'll need to check which country you're in first to answer your question"
        " about the largest city.",
        "reasoning_content": reasoning["text"],
        "thinking_blocks": [{"type": "thinking", "thinking": reasoning["text"], **reasoning}],
        "tool_calls": [call],
    }
    tool = recorded["toolConfig"]["tools"][0]["toolSpec"]
    function = {"name": tool["name"], "parameters": tool["inputSchema"]["json"]}
    body = {
        "messages": [
            user("What is the largest city in the user country?"),
            assistant,
            {"role": "tool", "tool_call_id": call["id"], "content": "Mexico"},
        ],
        "tools": [{"type": "function", "function": function}],
        "tool_choice": "auto",
        "reasoning_effort": "low",
    }
    request = converse_body(body, "us.anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert request["messages"] == recorded["messages"]
    assert request["toolConfig"]["tools"] == recorded["toolConfig"]["tools"]
    extra = recorded["additionalModelRequestFields"]
    assert request["additionalModelRequestFields"] == extra
