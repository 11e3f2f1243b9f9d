"""Tool calls across turns: ids, function names and thought signatures survive the round trip.

The next-turn requests are checked against the recorded Gemini requests that followed the
recorded tool-call answers (``tests/fixtures/gemini/*.request.json``).
"""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from burncloud.errors import InvalidRequest
from burncloud.providers.gemini import GeminiProvider, call_ids
from burncloud.providers.gemini.messages import SKIP_SIGNATURE
from tests.providers.test_gemini_request import USER, build

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _assistant_message(sse: str) -> dict:
    """The assistant message a client rebuilds from our converted stream."""
    stream = GeminiProvider().chat_stream("m", include_usage=False)
    out = stream.feed(_fixture(sse)) + stream.finish()
    calls = []
    for line in out.split(b"\n\n"):
        if line.startswith(b"data: {"):
            for choice in orjson.loads(line[6:])["choices"]:
                calls += choice["delta"].get("tool_calls", [])
    tool_calls = [{k: c[k] for k in ("id", "type", "function")} for c in calls]
    return {"role": "assistant", "content": None, "tool_calls": tool_calls}


def test_next_turn_matches_the_recorded_gemini_3_follow_up_request() -> None:
    recorded = orjson.loads(_fixture("stream_after_tool_result.request.json"))
    assistant = _assistant_message("stream_tool_call_thought_signature.sse")
    call_id = assistant["tool_calls"][0]["id"]
    messages = [
        {"role": "user", "content": "What is the capital of the user country? Call the tool"},
        assistant,
        {"role": "tool", "tool_call_id": call_id, "content": '{"return_value": "Mexico"}'},
    ]
    contents = build({"messages": messages}, model="gemini-3-pro-preview")["contents"]
    want = recorded["contents"]
    assert [c["role"] for c in contents] == [c["role"] for c in want] == ["user", "model", "user"]
    assert contents[0] == want[0]
    sent, recorded_part = contents[1]["parts"][0], want[1]["parts"][0]
    # pydantic-ai sent its own call id; ours is synthesized, so Gemini never sees it
    assert sent["functionCall"] == {"name": "get_country", "args": {}}
    assert base64.b64decode(sent["thoughtSignature"]) == base64.urlsafe_b64decode(
        recorded_part["thoughtSignature"]
    )
    answer = contents[2]["parts"][0]["functionResponse"]
    assert answer == {"name": "get_country", "response": {"return_value": "Mexico"}}


def test_signature_comes_back_exactly_as_gemini_sent_it() -> None:
    raw = _fixture("stream_function_call.sse")
    original = orjson.loads(raw.split(b"data: ", 1)[1])["candidates"][0]["content"]["parts"][0]
    assistant = _assistant_message("stream_function_call.sse")
    call_id = assistant["tool_calls"][0]["id"]
    assert set(call_id) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    messages = [USER, assistant, {"role": "tool", "tool_call_id": call_id, "content": "sunny"}]
    model_turn = build({"messages": messages})["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == original["thoughtSignature"]
    assert model_turn["parts"][0]["functionCall"] == {
        "name": "getWeather",
        "args": {"location": "Tokyo"},
    }


def test_text_after_function_response_request_matches_the_recording() -> None:
    recorded = orjson.loads(_fixture("stream_text_after_function_response.request.json"))
    tool_result = {"location": "Tokyo", "unit": "celsius", "temperature": 22, "condition": "Cloudy"}
    messages = [
        {"role": "user", "content": "今日の東京の天気を教えて"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0123456789abcdef01234567",
                    "type": "function",
                    "function": {
                        "name": "getWeather",
                        "arguments": '{"location":"Tokyo","unit":"celsius"}',
                    },
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_0123456789abcdef01234567",
            "content": orjson.dumps(tool_result).decode(),
        },
    ]
    contents = build({"messages": messages})["contents"]
    want = recorded["contents"]
    assert contents[0] == want[0]
    assert contents[1]["parts"] == [{"functionCall": want[1]["parts"][0]["function_call"]}]
    # the recording used role "tool"; the documented role is "user"
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": want[2]["parts"][0]["function_response"]}],
    }


