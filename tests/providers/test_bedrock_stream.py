from __future__ import annotations

import base64
import random
from pathlib import Path

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from burncloud.protocols.eventstream import encode_message
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.bedrock import BedrockProvider
from burncloud.providers.text_sample import SAMPLE_CHARS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
STREAMS = ["tool_use", "claude_reasoning", "nova_text", "claude_redacted"]
PROVIDER = BedrockProvider(clock=lambda: 1_700_000_000, make_id=lambda: "chatcmpl-test")


def stream_bytes(name: str) -> bytes:
    return base64.b64decode(
        (FIXTURES / f"bedrock_converse_stream_{name}.eventstream.b64").read_text()
    )


def recorded_text(name: str, kind: str | None = None) -> str:
    """The text deltas (or ``kind`` deltas' text) of a fixture, from its botocore decoding."""
    path = FIXTURES / f"bedrock_converse_stream_{name}.decoded.jsonl"
    frames = [orjson.loads(line) for line in path.read_text().splitlines() if line]
    deltas = [f["payload"].get("delta", {}) for f in frames]
    return "".join((d.get(kind, {}) if kind else d).get("text", "") for d in deltas)


def recorded_signatures(name: str = "claude_reasoning") -> list[str]:
    path = FIXTURES / f"bedrock_converse_stream_{name}.decoded.jsonl"
    frames = [orjson.loads(line) for line in path.read_text().splitlines() if line]
    reasoning = [f["payload"].get("delta", {}).get("reasoningContent", {}) for f in frames]
    return [r["signature"] for r in reasoning if "signature" in r]


def event(kind: str, payload: dict) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, orjson.dumps(payload | {"p": "abcdef"}))


def exception(kind: str, message: str) -> bytes:
    headers = {":exception-type": kind, ":content-type": "application/json"}
    return encode_message(
        headers | {":message-type": "exception"}, orjson.dumps({"message": message})
    )


def run(data: bytes, sizes: list[int] | None = None, include_usage: bool = True):
    stream = PROVIDER.chat_stream("my-model", include_usage)
    out, pos = b"", 0
    for size in sizes or []:
        out += stream.feed(data[pos : pos + size])
        pos += size
    out += stream.feed(data[pos:]) + stream.finish()
    return out, stream


def chunks(out: bytes) -> list[dict | str]:
    framer = SSEFramer()
    events = [parse_event(raw) for raw in framer.feed(out)]
    assert framer.flush() == b""
    return [e.data if e.data == "[DONE]" else orjson.loads(e.data) for e in events if e]


def accumulate(out: bytes):
    state = ChatCompletionStreamState()
    items = chunks(out)
    assert items[-1] == "[DONE]"
    for item in items[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate(item))
    return state.get_final_completion()


def random_sizes(seed: int, total: int) -> list[int]:
    rng = random.Random(seed)
    sizes = []
    while sum(sizes) < total:
        sizes.append(rng.choice([1, 2, 3, 7, 50, 300, 1000]))
    return sizes


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("seed", range(4))
def test_fixture_output_is_the_same_for_any_chunking(name: str, seed: int) -> None:
    data = stream_bytes(name)
    whole, _ = run(data)
    assert run(data, random_sizes(seed, len(data)))[0] == whole
    assert run(data, [1] * len(data))[0] == whole


@pytest.mark.parametrize("name", STREAMS)
def test_every_chunk_is_accepted_by_the_openai_sdk(name: str) -> None:
    out, _ = run(stream_bytes(name))
    items = chunks(out)
    for item in items[:-1]:
        chunk = ChatCompletionChunk.model_validate(item)
        assert chunk.id == "chatcmpl-test"
        assert chunk.model == "my-model"
    assert items[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def test_recorded_text_stream_accumulates_to_the_full_answer() -> None:
    out, stream = run(stream_bytes("nova_text"))
    completion = accumulate(out)
    text = completion.choices[0].message.content
    assert text == recorded_text("nova_text")
    assert text.startswith("The capital of France is Paris. Paris is not only the capital city")
    assert completion.choices[0].finish_reason == "stop"
    assert stream.usage == TokenUsage(prompt_tokens=13, completion_tokens=82)
    assert "".join(stream.texts()) == text


def test_recorded_tool_use_stream_gives_tool_call_zero_after_the_text() -> None:
    out, stream = run(stream_bytes("tool_use"))
    completion = accumulate(out)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == recorded_text("tool_use")
    assert choice.message.content.startswith("<thinking> To find the temperature")
    (call,) = choice.message.tool_calls
    assert call.id == "tooluse_lAG_zP8QRHmSYOwZzzaCqA"
    assert call.function.name == "get_temperature"
    assert orjson.loads(call.function.arguments) == {"city": "Paris"}
    starts = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks(out)[:-1]
        if c["choices"] and "id" in (c["choices"][0]["delta"].get("tool_calls") or [{}])[0]
    ]
    assert starts == [
        {
            "index": 0,
            "id": "tooluse_lAG_zP8QRHmSYOwZzzaCqA",
            "type": "function",
            "function": {"name": "get_temperature", "arguments": ""},
        }
    ]
    assert stream.usage == TokenUsage(prompt_tokens=471, completion_tokens=91)
    assert "get_temperature" in stream.texts()


