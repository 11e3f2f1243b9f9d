"""Anthropic SSE -> OpenAI chunks: recorded streams, any chunking, the SDK's own accumulator."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.text_sample import SAMPLE_CHARS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
STREAMS = ["basic_text", "tool_use", "thinking", "incomplete_partial_json", "redacted_thinking"]
PROVIDER = AnthropicProvider(clock=lambda: 1_735_689_600)


def fixture(name: str) -> bytes:
    return (FIXTURES / f"anthropic_stream_{name}.sse").read_bytes()


def transcode(raw: bytes, sizes: list[int] | None = None, include_usage: bool = True) -> bytes:
    """Feed ``raw`` in pieces of ``sizes`` (cycled; whole when None) and return all output."""
    stream = PROVIDER.chat_stream("claude-alias", include_usage)
    out, pos, step = [], 0, 0
    while pos < len(raw):
        size = sizes[step % len(sizes)] if sizes else len(raw)
        out.append(stream.feed(raw[pos : pos + size]))
        pos, step = pos + size, step + 1
    return b"".join(out) + stream.finish()


def random_sizes(seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 40) for _ in range(500)]


def events(out: bytes) -> list[Any]:
    """The data payloads of the emitted SSE events, ``[DONE]`` as the string."""
    assert out.endswith(b"\n\n")
    payloads = []
    for event in out[:-2].split(b"\n\n"):
        assert event.startswith(b"data: ") and b"\n" not in event
        data = event[len(b"data: ") :]
        payloads.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return payloads


def accumulate(out: bytes) -> Any:
    """The completion the openai SDK assembles from the chunks."""
    state = ChatCompletionStreamState()
    for payload in events(out):
        if payload != "[DONE]":
            list(state.handle_chunk(ChatCompletionChunk.model_validate(payload)))
    return state.current_completion_snapshot


def sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(
        b"event: " + p["type"].encode() + b"\ndata: " + orjson.dumps(p) + b"\n\n" for p in payloads
    )


def message_start(usage: dict[str, int] | None = None) -> dict[str, Any]:
    usage = usage or {"input_tokens": 10, "output_tokens": 1}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "usage": usage}
    return {"type": "message_start", "message": {**message, "model": "claude-x"}}


def text_block(index: int, *texts: str) -> list[dict[str, Any]]:
    start = {"type": "content_block_start", "index": index}
    start["content_block"] = {"type": "text", "text": ""}
    deltas = [
        {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": t}}
        for t in texts
    ]
    return [start, *deltas, {"type": "content_block_stop", "index": index}]


def tool_block(index: int, call_id: str, name: str, *parts: str) -> list[dict[str, Any]]:
    block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    deltas = [
        {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "input_json_delta", "partial_json": p},
        }
        for p in parts
    ]
    start = {"type": "content_block_start", "index": index, "content_block": block}
    return [start, *deltas, {"type": "content_block_stop", "index": index}]


THINKING_START = {"type": "thinking", "thinking": "", "signature": ""}
SIGNATURE = {"type": "signature_delta", "signature": "EqQBCkYI=="}


def thinking_delta(index: int, text: str) -> dict[str, Any]:
    delta = {"type": "thinking_delta", "thinking": text}
    return {"type": "content_block_delta", "index": index, "delta": delta}


def ending(stop_reason: str = "end_turn", output_tokens: int = 5) -> list[dict[str, Any]]:
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    return [
        {"type": "message_delta", "delta": delta, "usage": {"output_tokens": output_tokens}},
        {"type": "message_stop"},
    ]


@pytest.mark.parametrize("name", STREAMS)
def test_output_is_identical_for_every_chunking(name: str) -> None:
    raw = fixture(name)
    whole = transcode(raw)
    assert transcode(raw, [1]) == whole
    for seed in range(5):
        assert transcode(raw, random_sizes(seed)) == whole, seed


@pytest.mark.parametrize("name", STREAMS)
def test_crlf_separators_give_the_same_output(name: str) -> None:
    raw = fixture(name)
    crlf = raw.replace(b"\n", b"\r\n")
    assert transcode(crlf, [1]) == transcode(raw)
    assert transcode(crlf, random_sizes(11)) == transcode(raw)


@pytest.mark.parametrize("name", STREAMS)
def test_every_chunk_is_a_valid_openai_chunk_with_stable_id(name: str) -> None:
    payloads = events(transcode(fixture(name)))
    assert payloads[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(p) for p in payloads[:-1]]
    assert {c.id for c in chunks} == {chunks[0].id}
    assert chunks[0].id.startswith("chatcmpl-msg_")
    assert {(c.model, c.created) for c in chunks} == {("claude-alias", 1_735_689_600)}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] is not None


def test_basic_text_stream() -> None:
    raw = fixture("basic_text")
    out = transcode(raw)
    completion = accumulate(out)
    assert completion.choices[0].message.content == "Hello there!"
    assert completion.choices[0].finish_reason == "stop"
    assert b"ping" not in out
    usage = events(out)[-2]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        11,
        6,
        17,
    )
    stream = PROVIDER.chat_stream("m", False)
    stream.feed(raw)
    stream.finish()
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (11, 6)
    assert "".join(stream.texts()) == "Hello there!"


def test_tool_use_stream_maps_block_one_to_tool_index_zero() -> None:
    out = transcode(fixture("tool_use"))
    tool_deltas = [
        call
        for p in events(out)[:-1]
        for choice in p["choices"]
        for call in choice["delta"].get("tool_calls", [])
    ]
    assert {call["index"] for call in tool_deltas} == {0}
    assert [c for c in tool_deltas if "id" in c] == [tool_deltas[0]]  # id/name only first
    message = accumulate(out).choices[0]
    assert message.finish_reason == "tool_calls"
    assert message.message.content == "I'll check the current weather in Paris for you."
    (call,) = message.message.tool_calls
    assert (call.id, call.function.name) == ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather")
    assert orjson.loads(call.function.arguments) == {"location": "Paris"}
    usage = events(out)[-2]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (377, 65)


def test_thinking_streams_as_reasoning_content_then_its_signature() -> None:
    out = transcode(fixture("thinking"), random_sizes(5))
    payloads = events(out)[:-1]
    deltas = [c["delta"] for p in payloads for c in p["choices"]]
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    assert reasoning.startswith("This is a straightforward question about pedestrian safety.")
    assert reasoning.endswith("help prevent accidents.")
    (signed,) = [i for i, d in enumerate(deltas) if "thinking_blocks" in d]
    (block,) = deltas[signed]["thinking_blocks"]
    assert (block["type"], block["thinking"], block["index"]) == ("thinking", "", 0)
    assert block["signature"].startswith("EvMCCkYICxgC") and block["signature"].endswith("YAQ==")
    assert all("reasoning_content" not in d for d in deltas[signed:])
    assert not any(d.get("content") for d in deltas[:signed])  # the text block comes after
    completion = accumulate(out)
    assert completion.choices[0].message.content.startswith("Here are the basic steps for safely")
    assert completion.choices[0].message.content.endswith("when crossing streets.")
    usage = payloads[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (43, 282)


def test_tool_input_cut_off_by_max_tokens_finishes_as_length() -> None:
    out = transcode(fixture("incomplete_partial_json"), [3])
    completion = accumulate(out)
    assert completion.choices[0].finish_reason == "length"
    (call,) = completion.choices[0].message.tool_calls
    assert call.function.name == "make_file"
    assert call.function.arguments.startswith('{"filename": "taxes.txt", "lines_of_text": [')
    assert call.function.arguments.endswith('\n"Filing taxes')
    usage = events(out)[-2]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (450, 124)


def test_no_usage_chunk_unless_asked() -> None:
    out = transcode(fixture("basic_text"), include_usage=False)
    assert all("usage" not in p for p in events(out)[:-1])
    assert events(out)[-2]["choices"][0]["finish_reason"] == "stop"


def test_cache_usage_and_final_message_delta_counts_win() -> None:
    start = message_start(
        {
            "input_tokens": 5,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 200,
            "output_tokens": 1,
        }
    )
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"input_tokens": 7, "cache_read_input_tokens": 300, "output_tokens": 9},
    }
    stream = PROVIDER.chat_stream("m", True)
    out = stream.feed(sse(start, *text_block(0, "hi"), delta, {"type": "message_stop"}))
    out += stream.finish()
    assert stream.usage is not None
    assert stream.usage.prompt_tokens == 7 + 100 + 300
    assert (stream.usage.cached_tokens, stream.usage.cache_write_tokens) == (300, 100)
    assert stream.usage.completion_tokens == 9  # the cumulative figure, not 1 + 9
    details = events(out)[-2]["usage"]["prompt_tokens_details"]
    assert details == {"cached_tokens": 300, "cache_write_tokens": 100}


def test_split_utf8_and_empty_deltas() -> None:
    raw = sse(message_start(), *text_block(0, "", "héllo ", "", "世界 🙂"), *ending())
    whole = transcode(raw)
    assert transcode(raw, [1]) == whole
    contents = [c["delta"].get("content") for p in events(whole)[:-2] for c in p["choices"]]
    assert contents == ["", "héllo ", "世界 🙂", None]


def test_two_tool_calls_after_text_get_indexes_zero_and_one() -> None:
    blocks = [
        *text_block(0, "Checking."),
        *tool_block(1, "toolu_a", "get_weather", "", '{"city":', ' "Paris"}'),
        *tool_block(2, "toolu_b", "get_time", '{"tz": "CET"}'),
    ]
    completion = accumulate(transcode(sse(message_start(), *blocks, *ending("tool_use"))))
    calls = completion.choices[0].message.tool_calls
    assert [(c.id, c.function.name) for c in calls] == [
        ("toolu_a", "get_weather"),
        ("toolu_b", "get_time"),
    ]
    assert [orjson.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"tz": "CET"}]
    assert completion.choices[0].finish_reason == "tool_calls"


def test_tool_call_without_arguments_still_has_a_start_fragment() -> None:
    out = transcode(sse(message_start(), *tool_block(0, "toolu_a", "now"), *ending("tool_use")))
    (call,) = accumulate(out).choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments) == ("now", "")


def test_in_band_error_becomes_an_openai_error_event() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    raw = sse(message_start(), *text_block(0, "par")[:2], error)
    out = transcode(raw, [7])
    payloads = events(out)
    assert payloads[-2] == {
        "error": {
            "message": "upstream overloaded: Overloaded",
            "type": "server_error",
            "code": "service_unavailable",
        }
    }
    assert payloads[-1] == "[DONE]"
    assert not any(c.get("finish_reason") for p in payloads[:-2] for c in p["choices"])


def test_events_after_an_error_are_ignored() -> None:
    error = {"type": "error", "error": {"type": "api_error", "message": "Internal"}}
    stream = PROVIDER.chat_stream("m", True)
    out = stream.feed(sse(message_start(), error, *text_block(0, "late"), *ending()))
    out += stream.finish()
    assert b"late" not in out
    assert stream.usage is None
    assert events(out)[-2]["error"]["code"] == "upstream_error"


def test_stream_cut_before_message_delta_reports_an_error_and_no_usage() -> None:
    stream = PROVIDER.chat_stream("m", True)
    out = stream.feed(sse(message_start(), *text_block(0, "partial")))
    out += stream.finish()
    assert stream.usage is None
    payloads = events(out)
    assert (
        payloads[-2]["error"]["message"] == "upstream stream ended before the answer was complete"
    )
    assert stream.texts() == ["partial"]


def test_malformed_event_data_is_an_error_not_a_crash() -> None:
    raw = sse(message_start()) + b"event: content_block_delta\ndata: {not json\n\n"
    payloads = events(transcode(raw))
    assert payloads[-2]["error"]["message"] == "upstream sent a malformed stream event"


def test_unknown_events_and_blocks_are_ignored() -> None:
    server_tool = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    raw = sse(
        message_start(),
        {"type": "content_block_start", "index": 0, "content_block": server_tool},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"q": 1}'},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "brand_new_event"},
        *text_block(1, "answer"),
        *ending(),
    )
    completion = accumulate(transcode(raw))
    assert completion.choices[0].message.content == "answer"
    assert not completion.choices[0].message.tool_calls


def test_texts_are_bounded() -> None:
    big = "x" * 5000
    stream = PROVIDER.chat_stream("m", False)
    stream.feed(sse(message_start(), *text_block(0, *([big] * 10)), *ending()))
    stream.finish()
    assert sum(len(t) for t in stream.texts()) == SAMPLE_CHARS
    assert stream.text_chars == 50_000


def test_texts_hold_content_reasoning_tool_names_and_arguments() -> None:
    stream = PROVIDER.chat_stream("m", False)
    stream.feed(fixture("tool_use") + b"\n\n")
    stream.finish()
    assert stream.texts()[-5:] == ["get_weather", '{"locati', 'on": "P', "ar", 'is"}']
    assert "".join(stream.texts()).startswith("I'll check")
    stream = PROVIDER.chat_stream("m", False)
    stream.feed(fixture("thinking"))
    assert stream.texts()[0] == "This"


def test_stream_cut_after_message_delta_still_finishes_normally() -> None:
    delta = ending("max_tokens", 3)[0]
    stream = PROVIDER.chat_stream("m", True)
    out = stream.feed(sse(message_start(), *text_block(0, "abc"), delta)) + stream.finish()
    payloads = events(out)
    assert payloads[-3]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "length"}
    assert payloads[-2]["usage"]["completion_tokens"] == 3


def test_data_only_events_without_event_lines_are_understood() -> None:
    raw = b"".join(
        b"data: " + orjson.dumps(p) + b"\n\n"
        for p in [message_start(), *text_block(0, "plain"), *ending()]
    )
    assert accumulate(transcode(raw)).choices[0].message.content == "plain"


def test_the_openai_sdk_reads_the_stream_and_the_whole_answer() -> None:
    """The official client, over a mock transport, parses what the relay would send."""
    streamed = transcode(fixture("tool_use"))
    whole = PROVIDER.chat_answer(
        (FIXTURES / "anthropic_nonstream_tool_use.json").read_bytes(), "claude-alias"
    ).completion

    def handler(request: httpx2.Request) -> httpx2.Response:
        if orjson.loads(request.content).get("stream"):
            return httpx2.Response(
                200, content=streamed, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, json=whole)

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = openai.OpenAI(api_key="k", base_url="http://relay.test/v1", http_client=http)
    request = {"model": "claude-alias", "messages": [{"role": "user", "content": "hi"}]}
    chunks = list(client.chat.completions.create(**request, stream=True))
    arguments = "".join(
        call.function.arguments or ""
        for chunk in chunks
        for choice in chunk.choices
        for call in choice.delta.tool_calls or []
    )
    assert orjson.loads(arguments) == {"location": "Paris"}
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 442
    answer = client.chat.completions.create(**request)
    assert answer.choices[0].message.tool_calls[0].function.name == "memory"
    assert answer.usage is not None and answer.usage.prompt_tokens == 1577


def test_odd_but_valid_json_does_not_crash() -> None:
    raw = sse(message_start()) + b'event: ping\ndata: {"type": ["x"]}\n\n' + b"data: []\n\n"
    payloads = events(transcode(raw))
    assert payloads[-2]["error"]["message"] == "upstream sent a malformed stream event"


def test_redacted_thinking_blocks_stream_whole_before_the_text() -> None:
    raw = fixture("redacted_thinking")
    out = transcode(raw, random_sizes(3))
    deltas = [c["delta"] for p in events(out)[:-1] for c in p["choices"]]
    blocks = [b for d in deltas for b in d.get("thinking_blocks", [])]
    recorded = [
        orjson.loads(line[len(b"data: ") :])["content_block"]
        for line in raw.split(b"\n")
        if b'"redacted_thinking"' in line
    ]
    expected = [
        {"type": "redacted_thinking", "data": r["data"], "index": i} for i, r in enumerate(recorded)
    ]
    assert blocks == expected
    assert len(blocks) == 2 and blocks[0]["data"].startswith("EqkECkYIBxgC")
    assert not any("reasoning_content" in d for d in deltas)
    message = accumulate(out).choices[0].message  # the openai SDK merges them by index
    assert message.content.startswith("I notice that you've sent what")
    assert message.model_extra["thinking_blocks"] == expected


def test_each_thinking_blocks_signature_follows_its_text_in_a_tool_loop() -> None:
    raw = sse(
        message_start(),
        {"type": "content_block_start", "index": 0, "content_block": THINKING_START},
        thinking_delta(0, "Need the "),
        thinking_delta(0, "weather."),
        {"type": "content_block_delta", "index": 0, "delta": SIGNATURE},
        {"type": "content_block_stop", "index": 0},
        *tool_block(1, "toolu_1", "get_weather", '{"city":', '"Oslo"}'),
        *ending("tool_use"),
    )
    deltas = [c["delta"] for p in events(transcode(raw, [7]))[:-1] for c in p["choices"]]
    kinds = [
        next(k for k in ("reasoning_content", "thinking_blocks", "tool_calls") if k in d)
        for d in deltas
        if set(d) & {"reasoning_content", "thinking_blocks", "tool_calls"}
    ]
    assert kinds == ["reasoning_content"] * 2 + ["thinking_blocks"] + ["tool_calls"] * 3
    (signed,) = [d["thinking_blocks"] for d in deltas if "thinking_blocks" in d]
    assert signed == [{"type": "thinking", "thinking": "", "signature": "EqQBCkYI==", "index": 0}]
    completion = accumulate(transcode(raw))
    assert completion.choices[0].finish_reason == "tool_calls"


def test_streamed_text_resuming_after_a_server_tool_starts_a_new_paragraph() -> None:
    search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    raw = sse(
        message_start(),
        *text_block(0, "I'll look ", "it up."),
        {"type": "content_block_start", "index": 1, "content_block": search},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": result},
        {"type": "content_block_stop", "index": 2},
        *text_block(3, "It is ", "18C."),
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {
                "type": "citations_delta",
                "citation": {"type": "web_search_result_location"},
            },
        },
        *ending(),
    )
    completion = accumulate(transcode(raw, [5]))
    assert completion.choices[0].message.content == "I'll look it up.\n\nIt is 18C."
    assert not completion.choices[0].message.tool_calls