def test_parallel_tool_results_form_one_user_turn_in_call_order() -> None:
    calls = [
        {"id": f"id_{n}", "type": "function", "function": {"name": n, "arguments": "{}"}}
        for n in ("a", "b")
    ]
    messages = [
        USER,
        {"role": "assistant", "content": "calling", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "id_a", "content": "1"},
        {"role": "tool", "tool_call_id": "id_b", "content": "plain text"},
        {"role": "user", "content": "thanks"},
    ]
    contents = build({"messages": messages})["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "calling"},
            {"functionCall": {"name": "a", "args": {}, "id": "id_a"}},
            {"functionCall": {"name": "b", "args": {}, "id": "id_b"}},
        ],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "a", "response": {"result": 1}, "id": "id_a"}},
            {"functionResponse": {"name": "b", "response": {"result": "plain text"}, "id": "id_b"}},
            {"text": "thanks"},
        ],
    }


def test_gemini_3_gets_the_documented_placeholder_when_a_signature_was_lost() -> None:
    calls = [
        {"id": f"x{n}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for n in range(2)
    ]
    messages = [USER, {"role": "assistant", "tool_calls": calls}]
    for model, expected in (("gemini-3-pro-preview", SKIP_SIGNATURE), ("gemini-2.5-flash", None)):
        parts = build({"messages": messages}, model=model)["contents"][1]["parts"]
        assert parts[0].get("thoughtSignature") == expected
        assert "thoughtSignature" not in parts[1]


def test_signature_in_googles_extension_field_is_accepted() -> None:
    call = {
        "id": "abc",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
        "extra_content": {"google": {"thought_signature": "c2ln"}},
    }
    parts = build({"messages": [USER, {"role": "assistant", "tool_calls": [call]}]})["contents"][1][
        "parts"
    ]
    assert parts == [
        {"functionCall": {"name": "f", "args": {}, "id": "abc"}, "thoughtSignature": "c2ln"}
    ]


def test_arguments_that_are_not_a_json_object_are_refused() -> None:
    call = {"id": "a", "type": "function", "function": {"name": "f", "arguments": "[1"}}
    with pytest.raises(InvalidRequest, match="'f'"):
        build({"messages": [USER, {"role": "assistant", "tool_calls": [call]}]})


@pytest.mark.parametrize("signature", ["EpwI+/A=", "CikBcsja", "YQ=="])
def test_call_id_round_trips_any_signature(signature: str) -> None:
    packed = call_ids.encode(call_ids.synthesize("resp", 0, 3), signature)
    assert "+" not in packed and "/" not in packed and "=" not in packed
    assert call_ids.decode(packed) == call_ids.CallId(wire_id=None, signature=signature)


def test_ids_from_gemini_or_other_providers_are_sent_back_and_bad_signatures_dropped() -> None:
    assert call_ids.decode("toolu_01A") == call_ids.CallId("toolu_01A", None)
    assert call_ids.decode("fc_1__thought__not*base64") == call_ids.CallId("fc_1", None)
    assert (
        call_ids.synthesize("r", 0, 0)
        == call_ids.synthesize("r", 0, 0)
        != call_ids.synthesize("r", 0, 1)
    )


def test_streamed_and_whole_answers_give_a_call_the_same_id() -> None:
    raw = _fixture("stream_function_call.sse")
    whole = orjson.loads(raw.split(b"data: ", 1)[1])
    answer = GeminiProvider().chat_answer(orjson.dumps(whole), "m")
    whole_ids = [c["id"] for c in answer.completion["choices"][0]["message"]["tool_calls"]]
    streamed_ids = [c["id"] for c in _assistant_message("stream_function_call.sse")["tool_calls"]]
    assert whole_ids == streamed_ids