def test_recorded_reasoning_stream_separates_reasoning_from_content() -> None:
    out, stream = run(stream_bytes("claude_reasoning"))
    items = chunks(out)[:-1]
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in items if c["choices"]
    )
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in items if c["choices"])
    assert reasoning == recorded_text("claude_reasoning", "reasoningContent")
    assert reasoning.startswith('The user has greeted me with a simple "Hello".')
    (signed,) = [c["choices"][0]["delta"] for c in items if "thinking_blocks" in str(c)]
    assert signed == {
        "thinking_blocks": [
            {"type": "thinking", "thinking": "", "signature": recorded_signatures()[0], "index": 0}
        ]
    }
    assert content == recorded_text("claude_reasoning")
    assert content.endswith(" How can I help you today?")
    assert stream.usage == TokenUsage(prompt_tokens=36, completion_tokens=73)
    assert accumulate(out).choices[0].message.content == content


def test_usage_chunk_comes_last_before_done_only_when_asked() -> None:
    data = stream_bytes("nova_text")
    with_usage = chunks(run(data, include_usage=True)[0])
    assert with_usage[-2]["choices"] == []
    assert with_usage[-2]["usage"]["prompt_tokens"] == 13
    assert with_usage[-3]["choices"][0]["finish_reason"] == "stop"
    without = chunks(run(data, include_usage=False)[0])
    assert without[-1] == "[DONE]"
    assert all("usage" not in c for c in without[:-1])
    assert len(without) == len(with_usage) - 1


def test_cached_tokens_in_stream_metadata_count_as_prompt() -> None:
    data = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "21"}}),
            event("messageStop", {"stopReason": "end_turn"}),
            event(
                "metadata",
                {
                    "usage": {
                        "inputTokens": 2,
                        "outputTokens": 5,
                        "cacheReadInputTokens": 1322,
                        "cacheWriteInputTokens": 0,
                        "totalTokens": 1329,
                    },
                    "metrics": {"latencyMs": 1},
                },
            ),
        ]
    )
    out, stream = run(data)
    assert stream.usage == TokenUsage(prompt_tokens=1324, completion_tokens=5, cached_tokens=1322)
    assert chunks(out)[-2]["usage"]["prompt_tokens_details"] == {"cached_tokens": 1322}


def test_empty_deltas_and_unknown_events_emit_nothing() -> None:
    data = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": ""}}),
            event(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": ""}}},
            ),
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"citation": {}}}),
            event("contentBlockStart", {"contentBlockIndex": 1, "start": {"image": {}}}),
            event("somethingNew", {"x": 1}),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            event("messageStop", {"stopReason": "end_turn"}),
        ]
    )
    items = chunks(run(data, include_usage=False)[0])
    assert [c["choices"][0]["delta"] for c in items[:-1]] == [
        {"role": "assistant", "content": ""},
        {},
    ]


def test_split_utf8_in_a_payload_survives_one_byte_chunks() -> None:
    text = "Grüße, 世界 🌍"
    data = (
        event("messageStart", {"role": "assistant"})
        + event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})
        + event("messageStop", {"stopReason": "end_turn"})
    )
    out, _ = run(data, [1] * len(data))
    assert accumulate(out).choices[0].message.content == text


def test_parallel_tool_blocks_get_consecutive_indexes() -> None:
    data = [event("messageStart", {"role": "assistant"})]
    for block, (call_id, name) in enumerate([("t1", "a"), ("t2", "b")]):
        start = {"toolUse": {"toolUseId": call_id, "name": name}}
        data.append(event("contentBlockStart", {"contentBlockIndex": block, "start": start}))
        for piece in ('{"n":', f"{block}}}"):
            delta = {"toolUse": {"input": piece}}
            data.append(event("contentBlockDelta", {"contentBlockIndex": block, "delta": delta}))
        data.append(event("contentBlockStop", {"contentBlockIndex": block}))
    data.append(event("messageStop", {"stopReason": "tool_use"}))
    calls = accumulate(run(b"".join(data))[0]).choices[0].message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("t1", "a", '{"n":0}'),
        ("t2", "b", '{"n":1}'),
    ]


@pytest.mark.parametrize(
    ("kind", "error_type", "code"),
    [
        ("throttlingException", "rate_limit_error", "rate_limit_exceeded"),
        ("validationException", "invalid_request_error", "invalid_request"),
        ("serviceUnavailableException", "server_error", "service_unavailable"),
        ("modelStreamErrorException", "server_error", "upstream_error"),
        ("internalServerException", "server_error", "upstream_error"),
    ],
)
def test_exception_frames_become_one_in_band_error(kind: str, error_type: str, code: str) -> None:
    data = (
        event("messageStart", {"role": "assistant"})
        + event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
        + exception(kind, "Something went wrong in account 123456789012")
        + event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "ignored"}})
    )
    out, stream = run(data)
    items = chunks(out)
    assert items[-2] == {
        "error": {
            "message": "Something went wrong in account <account>",
            "type": error_type,
            "code": code,
        }
    }
    assert items[-1] == "[DONE]"
    assert "ignored" not in out.decode()
    assert stream.error is not None


def test_an_error_message_frame_becomes_an_in_band_error() -> None:
    headers = {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}
    out, _ = run(encode_message(headers, b""))
    assert chunks(out)[0]["error"]["message"] == "boom"


def test_a_corrupted_frame_becomes_an_in_band_error() -> None:
    data = bytearray(stream_bytes("nova_text"))
    data[len(data) // 2] ^= 0x20
    out, stream = run(bytes(data), [100] * (len(data) // 100))
    items = chunks(out)
    assert "CRC mismatch" in items[-2]["error"]["message"]
    assert sum("error" in item for item in items[:-1]) == 1
    assert stream.usage is None


@pytest.mark.parametrize("cut", [5, 400, -10])
def test_a_truncated_stream_ends_with_an_error(cut: int) -> None:
    data = stream_bytes("tool_use")
    complete, _ = run(data)
    out, _ = run(data[:cut])
    items = chunks(out)
    assert "ended before the answer was complete" in items[-2]["error"]["message"]
    assert items[-1] == "[DONE]"
    assert "error" not in complete.decode()


def test_a_stream_without_metadata_has_no_usage() -> None:
    data = event("messageStart", {"role": "assistant"}) + event(
        "messageStop", {"stopReason": "max_tokens"}
    )
    out, stream = run(data)
    items = chunks(out)
    assert stream.usage is None
    assert items[-2]["choices"][0]["finish_reason"] == "length"


def test_texts_are_capped() -> None:
    piece = "x" * 1000
    data = event("messageStart", {"role": "assistant"}) + b"".join(
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
        for _ in range(40)
    )
    _, stream = run(data)
    assert sum(len(t) for t in stream.texts()) == SAMPLE_CHARS
    assert stream.text_chars == 40_000


def test_recorded_redacted_reasoning_streams_as_whole_thinking_blocks() -> None:
    out, stream = run(stream_bytes("claude_redacted"), [7] * 300)
    items = [c for c in chunks(out)[:-1] if c["choices"]]
    blocks = [b for c in items for b in c["choices"][0]["delta"].get("thinking_blocks", [])]
    path = FIXTURES / "bedrock_converse_stream_claude_redacted.decoded.jsonl"
    frames = [orjson.loads(line) for line in path.read_text().splitlines() if line]
    redacted = [
        f["payload"]["delta"]["reasoningContent"]["redactedContent"]
        for f in frames
        if "reasoningContent" in f["payload"].get("delta", {})
    ]
    assert blocks == [
        {"type": "redacted_thinking", "data": data, "index": i} for i, data in enumerate(redacted)
    ]
    assert len(blocks) == 3
    message = accumulate(out).choices[0].message
    assert message.content == recorded_text("claude_redacted")
    assert message.model_extra["thinking_blocks"] == blocks  # the SDK merges them by index
    assert stream.usage == TokenUsage(prompt_tokens=92, completion_tokens=173)


def reasoning_delta(reasoning: dict) -> bytes:
    payload = {"contentBlockIndex": 0, "delta": {"reasoningContent": reasoning}}
    return event("contentBlockDelta", payload)


def test_reasoning_text_then_its_signature_for_each_block() -> None:
    data = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            reasoning_delta({"text": "First."}),
            reasoning_delta({"signature": "SigA"}),
            reasoning_delta({"text": "Second."}),
            reasoning_delta({"signature": "SigB"}),
            event("messageStop", {"stopReason": "end_turn"}),
        ]
    )
    items = chunks(run(data, include_usage=False)[0])[1:-2]
    assert [c["choices"][0]["delta"] for c in items] == [
        {"reasoning_content": "First."},
        {
            "thinking_blocks": [
                {"type": "thinking", "thinking": "", "signature": "SigA", "index": 0}
            ]
        },
        {"reasoning_content": "Second."},
        {
            "thinking_blocks": [
                {"type": "thinking", "thinking": "", "signature": "SigB", "index": 1}
            ]
        },
    ]
